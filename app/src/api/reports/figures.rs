//! Date arithmetic and queries behind the spend reports' server functions.

use sqlx::PgPool;
use time::{Date, Duration, OffsetDateTime};

use crate::db::reports::{self, ReportSpec};
use crate::error::ConsoleError;
use crate::model::reports::{
    BudgetLine, Dimension, Forecast, Granularity, ReportFilters, ReportRow, Totals,
};

/// Longest range a console report covers.
const MAX_RANGE_DAYS: i64 = 3_660;

pub fn today() -> Date {
    OffsetDateTime::now_utc().date()
}

pub fn month_start(day: Date) -> Date {
    day.replace_day(1).unwrap_or(day)
}

pub fn days_in_month(day: Date) -> i64 {
    i64::from(day.month().length(day.year()))
}

pub fn parse_day(text: &str, name: &str) -> Result<Date, ConsoleError> {
    let day = Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| ConsoleError::Invalid(format!("The {name} date must look like 2026-11-24.")))?;
    crate::model::check_report_year(day.year())
        .map_err(|message| ConsoleError::Invalid(format!("The {name} date: {message}.")))?;
    Ok(day)
}

/// The range asked for (defaults: the month so far), checked.
pub fn range(start: &str, end: &str) -> Result<(Date, Date), ConsoleError> {
    let today = today();
    let start = if start.is_empty() {
        month_start(today)
    } else {
        parse_day(start, "start")?
    };
    let end = if end.is_empty() {
        today
    } else {
        parse_day(end, "end")?
    };
    if start > end {
        return Err(ConsoleError::Invalid(
            "The start date must not be after the end date.".into(),
        ));
    }
    if (end - start).whole_days() >= MAX_RANGE_DAYS {
        return Err(ConsoleError::Invalid(format!(
            "A report covers at most {MAX_RANGE_DAYS} days."
        )));
    }
    Ok((start, end))
}

/// The Spend page's ready-made ranges: this month, last month, the last 30 and 90 days.
pub fn presets() -> Vec<(String, String, String)> {
    let today = today();
    let month = month_start(today);
    let last_month_end = month - Duration::days(1);
    [
        ("This month", month, today),
        ("Last month", month_start(last_month_end), last_month_end),
        ("Last 30 days", today - Duration::days(29), today),
        ("Last 90 days", today - Duration::days(89), today),
    ]
    .into_iter()
    .map(|(label, start, end)| (label.to_string(), start.to_string(), end.to_string()))
    .collect()
}

/// Every period's first day from `start` to `end`.
pub fn periods(start: Date, end: Date, granularity: Granularity) -> Vec<String> {
    let first = match granularity {
        Granularity::Day => start,
        Granularity::Week => {
            start - Duration::days(i64::from(start.weekday().number_days_from_monday()))
        }
        Granularity::Month => month_start(start),
    };
    let mut periods = Vec::new();
    let mut period = first;
    while period <= end {
        periods.push(period.to_string());
        period = match granularity {
            Granularity::Day => period + Duration::days(1),
            Granularity::Week => period + Duration::days(7),
            Granularity::Month => month_start(period) + Duration::days(days_in_month(period)),
        };
    }
    periods
}

pub async fn rows(
    pool: &PgPool,
    start: Date,
    end: Date,
    group_by: Option<Dimension>,
    granularity: Option<Granularity>,
    filters: &ReportFilters,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    let spec = ReportSpec {
        start,
        end,
        group_by,
        granularity,
        filters,
    };
    let mut rows = reports::report(pool, &spec).await?;
    reports::label_rows(pool, group_by, &mut rows).await?;
    Ok(rows)
}

pub async fn totals(
    pool: &PgPool,
    start: Date,
    end: Date,
    filters: &ReportFilters,
) -> Result<Totals, sqlx::Error> {
    let rows = rows(pool, start, end, None, None, filters).await?;
    Ok(rows.first().map(Totals::from).unwrap_or_default())
}

