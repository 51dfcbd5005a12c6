//! Langfuse's public ingestion API (`POST /api/public/ingestion`, Basic auth with the project's
//! public and secret keys): each call becomes a `trace-create` and a `generation-create` event.
//! A batch is answered 207 with the events that failed; those are counted as failed, not sent
//! again (Langfuse refused them as they are).

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::payload::CallLog;
use super::sinks::DeliveryError;
use crate::core::secret::Secret;

pub struct Langfuse {
    http: reqwest::Client,
    url: String,
    public_key: Secret,
    secret_key: Secret,
}

#[derive(Deserialize)]
struct IngestionResponse {
    #[serde(default)]
    errors: Vec<Value>,
}

fn iso(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

impl Langfuse {
    pub fn new(
        http: reqwest::Client,
        host: &str,
        public_key: Secret,
        secret_key: Secret,
    ) -> Langfuse {
        Langfuse {
            http,
            url: format!("{host}/api/public/ingestion"),
            public_key,
            secret_key,
        }
    }

    pub async fn send(&self, batch: &[Arc<CallLog>]) -> Result<(), DeliveryError> {
        let events: Vec<Value> = batch.iter().flat_map(|log| events(log)).collect();
        let response = DeliveryError::of_http(
            self.http
                .post(&self.url)
                .timeout(super::sinks::DELIVERY_TIMEOUT)
                .basic_auth(self.public_key.expose(), Some(self.secret_key.expose()))
                .json(&json!({ "batch": events }))
                .send()
                .await,
        )?;
        let answer: IngestionResponse = response.json().await.map_err(|error| DeliveryError {
            message: format!("an unreadable answer: {error}"),
            retryable: false,
        })?;
        if answer.errors.is_empty() {
            Ok(())
        } else {
            Err(DeliveryError {
                message: format!(
                    "{} events refused: {}",
                    answer.errors.len(),
                    Value::Array(answer.errors)
                ),
                retryable: false,
            })
        }
    }
}

/// A call's trace and its generation.
fn events(log: &CallLog) -> [Value; 2] {
    let payload = &log.payload;
    let trace_id = payload["trace_id"].as_str().unwrap_or(&log.request_id);
    let now = iso(OffsetDateTime::now_utc());
    let trace = json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "timestamp": now,
        "type": "trace-create",
        "body": {
            "id": trace_id,
            "timestamp": iso(log.started_at),
            "name": payload["call_type"],
            "userId": log.user,
            "sessionId": log.session,
            "tags": log.tags,
            "input": payload["messages"],
            "output": payload["response"],
            "metadata": payload["metadata"],
        },
    });
    let generation = json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "timestamp": now,
        "type": "generation-create",
        "body": {
            "id": log.request_id,
            "traceId": trace_id,
            "name": payload["model_group"],
            "startTime": iso(log.started_at),
            "endTime": iso(log.ended_at),
            "model": payload["model"],
            "input": payload["messages"],
            "output": payload["response"],
            "usageDetails": {
                "input": payload["prompt_tokens"],
                "output": payload["completion_tokens"],
                "total": payload["total_tokens"],
            },
            "costDetails": { "total": payload["response_cost"] },
            "level": if log.success { "DEFAULT" } else { "ERROR" },
            "statusMessage": payload["error_str"],
            "metadata": {
                "model_id": payload["model_id"],
                "custom_llm_provider": payload["custom_llm_provider"],
                "status": payload["status"],
            },
        },
    });
    [trace, generation]
}
