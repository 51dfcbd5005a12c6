//! LiteLLM-compatible management routes (`/key/*`, `/team/*`, `/user/*`, `/organization/*`,
//! `/customer/*`, `/project/*`, `/tag/*`, `/budget/*`, `/model/*`, `/spend/*`, `/audit/log`) and health probes. Every route here requires a key and checks the caller's role
//! (`access`) except the health probes, which are listed as the only public ones.

pub mod access;
mod activity;
pub mod audit;
pub mod budgets;
pub mod customers;
pub mod health;
pub mod keys;
pub mod members;
pub mod model_info;
pub mod models;
pub mod organizations;
pub mod projects;
pub mod reports;
pub mod spend;
pub mod tags;
pub mod teams;
pub mod users;

use axum::body::Body;
use axum::http::HeaderMap;
use axum::routing::{delete, get, patch, post};
use axum::Router;
use serde::de::DeserializeOwned;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use app::db::budgets::BudgetLimits;
use app::db::keys::RateLimits;
use app::model::{dollars_to_micros, parse_duration_seconds};

use crate::admin_api::access::Actor;
use crate::core::body::read_body;
use crate::core::error::ApiError;
use crate::core::origin::Origin;
use crate::state::SharedGateway;
use app::model::identity;

/// The management routes, each watched by the audit (`audit::watch`).
pub fn routes(gateway: SharedGateway) -> Router<SharedGateway> {
    Router::new()
        .route("/key/generate", post(keys::generate))
        .route("/key/info", get(keys::info))
        .route("/key/delete", post(keys::delete))
        .route("/key/list", get(keys::list))
        .route("/key/update", post(keys::update))
        .route("/key/block", post(keys::block))
        .route("/key/unblock", post(keys::unblock))
        .route("/key/regenerate", post(keys::regenerate))
        .route("/key/{key}/regenerate", post(keys::regenerate_path))
        .route("/team/new", post(teams::create))
        .route("/team/info", get(teams::info))
        .route("/team/list", get(teams::list))
        .route("/team/update", post(teams::update))
        .route("/team/delete", post(teams::delete))
        .route("/team/block", post(teams::block))
        .route("/team/unblock", post(teams::unblock))
        .route("/team/member_add", post(members::add))
        .route("/team/member_update", post(members::update))
        .route("/team/member_delete", post(members::delete))
        .route("/customer/new", post(customers::create))
        .route("/customer/info", get(customers::info))
        .route("/customer/list", get(customers::list))
        .route("/customer/update", post(customers::update))
        .route("/customer/delete", post(customers::delete))
        .route("/customer/block", post(customers::block))
        .route("/customer/unblock", post(customers::unblock))
        .route("/organization/new", post(organizations::create))
        .route("/organization/info", get(organizations::info))
        .route("/organization/list", get(organizations::list))
        .route("/organization/update", post(organizations::update))
        .route("/organization/delete", post(organizations::delete))
        .route("/project/new", post(projects::create))
        .route("/project/info", get(projects::info))
        .route("/project/list", get(projects::list))
        .route("/project/update", post(projects::update))
        .route(
            "/project/delete",
            delete(projects::delete).post(projects::delete),
        )
        .route("/budget/new", post(budgets::create))
        .route("/budget/info", post(budgets::info))
        .route("/budget/list", get(budgets::list))
        .route("/budget/settings", get(budgets::settings))
        .route("/budget/update", post(budgets::update))
        .route("/budget/delete", post(budgets::delete))
        .route("/tag/new", post(tags::create))
        .route("/tag/info", post(tags::info))
        .route("/tag/list", get(tags::list))
        .route("/tag/update", post(tags::update))
        .route("/tag/delete", post(tags::delete))
        .route("/user/new", post(users::create))
        .route("/user/info", get(users::info))
        .route("/user/list", get(users::list))
        .route("/user/update", post(users::update))
        .route("/user/delete", post(users::delete))
        .route("/spend/logs", get(spend::logs))
        .route("/spend/logs/page", get(spend::page))
        .route("/spend/report", get(reports::spend_report))
        .route("/spend/tags", get(reports::spend_tags))
        .route("/spend/reconcile", get(reports::reconcile))
        .route("/global/spend/tags", get(reports::global_spend_tags))
        .route("/global/spend/report", get(reports::global_report))
        .route("/user/daily/activity", get(reports::user_daily_activity))
        .route("/team/daily/activity", get(reports::team_daily_activity))
        .route("/model/info", get(model_info::model_info))
        .route("/v1/model/info", get(model_info::model_info))
        .route("/model/new", post(models::create))
        .route("/model/update", post(models::update))
        .route("/model/{model_id}/update", patch(models::patch))
        .route("/model/delete", post(models::delete))
        .route("/audit/log", get(audit::log))
        // Public: probes carry no data.
        .route("/health/liveliness", get(health::liveliness))
        .route("/health/readiness", get(health::readiness))
        .route_layer(axum::middleware::from_fn_with_state(gateway, audit::watch))
}

