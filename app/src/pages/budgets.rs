//! The Budgets page: every budget with a limit (keys, users, members, teams), its use of the
//! current window as a bar with the soft threshold marked, and when the window resets.

use leptos::prelude::*;

use crate::api::budgets::list_budgets;
use crate::model::{format_usd, BudgetView};
use crate::pages::frame::{error_message, SignedIn};

#[component]
pub fn BudgetsPage() -> impl IntoView {
    view! { <SignedIn body=|_, _| view! { <BudgetsBody/> }.into_any()/> }
}

#[component]
fn BudgetsBody() -> impl IntoView {
    let budgets = Resource::new(|| (), |_| list_budgets());
    view! {
        <main class="page">
            <h1>"Budgets"</h1>
            <section class="card">
                <p class="hint">"Spend of the current window against each hard limit; the mark is the soft limit (an alert, never a refusal). Leased: admitted by running instances, not yet spent."</p>
                <Suspense fallback=|| view! { <p>"Loading budgets…"</p> }>
                    {move || Suspend::new(async move {
                        match budgets.await {
                            Err(error) => error_message(error).into_any(),
                            Ok(rows) if rows.is_empty() => view! { <p class="hint">"No budgets set yet."</p> }.into_any(),
                            Ok(rows) => budgets_table(rows).into_any(),
                        }
                    })}
                </Suspense>
            </section>
        </main>
    }
}

fn budgets_table(rows: Vec<BudgetView>) -> impl IntoView {
    view! {
        <table class="keys budgets">
            <thead>
                <tr>
                    <th>"Kind"</th>
                    <th>"Owner"</th>
                    <th>"Used"</th>
                    <th class="num">"Spend"</th>
                    <th class="num">"Soft"</th>
                    <th class="num">"Hard"</th>
                    <th class="num">"Leased"</th>
                    <th>"Window"</th>
                    <th>"Resets"</th>
                </tr>
            </thead>
            <tbody>{rows.into_iter().map(budget_row).collect_view()}</tbody>
        </table>
    }
}

fn budget_row(budget: BudgetView) -> impl IntoView {
    let used = budget.used_percent();
    let soft = budget.soft_percent();
    let limit = |micros: Option<i64>| micros.map(format_usd).unwrap_or_else(|| "—".into());
    let bar = used.map(|percent| {
        let over_soft = soft.is_some_and(|soft| percent >= soft);
        view! {
            <div class="bar" role="meter" aria-valuemin="0" aria-valuemax="100"
                aria-valuenow=percent.to_string() aria-label=format!("{percent}% used")>
                <div class=if over_soft { "fill warn" } else { "fill" } style=format!("width: {percent}%")></div>
                {soft.map(|soft| view! { <div class="soft-mark" style=format!("left: {soft}%")></div> })}
            </div>
            <span class="percent">{format!("{percent}%")}</span>
        }
    });
    view! {
        <tr data-subject=budget.subject.clone()>
            <td><span class="badge">{budget.kind}</span></td>
            <td>{budget.owner}</td>
            <td class="usage">{bar}</td>
            <td class="num">{format_usd(budget.spend_micros)}</td>
            <td class="num">{limit(budget.soft_micros)}</td>
            <td class="num">{limit(budget.max_micros)}</td>
            <td class="num">{format_usd(budget.leased_micros)}</td>
            <td>{budget.duration.unwrap_or_else(|| "all time".into())}</td>
            <td>{budget.resets_at.unwrap_or_else(|| "—".into())}</td>
        </tr>
    }
}
