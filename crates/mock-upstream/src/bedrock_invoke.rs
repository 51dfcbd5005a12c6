//! The mock's Bedrock `InvokeModel` for embedding models, after AWS's model-parameter pages:
//! Amazon Titan Text Embeddings (`{inputText}` → `{embedding, inputTextTokenCount}`) and Cohere
//! Embed (`{texts, input_type}` → vectors, by type when `embedding_types` is given, at most 96
//! texts). The caller's signature is checked before this (`bedrock::converse`).

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::bedrock::error;
use super::{mock_vector, Behaviour, PROMPT_TOKENS_PER_MESSAGE};

const TITAN_FIELDS: &[&str] = &["inputText", "dimensions", "normalize", "embeddingTypes"];
const COHERE_FIELDS: &[&str] = &[
    "texts",
    "images",
    "input_type",
    "truncate",
    "embedding_types",
    "output_dimension",
    "max_tokens",
];
const COHERE_MAX_TEXTS: usize = 96;

fn validation(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "ValidationException", message)
}

fn extraneous(body: &Map<String, Value>, known: &[&str]) -> Option<Response> {
    body.keys()
        .find(|key| !known.contains(&key.as_str()))
        .map(|key| {
            validation(&format!(
                "Malformed input request: extraneous key [{key}] is not permitted"
            ))
        })
}

/// `POST /model/{model id}/invoke`.
pub fn invoke(model: &str, body: &Bytes) -> Response {
    if let Behaviour::Fail500 = Behaviour::of(model) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerException",
            "mock internal failure",
        );
    }
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return validation("Malformed input request");
    };
    if model.contains("titan-embed") {
        titan(&request)
    } else if model.contains("cohere.embed") {
        cohere(&request)
    } else {
        validation("mock: this model is not an embedding model")
    }
}

fn titan(request: &Map<String, Value>) -> Response {
    if let Some(refused) = extraneous(request, TITAN_FIELDS) {
        return refused;
    }
    let Some(text) = request
        .get("inputText")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    else {
        return validation("Malformed input request: #: required key [inputText] not found");
    };
    let size = match request.get("dimensions").map(Value::as_u64) {
        None => 8,
        Some(Some(size @ (256 | 512 | 1024))) => size as usize,
        Some(_) => return validation("Malformed input request: #/dimensions: 1024, 512 or 256"),
    };
    let vector = mock_vector(text, size);
    Json(json!({
        "embedding": vector,
        "inputTextTokenCount": PROMPT_TOKENS_PER_MESSAGE,
        "embeddingsByType": { "float": vector },
    }))
    .into_response()
}

fn cohere(request: &Map<String, Value>) -> Response {
    if let Some(refused) = extraneous(request, COHERE_FIELDS) {
        return refused;
    }
    let Some(texts) = request.get("texts").and_then(Value::as_array) else {
        return validation("Malformed input request: #: required key [texts] not found");
    };
    if texts.is_empty() || texts.len() > COHERE_MAX_TEXTS {
        return validation("Malformed input request: #/texts: expected 1 to 96 items");
    }
    if !request.get("input_type").is_some_and(Value::is_string) {
        return validation("Malformed input request: #: required key [input_type] not found");
    }
    let size = request
        .get("output_dimension")
        .and_then(Value::as_u64)
        .unwrap_or(8) as usize;
    let vectors: Vec<Vec<f64>> = texts
        .iter()
        .map(|text| mock_vector(text.as_str().unwrap_or_default(), size))
        .collect();
    let by_type = request.get("embedding_types").is_some();
    Json(json!({
        "id": "mock-bedrock-embed-1",
        "response_type": if by_type { "embeddings_by_type" } else { "embeddings_floats" },
        "embeddings": if by_type { json!({ "float": vectors }) } else { json!(vectors) },
        "texts": texts,
    }))
    .into_response()
}
