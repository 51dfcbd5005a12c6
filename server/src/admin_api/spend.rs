//! `GET /spend/logs` in LiteLLM's shape, and `GET /spend/logs/page` paged by keyset. Admins and
//! finance read any key's rows; any other key its own.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use std::collections::BTreeMap;

use app::db::reports::{self, Lines, ReportSpec};
use app::db::spend::{self, SpendFilter, SpendRow};
use app::model::micros_to_dollars;
use app::model::reports::{Dimension, Granularity, ReportFilters};

use super::access::Actor;
use super::{rfc3339, ApiQuery};
use crate::core::error::ApiError;
use crate::state::SharedGateway;
use app::secrets::token_hash_of;

const DEFAULT_LIMIT: i64 = 1_000;
const MAX_LIMIT: i64 = 10_000;
/// Rows per page of `/spend/logs/page` unless `page_size` says otherwise.
const DEFAULT_PAGE_SIZE: i64 = 50;

#[derive(Deserialize)]
pub struct SpendLogsQuery {
    api_key: Option<String>,
    request_id: Option<String>,
    user_id: Option<String>,
    team_id: Option<String>,
    project_id: Option<String>,
    end_user: Option<String>,
    model: Option<String>,
    /// `success` or `failure`.
    status: Option<String>,
    tag: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    /// LiteLLM: with both dates, spend per day (the default) rather than rows.
    summarize: Option<bool>,
    limit: Option<i64>,
    /// `/spend/logs/page`: rows per page, and where the previous page ended.
    page_size: Option<i64>,
    cursor: Option<String>,
}

/// `GET /spend/logs` (LiteLLM): rows newest first, or with both dates and `summarize` (the
/// default then) spend per day. Admins and finance read any key's rows; any other key its own.
pub async fn logs(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    ApiQuery(query): ApiQuery<SpendLogsQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let filter = filter(&caller, &query, limit)?;
    if filter.start.is_some() && filter.end.is_some() && query.summarize.unwrap_or(true) {
        let filters = ReportFilters {
            token_hash: filter.token_hash.clone(),
            user_id: filter.user_id.clone(),
            team_id: filter.team_id.clone(),
            project_id: filter.project_id.clone(),
            model: filter.model.clone(),
            tag: filter.tag.clone(),
            ..ReportFilters::default()
        };
        return summary(&gateway, &query, &filters).await.map(Json);
    }
    let rows = spend::list(&gateway.pool, &filter).await?;
    Ok(Json(Value::Array(rows.iter().map(litellm_row).collect())))
}

/// `GET /spend/logs/page` (Gatehouse): `{data, next_cursor}`, newest first; pass
/// `next_cursor` back as `cursor` for the next page. Every row comes exactly once however
/// many rows land meanwhile.
pub async fn page(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    ApiQuery(query): ApiQuery<SpendLogsQuery>,
) -> Result<Json<Value>, ApiError> {
    let size = query
        .page_size
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, MAX_LIMIT);
    let mut filter = filter(&caller, &query, size + 1)?;
    filter.before = query.cursor.as_deref().map(parse_cursor).transpose()?;
    let mut rows = spend::list(&gateway.pool, &filter).await?;
    let next_cursor = if rows.len() as i64 > size {
        rows.truncate(usize::try_from(size).unwrap_or(usize::MAX));
        rows.last()
            .map(|row| spend::cursor_of(row.started_at, &row.request_id))
    } else {
        None
    };
    Ok(Json(json!({
        "data": rows.iter().map(litellm_row).collect::<Vec<_>>(),
        "next_cursor": next_cursor,
    })))
}

/// The rows a caller asked for and may read.
fn filter(caller: &Actor, query: &SpendLogsQuery, limit: i64) -> Result<SpendFilter, ApiError> {
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
    if let Some(status) = &query.status {
        if status != "success" && status != "failure" {
            return Err(ApiError::bad_request(
                "`status` must be `success` or `failure`.",
                Some("status"),
            ));
        }
    }
    Ok(SpendFilter {
        token_hash,
        request_id: query.request_id.clone(),
        team_id: query.team_id.clone(),
        user_id: query.user_id.clone(),
        project_id: query.project_id.clone(),
        end_user: query.end_user.clone(),
        model: query.model.clone(),
        status: query.status.clone(),
        tag: query.tag.clone(),
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
        before: None,
        limit,
    })
}

