//! The Logs page: the request log newest first, filtered by key, team, model, status, time
//! and request id through the query string, paged by keyset ("older" follows the last row);
//! and one request in full at `/logs/<request id>` (attempts, timings, tokens, cost and the
//! redacted payload when payload logging is on). Admins and finance.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::reports::{load_log_detail, load_log_page};
use crate::model::format_usd;
use crate::model::reports::{LogDetail, LogEntry, LogFilters, LogPage};
use crate::pages::frame::{error_message, SignedIn};

#[component]
pub fn LogsPage() -> impl IntoView {
    view! { <SignedIn body=|_, _| view! { <LogsBody/> }.into_any()/> }
}

#[component]
fn LogsBody() -> impl IntoView {
    let query = use_query_map();
    let filters = move || {
        query.with(|query| {
            LogFilters::from_pairs(
                query
                    .into_iter()
                    .map(|(name, value)| (name.as_ref(), value)),
            )
        })
    };
    let page = Resource::new(move || filters().to_query_string(), load_log_page);
    let shown = filters();
    view! {
        <main class="page logs">
            <h1>"Request log"</h1>
            <section class="card">{filter_form(&shown)}</section>
            <section class="card">
                <Suspense fallback=|| view! { <p>"Loading requests…"</p> }>
                    {move || Suspend::new(async move {
                        match page.await {
                            Err(error) => error_message(error).into_any(),
                            Ok(page) if page.entries.is_empty() => view! { <p class="hint">"No requests match."</p> }.into_any(),
                            Ok(page) => log_table(page, filters()).into_any(),
                        }
                    })}
                </Suspense>
            </section>
        </main>
    }
}

fn filter_form(filters: &LogFilters) -> impl IntoView {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let status = text(&filters.status);
    view! {
        <form method="get" action="/logs" class="filters">
            <label>"Key (alias or hash)" <input type="text" name="key" value=text(&filters.key)/></label>
            <label>"Team" <input type="text" name="team_id" value=text(&filters.team_id)/></label>
            <label>"Model" <input type="text" name="model" value=text(&filters.model)/></label>
            <label>"Status"
                <select name="status">
                    <option value="" selected={status.is_empty()}>"any"</option>
                    <option value="success" selected={status == "success"}>"success"</option>
                    <option value="failure" selected={status == "failure"}>"failure"</option>
                </select>
            </label>
            <label>"From" <input type="text" name="start" value=text(&filters.start) placeholder="2026-11-24 or RFC 3339"/></label>
            <label>"To" <input type="text" name="end" value=text(&filters.end) placeholder="2026-11-30"/></label>
            <label>"Request id" <input type="text" name="request_id" value=text(&filters.request_id)/></label>
            <button type="submit">"Filter"</button>
        </form>
    }
}

fn log_table(page: LogPage, filters: LogFilters) -> impl IntoView {
    let older = page.next_cursor.map(|cursor| {
        let next = LogFilters {
            cursor: Some(cursor),
            ..filters.clone()
        };
        view! { <a class="older" href=format!("/logs?{}", next.to_query_string())>"Older requests"</a> }
    });
    let newest = filters.cursor.is_some().then(|| {
        let first = LogFilters {
            cursor: None,
            ..filters.clone()
        };
        view! { <a class="newest" href=format!("/logs?{}", first.to_query_string())>"Newest requests"</a> }
    });
    view! {
        <table class="keys log" data-testid="log-rows">
            <thead>
                <tr>
                    <th>"Started (UTC)"</th>
                    <th>"Request"</th>
                    <th>"Key"</th>
                    <th>"Team"</th>
                    <th>"Model"</th>
                    <th>"Provider"</th>
                    <th>"Status"</th>
                    <th class="num">"Tokens in / out"</th>
                    <th class="num">"Cost"</th>
                    <th class="num">"Latency"</th>
                </tr>
            </thead>
            <tbody>{page.entries.into_iter().map(log_row).collect_view()}</tbody>
        </table>
        <p class="pager">{newest}" "{older}</p>
    }
}