/// The caller, refused unless it is an admin (the master key, or a key of an admin user).
async fn admin(
    gateway: &SharedGateway,
    headers: &HeaderMap,
    origin: &Origin,
) -> Result<Actor, ApiError> {
    let actor = access::actor(gateway, headers, origin).await?;
    actor.require_admin("change this")?;
    Ok(actor)
}

/// A team that exists and is not deleted.
pub async fn live_team(
    gateway: &SharedGateway,
    team_id: &str,
) -> Result<app::db::teams::TeamRow, ApiError> {
    app::db::teams::find(&gateway.pool, team_id)
        .await?
        .filter(|row| row.deleted_at.is_none())
        .ok_or_else(|| ApiError::NotFound(format!("Team `{team_id}` not found.")))
}

/// Reads a JSON request body into `T`, with a 400 naming what is wrong. No text in it may hold
/// a NUL character (which PostgreSQL cannot store).
async fn json_body<T: DeserializeOwned>(body: Body) -> Result<T, ApiError> {
    let bytes = read_body(body).await?;
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
    serde_json::from_value(value).map_err(invalid)
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

/// Query parameters, with a 400 in OpenAI's shape when they do not parse.
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|rejection| {
                ApiError::bad_request(
                    format!("The query string is not valid: {}.", rejection.body_text()),
                    None,
                )
            })
    }
}

/// RFC 3339 text of a timestamp, as LiteLLM's responses carry them.
fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// Budget limits from LiteLLM's `max_budget`, `soft_budget` (dollars) and `budget_duration`.
fn budget_limits(
    max_budget: Option<f64>,
    soft_budget: Option<f64>,
    duration: Option<&str>,
) -> Result<BudgetLimits, ApiError> {
    let dollars = |value: Option<f64>, field: &'static str| {
        value
            .map(dollars_to_micros)
            .transpose()
            .map_err(|message| ApiError::bad_request(format!("`{field}`: {message}"), Some(field)))
    };
    let duration = duration
        .map(|text| {
            parse_duration_seconds(text)
                .map(|seconds| (text.trim().to_string(), seconds))
                .map_err(|message| {
                    ApiError::bad_request(
                        format!("`budget_duration`: {message}"),
                        Some("budget_duration"),
                    )
                })
        })
        .transpose()?;
    Ok(BudgetLimits {
        max_micros: dollars(max_budget, "max_budget")?,
        soft_micros: dollars(soft_budget, "soft_budget")?,
        duration,
    })
}

/// The budget fields of a `/…/update` request, and the budget they update.
pub struct BudgetUpdate<'a> {
    pub max_budget: Option<f64>,
    pub soft_budget: Option<f64>,
    pub budget_duration: Option<String>,
    pub current_max_micros: Option<i64>,
    pub current_soft_micros: Option<i64>,
    pub current_duration: Option<&'a str>,
}

impl BudgetUpdate<'_> {
    /// The new limits when any budget field was given (those not given keep their current
    /// value); `None` when the budget does not change.
    pub fn limits(self) -> Result<Option<BudgetLimits>, ApiError> {
        if self.max_budget.is_none() && self.soft_budget.is_none() && self.budget_duration.is_none()
        {
            return Ok(None);
        }
        let duration = self
            .budget_duration
            .or_else(|| self.current_duration.map(str::to_string));
        budget_limits(
            self.max_budget
                .or(self.current_max_micros.map(app::model::micros_to_dollars)),
            self.soft_budget
                .or(self.current_soft_micros.map(app::model::micros_to_dollars)),
            duration.as_deref(),
        )
        .map(Some)
    }
}

