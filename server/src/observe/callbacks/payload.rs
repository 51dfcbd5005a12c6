//! The log a request-log callback receives for each call: LiteLLM's `StandardLoggingPayload`
//! (its field names, so a LiteLLM consumer reads it unchanged), built from the spend row and
//! the call's labels. The prompt and reply appear only when payloads are kept
//! (`store_prompts_in_spend_logs`), redacted as in the spend log.

use app::db::spend::SpendRow;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::observe::labels::exception_class;
use crate::observe::CallContext;

/// One call's log, shared by every sink.
#[derive(Debug)]
pub struct CallLog {
    pub payload: Value,
    pub success: bool,
    pub request_id: String,
    /// For Langfuse: its trace's user, session and tags.
    pub user: Option<String>,
    pub session: Option<String>,
    pub tags: Vec<String>,
    pub started_at: OffsetDateTime,
    pub ended_at: OffsetDateTime,
}

fn unix_seconds(at: OffsetDateTime) -> f64 {
    at.unix_timestamp_nanos() as f64 / 1e9
}

/// The call's log.
pub fn call_log(row: &SpendRow, context: &CallContext) -> CallLog {
    let success = row.status == "success";
    let metadata = row.metadata.as_ref();
    let trace_id = metadata
        .and_then(|metadata| metadata.get("trace_id"))
        .and_then(Value::as_str)
        .unwrap_or(&row.request_id);
    let status = u16::try_from(row.http_status).unwrap_or(0);
    let (messages, response) = match &row.payload {
        Some(payload) => (
            payload.request.clone().unwrap_or(Value::Null),
            payload.response.clone().unwrap_or(Value::Null),
        ),
        None => (Value::Null, Value::Null),
    };
    let payload = json!({
        "id": row.request_id,
        "trace_id": trace_id,
        "call_type": row.call_type,
        "stream": row.is_stream,
        "status": row.status,
        "response_cost": row.cost_micros as f64 / 1e6,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "total_tokens": row.prompt_tokens.saturating_add(row.completion_tokens),
        "startTime": unix_seconds(row.started_at),
        "endTime": unix_seconds(row.ended_at),
        "response_time": f64::from(row.latency_ms) / 1e3,
        "model": row.upstream_model,
        "model_id": row.model_id,
        "model_group": row.model_group,
        "custom_llm_provider": row.provider,
        "api_base": row.api_base,
        "end_user": row.end_user,
        "request_tags": row.request_tags.clone().unwrap_or_default(),
        "metadata": {
            "user_api_key_hash": row.token_hash,
            "user_api_key_alias": context.key_alias.as_deref(),
            "user_api_key_team_id": row.team_id,
            "user_api_key_team_alias": context.team_alias.as_deref(),
            "user_api_key_user_id": row.user_id,
            "user_api_key_project_id": row.project_id,
            "spend_logs_metadata": metadata.and_then(|metadata| metadata.get("spend_logs_metadata")),
            "generation_name": metadata.and_then(|metadata| metadata.get("generation_name")),
            "session_id": row.session_id,
            "attempts": row.attempts,
        },
        "usage_object": {
            "prompt_tokens": row.prompt_tokens,
            "completion_tokens": row.completion_tokens,
            "total_tokens": row.prompt_tokens.saturating_add(row.completion_tokens),
            "prompt_tokens_details": { "cached_tokens": row.cached_tokens },
            "completion_tokens_details": { "reasoning_tokens": row.reasoning_tokens },
        },
        "messages": messages,
        "response": response,
        "error_str": (!success).then(|| exception_class(status)),
        "error_information": (!success).then(|| json!({
            "error_code": status.to_string(),
            "error_class": exception_class(status),
        })),
    });
    CallLog {
        payload,
        success,
        request_id: row.request_id.clone(),
        user: row.end_user.clone().or_else(|| row.user_id.clone()),
        session: row.session_id.clone(),
        tags: row.request_tags.clone().unwrap_or_default(),
        started_at: row.started_at,
        ended_at: row.ended_at,
    }
}
