//! How a deployment proves itself to its upstream: a bearer token, a provider-specific key
//! header, or an AWS SigV4 signature (`aws-sigv4`). Applied to the finished request, so the
//! signature covers the final method, URL, headers and body.

use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};

use std::sync::Arc;

use crate::core::error::ApiError;
use crate::core::provider_error::ProviderError;
use crate::core::secret::Secret;
use crate::providers::google_auth::GoogleTokenSource;

#[derive(Debug, Clone)]
pub enum Credentials {
    /// No credentials (a local server).
    None,
    /// `Authorization: Bearer <secret>` (OpenAI and most compatible servers, Azure Entra tokens).
    Bearer(Secret),
    /// The secret in a header of its own (`x-api-key`, Azure's `api-key`, `x-goog-api-key`).
    Header { name: HeaderName, secret: Secret },
    /// AWS Signature Version 4 (Bedrock).
    SigV4(AwsSigning),
    /// A Google service account's OAuth access token as a bearer token (Vertex AI).
    GoogleServiceAccount(Arc<GoogleTokenSource>),
}

/// What signs a request for an AWS service.
#[derive(Debug, Clone)]
pub struct AwsSigning {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
    pub region: String,
    /// The signing name of the service (`bedrock`).
    pub service: &'static str,
}

impl AwsSigning {
    fn sign(&self, request: &mut reqwest::Request) -> Result<(), ApiError> {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        use aws_sigv4::sign::v4;

        let failed = |error: &dyn std::fmt::Display| {
            tracing::error!(%error, "cannot sign an AWS request");
            ApiError::Upstream(ProviderError::Misconfigured(
                "the request could not be signed",
            ))
        };
        let identity = aws_credential_types::Credentials::new(
            &self.access_key_id,
            self.secret_access_key.expose(),
            self.session_token
                .as_ref()
                .map(|token| token.expose().to_string()),
            None,
            "gatehouse",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(self.service)
            .time(std::time::SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|error| failed(&error))?
            .into();
        let headers: Vec<(&str, &str)> = request
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        let body = request
            .body()
            .and_then(reqwest::Body::as_bytes)
            .unwrap_or_default();
        let signable = SignableRequest::new(
            request.method().as_str(),
            request.url().as_str(),
            headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|error| failed(&error))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|error| failed(&error))?
            .into_parts();
        let (signed_headers, _query) = instructions.into_parts();
        for header in signed_headers {
            let name =
                HeaderName::from_bytes(header.name().as_bytes()).map_err(|error| failed(&error))?;
            let mut value =
                HeaderValue::from_str(header.value()).map_err(|error| failed(&error))?;
            value.set_sensitive(header.sensitive());
            request.headers_mut().insert(name, value);
        }
        Ok(())
    }
}

impl Credentials {
    /// Adds the credentials to a request about to be sent (fetching a Google access token
    /// first when the cached one is about to expire).
    pub async fn apply(
        &self,
        http: &reqwest::Client,
        request: &mut reqwest::Request,
    ) -> Result<(), ApiError> {
        let (name, value) = match self {
            Credentials::None => return Ok(()),
            Credentials::SigV4(signing) => return signing.sign(request),
            Credentials::GoogleServiceAccount(source) => {
                let token = source.access_token(http).await?;
                (
                    AUTHORIZATION,
                    sensitive_value(&format!("Bearer {}", token.expose()))?,
                )
            }
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
        ApiError::Upstream(ProviderError::Misconfigured(
            "the deployment's credentials are malformed",
        ))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http() -> reqwest::Client {
        reqwest::Client::new()
    }

    fn request() -> reqwest::Request {
        reqwest::Request::new(
            reqwest::Method::POST,
            "http://upstream.test/v1".parse().unwrap(),
        )
    }

    #[tokio::test]
    async fn applies_each_kind() {
        let mut bearer = request();
        Credentials::Bearer(Secret::new("sk-1".into()))
            .apply(&http(), &mut bearer)
            .await
            .unwrap();
        assert_eq!(bearer.headers()[AUTHORIZATION], "Bearer sk-1");
        assert!(bearer.headers()[AUTHORIZATION].is_sensitive());

        let mut header = request();
        Credentials::Header {
            name: HeaderName::from_static("x-api-key"),
            secret: Secret::new("ant-1".into()),
        }
        .apply(&http(), &mut header)
        .await
        .unwrap();
        assert_eq!(header.headers()["x-api-key"], "ant-1");
        assert!(header.headers().get(AUTHORIZATION).is_none());

        let mut none = request();
        Credentials::None.apply(&http(), &mut none).await.unwrap();
        assert!(none.headers().is_empty());
        assert!(Credentials::Bearer(Secret::new("bad\nkey".into()))
            .apply(&http(), &mut request())
            .await
            .is_err());
    }

    #[tokio::test]
    async fn sigv4_signs_the_final_request() {
        let mut signed = request();
        *signed.body_mut() = Some(reqwest::Body::from(r#"{"messages":[]}"#));
        signed
            .headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        Credentials::SigV4(AwsSigning {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
            session_token: Some(Secret::new("session-token".into())),
            region: "us-east-1".into(),
            service: "bedrock",
        })
        .apply(&http(), &mut signed)
        .await
        .unwrap();
        let authorization = signed.headers()[AUTHORIZATION].to_str().unwrap();
        assert!(authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
        assert!(authorization.contains("/us-east-1/bedrock/aws4_request"));
        assert!(authorization.contains("content-type"));
        assert!(signed.headers().contains_key("x-amz-date"));
        assert_eq!(signed.headers()["x-amz-security-token"], "session-token");
        assert!(!authorization.contains("wJalr"));
    }
}
