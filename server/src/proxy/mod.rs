//! The data plane: `/v1/*` routes. `pipeline` states the stage order; the other modules are
//! its stages' parts.

pub mod audio;
pub mod call_headers;
pub mod completions;
pub mod egress;
pub mod embeddings;
pub mod messages;
pub mod models;
pub mod native;
pub mod pipeline;
pub mod request;
pub mod responses;
pub mod stream;
pub mod transcript;
pub mod unary;

use axum::routing::{any, get, post, MethodRouter};
use axum::Router;

use crate::core::error::ApiError;
use crate::state::SharedGateway;

/// Every data-plane route, served with and without the `/v1` prefix as LiteLLM serves them.
pub fn routes() -> Router<SharedGateway> {
    let endpoints: [(&str, MethodRouter<SharedGateway>); 11] = [
        ("/chat/completions", post(pipeline::chat_completions)),
        ("/completions", post(native::completions)),
        ("/embeddings", post(embeddings::embeddings)),
        ("/responses", post(native::responses)),
        ("/messages", post(pipeline::messages)),
        ("/moderations", post(native::moderations)),
        ("/images/generations", post(native::image_generations)),
        ("/audio/speech", post(audio::speech)),
        ("/audio/transcriptions", post(audio::transcriptions)),
        ("/rerank", post(native::rerank)),
        ("/models", get(models::list_models)),
    ];
    let mut router = Router::new();
    for (path, handler) in endpoints {
        router = router
            .route(&format!("/v1{path}"), handler.clone())
            .route(path, handler);
    }
    router
        .route("/v1/models/{*model}", get(models::retrieve_model))
        .route("/models/{*model}", get(models::retrieve_model))
        .route("/v2/rerank", post(native::rerank))
        .route("/v1/{*rest}", any(unknown_route))
}

async fn unknown_route(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("Gatehouse does not serve `{}`.", uri.path()))
}