fn log_row(entry: LogEntry) -> impl IntoView {
    let href = format!("/logs/{}", entry.request_id);
    let row_id = entry.request_id.clone();
    let class = format!("status-{}", entry.status);
    let status = format!("{} {}", entry.status, entry.http_status);
    view! {
        <tr data-request-id=row_id class=class>
            <td>{entry.started_at}</td>
            <td><a href=href><code>{entry.request_id}</code></a></td>
            <td>{entry.key_label}</td>
            <td>{entry.team_id.unwrap_or_default()}</td>
            <td>{entry.model_group}</td>
            <td>{entry.provider}</td>
            <td><span class="badge">{status}</span></td>
            <td class="num">{format!("{} / {}", entry.prompt_tokens, entry.completion_tokens)}</td>
            <td class="num">{format_usd(entry.cost_micros)}</td>
            <td class="num">{format!("{} ms", entry.latency_ms)}</td>
        </tr>
    }
}

#[component]
pub fn LogDetailPage() -> impl IntoView {
    view! { <SignedIn body=|_, _| view! { <LogDetailBody/> }.into_any()/> }
}

#[component]
fn LogDetailBody() -> impl IntoView {
    let params = use_params_map();
    let request_id = move || params.with(|params| params.get("request_id").unwrap_or_default());
    let detail = Resource::new(request_id, load_log_detail);
    view! {
        <main class="page log-detail">
            <p><a href="/logs">"← Request log"</a></p>
            <Suspense fallback=|| view! { <p>"Loading the request…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Err(error) => error_message(error).into_any(),
                        Ok(None) => view! { <p class="hint">"No such request in the log (it may have been pruned)."</p> }.into_any(),
                        Ok(Some(detail)) => detail_view(detail).into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}

fn detail_view(detail: LogDetail) -> impl IntoView {
    let entry = detail.entry;
    let field = |name: &'static str, value: String| view! { <dt>{name}</dt><dd>{value}</dd> };
    let payload = |title: &'static str, text: Option<String>| {
        text.map(|text| view! { <h2>{title}</h2><pre class="json">{text}</pre> })
    };
    let no_payload = detail.request_payload.is_none() && detail.response_payload.is_none();
    view! {
        <h1>"Request " <code>{entry.request_id.clone()}</code></h1>
        <section class="card">
            <dl class="detail" data-testid="log-detail">
                {field("Status", format!("{} (HTTP {})", entry.status, entry.http_status))}
                {field("Started", entry.started_at)}
                {field("Ended", detail.ended_at)}
                {field("Latency", format!("{} ms", entry.latency_ms))}
                {field("Key", entry.key_label)}
                {field("Team", entry.team_id.unwrap_or_default())}
                {field("Project", detail.project_id.unwrap_or_default())}
                {field("User", detail.user_id.unwrap_or_default())}
                {field("End user", detail.end_user.unwrap_or_default())}
                {field("Call", format!("{}{}", detail.call_type, if detail.is_stream { " (stream)" } else { "" }))}
                {field("Model group", entry.model_group)}
                {field("Served by", format!("{} · {} · {}", entry.provider, detail.upstream_model, detail.deployment_id))}
                {field("API base", detail.api_base)}
                {field("Prompt tokens", format!("{} ({} cached, {} written to cache)", entry.prompt_tokens, detail.cached_tokens, detail.cache_write_tokens))}
                {field("Completion tokens", format!("{} ({} reasoning){}", entry.completion_tokens, detail.reasoning_tokens, if detail.usage_estimated { ", estimated" } else { "" }))}
                {field("Cost", format_usd(entry.cost_micros))}
                {field("Tags", detail.tags.join(", "))}
            </dl>
        </section>
        <section class="card">
            <h2>"Attempts"</h2>
            <pre class="json" data-testid="log-attempts">{detail.attempts}</pre>
        </section>
        <section class="card">
            {payload("Request (redacted)", detail.request_payload)}
            {payload("Response (redacted)", detail.response_payload)}
            {no_payload.then(|| view! { <p class="hint">"No payload stored (store_prompts_in_spend_logs is off, or it was pruned)."</p> })}
        </section>
    }
}
