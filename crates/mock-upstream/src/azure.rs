//! The mock's Azure OpenAI data plane, after Azure's REST reference: deployment URLs
//! (`/openai/deployments/{deployment}/{operation}`) that need an `api-version` query and an
//! `api-key` header (or an Entra bearer token), answering in OpenAI's format. Unknown
//! operations and a missing version are Azure's 404, a missing key its 401.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::{openai, openai_endpoints, MockRecord};

fn azure_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "code": status.as_u16().to_string(), "message": message } })),
    )
        .into_response()
}

/// Azure's 404 without `api-version`, its 401 without a key; `None` when both are there.
fn refused(
    record: &MockRecord,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Option<Response> {
    if query.get("api-version").is_none_or(String::is_empty) {
        record.remember(headers, body);
        return Some(azure_error(StatusCode::NOT_FOUND, "Resource not found"));
    }
    let keyed = headers.get("api-key").is_some_and(|key| !key.is_empty())
        || headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("Bearer "));
    if !keyed {
        record.remember(headers, body);
        return Some(azure_error(
            StatusCode::UNAUTHORIZED,
            "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.",
        ));
    }
    None
}

/// `POST /openai/deployments/{deployment}/{operation}?api-version=…`.
pub async fn deployment(
    State(record): State<Arc<MockRecord>>,
    Path((_deployment, operation)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = refused(&record, &query, &headers, &body) {
        return refusal;
    }
    match operation.as_str() {
        "chat/completions" => openai::chat_completions(State(record), headers, body).await,
        "embeddings" => openai::embeddings(State(record), headers, body).await,
        "images/generations" => {
            openai_endpoints::image_generations(State(record), headers, body).await
        }
        _ => {
            record.remember(&headers, &body);
            azure_error(StatusCode::NOT_FOUND, "Resource not found")
        }
    }
}

/// `POST /openai/responses?api-version=…`: the Responses API, which names the deployment in
/// the body's `model`.
pub async fn responses(
    State(record): State<Arc<MockRecord>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = refused(&record, &query, &headers, &body) {
        return refusal;
    }
    openai_endpoints::responses(State(record), headers, body).await
}
