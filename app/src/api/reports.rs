//! Spend figures for the console's Overview, Spend and Logs pages, and the reconciliation
//! check: admins and finance read them; nothing here changes anything.

use leptos::prelude::*;

use crate::error::ConsoleError;
use crate::model::reports::{LogDetail, LogPage, Overview, Reconciliation, SpendReport};
#[cfg(feature = "ssr")]
use crate::model::reports::{LogFilters, SpendQuery};

/// Requests on one page of the Logs page.
pub const LOG_PAGE_SIZE: i64 = 50;

#[cfg(feature = "ssr")]
mod figures;

/// The Overview page: spend today and this month against yesterday and last month, requests,
/// error rate, latency percentiles, the last 30 days per team and per model, this month per
/// provider and the top teams and models.
#[server(endpoint = "spend_overview")]
pub async fn spend_overview() -> Result<Overview, ConsoleError> {
    use time::Duration;

    use crate::api::guard;
    use crate::db::reports;
    use crate::model::reports::{top_groups, Dimension, Granularity, ReportFilters, ReportRow};
    use crate::model::Role;

    // The pool first, before any await: a resource the page makes twice while rendering may be
    // polled after its first owner (which carries the context) is gone.
    let pool = crate::state::pool()?;
    let session = guard::session().await?;
    guard::require_role_in(&pool, &session, &[Role::Admin, Role::Finance]).await?;
    let none = ReportFilters::default();
    let today = figures::today();
    let month = figures::month_start(today);
    let last_month_end = month - Duration::days(1);
    let last_month = figures::month_start(last_month_end);
    let same_day_last_month =
        (last_month + Duration::days(i64::from(today.day()) - 1)).min(last_month_end);
    let thirty_days_ago = today - Duration::days(29);
    let yesterday = today - Duration::days(1);
    // Per day over the last 30 days and the month so far (the 31st's month began 30 days ago).
    let window = thirty_days_ago.min(month);
    let day = Some(Granularity::Day);
    // Five queries, side by side on the pool; the totals are sums of their rows.
    let (histogram, by_team, by_model, providers, last_month_days) = tokio::try_join!(
        reports::latency_histogram(&pool, today - Duration::days(6), today),
        figures::rows(&pool, window, today, Some(Dimension::Team), day, &none),
        figures::rows(&pool, window, today, Some(Dimension::Model), day, &none),
        figures::rows(&pool, month, today, Some(Dimension::Provider), None, &none),
        figures::rows(&pool, last_month, last_month_end, None, day, &none),
    )?;
    let last_thirty = |rows: &[ReportRow]| -> Vec<ReportRow> {
        let first = thirty_days_ago.to_string();
        rows.iter()
            .filter(|row| row.period >= first)
            .cloned()
            .collect()
    };
    Ok(Overview {
        today: today.to_string(),
        today_totals: figures::sum_between(&by_team, today, today),
        yesterday_totals: figures::sum_between(&by_team, yesterday, yesterday),
        month_totals: figures::sum_between(&by_team, month, today),
        last_month_to_date: figures::sum_between(&last_month_days, last_month, same_day_last_month),
        last_month_totals: figures::sum_between(&last_month_days, last_month, last_month_end),
        days: figures::periods(thirty_days_ago, today, Granularity::Day),
        p50_ms: reports::percentile_ms(&histogram, 50.0),
        p95_ms: reports::percentile_ms(&histogram, 95.0),
        top_teams: figures::groups_between(&by_team, month, today, 5),
        top_models: figures::groups_between(&by_model, month, today, 5),
        daily_by_team: top_groups(last_thirty(&by_team), 8),
        daily_by_model: top_groups(last_thirty(&by_model), 8),
        providers,
    })
}

/// The Spend page's report for its query string (see [`SpendQuery`]): the query with its
/// defaults filled in (the month so far, per project, per day), its rows, totals, budgets and
/// the month-end forecast.
#[server(endpoint = "spend_report")]
pub async fn load_spend_report(query: String) -> Result<SpendReport, ConsoleError> {
    use crate::api::guard;
    use crate::model::reports::{Dimension, Totals};
    use crate::model::Role;

    // The pool first, before any await: a resource the page makes twice while rendering may be
    // polled after its first owner (which carries the context) is gone.
    let pool = crate::state::pool()?;
    let session = guard::session().await?;
    guard::require_role_in(&pool, &session, &[Role::Admin, Role::Finance]).await?;
    let mut query = SpendQuery::from_query_string(&query);
    let (start, end) = figures::range(&query.start, &query.end)?;
    query.start = start.to_string();
    query.end = end.to_string();
    let group_by = *query.group_by.get_or_insert(Dimension::Project);
    let (rows, forecast) = tokio::try_join!(
        figures::rows(
            &pool,
            start,
            end,
            Some(group_by),
            Some(query.granularity),
            &query.filters,
        ),
        figures::forecast(&pool, &query.filters),
    )?;
    let mut totals = Totals::default();
    for row in &rows {
        totals.requests += row.requests;
        totals.failed_requests += row.failed_requests;
        totals.prompt_tokens += row.prompt_tokens;
        totals.completion_tokens += row.completion_tokens;
        totals.cost_micros += row.cost_micros;
    }
    let budgets = figures::budgets(&pool, Some(group_by), &rows, &query.filters).await?;
    Ok(SpendReport {
        presets: figures::presets(),
        periods: figures::periods(start, end, query.granularity),
        query,
        rows,
        totals,
        budgets,
        forecast,
    })
}

