//! The sinks' deliveries: a signed JSON webhook and a JSON Lines file (Langfuse's is in
//! `langfuse`), and the one error they report.

use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::AsyncWriteExt;

use super::langfuse::Langfuse;
use super::payload::CallLog;
use crate::core::secret::Secret;

/// The header carrying a webhook body's signature: `sha256=<hex>` of HMAC-SHA256 over
/// `<timestamp>.<body>` with `GATEHOUSE_WEBHOOK_SECRET`.
pub const SIGNATURE_HEADER: &str = "x-gatehouse-signature";
/// The header carrying the Unix time signed with the body (a receiver refuses old ones).
pub const TIMESTAMP_HEADER: &str = "x-gatehouse-timestamp";

/// The longest one delivery may take: a sink that does not answer is a failed delivery.
pub const DELIVERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Why a delivery failed, and whether trying again may help.
#[derive(Debug)]
pub struct DeliveryError {
    pub message: String,
    pub retryable: bool,
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl DeliveryError {
    /// A failed HTTP exchange: a refused connection, a timeout, a 429 or a 5xx may pass on a
    /// later attempt; any other answer will not.
    pub fn of_http(
        result: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<reqwest::Response, DeliveryError> {
        match result {
            Ok(response) if response.status().is_success() => Ok(response),
            Ok(response) => {
                let status = response.status();
                Err(DeliveryError {
                    message: format!("answered {status}"),
                    retryable: status.is_server_error() || status.as_u16() == 429,
                })
            }
            Err(error) => Err(DeliveryError {
                message: error.without_url().to_string(),
                retryable: true,
            }),
        }
    }
}

pub enum Target {
    Langfuse(Langfuse),
    Webhook(Webhook),
    File(std::path::PathBuf),
}

impl Target {
    pub async fn send(&mut self, batch: &[Arc<CallLog>]) -> Result<(), DeliveryError> {
        match self {
            Target::Langfuse(langfuse) => langfuse.send(batch).await,
            Target::Webhook(webhook) => webhook.send(batch).await,
            Target::File(path) => append_lines(path, batch).await,
        }
    }
}

/// LiteLLM's generic API logger: the batch's payloads as one JSON array.
pub struct Webhook {
    http: reqwest::Client,
    url: String,
    headers: reqwest::header::HeaderMap,
    secret: Option<Secret>,
}

impl Webhook {
    pub fn new(
        http: reqwest::Client,
        url: String,
        headers: Vec<(String, Secret)>,
        secret: Option<Secret>,
    ) -> Webhook {
        let mut map = reqwest::header::HeaderMap::new();
        for (name, value) in headers {
            let (Ok(name), Ok(mut value)) = (
                reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                reqwest::header::HeaderValue::from_str(value.expose()),
            ) else {
                tracing::warn!(header = %name, "GENERIC_LOGGER_HEADERS: a header that is not one was left out");
                continue;
            };
            value.set_sensitive(true);
            map.insert(name, value);
        }
        Webhook {
            http,
            url,
            headers: map,
            secret,
        }
    }

    async fn send(&self, batch: &[Arc<CallLog>]) -> Result<(), DeliveryError> {
        let payloads: Vec<&serde_json::Value> = batch.iter().map(|log| &log.payload).collect();
        let body = serde_json::to_vec(&payloads).map_err(|error| DeliveryError {
            message: error.to_string(),
            retryable: false,
        })?;
        let mut request = self
            .http
            .post(&self.url)
            .timeout(DELIVERY_TIMEOUT)
            .headers(self.headers.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(secret) = &self.secret {
            let timestamp = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
            request = request
                .header(SIGNATURE_HEADER, signature(secret, &timestamp, &body))
                .header(TIMESTAMP_HEADER, timestamp);
        }
        DeliveryError::of_http(request.body(body).send().await).map(|_| ())
    }
}

/// `sha256=<hex>`: HMAC-SHA256 over `<timestamp>.<body>`.
pub fn signature(secret: &Secret, timestamp: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes a key of any length.
        Err(_) => return String::new(),
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Appends one JSON line per log.
async fn append_lines(path: &std::path::Path, batch: &[Arc<CallLog>]) -> Result<(), DeliveryError> {
    let mut lines = Vec::new();
    for log in batch {
        if serde_json::to_writer(&mut lines, &log.payload).is_ok() {
            lines.push(b'\n');
        }
    }
    let failed = |error: std::io::Error| DeliveryError {
        message: format!("{}: {error}", path.display()),
        retryable: true,
    };
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .map_err(failed)?;
    file.write_all(&lines).await.map_err(failed)?;
    file.flush().await.map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_timestamp_and_body() {
        // RFC 4231's second test case, with the message split as timestamp "." body.
        let secret = Secret::new("Jefe".to_string());
        let signed = signature(&secret, "what do ya want for nothing?", b"");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?.");
        assert_eq!(
            signed,
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        );
        assert_ne!(
            signed,
            signature(&secret, "1", b"what do ya want for nothing?")
        );
    }
}
