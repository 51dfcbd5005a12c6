//! A deployment's id, group and api_base as response header values (`x-litellm-model-id`, …),
//! rendered once per deployment and cloned (a reference count) into each response.

use axum::http::HeaderValue;

use super::Deployment;

#[derive(Debug, Clone, Default)]
pub struct IdentityHeaders {
    pub model_id: Option<HeaderValue>,
    pub model_group: Option<HeaderValue>,
    pub api_base: Option<HeaderValue>,
}

impl Deployment {
    /// Its id, group and api_base as header values, rendered on first use.
    pub fn identity_headers(&self) -> &IdentityHeaders {
        self.identity_headers.get_or_init(|| {
            let text = |value: &str| {
                HeaderValue::from_maybe_shared(bytes::Bytes::copy_from_slice(value.as_bytes())).ok()
            };
            IdentityHeaders {
                model_id: text(&self.id),
                model_group: text(&self.model_group),
                api_base: text(&self.api_base),
            }
        })
    }
}
