//! Spend reports on the management API, read from the daily rollups: LiteLLM's
//! `/global/spend/report`, `/spend/tags` and `/global/spend/tags` in its shapes, and
//! Gatehouse's flat `/spend/report` (the daily activity reports are in `daily_activity`). Each
//! answers `format=csv` with its figures as flat CSV rows (period × group).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use app::db::reports::{self, BreakdownRow, Lines, ReportSpec};
use app::model::micros_to_dollars;
use app::model::reports::{report_csv, Dimension, Granularity, ReportFilters, ReportRow};

use super::extract::SpendReader;
use super::ApiQuery;
use crate::core::error::ApiError;
use crate::state::SharedGateway;
use app::secrets::token_hash_of;

/// Longest range a report covers.
const MAX_RANGE_DAYS: i64 = 3_660;

/// Query parameters every report understands (LiteLLM's names where it has them).
#[derive(Deserialize, Default)]
pub struct ReportParams {
    start_date: Option<String>,
    end_date: Option<String>,
    group_by: Option<String>,
    granularity: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
    api_key: Option<String>,
    pub(super) team_id: Option<String>,
    project_id: Option<String>,
    organization_id: Option<String>,
    user_id: Option<String>,
    internal_user_id: Option<String>,
    model: Option<String>,
    provider: Option<String>,
    tag: Option<String>,
    customer_id: Option<String>,
    /// `/global/spend/tags`: comma-separated tags, or `all-tags`.
    tags: Option<String>,
    /// `/team/daily/activity`: comma-separated team ids to include or leave out.
    pub(super) team_ids: Option<String>,
    pub(super) exclude_team_ids: Option<String>,
    pub(super) page: Option<i64>,
    pub(super) page_size: Option<i64>,
}

impl ReportParams {
    pub(super) fn filters(&self) -> ReportFilters {
        ReportFilters {
            organization_id: self.organization_id.clone(),
            team_id: self.team_id.clone(),
            project_id: self.project_id.clone(),
            token_hash: self.api_key.as_deref().map(token_hash_of),
            user_id: self.user_id.clone().or(self.internal_user_id.clone()),
            model: self.model.clone(),
            provider: self.provider.clone(),
            tag: self.tag.clone(),
        }
    }

    /// The range, both dates required.
    pub(super) fn required_range(&self) -> Result<(Date, Date), ApiError> {
        let start = self.start_date.as_deref().ok_or_else(|| {
            ApiError::bad_request("`start_date` is required (YYYY-MM-DD).", Some("start_date"))
        })?;
        let end = self.end_date.as_deref().ok_or_else(|| {
            ApiError::bad_request("`end_date` is required (YYYY-MM-DD).", Some("end_date"))
        })?;
        range(parse_day(start, "start_date")?, parse_day(end, "end_date")?)
    }

    /// The range, defaulting to the month so far (or to everything when `all_time`).
    fn range_or_default(&self, all_time: bool) -> Result<(Date, Date), ApiError> {
        let today = OffsetDateTime::now_utc().date();
        let start = match self.start_date.as_deref() {
            Some(text) => parse_day(text, "start_date")?,
            None if all_time => today.saturating_sub(time::Duration::days(MAX_RANGE_DAYS - 1)),
            None => today.replace_day(1).unwrap_or(today),
        };
        let end = match self.end_date.as_deref() {
            Some(text) => parse_day(text, "end_date")?,
            None => today,
        };
        range(start, end)
    }

    pub(super) fn wants_csv(&self) -> Result<bool, ApiError> {
        match self.format.as_deref() {
            None | Some("json") => Ok(false),
            Some("csv") => Ok(true),
            Some(_) => Err(ApiError::bad_request(
                "`format` must be `json` or `csv`.",
                Some("format"),
            )),
        }
    }

    fn granularity(&self) -> Result<Granularity, ApiError> {
        match self.granularity.as_deref() {
            None => Ok(Granularity::Day),
            Some(text) => Granularity::parse(text).ok_or_else(|| {
                ApiError::bad_request(
                    "`granularity` must be `day`, `week` or `month`.",
                    Some("granularity"),
                )
            }),
        }
    }
}

fn parse_day(text: &str, param: &'static str) -> Result<Date, ApiError> {
    // LiteLLM's UI sends `YYYY-MM-DD HH:MM:SS`; the day is what counts here.
    let day = text.trim().get(..10).unwrap_or(text);
    let day = Date::parse(day, format_description!("[year]-[month]-[day]")).map_err(|_| {
        ApiError::bad_request(
            format!("`{param}` must be a date like 2026-11-24."),
            Some(param),
        )
    })?;
    app::model::check_report_year(day.year())
        .map_err(|message| ApiError::bad_request(format!("`{param}`: {message}."), Some(param)))?;
    Ok(day)
}

