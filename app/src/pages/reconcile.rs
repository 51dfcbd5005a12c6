//! The reconciliation page: whether the daily rollups equal the raw spend rows and the budget
//! counters equal the rollups, with every drift found. Admins and finance; it changes nothing.

use leptos::prelude::*;

use crate::api::reports::reconcile_spend;
use crate::model::format_usd;
use crate::model::reports::Reconciliation;
use crate::pages::frame::{error_message, SignedIn};

#[component]
pub fn ReconcilePage() -> impl IntoView {
    view! { <SignedIn body=|_, _| view! { <ReconcileBody/> }.into_any()/> }
}

#[component]
fn ReconcileBody() -> impl IntoView {
    let check = Resource::new(|| (), |_| reconcile_spend());
    view! {
        <main class="page reconcile">
            <h1>"Reconciliation"</h1>
            <p class="hint">"Rollups against the raw spend rows of the days the log still holds, and all-time budget counters of keys, teams, projects and users against the rollups."</p>
            <Suspense fallback=|| view! { <p>"Checking every row…"</p> }>
                {move || Suspend::new(async move {
                    match check.await {
                        Err(error) => error_message(error).into_any(),
                        Ok(result) => result_view(result).into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}

fn result_view(result: Reconciliation) -> impl IntoView {
    let ok = result.drifts.is_empty();
    view! {
        <section class="card" data-testid="reconciliation" data-ok=ok.to_string()>
            <h2>{if ok { "Everything adds up." } else { "Drift found." }}</h2>
            <dl class="detail">
                <dt>"Raw rows compared"</dt><dd>{format!("{} since {}", result.raw_rows, result.from_day.clone().unwrap_or_else(|| "the first row".into()))}</dd>
                <dt>"Raw spend"</dt><dd>{format_usd(result.raw_cost_micros)}</dd>
                <dt>"Rollup requests / spend"</dt><dd>{format!("{} / {}", result.rollup_requests, format_usd(result.rollup_cost_micros))}</dd>
                <dt>"Rollup groups"</dt><dd>{result.rollup_groups_checked}</dd>
                <dt>"Counters compared"</dt><dd>{format!("{} ({} windowed, skipped)", result.counters_checked, result.counters_skipped)}</dd>
            </dl>
            {(!ok).then(|| view! {
                <table class="keys drifts">
                    <thead><tr><th>"What"</th><th class="num">"Expected"</th><th class="num">"Found"</th></tr></thead>
                    <tbody>
                        {result.drifts.into_iter().map(|drift| view! {
                            <tr><td>{drift.what}</td><td class="num">{drift.expected}</td><td class="num">{drift.found}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
        </section>
    }
}
