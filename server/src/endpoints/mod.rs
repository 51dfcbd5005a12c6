//! The data plane's endpoints: `/v1/*` routes, each an `engine::Endpoint` that
//! `engine::serve` runs through the stages.

pub mod audio;
pub mod chat;
pub mod embeddings;
pub mod messages;
pub mod models;
pub mod native;
pub mod request;
pub mod speech;
pub mod token_count;
pub mod transcription;
pub mod translate;

use axum::routing::{any, get, post, MethodRouter};
use axum::Router;

use crate::core::error::ApiError;
use crate::engine::serve;
use crate::state::SharedGateway;
use chat::ChatCompletions;
use embeddings::Embeddings;
use messages::Messages;
use native::Native;
use speech::Speech;
use transcription::Transcription;

/// Every data-plane route, served with and without the `/v1` prefix as LiteLLM serves them.
pub fn routes() -> Router<SharedGateway> {
    let endpoints: [(&str, MethodRouter<SharedGateway>); 11] = [
        ("/chat/completions", post(serve::<ChatCompletions>)),
        ("/completions", post(serve::<Native<native::Completions>>)),
        ("/embeddings", post(serve::<Embeddings>)),
        ("/responses", post(serve::<Native<native::Responses>>)),
        ("/messages", post(serve::<Messages>)),
        ("/moderations", post(serve::<Native<native::Moderations>>)),
        (
            "/images/generations",
            post(serve::<Native<native::ImageGenerations>>),
        ),
        ("/audio/speech", post(serve::<Speech>)),
        ("/audio/transcriptions", post(serve::<Transcription>)),
        ("/rerank", post(serve::<Native<native::Rerank>>)),
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
        .route("/v2/rerank", post(serve::<Native<native::Rerank>>))
        .route(
            "/v1/messages/count_tokens",
            post(token_count::count_message_tokens),
        )
        .route(
            "/messages/count_tokens",
            post(token_count::count_message_tokens),
        )
        .route("/utils/token_counter", post(token_count::token_counter))
        .route("/v1/{*rest}", any(unknown_route))
}

async fn unknown_route(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("Gatehouse does not serve `{}`.", uri.path()))
}