fn range(start: Date, end: Date) -> Result<(Date, Date), ApiError> {
    if start > end {
        return Err(ApiError::bad_request(
            "`start_date` must not be after `end_date`.",
            Some("start_date"),
        ));
    }
    if (end - start).whole_days() >= MAX_RANGE_DAYS {
        return Err(ApiError::bad_request(
            format!("A report covers at most {MAX_RANGE_DAYS} days."),
            Some("start_date"),
        ));
    }
    Ok((start, end))
}

fn dimension(text: &str) -> Result<Dimension, ApiError> {
    Dimension::parse(text).ok_or_else(|| {
        ApiError::bad_request(
            "`group_by` must be one of team, api_key, model, provider, tag, project, organization, user.",
            Some("group_by"),
        )
    })
}

/// Spend per period × group as CSV, named after the range.
pub(super) fn csv_response(rows: &[ReportRow], start: Date, end: Date) -> Response {
    let mut response = report_csv(rows).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"gatehouse-spend-{start}-{end}.csv\""
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The labelled rows of a report.
pub(super) async fn labelled_report(
    gateway: &SharedGateway,
    spec: &ReportSpec<'_>,
) -> Result<Vec<ReportRow>, ApiError> {
    let mut rows = reports::report(&gateway.pool, spec).await?;
    reports::label_rows(&gateway.pool, spec.group_by, &mut rows).await?;
    Ok(rows)
}

/// The flat report as JSON.
fn report_json(rows: &[ReportRow]) -> Value {
    Value::Array(
        rows.iter()
            .map(|row| {
                json!({
                    "period": row.period,
                    "group": row.group_key,
                    "label": row.label,
                    "requests": row.requests,
                    "failed_requests": row.failed_requests,
                    "prompt_tokens": row.prompt_tokens,
                    "completion_tokens": row.completion_tokens,
                    "cached_tokens": row.cached_tokens,
                    "spend": micros_to_dollars(row.cost_micros),
                    "spend_micros": row.cost_micros,
                    "avg_latency_ms": row.average_latency_ms(),
                })
            })
            .collect(),
    )
}

/// `GET /spend/report`: spend per period (`granularity`) × group (`group_by`, optional) with
/// any filters, over `start_date..=end_date` (default: the month so far). Admins and finance.
pub async fn spend_report(
    reader: SpendReader,
    ApiQuery(params): ApiQuery<ReportParams>,
) -> Result<Response, ApiError> {
    let gateway = &reader.gateway;
    let (start, end) = params.range_or_default(false)?;
    let group_by = params.group_by.as_deref().map(dimension).transpose()?;
    let filters = params.filters();
    let spec = ReportSpec {
        start,
        end,
        group_by,
        granularity: Some(params.granularity()?),
        filters: &filters,
    };
    let rows = labelled_report(gateway, &spec).await?;
    if params.wants_csv()? {
        return Ok(csv_response(&rows, start, end));
    }
    let total: i64 = rows.iter().map(|row| row.cost_micros).sum();
    Ok(Json(json!({
        "start_date": start.to_string(),
        "end_date": end.to_string(),
        "group_by": group_by.map(Dimension::as_str),
        "granularity": spec.granularity.map(Granularity::as_str),
        "total_spend": micros_to_dollars(total),
        "total_spend_micros": total,
        "rows": report_json(&rows),
    }))
    .into_response())
}

/// `GET /global/spend/report` (LiteLLM): per day, spend per team (default), key, or any
/// Gatehouse dimension, each with its per-model-and-key breakdown. Admins and finance.
pub async fn global_report(
    reader: SpendReader,
    ApiQuery(params): ApiQuery<ReportParams>,
) -> Result<Response, ApiError> {
    let gateway = &reader.gateway;
    let (start, end) = params.required_range()?;
    if params.group_by.as_deref() == Some("customer") || params.customer_id.is_some() {
        return Err(ApiError::bad_request(
            "Spend per customer is not kept in the rollups; read it from `/spend/logs?end_user=`.",
            Some("group_by"),
        ));
    }
    let filters = params.filters();
    // LiteLLM: a key or user filter answers per key, whatever `group_by` says.
    let group_by = if filters.token_hash.is_some() || params.internal_user_id.is_some() {
        Dimension::Key
    } else {
        dimension(params.group_by.as_deref().unwrap_or("team"))?
    };
    let spec = ReportSpec {
        start,
        end,
        group_by: Some(group_by),
        granularity: Some(Granularity::Day),
        filters: &filters,
    };
    if params.wants_csv()? {
        let rows = labelled_report(gateway, &spec).await?;
        return Ok(csv_response(&rows, start, end));
    }
    let body = if group_by == Dimension::Key {
        let lines = Lines {
            by_day: false,
            by_model: true,
            by_key: true,
        };
        per_key(&reports::breakdown(&gateway.pool, &spec, lines).await?)
    } else {
        let lines = Lines {
            by_day: true,
            by_model: true,
            by_key: false,
        };
        let lines = reports::breakdown(&gateway.pool, &spec, lines).await?;
        let ids: BTreeSet<String> = lines.iter().map(|line| line.group_key.clone()).collect();
        let ids: Vec<String> = ids.into_iter().collect();
        let names = reports::labels(&gateway.pool, group_by, &ids).await?;
        per_day(&lines, group_by, &names)
    };
    Ok(Json(body).into_response())
}

/// LiteLLM's per-day shape: `[{group_by_day, teams: [{team_name, total_spend, metadata:
/// [{model, provider, spend, total_tokens}]}]}]`, oldest day first. The metadata is per model
/// (LiteLLM's also splits it per key; `group_by=api_key` answers per key).
fn per_day(lines: &[BreakdownRow], group_by: Dimension, names: &HashMap<String, String>) -> Value {
    let mut days: BTreeMap<Date, BTreeMap<&str, Vec<&BreakdownRow>>> = BTreeMap::new();
    for line in lines {
        let Some(day) = line.day else { continue };
        days.entry(day)
            .or_default()
            .entry(line.group_key.as_str())
            .or_default()
            .push(line);
    }
    let (list_name, name_field, id_field) = match group_by {
        Dimension::Team => ("teams", "team_name", "team_id"),
        Dimension::Organization => ("organizations", "organization_name", "organization_id"),
        Dimension::Project => ("projects", "project_name", "project_id"),
        Dimension::User => ("users", "user_name", "user_id"),
        Dimension::Model => ("models", "model_name", "model"),
        Dimension::Provider => ("providers", "provider_name", "provider"),
        Dimension::Tag => ("tags", "tag_name", "tag"),
        Dimension::Key => ("api_keys", "key_name", "api_key"),
    };
    let unassigned = match group_by {
        Dimension::Team => "Unassigned Team".to_string(),
        other => reports::unassigned_label(Some(other)).to_string(),
    };
    Value::Array(
        days.into_iter()
            .map(|(day, groups)| {
                let mut entries: Vec<(i64, Value)> = groups
                    .into_iter()
                    .map(|(id, lines)| {
                        let total: i64 = lines.iter().map(|line| line.cost_micros).sum();
                        let name = if id.is_empty() {
                            unassigned.clone()
                        } else {
                            names.get(id).cloned().unwrap_or_else(|| id.to_string())
                        };
                        let metadata: Vec<Value> = lines
                            .iter()
                            .map(|line| {
                                json!({
                                    "model": line.model_group,
                                    "provider": line.provider,
                                    "spend": micros_to_dollars(line.cost_micros),
                                    "total_tokens": line.prompt_tokens.saturating_add(line.completion_tokens),
                                })
                            })
                            .collect();
                        let mut entry = Map::new();
                        entry.insert(name_field.into(), json!(name));
                        entry.insert(id_field.into(), json!(id));
                        entry.insert("total_spend".into(), json!(micros_to_dollars(total)));
                        entry.insert("total_spend_micros".into(), json!(total));
                        entry.insert("metadata".into(), Value::Array(metadata));
                        (total, Value::Object(entry))
                    })
                    .collect();
                entries.sort_by_key(|entry| std::cmp::Reverse(entry.0));
                let mut object = Map::new();
                object.insert(
                    "group_by_day".into(),
                    json!(format!("{day}T00:00:00+00:00")),
                );
                object.insert(
                    list_name.into(),
                    Value::Array(entries.into_iter().map(|(_, entry)| entry).collect()),
                );
                Value::Object(object)
            })
            .collect(),
    )
}

/// LiteLLM's per-key shape: `[{api_key, total_cost, total_input_tokens, total_output_tokens,
/// model_details: [...]}]`, biggest first.
fn per_key(lines: &[BreakdownRow]) -> Value {
    #[derive(Default)]
    struct Sums {
        cost: i64,
        input: i64,
        output: i64,
    }
    let mut keys: BTreeMap<&str, (Sums, BTreeMap<&str, Sums>)> = BTreeMap::new();
    for line in lines {
        let (total, models) = keys.entry(line.token_hash.as_str()).or_default();
        let model = models.entry(line.model_group.as_str()).or_default();
        for sums in [total, model] {
            sums.cost += line.cost_micros;
            sums.input += line.prompt_tokens;
            sums.output += line.completion_tokens;
        }
    }
    let mut entries: Vec<(i64, Value)> = keys
        .into_iter()
        .map(|(key, (total, models))| {
            let details: Vec<Value> = models
                .into_iter()
                .map(|(model, sums)| {
                    json!({
                        "model": model,
                        "total_cost": micros_to_dollars(sums.cost),
                        "total_input_tokens": sums.input,
                        "total_output_tokens": sums.output,
                    })
                })
                .collect();
            (
                total.cost,
                json!({
                    "api_key": key,
                    "total_cost": micros_to_dollars(total.cost),
                    "total_cost_micros": total.cost,
                    "total_input_tokens": total.input,
                    "total_output_tokens": total.output,
                    "model_details": details,
                }),
            )
        })
        .collect();
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    Value::Array(entries.into_iter().map(|(_, entry)| entry).collect())
}

/// `GET /spend/tags` (LiteLLM): spend and request count per request tag, biggest first, over
/// the range given (all time otherwise). Admins and finance.
pub async fn spend_tags(
    reader: SpendReader,
    ApiQuery(params): ApiQuery<ReportParams>,
) -> Result<Response, ApiError> {
    let gateway = &reader.gateway;
    let (start, end) = params.range_or_default(true)?;
    let rows = tag_rows(gateway, &params, start, end).await?;
    if params.wants_csv()? {
        return Ok(csv_response(&rows, start, end));
    }
    Ok(Json(Value::Array(
        rows.iter()
            .map(|row| {
                json!({
                    "individual_request_tag": row.group_key,
                    "log_count": row.requests,
                    "total_spend": micros_to_dollars(row.cost_micros),
                    "total_spend_micros": row.cost_micros,
                })
            })
            .collect(),
    ))
    .into_response())
}

/// `GET /global/spend/tags` (LiteLLM): `{spend_per_tag: [{name, spend, log_count}]}`, with
/// `tags` (comma-separated) narrowing it. Admins and finance.
pub async fn global_spend_tags(
    reader: SpendReader,
    ApiQuery(params): ApiQuery<ReportParams>,
) -> Result<Response, ApiError> {
    let gateway = &reader.gateway;
    let (start, end) = params.range_or_default(true)?;
    let mut rows = tag_rows(gateway, &params, start, end).await?;
    if let Some(wanted) = params.tags.as_deref().filter(|tags| *tags != "all-tags") {
        let wanted: BTreeSet<&str> = wanted.split(',').map(str::trim).collect();
        rows.retain(|row| wanted.contains(row.group_key.as_str()));
    }
    if params.wants_csv()? {
        return Ok(csv_response(&rows, start, end));
    }
    let tags: Vec<Value> = rows
        .iter()
        .map(|row| {
            json!({
                "name": row.group_key,
                "spend": micros_to_dollars(row.cost_micros),
                "spend_micros": row.cost_micros,
                "log_count": row.requests,
            })
        })
        .collect();
    Ok(Json(json!({ "spend_per_tag": tags })).into_response())
}

async fn tag_rows(
    gateway: &SharedGateway,
    params: &ReportParams,
    start: Date,
    end: Date,
) -> Result<Vec<ReportRow>, ApiError> {
    let filters = params.filters();
    let spec = ReportSpec {
        start,
        end,
        group_by: Some(Dimension::Tag),
        granularity: None,
        filters: &filters,
    };
    labelled_report(gateway, &spec).await
}

/// `GET /spend/reconcile`: rollups against raw rows and all-time budget counters against
/// rollups; `ok` when nothing drifted. Admins and finance.
pub async fn reconcile(reader: SpendReader) -> Result<Response, ApiError> {
    let gateway = &reader.gateway;
    let result = app::db::reconcile::reconcile(&gateway.pool).await?;
    let mut body = serde_json::to_value(&result).unwrap_or_default();
    if let Value::Object(fields) = &mut body {
        fields.insert("ok".into(), json!(result.drifts.is_empty()));
    }
    Ok(Json(body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_parse_with_or_without_time() {
        assert_eq!(
            parse_day("2026-11-24", "start_date").unwrap().to_string(),
            "2026-11-24"
        );
        assert_eq!(
            parse_day("2026-11-24 10:00:00", "start_date")
                .unwrap()
                .to_string(),
            "2026-11-24"
        );
        assert!(parse_day("24/11/2026", "start_date").is_err());
        let day = |text| parse_day(text, "start_date").unwrap();
        assert!(range(day("2026-11-25"), day("2026-11-24")).is_err());
        assert!(range(day("2016-01-01"), day("2026-11-24")).is_err());
    }
}
