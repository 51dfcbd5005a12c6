//! The mock's Vertex AI: Google's OAuth token endpoint for service accounts (`/token`, the JWT
//! assertion's RS256 signature, audience, scope and expiry verified with the test key's public
//! half) and the Gemini API at Vertex's publisher-model paths, which accepts only the bearer
//! tokens the endpoint issued.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;

use super::{gemini, google_embed, MockRecord};

/// The public half of the test service account's key (`tests/fixtures/vertex/`).
const TEST_PUBLIC_KEY: &str = include_str!("vertex_test_key.pub.pem");

#[derive(Deserialize)]
struct Assertion {
    iss: String,
    scope: String,
}

fn oauth_error(description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": "invalid_grant", "error_description": description })),
    )
        .into_response()
}

/// `POST /token` with `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=…`.
pub async fn token(
    State(record): State<Arc<MockRecord>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return oauth_error("mock: unsupported grant_type");
    }
    let Some(assertion) = form.get("assertion") else {
        return oauth_error("mock: assertion is required");
    };
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
    else {
        return oauth_error("mock: no Host header");
    };
    let Ok(public_key) = DecodingKey::from_rsa_pem(TEST_PUBLIC_KEY.as_bytes()) else {
        return oauth_error("mock: unreadable test key");
    };
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[format!("http://{host}/token")]);
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    let claims = match jsonwebtoken::decode::<Assertion>(assertion, &public_key, &validation) {
        Ok(decoded) => decoded.claims,
        Err(error) => return oauth_error(&format!("Invalid JWT Signature or claims: {error}")),
    };
    if claims.scope != "https://www.googleapis.com/auth/cloud-platform" || claims.iss.is_empty() {
        return oauth_error("mock: wrong scope or issuer");
    }
    let access_token = record.issue_token();
    Json(json!({ "access_token": access_token, "expires_in": 3599, "token_type": "Bearer" }))
        .into_response()
}

/// `POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}:{method}`.
pub async fn publisher_model(
    State(record): State<Arc<MockRecord>>,
    Path((_project, _location, model_and_method)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if !bearer.is_some_and(|token| record.issued(token)) {
        record.remember(&headers, &body);
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": { "code": 401, "status": "UNAUTHENTICATED",
                "message": "Request had invalid authentication credentials." } })),
        )
            .into_response();
    }
    if let Some(model) = model_and_method.strip_suffix(":predict") {
        record.remember(&headers, &body);
        return google_embed::predict(model, &body);
    }
    gemini::generate(&record, &model_and_method, &headers, &body).await
}
