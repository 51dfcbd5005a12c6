//! Google service-account credentials for Vertex AI: a signed JWT (RS256, `jsonwebtoken`) is
//! exchanged at the account's `token_uri` for an OAuth access token, which is cached and
//! refreshed shortly before it expires. One exchange serves every request meanwhile.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::core::error::ApiError;
use crate::core::provider_error::ProviderError;
use crate::core::secret::Secret;

/// The scope Vertex AI calls need.
const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// How long a signed assertion is valid (Google's maximum).
const ASSERTION_LIFETIME_SECONDS: u64 = 3_600;
/// A token this close to its expiry is refreshed before use.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// How long a token exchange may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

/// The fields of a service-account key file Gatehouse uses.
#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    project_id: Option<String>,
    client_email: String,
    private_key: String,
    #[serde(default = "default_token_uri")]
    token_uri: String,
}

fn default_token_uri() -> String {
    "https://oauth2.googleapis.com/token".into()
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// A service account and its current access token.
pub struct GoogleTokenSource {
    client_email: String,
    project_id: Option<String>,
    signing_key: EncodingKey,
    token_uri: reqwest::Url,
    current: Mutex<Option<(Secret, Instant)>>,
}

impl std::fmt::Debug for GoogleTokenSource {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("GoogleTokenSource")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri.as_str())
            .finish_non_exhaustive()
    }
}

impl GoogleTokenSource {
    /// Reads a service-account key file's JSON.
    pub fn from_key_json(json: &str) -> Result<GoogleTokenSource, String> {
        let key: KeyFile = serde_json::from_str(json)
            .map_err(|error| format!("is not a service-account key file ({error})"))?;
        if key
            .kind
            .as_deref()
            .is_some_and(|kind| kind != "service_account")
        {
            return Err(
                "is not a service-account key (its `type` is not `service_account`)".into(),
            );
        }
        let signing_key = EncodingKey::from_rsa_pem(key.private_key.as_bytes())
            .map_err(|error| format!("has an unreadable private_key ({error})"))?;
        let token_uri = reqwest::Url::parse(&key.token_uri)
            .map_err(|error| format!("has an invalid token_uri ({error})"))?;
        Ok(GoogleTokenSource {
            client_email: key.client_email,
            project_id: key.project_id,
            signing_key,
            token_uri,
            current: Mutex::new(None),
        })
    }

    /// The project the key belongs to.
    pub fn project_id(&self) -> Option<&str> {
        self.project_id.as_deref()
    }

    /// A valid access token: the cached one, or a new one from the token endpoint.
    pub async fn access_token(&self, http: &reqwest::Client) -> Result<Secret, ApiError> {
        let mut current = self.current.lock().await;
        if let Some((token, expires)) = current.as_ref() {
            if Instant::now() + REFRESH_MARGIN < *expires {
                return Ok(token.clone());
            }
        }
        let (token, lifetime) = self.exchange(http).await?;
        *current = Some((token.clone(), Instant::now() + lifetime));
        Ok(token)
    }

    async fn exchange(&self, http: &reqwest::Client) -> Result<(Secret, Duration), ApiError> {
        let failed = |what: &str| {
            tracing::warn!(account = %self.client_email, what, "Google token exchange failed");
            ApiError::Upstream(ProviderError::Failed(format!(
                "the Google service account could not sign in ({what})"
            )))
        };
        // A clock before 1970 or a key that cannot sign: the deployment's setup, not the
        // upstream, and no retry mends it.
        let misconfigured = |what: &'static str| {
            tracing::error!(account = %self.client_email, what, "cannot sign a Google token request");
            ApiError::Upstream(ProviderError::Misconfigured(what))
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| misconfigured("the clock is before 1970"))?
            .as_secs();
        let claims = Claims {
            iss: &self.client_email,
            scope: CLOUD_PLATFORM_SCOPE,
            aud: self.token_uri.as_str(),
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECONDS,
        };
        let assertion =
            jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.signing_key)
                .map_err(|_| misconfigured("the service account's key cannot sign"))?;
        let response = http
            .post(self.token_uri.clone())
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .timeout(EXCHANGE_TIMEOUT)
            .send()
            .await
            .map_err(|_| failed("unreachable token endpoint"))?;
        if !response.status().is_success() {
            return Err(failed(&format!("HTTP {}", response.status().as_u16())));
        }
        let reply: TokenReply = response
            .json()
            .await
            .map_err(|_| failed("unreadable reply"))?;
        let lifetime = Duration::from_secs(reply.expires_in.unwrap_or(ASSERTION_LIFETIME_SECONDS));
        Ok((Secret::new(reply.access_token), lifetime))
    }
}