/// A `metadata` field: an object, or absent.
fn metadata_object(
    value: Option<serde_json::Value>,
) -> Result<Option<serde_json::Value>, ApiError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Object(object)) => {
            let metadata = serde_json::Value::Object(object);
            identity::check_metadata_size(&metadata)?;
            check_metadata_tags(&metadata)?;
            Ok(Some(metadata))
        }
        Some(_) => Err(ApiError::bad_request(
            "`metadata` must be an object.",
            Some("metadata"),
        )),
    }
}

/// `metadata.tags` (tags every request of the entity carries): at most `MAX_TAGS` tags, each
/// bounded like a request's.
fn check_metadata_tags(metadata: &serde_json::Value) -> Result<(), ApiError> {
    let field = "metadata.tags";
    match metadata.get("tags") {
        None | Some(serde_json::Value::Null) => Ok(()),
        Some(serde_json::Value::Array(tags)) if tags.len() <= identity::MAX_TAGS => {
            for tag in tags {
                let text = tag.as_str().ok_or_else(|| {
                    ApiError::bad_request("`metadata.tags` must be a list of strings.", Some(field))
                })?;
                identity::tag(text, field)?;
            }
            Ok(())
        }
        Some(_) => Err(ApiError::bad_request(
            format!(
                "`metadata.tags` must be a list of at most {} strings.",
                identity::MAX_TAGS
            ),
            Some(field),
        )),
    }
}

/// LiteLLM's rate-limit fields of a key or team.
#[derive(serde::Deserialize, Default)]
pub struct LimitFields {
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i64>,
    model_rpm_limit: Option<serde_json::Value>,
    model_tpm_limit: Option<serde_json::Value>,
}

impl LimitFields {
    pub fn rate_limits(&self) -> Result<RateLimits, ApiError> {
        let checked = |value: Option<i64>, field: &'static str| match value {
            Some(limit) if limit < 0 => Err(ApiError::bad_request(
                format!("`{field}` must be a whole number, 0 or more."),
                Some(field),
            )),
            other => Ok(other),
        };
        Ok(RateLimits {
            rpm_limit: checked(self.rpm_limit, "rpm_limit")?,
            tpm_limit: checked(self.tpm_limit, "tpm_limit")?,
            max_parallel_requests: checked(self.max_parallel_requests, "max_parallel_requests")?,
        })
    }

    pub fn model_rpm_limit(&self) -> Result<Option<serde_json::Value>, ApiError> {
        per_model_limits(self.model_rpm_limit.as_ref(), "model_rpm_limit")
    }

    pub fn model_tpm_limit(&self) -> Result<Option<serde_json::Value>, ApiError> {
        per_model_limits(self.model_tpm_limit.as_ref(), "model_tpm_limit")
    }

    /// Whether a key-only field (per-model limits) was given.
    pub fn has_model_limits(&self) -> bool {
        self.model_rpm_limit
            .as_ref()
            .is_some_and(|value| !value.is_null())
            || self
                .model_tpm_limit
                .as_ref()
                .is_some_and(|value| !value.is_null())
    }
}

/// `{model: limit}` with whole, non-negative limits.
fn per_model_limits(
    value: Option<&serde_json::Value>,
    field: &'static str,
) -> Result<Option<serde_json::Value>, ApiError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Object(limits))
            if limits.values().all(serde_json::Value::is_u64) =>
        {
            Ok(Some(serde_json::Value::Object(limits.clone())))
        }
        Some(_) => Err(ApiError::bad_request(
            format!("`{field}` must map model names to whole numbers, 0 or more."),
            Some(field),
        )),
    }
}

/// A key given as its secret (`sk-…`) or as its hash: the hash.
fn token_hash_of(key: &str) -> String {
    if key.starts_with("sk-") {
        app::secrets::hash_key(key)
    } else {
        key.to_ascii_lowercase()
    }
}
