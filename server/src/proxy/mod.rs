//! The data plane: `/v1/*` routes. `pipeline` states the stage order; the other modules are
//! its stages' parts.

pub mod embeddings;
pub mod messages;
pub mod models;
pub mod pipeline;
pub mod request;
pub mod stream;
pub mod unary;

use axum::routing::{any, get, post};
use axum::Router;

use crate::error::ApiError;
use crate::state::SharedGateway;

pub fn routes() -> Router<SharedGateway> {
    Router::new()
        .route("/v1/chat/completions", post(pipeline::chat_completions))
        .route("/chat/completions", post(pipeline::chat_completions))
        .route("/v1/embeddings", post(embeddings::embeddings))
        .route("/embeddings", post(embeddings::embeddings))
        .route("/v1/messages", post(pipeline::messages))
        .route("/messages", post(pipeline::messages))
        .route("/v1/models", get(models::list_models))
        .route("/models", get(models::list_models))
        .route("/v1/models/{*model}", get(models::retrieve_model))
        .route("/models/{*model}", get(models::retrieve_model))
        .route("/v1/model/info", get(models::model_info))
        .route("/model/info", get(models::model_info))
        .route("/v1/{*rest}", any(unknown_route))
}

async fn unknown_route(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("Gatehouse does not serve `{}`.", uri.path()))
}
