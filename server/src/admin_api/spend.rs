//! `GET /spend/logs` in LiteLLM's shape. Admins and finance read any key's rows; any other key
//! its own.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use app::db::spend::{self, SpendFilter, SpendRow};
use app::model::micros_to_dollars;

use super::access::actor;
use super::{rfc3339, token_hash_of, ApiQuery};
use crate::error::ApiError;
use crate::state::SharedGateway;

const DEFAULT_LIMIT: i64 = 1_000;
const MAX_LIMIT: i64 = 10_000;

#[derive(Deserialize)]
pub struct SpendLogsQuery {
    api_key: Option<String>,
    request_id: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    limit: Option<i64>,
}

pub async fn logs(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<SpendLogsQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let caller = actor(&gateway, &headers).await?;
    let token_hash = query.api_key.as_deref().map(token_hash_of);
    let token_hash = if caller.require_reads_spend("read other keys' spend").is_ok() {
        token_hash
    } else {
        let own = caller.caller.token_hash().to_string();
        if token_hash.as_ref().is_some_and(|asked| *asked != own) {
            return Err(ApiError::Forbidden(
                "Your role may read only the spend of the key you call with.".into(),
            ));
        }
        Some(own)
    };
    let filter = SpendFilter {
        token_hash,
        request_id: query.request_id,
        start: query
            .start_date
            .as_deref()
            .map(|text| parse_moment(text, "start_date", false))
            .transpose()?,
        end: query
            .end_date
            .as_deref()
            .map(|text| parse_moment(text, "end_date", true))
            .transpose()?,
        limit: query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
    };
    let rows = spend::list(&gateway.pool, &filter).await?;
    Ok(Json(rows.iter().map(litellm_row).collect()))
}

/// `2026-11-24` (a whole day; an end date includes it) or an RFC 3339 timestamp.
fn parse_moment(
    text: &str,
    param: &'static str,
    end_of_day: bool,
) -> Result<OffsetDateTime, ApiError> {
    if let Ok(date) = Date::parse(text, format_description!("[year]-[month]-[day]")) {
        let day = if end_of_day {
            date.next_day().unwrap_or(date)
        } else {
            date
        };
        return Ok(day.midnight().assume_utc());
    }
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
        ApiError::bad_request(
            format!("`{param}` must be a date like 2026-11-24 or an RFC 3339 timestamp."),
            Some(param),
        )
    })
}

fn litellm_row(row: &SpendRow) -> Value {
    json!({
        "request_id": row.request_id,
        "call_type": row.call_type,
        "api_key": row.token_hash,
        "spend": micros_to_dollars(row.cost_micros),
        "spend_micros": row.cost_micros,
        "total_tokens": row.prompt_tokens + row.completion_tokens,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "cached_tokens": row.cached_tokens,
        "cache_write_tokens": row.cache_write_tokens,
        "reasoning_tokens": row.reasoning_tokens,
        "startTime": rfc3339(row.started_at),
        "endTime": rfc3339(row.ended_at),
        "request_duration_ms": row.latency_ms,
        "model": row.upstream_model,
        "model_group": row.model_group,
        "custom_llm_provider": row.provider,
        "api_base": row.api_base,
        "user": "",
        "end_user": row.end_user,
        "status": row.status,
        "http_status": row.http_status,
        "stream": row.is_stream,
        "usage_estimated": row.usage_estimated,
        "cache_hit": "False",
        "model_id": row.model_id,
        "metadata": { "attempts": row.attempt_list() },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dates_and_timestamps() {
        let start = parse_moment("2026-11-24", "start_date", false).unwrap();
        assert_eq!(rfc3339(start), "2026-11-24T00:00:00Z");
        let end = parse_moment("2026-11-24", "end_date", true).unwrap();
        assert_eq!(rfc3339(end), "2026-11-25T00:00:00Z");
        assert!(parse_moment("2026-11-24T10:00:00Z", "start_date", false).is_ok());
        assert!(parse_moment("yesterday", "start_date", false).is_err());
    }
}