/// What the rows of periods `from..=to` add up to.
pub fn sum_between(rows: &[ReportRow], from: Date, to: Date) -> Totals {
    let (from, to) = (from.to_string(), to.to_string());
    let mut totals = Totals::default();
    for row in rows
        .iter()
        .filter(|row| row.period >= from && row.period <= to)
    {
        totals.requests += row.requests;
        totals.failed_requests += row.failed_requests;
        totals.prompt_tokens += row.prompt_tokens;
        totals.completion_tokens += row.completion_tokens;
        totals.cost_micros += row.cost_micros;
    }
    totals
}

/// The `keep` groups that spent most in periods `from..=to`, with their sums.
pub fn groups_between(rows: &[ReportRow], from: Date, to: Date, keep: usize) -> Vec<ReportRow> {
    let (from, to) = (from.to_string(), to.to_string());
    let mut groups: Vec<ReportRow> = Vec::new();
    for row in rows
        .iter()
        .filter(|row| row.period >= from && row.period <= to)
    {
        match groups
            .iter_mut()
            .find(|group| group.group_key == row.group_key)
        {
            Some(group) => group.add(row),
            None => groups.push(ReportRow {
                period: from.clone(),
                ..row.clone()
            }),
        }
    }
    groups.sort_by_key(|group| std::cmp::Reverse(group.cost_micros));
    groups.truncate(keep);
    groups
}

/// The month-to-date spend under `filters`, run on to the month's end.
pub async fn forecast(pool: &PgPool, filters: &ReportFilters) -> Result<Forecast, sqlx::Error> {
    let today = today();
    let month_to_date = totals(pool, month_start(today), today, filters).await?;
    let days_elapsed = i64::from(today.day());
    let days_in_month = days_in_month(today);
    Ok(Forecast {
        month: format!("{}-{:02}", today.year(), u8::from(today.month())),
        month_to_date_micros: month_to_date.cost_micros,
        days_elapsed,
        days_in_month,
        projected_micros: month_to_date.cost_micros.saturating_mul(days_in_month)
            / days_elapsed.max(1),
    })
}

/// The budgets of the report's groups and of the entities its filters name.
pub async fn budgets(
    pool: &PgPool,
    group_by: Option<Dimension>,
    rows: &[ReportRow],
    filters: &ReportFilters,
) -> Result<Vec<BudgetLine>, sqlx::Error> {
    let mut subjects: Vec<(String, String)> = Vec::new();
    if let Some(dimension) = group_by {
        for row in rows {
            if let Some(subject) = reports::budget_subject(dimension, &row.group_key) {
                subjects.push((subject, row.label.clone()));
            }
        }
    }
    let named = [
        (Dimension::Organization, &filters.organization_id),
        (Dimension::Team, &filters.team_id),
        (Dimension::Project, &filters.project_id),
        (Dimension::Key, &filters.token_hash),
        (Dimension::User, &filters.user_id),
        (Dimension::Tag, &filters.tag),
    ];
    for (dimension, id) in named {
        let Some(id) = id.as_deref() else { continue };
        if let Some(subject) = reports::budget_subject(dimension, id) {
            let names = reports::labels(pool, dimension, &[id.to_string()]).await?;
            let name = names.get(id).map_or(id, String::as_str);
            subjects.push((subject, format!("{} {name}", dimension.title())));
        }
    }
    subjects.sort();
    subjects.dedup_by(|a, b| a.0 == b.0);
    let wanted: Vec<String> = subjects
        .iter()
        .map(|(subject, _)| subject.clone())
        .collect();
    let mut lines = reports::budgets(pool, &wanted).await?;
    for line in &mut lines {
        if let Some((_, label)) = subjects
            .iter()
            .find(|(subject, _)| *subject == line.subject)
        {
            line.label = label.clone();
        }
    }
    Ok(lines)
}
