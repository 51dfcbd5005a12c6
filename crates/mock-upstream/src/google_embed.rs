//! The mock's Google embedding methods, after Google's references: AI Studio's
//! `batchEmbedContents` (every request must name the model of the path; no usage reported) and
//! Vertex AI's `predict` (instances of `content`, one per call for `gemini-embedding-*`, each
//! prediction with its token count). Unknown fields are refused, as the real APIs do.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::{mock_vector, Behaviour, PROMPT_TOKENS_PER_MESSAGE};

const REQUEST_FIELDS: &[&str] = &[
    "model",
    "content",
    "taskType",
    "title",
    "outputDimensionality",
];
const INSTANCE_FIELDS: &[&str] = &["content", "task_type", "title"];
const PARAMETER_FIELDS: &[&str] = &["autoTruncate", "outputDimensionality"];

fn invalid(message: &str) -> Response {
    let status = StatusCode::BAD_REQUEST;
    (
        status,
        Json(json!({ "error": { "code": 400, "message": message, "status": "INVALID_ARGUMENT" } })),
    )
        .into_response()
}

fn internal() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(
            json!({ "error": { "code": 500, "message": "mock internal failure",
                                "status": "INTERNAL" } }),
        ),
    )
        .into_response()
}

fn unknown_field(object: &Map<String, Value>, known: &[&str]) -> Option<String> {
    object
        .keys()
        .find(|key| !known.contains(&key.as_str()))
        .map(|key| {
            format!("Invalid JSON payload received. Unknown name \"{key}\": Cannot find field.")
        })
}

fn dimensions(value: Option<&Value>) -> usize {
    value.and_then(Value::as_u64).unwrap_or(8) as usize
}

/// `models/{model}:batchEmbedContents`.
pub fn batch_embed_contents(model: &str, body: &Bytes) -> Response {
    if let Behaviour::Fail500 = Behaviour::of(model) {
        return internal();
    }
    let Ok(Value::Object(batch)) = serde_json::from_slice::<Value>(body) else {
        return invalid("Invalid JSON payload received.");
    };
    if let Some(problem) = unknown_field(&batch, &["requests"]) {
        return invalid(&problem);
    }
    let Some(requests) = batch["requests"].as_array().filter(|r| !r.is_empty()) else {
        return invalid("* BatchEmbedContentsRequest.requests: contents is not specified");
    };
    let expected_model = format!("models/{model}");
    let mut embeddings = Vec::with_capacity(requests.len());
    for (index, request) in requests.iter().enumerate() {
        let Some(request) = request.as_object() else {
            return invalid("Invalid JSON payload received.");
        };
        if let Some(problem) = unknown_field(request, REQUEST_FIELDS) {
            return invalid(&problem);
        }
        if request.get("model").and_then(Value::as_str) != Some(expected_model.as_str()) {
            return invalid(&format!(
                "Model names should match: requests[{index}].model must be {expected_model}."
            ));
        }
        let text: Option<String> = request["content"]["parts"]
            .as_array()
            .filter(|parts| !parts.is_empty())
            .and_then(|parts| parts.iter().map(|part| part["text"].as_str()).collect());
        let Some(text) = text else {
            return invalid(&format!(
                "* requests[{index}].content: contents is not specified"
            ));
        };
        let size = dimensions(request.get("outputDimensionality"));
        embeddings.push(json!({ "values": mock_vector(&text, size) }));
    }
    Json(json!({ "embeddings": embeddings })).into_response()
}

/// Vertex AI `…/models/{model}:predict` for a text embedding model.
pub fn predict(model: &str, body: &Bytes) -> Response {
    if let Behaviour::Fail500 = Behaviour::of(model) {
        return internal();
    }
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return invalid("Invalid JSON payload received.");
    };
    if let Some(problem) = unknown_field(&request, &["instances", "parameters"]) {
        return invalid(&problem);
    }
    let parameters = request.get("parameters").and_then(Value::as_object);
    if let Some(problem) = parameters.and_then(|p| unknown_field(p, PARAMETER_FIELDS)) {
        return invalid(&problem);
    }
    let Some(instances) = request["instances"].as_array().filter(|i| !i.is_empty()) else {
        return invalid("instances must not be empty");
    };
    if model.starts_with("gemini-embedding") && instances.len() > 1 {
        return invalid(
            "Unable to submit request because this model only supports one instance per request.",
        );
    }
    let size = dimensions(parameters.and_then(|p| p.get("outputDimensionality")));
    let mut predictions = Vec::with_capacity(instances.len());
    for (index, instance) in instances.iter().enumerate() {
        let Some(instance) = instance.as_object() else {
            return invalid("Invalid JSON payload received.");
        };
        if let Some(problem) = unknown_field(instance, INSTANCE_FIELDS) {
            return invalid(&problem);
        }
        let Some(content) = instance.get("content").and_then(Value::as_str) else {
            return invalid(&format!("instances[{index}].content is required"));
        };
        predictions.push(json!({ "embeddings": {
            "statistics": { "truncated": false, "token_count": PROMPT_TOKENS_PER_MESSAGE },
            "values": mock_vector(content, size),
        } }));
    }
    Json(json!({ "predictions": predictions,
                 "metadata": { "billableCharacterCount": 21 * instances.len() } }))
    .into_response()
}
