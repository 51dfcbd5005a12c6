//! What the audio endpoints share: the deployment's URL for them, and the output a request
//! without a limit is reserved for.

use crate::core::error::ApiError;
use crate::endpoints::native::http_adapter;
use crate::engine::DEFAULT_OUTPUT_TOKENS;
use crate::providers::native::NativeEndpoint;
use crate::providers::Deployment;
use crate::routing::attempts::Route;

/// The output tokens a request without an output limit is reserved for on `route`.
pub fn unlimited_output(route: &Route) -> u64 {
    route
        .price_ceiling()
        .max_output_tokens
        .unwrap_or(DEFAULT_OUTPUT_TOKENS)
}

/// The deployment's URL for an audio endpoint, or a 400 naming the provider that has none.
pub fn audio_url(
    deployment: &Deployment,
    model: &str,
    endpoint: NativeEndpoint,
) -> Result<reqwest::Url, ApiError> {
    http_adapter(deployment, model)?
        .native_url(endpoint)
        .cloned()
        .ok_or_else(|| {
            ApiError::bad_request(
                format!(
                    "The model `{model}` is served by `{}`, whose {} API Gatehouse does not speak.",
                    deployment.provider,
                    endpoint.path()
                ),
                Some("model"),
            )
        })
}