/// The Spend page's report as CSV (same query, same rows) with its file name, for the
/// session's admin or finance user: the page's download link (a plain route, not a server
/// function, so the browser saves it).
#[cfg(feature = "ssr")]
pub async fn spend_csv(
    pool: &sqlx::PgPool,
    session: &tower_sessions::Session,
    query: &SpendQuery,
) -> Result<(String, String), ConsoleError> {
    use crate::model::reports::{report_csv, Dimension};
    use crate::model::Role;

    crate::api::guard::require_role_in(pool, session, &[Role::Admin, Role::Finance]).await?;

    let (start, end) = figures::range(&query.start, &query.end)?;
    let group_by = query.group_by.unwrap_or(Dimension::Project);
    let rows = figures::rows(
        pool,
        start,
        end,
        Some(group_by),
        Some(query.granularity),
        &query.filters,
    )
    .await?;
    Ok((
        format!("gatehouse-spend-{start}-{end}.csv"),
        report_csv(&rows),
    ))
}

/// A page of the request log, newest first, under the Logs page's query string (see
/// [`LogFilters`]).
#[server(endpoint = "log_page")]
pub async fn load_log_page(query: String) -> Result<LogPage, ConsoleError> {
    use crate::api::guard;
    use crate::db::{reports, spend};
    use crate::model::reports::{Dimension, LogEntry};
    use crate::model::Role;

    // The pool first, before any await: a resource the page makes twice while rendering may be
    // polled after its first owner (which carries the context) is gone.
    let pool = crate::state::pool()?;
    let session = guard::session().await?;
    guard::require_role_in(&pool, &session, &[Role::Admin, Role::Finance]).await?;
    let filters = LogFilters::from_query_string(&query);
    let moment = |text: &Option<String>, end: bool, name: &str| -> Result<_, ConsoleError> {
        text.as_deref()
            .map(|text| parse_moment(text, end, name))
            .transpose()
    };
    if let Some(status) = &filters.status {
        if status != "success" && status != "failure" {
            return Err(ConsoleError::Invalid(
                "The status must be success or failure.".into(),
            ));
        }
    }
    let token_hash = match &filters.key {
        Some(key) => Some(
            reports::token_hash_by_alias(&pool, key)
                .await?
                .unwrap_or_else(|| key.clone()),
        ),
        None => None,
    };
    let before = match &filters.cursor {
        Some(cursor) => Some(spend::parse_cursor(cursor).ok_or_else(|| {
            ConsoleError::Invalid("That page link is not valid; start from the first page.".into())
        })?),
        None => None,
    };
    let filter = spend::SpendFilter {
        token_hash,
        request_id: filters.request_id.clone(),
        team_id: filters.team_id.clone(),
        model: filters.model.clone(),
        status: filters.status.clone(),
        start: moment(&filters.start, false, "start")?,
        end: moment(&filters.end, true, "end")?,
        before,
        limit: LOG_PAGE_SIZE + 1,
        ..spend::SpendFilter::default()
    };
    let mut rows = spend::list(&pool, &filter).await?;
    let next_cursor = if rows.len() as i64 > LOG_PAGE_SIZE {
        rows.truncate(LOG_PAGE_SIZE as usize);
        rows.last()
            .map(|row| spend::cursor_of(row.started_at, &row.request_id))
    } else {
        None
    };
    let mut hashes: Vec<String> = rows.iter().map(|row| row.token_hash.clone()).collect();
    hashes.sort_unstable();
    hashes.dedup();
    let names = reports::labels(&pool, Dimension::Key, &hashes).await?;
    let entries = rows
        .iter()
        .map(|row| LogEntry {
            request_id: row.request_id.clone(),
            started_at: rfc3339(row.started_at),
            key_label: names
                .get(&row.token_hash)
                .cloned()
                .unwrap_or_else(|| short_hash(&row.token_hash)),
            team_id: row.team_id.clone(),
            model_group: row.model_group.clone(),
            provider: row.provider.clone(),
            status: row.status.clone(),
            http_status: row.http_status,
            prompt_tokens: row.prompt_tokens,
            completion_tokens: row.completion_tokens,
            cost_micros: row.cost_micros,
            latency_ms: row.latency_ms,
        })
        .collect();
    Ok(LogPage {
        entries,
        next_cursor,
    })
}

