//! The smallest real request a deployment can answer — a chat of one output token, or the
//! embedding of one word — sent with the deployment's own credentials: the console's "test
//! connection" and the health checks (`/health`, `background_health_checks`) both send it.

use serde_json::{json, Map, Value};

use crate::core::capabilities::Mode;
use crate::core::error::ApiError;
use crate::providers::adapter::{EmbeddingsWanted, ReplyContext};
use crate::providers::{transport, Deployment, Upstream};

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probed {
    /// The deployment answered: a summary of the answer.
    Answered(String),
    /// Nothing small enough to send: a deployment of another mode (images, audio, rerank),
    /// whose cheapest request still costs real money.
    NotProbed(String),
}

/// Sends the probe and reads the answer.
pub async fn probe(http: &reqwest::Client, deployment: &Deployment) -> Result<Probed, ApiError> {
    let Upstream::Http(adapter) = &deployment.upstream else {
        return Ok(Probed::Answered(
            "mock_response deployment: answers without an upstream".into(),
        ));
    };
    let mut body = Map::new();
    body.insert("model".into(), json!(deployment.upstream_model));
    if deployment.capabilities.mode == Some(Mode::Embedding) {
        let Some(embeddings) = adapter.embeddings() else {
            return Ok(Probed::NotProbed(
                "this provider's embeddings API is not spoken yet".into(),
            ));
        };
        body.insert("input".into(), json!("ping"));
        let mut replies = Vec::new();
        for request in embeddings.embeddings_requests(body)? {
            replies.push(transport::fetch(http, deployment, request).await?);
        }
        let reply = embeddings.embeddings_reply(replies, &EmbeddingsWanted::default())?;
        let vectors: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
        let dimensions = vectors["data"][0]["embedding"]
            .as_array()
            .map_or(0, Vec::len);
        return Ok(Probed::Answered(format!(
            "embedding of {dimensions} dimensions"
        )));
    }
    if let Some(mode) = deployment
        .capabilities
        .mode
        .filter(|mode| !Mode::Chat.is_served_by(*mode))
    {
        return Ok(Probed::NotProbed(format!(
            "a probe sends a chat or an embedding request; this deployment serves {}",
            mode.as_str()
        )));
    }
    body.insert(
        "messages".into(),
        json!([{ "role": "user", "content": "Reply with one word: ping" }]),
    );
    body.insert("max_tokens".into(), json!(1));
    let request = adapter.chat_request(body, false)?;
    let context = ReplyContext {
        completion_id: "chatcmpl-probe".into(),
        model: deployment.model_group.clone(),
        created: 0,
    };
    let reply = adapter.chat_reply(transport::fetch(http, deployment, request).await?, &context)?;
    let usage = reply.usage.unwrap_or_default();
    Ok(Probed::Answered(format!(
        "{} answered ({} prompt + {} completion tokens)",
        deployment.upstream_model, usage.prompt_tokens, usage.completion_tokens
    )))
}
