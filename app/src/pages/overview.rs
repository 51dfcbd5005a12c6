//! The Overview page: spend today and this month against yesterday and last month, requests,
//! error rate and latency, then charts of the last 30 days (a spend line, stacked bars per team
//! and per model, a donut per provider) with their figures in tables. Admins and finance.

use leptos::prelude::*;

use crate::api::reports::spend_overview;
use crate::model::reports::{Overview, ReportRow, Totals};
use crate::model::{format_usd, Role};
use crate::pages::charts::{donut, spend_line, stacked_bars, EChart};
use crate::pages::frame::{error_message, SignedIn};

#[component]
pub fn OverviewPage() -> impl IntoView {
    view! { <SignedIn body=|_, role| view! { <OverviewBody role=role/> }.into_any()/> }
}

#[component]
fn OverviewBody(role: Role) -> impl IntoView {
    let overview = Resource::new(|| (), |_| spend_overview());
    view! {
        <main class="page overview">
            <h1>"Overview"</h1>
            {matches!(role, Role::Admin | Role::Finance).then(|| view! {
                <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match overview.await {
                            Err(error) => error_message(error).into_any(),
                            Ok(overview) => overview_view(overview).into_any(),
                        }
                    })}
                </Suspense>
            })}
            {(!matches!(role, Role::Admin | Role::Finance)).then(|| view! {
                <p class="hint">"Spend figures are for admins and finance."</p>
            })}
        </main>
    }
}

/// "+12.5 % vs $3.10" — a change against a comparison figure.
fn versus(now: i64, before: i64, what: &str) -> String {
    if before == 0 {
        return format!("{what}: {}", format_usd(before));
    }
    let change = (now - before) as f64 * 100.0 / before as f64;
    format!("{change:+.1} % vs {what} ({})", format_usd(before))
}

fn overview_view(overview: Overview) -> impl IntoView {
    let Overview {
        today,
        today_totals,
        yesterday_totals,
        month_totals,
        last_month_to_date,
        last_month_totals,
        p50_ms,
        p95_ms,
        days,
        daily_by_team,
        daily_by_model,
        providers,
        top_teams,
        top_models,
    } = overview;
    let error_rate = today_totals
        .error_rate_percent()
        .map(|rate| format!("{rate:.1} %"))
        .unwrap_or_else(|| "—".into());
    let latency = |ms: Option<i64>| {
        ms.map(|ms| format!("{ms} ms"))
            .unwrap_or_else(|| "—".into())
    };
    let daily_totals = daily_rows(&days, &daily_by_team);
    view! {
        <section class="stats" data-testid="overview-stats">
            <div class="stat" data-stat="spend-today">
                <span class="label">{format!("Spend today ({today})")}</span>
                <span class="value">{format_usd(today_totals.cost_micros)}</span>
                <span class="hint">{versus(today_totals.cost_micros, yesterday_totals.cost_micros, "yesterday")}</span>
            </div>
            <div class="stat" data-stat="spend-month">
                <span class="label">"Spend this month"</span>
                <span class="value">{format_usd(month_totals.cost_micros)}</span>
                <span class="hint">{versus(month_totals.cost_micros, last_month_to_date.cost_micros, "last month to date")}</span>
                <span class="hint">{format!("Last month in all: {}", format_usd(last_month_totals.cost_micros))}</span>
            </div>
            <div class="stat" data-stat="requests-today">
                <span class="label">"Requests today"</span>
                <span class="value">{today_totals.requests}</span>
                <span class="hint">{format!("Yesterday: {}", yesterday_totals.requests)}</span>
            </div>
            <div class="stat" data-stat="error-rate">
                <span class="label">"Error rate today"</span>
                <span class="value">{error_rate}</span>
                <span class="hint">{format!("{} failed", today_totals.failed_requests)}</span>
            </div>
            <div class="stat" data-stat="latency">
                <span class="label">"Latency, last 7 days"</span>
                <span class="value">{format!("p50 {}", latency(p50_ms))}</span>
                <span class="hint">{format!("p95 {}", latency(p95_ms))}</span>
            </div>
        </section>
        <section class="card">
            <h2>"Spend per day, last 30 days"</h2>
            <EChart id="overview-spend" chart={spend_line(&days, &daily_by_team)}/>
            <details>
                <summary>"Figures"</summary>
                {totals_table(&daily_totals)}
            </details>
        </section>
        <div class="two-columns">
            <section class="card">
                <h2>"Per team"</h2>
                <EChart id="overview-teams" chart={stacked_bars(&days, &daily_by_team)}/>
                {top_table("Top teams this month", &top_teams)}
            </section>
            <section class="card">
                <h2>"Per model"</h2>
                <EChart id="overview-models" chart={stacked_bars(&days, &daily_by_model)}/>
                {top_table("Top models this month", &top_models)}
            </section>
        </div>
        <section class="card">
            <h2>"Per provider, this month"</h2>
            <EChart id="overview-providers" chart={donut(&providers)}/>
            {top_table("Providers this month", &providers)}
        </section>
    }
}

/// Spend and requests per day, whatever the group.
fn daily_rows(days: &[String], rows: &[ReportRow]) -> Vec<(String, Totals)> {
    days.iter()
        .map(|day| {
            let mut totals = Totals::default();
            for row in rows.iter().filter(|row| row.period == *day) {
                totals.requests += row.requests;
                totals.failed_requests += row.failed_requests;
                totals.cost_micros += row.cost_micros;
            }
            (day.clone(), totals)
        })
        .collect()
}

fn totals_table(days: &[(String, Totals)]) -> impl IntoView {
    view! {
        <table class="keys chart-data">
            <thead><tr><th>"Day (UTC)"</th><th class="num">"Spend"</th><th class="num">"Requests"</th><th class="num">"Failed"</th></tr></thead>
            <tbody>
                {days.iter().rev().map(|(day, totals)| view! {
                    <tr data-day=day.clone() data-spend-micros=totals.cost_micros>
                        <td>{day.clone()}</td>
                        <td class="num">{format_usd(totals.cost_micros)}</td>
                        <td class="num">{totals.requests}</td>
                        <td class="num">{totals.failed_requests}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

fn top_table(caption: &'static str, rows: &[ReportRow]) -> impl IntoView {
    view! {
        <table class="keys top">
            <caption>{caption}</caption>
            <thead><tr><th>"Name"</th><th class="num">"Spend"</th><th class="num">"Requests"</th><th class="num">"Tokens"</th></tr></thead>
            <tbody>
                {rows.iter().map(|row| view! {
                    <tr data-group=row.group_key.clone() data-spend-micros=row.cost_micros>
                        <td>{row.label.clone()}</td>
                        <td class="num">{format_usd(row.cost_micros)}</td>
                        <td class="num">{row.requests}</td>
                        <td class="num">{row.prompt_tokens + row.completion_tokens}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
