//! Where a request came from and which path it asked for, read from the request itself: what
//! authentication checks a key's `allowed_routes` against and counts unknown keys by.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

/// The path served and the client's address (when the server knows it).
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub path: String,
    pub peer: Option<IpAddr>,
}

impl Origin {
    pub fn of(parts: &Parts) -> Origin {
        Origin {
            path: parts.uri.path().to_string(),
            peer: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(address)| address.ip()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Origin::of(parts))
    }
}