/// One request in full, or `None` when the log has no such request.
#[server(endpoint = "log_detail")]
pub async fn load_log_detail(request_id: String) -> Result<Option<LogDetail>, ConsoleError> {
    use crate::api::guard;
    use crate::db::{reports, spend};
    use crate::model::reports::{Dimension, LogEntry};
    use crate::model::Role;

    // The pool first, before any await: a resource the page makes twice while rendering may be
    // polled after its first owner (which carries the context) is gone.
    let pool = crate::state::pool()?;
    let session = guard::session().await?;
    guard::require_role_in(&pool, &session, &[Role::Admin, Role::Finance]).await?;
    let filter = spend::SpendFilter {
        request_id: Some(request_id.clone()),
        limit: 1,
        ..spend::SpendFilter::default()
    };
    let Some(row) = spend::list(&pool, &filter).await?.into_iter().next() else {
        return Ok(None);
    };
    let names =
        reports::labels(&pool, Dimension::Key, std::slice::from_ref(&row.token_hash)).await?;
    let payload = spend::payload(&pool, &request_id).await?;
    let pretty = |value: Option<serde_json::Value>| {
        value.map(|value| serde_json::to_string_pretty(&value).unwrap_or_default())
    };
    let (request_payload, response_payload) = match payload {
        Some(payload) => (pretty(payload.request), pretty(payload.response)),
        None => (None, None),
    };
    Ok(Some(LogDetail {
        attempts: serde_json::to_string_pretty(&row.attempt_list()).unwrap_or_default(),
        ended_at: rfc3339(row.ended_at),
        call_type: row.call_type.clone(),
        upstream_model: row.upstream_model.clone(),
        deployment_id: row.model_id.clone(),
        api_base: row.api_base.clone(),
        is_stream: row.is_stream,
        usage_estimated: row.usage_estimated,
        cached_tokens: row.cached_tokens,
        cache_write_tokens: row.cache_write_tokens,
        reasoning_tokens: row.reasoning_tokens,
        end_user: row.end_user.clone(),
        user_id: row.user_id.clone(),
        project_id: row.project_id.clone(),
        tags: row.request_tags.clone().unwrap_or_default(),
        request_payload,
        response_payload,
        entry: LogEntry {
            key_label: names
                .get(&row.token_hash)
                .cloned()
                .unwrap_or_else(|| short_hash(&row.token_hash)),
            request_id: row.request_id,
            started_at: rfc3339(row.started_at),
            team_id: row.team_id,
            model_group: row.model_group,
            provider: row.provider,
            status: row.status,
            http_status: row.http_status,
            prompt_tokens: row.prompt_tokens,
            completion_tokens: row.completion_tokens,
            cost_micros: row.cost_micros,
            latency_ms: row.latency_ms,
        },
    }))
}

/// Rollups against raw rows and budget counters against rollups.
#[server(endpoint = "reconcile_spend")]
pub async fn reconcile_spend() -> Result<Reconciliation, ConsoleError> {
    use crate::api::guard;
    use crate::model::Role;

    let pool = crate::state::pool()?;
    let session = guard::session().await?;
    guard::require_role_in(&pool, &session, &[Role::Admin, Role::Finance]).await?;
    Ok(crate::db::reconcile::reconcile(&pool).await?)
}

#[cfg(feature = "ssr")]
fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(feature = "ssr")]
fn short_hash(hash: &str) -> String {
    format!("key {}…", hash.get(..8).unwrap_or(hash))
}

/// `2026-11-24` (a whole day; an end date includes it) or an RFC 3339 timestamp.
#[cfg(feature = "ssr")]
fn parse_moment(text: &str, end: bool, name: &str) -> Result<time::OffsetDateTime, ConsoleError> {
    use time::format_description::well_known::Rfc3339;

    if let Ok(day) = figures::parse_day(text, name) {
        let day = if end {
            day.next_day().unwrap_or(day)
        } else {
            day
        };
        return Ok(day.midnight().assume_utc());
    }
    time::OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
        ConsoleError::Invalid(format!(
            "The {name} must be a date like 2026-11-24 or a time like 2026-11-24T10:00:00Z."
        ))
    })
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::figures::{parse_day, periods};
    use crate::model::reports::Granularity;

    #[test]
    fn periods_cover_the_range() {
        let day = |text| parse_day(text, "start").unwrap();
        assert_eq!(
            periods(day("2026-10-30"), day("2026-11-02"), Granularity::Day),
            ["2026-10-30", "2026-10-31", "2026-11-01", "2026-11-02"]
        );
        // 2026-11-04 is a Wednesday: its week starts on Monday 2026-11-02.
        assert_eq!(
            periods(day("2026-11-04"), day("2026-11-16"), Granularity::Week),
            ["2026-11-02", "2026-11-09", "2026-11-16"]
        );
        assert_eq!(
            periods(day("2026-01-31"), day("2026-03-01"), Granularity::Month),
            ["2026-01-01", "2026-02-01", "2026-03-01"]
        );
    }
}
