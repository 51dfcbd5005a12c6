//! LiteLLM's `/user/daily/activity` and `/team/daily/activity`: per day, spend with breakdowns
//! by model, provider, key and entity (the shape is written by `activity`), read from the daily
//! rollups, paged by day; `format=csv` answers flat rows.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use time::Date;

use app::db::reports::{self, ReportSpec};
use app::model::reports::{Dimension, Granularity, ReportFilters};

use super::access::Actor;
use super::activity;
use super::reports::{csv_response, labelled_report, ReportParams};
use super::ApiQuery;
use crate::core::error::ApiError;
use crate::state::SharedGateway;

/// `GET /user/daily/activity` (LiteLLM): per day, spend with breakdowns by model, provider
/// and key. Admins and finance read every user (or `user_id`); anyone else their own.
pub async fn user_daily_activity(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    ApiQuery(params): ApiQuery<ReportParams>,
) -> Result<Response, ApiError> {
    let mut filters = params.filters();
    if caller.require_reads_spend("").is_err() {
        match &caller.user_id {
            Some(own) => {
                if filters.user_id.as_ref().is_some_and(|asked| asked != own) {
                    return Err(ApiError::Forbidden(
                        "Your role may read only your own activity.".into(),
                    ));
                }
                filters.user_id = Some(own.clone());
            }
            None => filters.token_hash = Some(caller.caller.token_hash().to_string()),
        }
    }
    daily_activity(&gateway, &params, filters, Dimension::User, None).await
}

/// `GET /team/daily/activity` (LiteLLM): per day, spend with breakdowns by model, provider,
/// key and team (`entities`). Admins and finance read every team; anyone else the teams it
/// belongs to.
pub async fn team_daily_activity(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    ApiQuery(params): ApiQuery<ReportParams>,
) -> Result<Response, ApiError> {
    let split = |text: &Option<String>| -> Option<BTreeSet<String>> {
        text.as_deref().map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(str::to_string)
                .collect()
        })
    };
    let mut teams = split(&params.team_ids);
    if let Some(team) = &params.team_id {
        teams.get_or_insert_with(BTreeSet::new).insert(team.clone());
    }
    if !reads_all_spend(&caller) {
        match &mut teams {
            Some(asked) => {
                if let Some(foreign) = asked.iter().find(|id| !caller.member_of.contains(*id)) {
                    return Err(ApiError::Forbidden(format!(
                        "You are not a member of team `{foreign}`."
                    )));
                }
            }
            None => teams = Some(caller.member_of.clone()),
        }
    }
    let excluded = split(&params.exclude_team_ids).unwrap_or_default();
    let mut filters = params.filters();
    // One team asked for: the database narrows to it; several: the scope below does.
    filters.team_id = match &teams {
        Some(only) if only.len() == 1 => only.iter().next().cloned(),
        _ => None,
    };
    let scope = TeamScope {
        only: teams,
        excluded,
    };
    daily_activity(&gateway, &params, filters, Dimension::Team, Some(scope)).await
}

fn reads_all_spend(caller: &Actor) -> bool {
    caller.require_reads_spend("").is_ok()
}

/// Which teams a team activity report covers.
struct TeamScope {
    /// `None`: every team.
    only: Option<BTreeSet<String>>,
    excluded: BTreeSet<String>,
}

impl TeamScope {
    fn covers(&self, team_id: &str) -> bool {
        !self.excluded.contains(team_id)
            && self.only.as_ref().is_none_or(|only| only.contains(team_id))
    }
}

/// LiteLLM's daily activity response, days newest first and paged by day.
async fn daily_activity(
    gateway: &SharedGateway,
    params: &ReportParams,
    filters: ReportFilters,
    entity: Dimension,
    teams: Option<TeamScope>,
) -> Result<Response, ApiError> {
    let (start, end) = params.required_range()?;
    let spec = ReportSpec {
        start,
        end,
        group_by: Some(entity),
        granularity: Some(Granularity::Day),
        filters: &filters,
    };
    if params.wants_csv()? {
        let mut rows = labelled_report(gateway, &spec).await?;
        if let Some(scope) = &teams {
            rows.retain(|row| scope.covers(&row.group_key));
        }
        return Ok(csv_response(&rows, start, end));
    }
    let mut lines = reports::rollup_lines(&gateway.pool, &spec).await?;
    if let Some(scope) = &teams {
        lines.retain(|line| scope.covers(&line.group_key));
    }
    let page_size = params.page_size.unwrap_or(50).clamp(1, 1_000);
    let page = params.page.unwrap_or(1).max(1);
    // Newest first.
    let days: Vec<Date> = lines
        .iter()
        .filter_map(|line| line.day)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .rev()
        .collect();
    let total_pages = (days.len() as i64 + page_size - 1) / page_size;
    let first = usize::try_from((page - 1).saturating_mul(page_size)).unwrap_or(usize::MAX);
    let shown: BTreeSet<Date> = days
        .iter()
        .skip(first)
        .take(usize::try_from(page_size).unwrap_or(usize::MAX))
        .copied()
        .collect();

    let hashes = distinct(lines.iter().map(|line| line.token_hash.as_str()));
    let entity_ids = distinct(lines.iter().map(|line| line.group_key.as_str()));
    let (keys, entity_names) = tokio::try_join!(
        reports::key_metadata(&gateway.pool, &hashes),
        reports::labels(&gateway.pool, entity, &entity_ids),
    )?;
    let names = activity::Names {
        entity,
        keys: &keys,
        entity_names: &entity_names,
    };
    let shown_page = activity::Page {
        shown,
        page,
        total_pages,
        has_more: page.saturating_mul(page_size) < days.len() as i64,
    };
    let body = activity::render(&lines, &names, &shown_page).map_err(|error| {
        tracing::error!(%error, "daily activity did not serialize");
        ApiError::Internal
    })?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

/// Each value once, in order.
fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    values
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(str::to_string)
        .collect()
}
