//! The Audit page: every management change and refused attempt, newest first, filtered by actor,
//! action and target type through the query string (so a filtered view can be shared).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::audit::{list_audit, AUDIT_PAGE_SIZE};
use crate::model::AuditView;
use crate::pages::frame::{error_message, SignedIn};

#[component]
pub fn AuditPage() -> impl IntoView {
    view! { <SignedIn body=|_, _| view! { <AuditBody/> }.into_any()/> }
}

#[component]
fn AuditBody() -> impl IntoView {
    let query = use_query_map();
    let filters = move || {
        query.with(|query| {
            let text = |name: &str| query.get(name).unwrap_or_default();
            (
                text("actor"),
                text("action"),
                text("target_type"),
                query.get("before").and_then(|id| id.parse::<i64>().ok()),
            )
        })
    };
    let entries = Resource::new(filters, |(actor, action, target_type, before)| {
        list_audit(actor, action, target_type, before)
    });
    let (actor, action, target_type, _) = filters();
    view! {
        <main class="page">
            <h1>"Audit log"</h1>
            <section class="card">
                <form method="get" action="/audit" class="filters">
                    <label>"Actor" <input type="text" name="actor" value=actor placeholder="user:admin@example.com"/></label>
                    <label>"Action" <input type="text" name="action" value=action placeholder="key.update"/></label>
                    <label>"Target type" <input type="text" name="target_type" value=target_type placeholder="team"/></label>
                    <button type="submit">"Filter"</button>
                </form>
            </section>
            <section class="card">
                <Suspense fallback=|| view! { <p>"Loading the audit log…"</p> }>
                    {move || Suspend::new(async move {
                        match entries.await {
                            Err(error) => error_message(error).into_any(),
                            Ok(rows) if rows.is_empty() => view! { <p class="hint">"No entries match."</p> }.into_any(),
                            Ok(rows) => audit_table(rows, filters()).into_any(),
                        }
                    })}
                </Suspense>
            </section>
        </main>
    }
}

fn audit_table(
    rows: Vec<AuditView>,
    filters: (String, String, String, Option<i64>),
) -> impl IntoView {
    let older = (rows.len() as i64 == AUDIT_PAGE_SIZE)
        .then(|| rows.last().map(|last| last.id))
        .flatten()
        .map(|before| {
            let (actor, action, target_type, _) = filters;
            let query = url_query(&[
                ("actor", actor),
                ("action", action),
                ("target_type", target_type),
                ("before", before.to_string()),
            ]);
            view! { <a class="older" href=format!("/audit?{query}")>"Older entries"</a> }
        });
    view! {
        <table class="keys audit">
            <thead>
                <tr>
                    <th>"When"</th>
                    <th>"Actor"</th>
                    <th>"Action"</th>
                    <th>"Target"</th>
                    <th>"Outcome"</th>
                    <th>"Before"</th>
                    <th>"After"</th>
                    <th>"From"</th>
                </tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|entry| {
                    let (class, action) = (format!("outcome-{}", entry.outcome), entry.action.clone());
                    view! {
                    <tr class=class data-action=action>
                        <td>{entry.at}</td>
                        <td>{entry.actor}</td>
                        <td><code>{entry.action}</code></td>
                        <td>{entry.target}</td>
                        <td><span class="badge">{entry.outcome}</span></td>
                        <td class="json"><code>{entry.before}</code></td>
                        <td class="json"><code>{entry.after}</code></td>
                        <td>{entry.source_ip}</td>
                    </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        {older}
    }
}

/// `name=value&…`, form-encoded; empty values left out.
fn url_query(pairs: &[(&str, String)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs.iter().filter(|(_, value)| !value.is_empty()) {
        query.append_pair(name, value);
    }
    query.finish()
}
