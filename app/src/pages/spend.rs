//! The Spend page (finance): spend per organization, team, project, key, user, model,
//! provider or tag over a range and granularity, with budget utilisation, the month-end
//! forecast and a CSV download. Everything it shows is in the query string, so a URL shares
//! the view; each group links to its own breakdown one level down.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::reports::load_spend_report;
use crate::model::format_usd;
use crate::model::reports::{
    top_groups, Dimension, Granularity, ReportRow, SpendQuery, SpendReport,
};
use crate::pages::charts::{budget_lines, stacked_bars, EChart};
use crate::pages::frame::{error_message, SignedIn};

/// Series a chart shows before the rest fold into "Other".
const CHART_GROUPS: usize = 10;

#[component]
pub fn SpendPage() -> impl IntoView {
    view! { <SignedIn body=|_, _| view! { <SpendBody/> }.into_any()/> }
}

#[component]
fn SpendBody() -> impl IntoView {
    let query = use_query_map();
    let asked = move || {
        query.with(|query| {
            SpendQuery::from_pairs(
                query
                    .into_iter()
                    .map(|(name, value)| (name.as_ref(), value)),
            )
            .to_query_string()
        })
    };
    let report = Resource::new(asked, load_spend_report);
    view! {
        <main class="page spend">
            <h1>"Spend"</h1>
            <Suspense fallback=|| view! { <p>"Loading the report…"</p> }>
                {move || Suspend::new(async move {
                    match report.await {
                        Err(error) => view! {
                            {error_message(error)}
                            <p><a href="/spend">"Back to this month's report"</a></p>
                        }.into_any(),
                        Ok(report) => report_view(report).into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}

/// The dimension a group's breakdown is shown by, one level down.
fn drill_down(dimension: Dimension) -> Dimension {
    match dimension {
        Dimension::Organization => Dimension::Team,
        Dimension::Team => Dimension::Project,
        Dimension::Project | Dimension::User | Dimension::Provider | Dimension::Tag => {
            Dimension::Model
        }
        Dimension::Model => Dimension::Key,
        Dimension::Key => Dimension::Model,
    }
}

fn spend_href(query: &SpendQuery) -> String {
    format!("/spend?{}", query.to_query_string())
}

fn report_view(report: SpendReport) -> impl IntoView {
    let SpendReport {
        query,
        periods,
        rows,
        totals,
        budgets,
        forecast,
        presets,
    } = report;
    let group_by = query.group_by.unwrap_or(Dimension::Project);
    let csv_href = format!("/console/spend.csv?{}", query.to_query_string());
    let preset_links = presets
        .into_iter()
        .map(|(label, start, end)| {
            let selected = start == query.start && end == query.end;
            let href = spend_href(&SpendQuery {
                start,
                end,
                ..query.clone()
            });
            view! { <a href=href class=if selected { "preset selected" } else { "preset" }>{label}</a> }
        })
        .collect_view();
    let groups = group_totals(&rows);
    let group_links = groups
        .iter()
        .map(|group| {
            let share = if totals.cost_micros > 0 {
                format!(
                    "{:.1} %",
                    group.cost_micros as f64 * 100.0 / totals.cost_micros as f64
                )
            } else {
                "—".into()
            };
            let name = if group.group_key.is_empty() {
                view! { <span>{group.label.clone()}</span> }.into_any()
            } else {
                let mut next = query.clone();
                next.filters.set(filter_name(group_by), &group.group_key);
                next.group_by = Some(drill_down(group_by));
                view! { <a href=spend_href(&next)>{group.label.clone()}</a> }.into_any()
            };
            view! {
                <tr data-group=group.group_key.clone() data-spend-micros=group.cost_micros>
                    <td>{name}</td>
                    <td class="num">{group.requests}</td>
                    <td class="num">{group.prompt_tokens + group.completion_tokens}</td>
                    <td class="num">{format_usd(group.cost_micros)}</td>
                    <td class="num">{share}</td>
                </tr>
            }
        })
        .collect_view();
    let budget_rows = budgets
        .iter()
        .map(|budget| {
            let used = if budget.max_micros > 0 {
                format!(
                    "{:.1} %",
                    budget.spend_micros as f64 * 100.0 / budget.max_micros as f64
                )
            } else {
                "—".into()
            };
            view! {
                <tr data-subject=budget.subject.clone()>
                    <td>{budget.label.clone()}</td>
                    <td class="num">{format_usd(budget.spend_micros)}</td>
                    <td class="num">{format_usd(budget.max_micros)}</td>
                    <td class="num">{used}</td>
                    <td>{budget.duration.clone().unwrap_or_else(|| "all time".into())}</td>
                </tr>
            }
        })
        .collect_view();
    let has_budgets = !budgets.is_empty();
    let bars = stacked_bars(&periods, &top_groups(rows.clone(), CHART_GROUPS));
    let utilisation = budget_lines(&periods, &rows, &budgets);
    let filters_active = query
        .filters
        .pairs()
        .iter()
        .filter_map(|(name, value)| value.map(|value| format!("{name} = {value}")))
        .collect::<Vec<_>>();
    view! {
        <section class="card">
            <nav class="presets" aria-label="Range">{preset_links}</nav>
            {filter_form(&query)}
            <p class="actions">
                <a class="button" href=csv_href download="">"Download CSV"</a>
                <a href="/reconcile">"Check that the figures add up"</a>
                {(!filters_active.is_empty()).then(|| view! {
                    <span class="hint">{format!("Filtered by {}", filters_active.join(", "))}</span>
                    " "
                    <a href=spend_href(&SpendQuery { filters: Default::default(), ..query.clone() })>"Clear filters"</a>
                })}
            </p>
        </section>
        <section class="stats" data-testid="spend-stats">
            <div class="stat" data-stat="total">
                <span class="label">{format!("Spend {} – {}", query.start, query.end)}</span>
                <span class="value">{format_usd(totals.cost_micros)}</span>
                <span class="hint">{format!("{} requests, {} failed", totals.requests, totals.failed_requests)}</span>
            </div>
            <div class="stat" data-stat="forecast">
                <span class="label">{format!("Forecast for {}", forecast.month)}</span>
                <span class="value">{format_usd(forecast.projected_micros)}</span>
                <span class="hint">{format!(
                    "{} in the first {} of {} days, at the same daily rate",
                    format_usd(forecast.month_to_date_micros),
                    forecast.days_elapsed,
                    forecast.days_in_month,
                )}</span>
            </div>
        </section>
        <section class="card">
            <h2>{format!("Spend per {} by {}", group_by.title().to_lowercase(), query.granularity.as_str())}</h2>
            <EChart id="spend-bars" chart={bars} height=320/>
        </section>
        <section class="card">
            <h2>"Budget utilisation"</h2>
            {if has_budgets {
                view! {
                    <EChart id="spend-budgets" chart={utilisation}/>
                    <table class="keys budgets-used">
                        <thead><tr><th>"Budget"</th><th class="num">"Spend (window)"</th><th class="num">"Limit"</th><th class="num">"Used"</th><th>"Window"</th></tr></thead>
                        <tbody>{budget_rows}</tbody>
                    </table>
                }.into_any()
            } else {
                view! { <p class="hint">"None of these has a budget."</p> }.into_any()
            }}
        </section>
        <section class="card">
            <h2>{format!("By {}", group_by.title().to_lowercase())}</h2>
            <table class="keys groups" data-testid="spend-groups">
                <thead><tr><th>{group_by.title()}</th><th class="num">"Requests"</th><th class="num">"Tokens"</th><th class="num">"Spend"</th><th class="num">"Share"</th></tr></thead>
                <tbody>{group_links}</tbody>
            </table>
        </section>
        <section class="card">
            <h2>{format!("By {} and {}", query.granularity.as_str(), group_by.title().to_lowercase())}</h2>
            {rows_table(&rows, group_by)}
        </section>
    }
}

/// The query-string name filtering by a dimension.
fn filter_name(dimension: Dimension) -> &'static str {
    match dimension {
        Dimension::Organization => "organization_id",
        Dimension::Team => "team_id",
        Dimension::Project => "project_id",
        Dimension::Key => "key",
        Dimension::User => "user_id",
        Dimension::Model => "model",
        Dimension::Provider => "provider",
        Dimension::Tag => "tag",
    }
}

/// Each group's totals over the whole range, biggest first.
fn group_totals(rows: &[ReportRow]) -> Vec<ReportRow> {
    let mut groups: Vec<ReportRow> = Vec::new();
    for row in rows {
        match groups
            .iter_mut()
            .find(|group| group.group_key == row.group_key)
        {
            Some(group) => group.add(row),
            None => groups.push(ReportRow {
                period: String::new(),
                ..row.clone()
            }),
        }
    }
    groups.sort_by_key(|group| std::cmp::Reverse(group.cost_micros));
    groups
}

fn filter_form(query: &SpendQuery) -> impl IntoView {
    let filters = query.filters.pairs();
    let value = |name: &str| {
        filters
            .iter()
            .find(|(filter, _)| *filter == name)
            .and_then(|(_, value)| value.map(str::to_string))
            .unwrap_or_default()
    };
    let group_by = query.group_by.unwrap_or(Dimension::Project);
    let current = query.granularity;
    view! {
        <form method="get" action="/spend" class="filters">
            <label>"From" <input type="date" name="start" value=query.start.clone()/></label>
            <label>"To" <input type="date" name="end" value=query.end.clone()/></label>
            <label>"Per"
                <select name="granularity">
                    {[Granularity::Day, Granularity::Week, Granularity::Month].into_iter().map(|granularity| view! {
                        <option value=granularity.as_str() selected={granularity == current}>{granularity.as_str()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>"Group by"
                <select name="group_by">
                    {Dimension::ALL.into_iter().map(|dimension| view! {
                        <option value=dimension.as_str() selected={dimension == group_by}>{dimension.title()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>"Organization" <input type="text" name="organization_id" value=value("organization_id")/></label>
            <label>"Team" <input type="text" name="team_id" value=value("team_id")/></label>
            <label>"Project" <input type="text" name="project_id" value=value("project_id")/></label>
            <label>"Key (hash)" <input type="text" name="key" value=value("key")/></label>
            <label>"User" <input type="text" name="user_id" value=value("user_id")/></label>
            <label>"Model" <input type="text" name="model" value=value("model")/></label>
            <label>"Provider" <input type="text" name="provider" value=value("provider")/></label>
            <label>"Tag" <input type="text" name="tag" value=value("tag")/></label>
            <button type="submit">"Show"</button>
        </form>
    }
}

fn rows_table(rows: &[ReportRow], group_by: Dimension) -> impl IntoView {
    view! {
        <table class="keys spend-rows" data-testid="spend-rows">
            <thead>
                <tr>
                    <th>"Period"</th>
                    <th>{group_by.title()}</th>
                    <th class="num">"Requests"</th>
                    <th class="num">"Failed"</th>
                    <th class="num">"Prompt tokens"</th>
                    <th class="num">"Completion tokens"</th>
                    <th class="num">"Spend"</th>
                </tr>
            </thead>
            <tbody>
                {rows.iter().map(|row| view! {
                    <tr data-period=row.period.clone() data-group=row.group_key.clone() data-spend-micros=row.cost_micros>
                        <td>{row.period.clone()}</td>
                        <td>{row.label.clone()}</td>
                        <td class="num">{row.requests}</td>
                        <td class="num">{row.failed_requests}</td>
                        <td class="num">{row.prompt_tokens}</td>
                        <td class="num">{row.completion_tokens}</td>
                        <td class="num">{format_usd(row.cost_micros)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
