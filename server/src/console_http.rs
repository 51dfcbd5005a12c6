//! The console's HTTP guards, applied to every page and server function in one place: a bound
//! on request bodies, browser security headers (CSP, framing), and the mapping of a server
//! function's `ConsoleError` to its HTTP status (a refusal is a 4xx, never a 500).

use axum::body::{to_bytes, Body};
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, RETRY_AFTER, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use leptos::server_fn::error::SERVER_FN_ERROR_HEADER;

use app::error::ConsoleError;

/// Largest console request body: forms and server-function arguments are small.
pub const MAX_CONSOLE_BODY_BYTES: usize = 64 * 1024;

/// Largest server-function error body read to find its status.
const MAX_ERROR_BODY_BYTES: usize = 16 * 1024;

/// What console pages may load: their own scripts, styles and WebAssembly (the hydration
/// scripts Leptos writes inline), nothing from elsewhere, never framed, forms posted only here.
const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'self'; \
     script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Adds the browser security headers to a console response.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
    );
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// A server function's error answered with its own status: server functions report every
/// error as a 500 with the `serverfnerror` header; this reads the `ConsoleError` and sets the
/// status it means (`ConsoleError::status`).
pub async fn server_fn_statuses(response: Response) -> Response {
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key(SERVER_FN_ERROR_HEADER)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match to_bytes(body, MAX_ERROR_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => return Response::from_parts(parts, Body::empty()),
    };
    if let Ok(error) = serde_json::from_slice::<ConsoleError>(&bytes) {
        parts.status =
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let ConsoleError::TooManyAttempts(seconds) = error {
            parts
                .headers
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}
