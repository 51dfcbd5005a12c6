//! What a management handler starts from: the caller with the gateway it calls (`Manager`),
//! the same refused unless its role allows (`Checked`: `Admin`, `Reader`, `SpendReader`)
//! before the body is read, the JSON body (`Input`), and the answer an operation's view makes
//! (`Answer`).

use std::marker::PhantomData;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::Json;
use serde::de::DeserializeOwned;
use sqlx::PgPool;

use app::ops::{Catalog, OpsError};

use super::access::Actor;
use crate::core::body::read_body;
use crate::core::error::ApiError;
use crate::state::SharedGateway;

/// The caller of a management route, and the gateway.
pub struct Manager {
    pub gateway: SharedGateway,
    pub actor: Actor,
}

impl Manager {
    pub fn pool(&self) -> &PgPool {
        &self.gateway.pool
    }

    /// Model access and request classes, as the live configuration has them.
    pub fn catalog(&self) -> &dyn Catalog {
        &*self.gateway.models
    }
}

impl std::ops::Deref for Manager {
    type Target = Actor;

    fn deref(&self) -> &Actor {
        &self.actor
    }
}

impl FromRequestParts<SharedGateway> for Manager {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        gateway: &SharedGateway,
    ) -> Result<Self, ApiError> {
        Ok(Manager {
            gateway: gateway.clone(),
            actor: Actor::from_request_parts(parts, gateway).await?,
        })
    }
}

/// A `Manager` whose role `R` allows: anyone else is refused (403) before the body is read.
pub struct Checked<R>(pub Manager, PhantomData<R>);

/// What a `Checked` caller's role must allow.
pub trait Requirement {
    fn check(actor: &Actor) -> Result<(), OpsError>;
}

/// An admin.
pub enum AdminRole {}
/// A role that reads everything (admin, finance, viewer).
pub enum ReaderRole {}
/// A role that reads every spend row and the audit log (admin, finance).
pub enum SpendReaderRole {}

impl Requirement for AdminRole {
    fn check(actor: &Actor) -> Result<(), OpsError> {
        actor.require_admin("change this")
    }
}

impl Requirement for ReaderRole {
    fn check(actor: &Actor) -> Result<(), OpsError> {
        actor.require_reads_everything("read this")
    }
}

impl Requirement for SpendReaderRole {
    fn check(actor: &Actor) -> Result<(), OpsError> {
        actor.require_reads_spend("read spend")
    }
}

pub type Admin = Checked<AdminRole>;
pub type Reader = Checked<ReaderRole>;
pub type SpendReader = Checked<SpendReaderRole>;

impl<R> std::ops::Deref for Checked<R> {
    type Target = Manager;

    fn deref(&self) -> &Manager {
        &self.0
    }
}

impl<R: Requirement> FromRequestParts<SharedGateway> for Checked<R> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        gateway: &SharedGateway,
    ) -> Result<Self, ApiError> {
        let manager = Manager::from_request_parts(parts, gateway).await?;
        R::check(&manager)?;
        Ok(Checked(manager, PhantomData))
    }
}

/// A JSON request body read into `T` within the size limit, with a 400 naming what is wrong.
/// No text in it may hold a NUL character (which PostgreSQL cannot store).
pub struct Input<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Input<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        let bytes = read_body(request.into_body()).await?;
        let invalid = |error: serde_json::Error| {
            ApiError::bad_request(format!("The request body is not valid: {error}."), None)
        };
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(invalid)?;
        if holds_nul(&value) {
            return Err(ApiError::bad_request(
                "The request body holds a NUL character (\\u0000), which cannot be stored.",
                None,
            ));
        }
        serde_json::from_value(value).map(Input).map_err(invalid)
    }
}

/// Some string (or object key) in the value holds a NUL character.
fn holds_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(text) => text.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(holds_nul),
        serde_json::Value::Object(fields) => fields
            .iter()
            .any(|(name, value)| name.contains('\0') || holds_nul(value)),
        _ => false,
    }
}

/// What a management route answers: a typed view, or the API's error.
pub type Answer<T> = Result<Json<T>, ApiError>;

/// An operation's view as the answer.
pub fn answer<T>(result: Result<T, OpsError>) -> Answer<T> {
    result.map(Json).map_err(ApiError::from)
}
