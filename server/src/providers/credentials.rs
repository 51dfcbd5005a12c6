//! How a deployment proves itself to its upstream: a bearer token, or a provider-specific key
//! header. Applied to the finished request, so signatures can cover the final bytes.

use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};

use crate::error::ApiError;
use crate::providers::Secret;

#[derive(Debug, Clone)]
pub enum Credentials {
    /// No credentials (a local server).
    None,
    /// `Authorization: Bearer <secret>` (OpenAI and most compatible servers, Azure Entra tokens).
    Bearer(Secret),
    /// The secret in a header of its own (`x-api-key`, Azure's `api-key`, `x-goog-api-key`).
    Header { name: HeaderName, secret: Secret },
}

impl Credentials {
    /// Adds the credentials to a request about to be sent.
    pub fn apply(&self, request: &mut reqwest::Request) -> Result<(), ApiError> {
        let (name, value) = match self {
            Credentials::None => return Ok(()),
            Credentials::Bearer(secret) => (
                AUTHORIZATION,
                sensitive_value(&format!("Bearer {}", secret.expose()))?,
            ),
            Credentials::Header { name, secret } => {
                (name.clone(), sensitive_value(secret.expose())?)
            }
        };
        request.headers_mut().insert(name, value);
        Ok(())
    }
}

fn sensitive_value(text: &str) -> Result<HeaderValue, ApiError> {
    let mut value = HeaderValue::from_str(text).map_err(|_| {
        tracing::error!("an upstream credential contains characters a header cannot carry");
        ApiError::UpstreamFailed("the deployment's credentials are malformed".into())
    })?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> reqwest::Request {
        reqwest::Request::new(
            reqwest::Method::POST,
            "http://upstream.test/v1".parse().unwrap(),
        )
    }

    #[test]
    fn applies_each_kind() {
        let mut bearer = request();
        Credentials::Bearer(Secret::new("sk-1".into()))
            .apply(&mut bearer)
            .unwrap();
        assert_eq!(bearer.headers()[AUTHORIZATION], "Bearer sk-1");
        assert!(bearer.headers()[AUTHORIZATION].is_sensitive());

        let mut header = request();
        Credentials::Header {
            name: HeaderName::from_static("x-api-key"),
            secret: Secret::new("ant-1".into()),
        }
        .apply(&mut header)
        .unwrap();
        assert_eq!(header.headers()["x-api-key"], "ant-1");
        assert!(header.headers().get(AUTHORIZATION).is_none());

        let mut none = request();
        Credentials::None.apply(&mut none).unwrap();
        assert!(none.headers().is_empty());
        assert!(Credentials::Bearer(Secret::new("bad\nkey".into()))
            .apply(&mut request())
            .is_err());
    }
}