/// LiteLLM's summarized shape: one object per day with its spend, and spend per key, user
/// and model that day: `[{startTime, spend, <key hash>: spend, users: {}, models: {}}]`.
async fn summary(
    gateway: &SharedGateway,
    query: &SpendLogsQuery,
    filters: &ReportFilters,
) -> Result<Value, ApiError> {
    let day = |text: &Option<String>, param| {
        text.as_deref()
            .map(|text| parse_moment(text, param, false))
            .transpose()
            .map(|moment| moment.map(|moment| moment.date()))
    };
    let (Some(start), Some(end)) = (
        day(&query.start_date, "start_date")?,
        day(&query.end_date, "end_date")?,
    ) else {
        return Ok(Value::Array(Vec::new()));
    };
    if start > end {
        return Err(ApiError::bad_request(
            "`start_date` must not be after `end_date`.",
            Some("start_date"),
        ));
    }
    let per_key = ReportSpec {
        start,
        end,
        group_by: Some(Dimension::Key),
        granularity: Some(Granularity::Day),
        filters,
    };
    let per_model = ReportSpec {
        group_by: None,
        ..per_key
    };
    let (keys, models) = tokio::try_join!(
        reports::breakdown(
            &gateway.pool,
            &per_key,
            Lines {
                by_day: true,
                by_model: false,
                by_key: true,
            },
        ),
        reports::breakdown(
            &gateway.pool,
            &per_model,
            Lines {
                by_day: true,
                by_model: true,
                by_key: false,
            },
        ),
    )?;
    let mut days: BTreeMap<Date, Map<String, Value>> = BTreeMap::new();
    for line in &keys {
        let Some(day) = line.day else { continue };
        let entry = day_entry(&mut days, day);
        let dollars = micros_to_dollars(line.cost_micros);
        let spend = entry.get("spend").and_then(Value::as_f64).unwrap_or(0.0) + dollars;
        entry.insert("spend".into(), json!(spend));
        entry.insert(line.token_hash.clone(), json!(dollars));
    }
    for line in &models {
        let Some(day) = line.day else { continue };
        if let Some(Value::Object(models)) = day_entry(&mut days, day).get_mut("models") {
            let spend = models
                .get(&line.model_group)
                .and_then(Value::as_f64)
                .unwrap_or(0.0)
                + micros_to_dollars(line.cost_micros);
            models.insert(line.model_group.clone(), json!(spend));
        }
    }
    Ok(Value::Array(
        days.into_values().map(Value::Object).collect(),
    ))
}

/// The summary object of a day, made on first use.
fn day_entry(days: &mut BTreeMap<Date, Map<String, Value>>, day: Date) -> &mut Map<String, Value> {
    days.entry(day).or_insert_with(|| {
        let mut entry = Map::new();
        entry.insert("startTime".into(), json!(day.to_string()));
        entry.insert("spend".into(), json!(0.0));
        entry.insert("users".into(), json!({}));
        entry.insert("models".into(), json!({}));
        entry
    })
}

fn parse_cursor(text: &str) -> Result<(OffsetDateTime, String), ApiError> {
    spend::parse_cursor(text).ok_or_else(|| {
        ApiError::bad_request("`cursor` is not one this API gave out.", Some("cursor"))
    })
}

/// `2026-11-24` (a whole day; an end date includes it) or an RFC 3339 timestamp.
fn parse_moment(
    text: &str,
    param: &'static str,
    end_of_day: bool,
) -> Result<OffsetDateTime, ApiError> {
    let parsed = Date::parse(text, format_description!("[year]-[month]-[day]"))
        .map(|date| date.year())
        .or_else(|_| OffsetDateTime::parse(text, &Rfc3339).map(|moment| moment.year()));
    if let Ok(year) = parsed {
        app::model::check_report_year(year).map_err(|message| {
            ApiError::bad_request(format!("`{param}`: {message}."), Some(param))
        })?;
    }
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
    // LiteLLM keeps the request's trace id, generation name and custom fields in `metadata`.
    let mut metadata = match &row.metadata {
        Some(Value::Object(kept)) => kept.clone(),
        _ => serde_json::Map::new(),
    };
    metadata.insert("attempts".into(), row.attempt_list());
    json!({
        "request_id": row.request_id,
        "call_type": row.call_type,
        "api_key": row.token_hash,
        "spend": micros_to_dollars(row.cost_micros),
        "spend_micros": row.cost_micros,
        "total_tokens": row.prompt_tokens.saturating_add(row.completion_tokens),
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
        "user": row.user_id.as_deref().unwrap_or_default(),
        "team_id": row.team_id,
        "project_id": row.project_id,
        "request_tags": row.request_tags.as_deref().unwrap_or_default(),
        "end_user": row.end_user,
        "status": row.status,
        "http_status": row.http_status,
        "stream": row.is_stream,
        "usage_estimated": row.usage_estimated,
        "cache_hit": "False",
        "model_id": row.model_id,
        "session_id": row.session_id,
        "metadata": metadata,
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
