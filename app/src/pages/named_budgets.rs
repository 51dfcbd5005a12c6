//! The Named budgets page: budgets end users and organizations take by `budget_id`, each with
//! how many take it; admins create, edit and delete them. Every change goes through the same
//! operation as `/budget/*`.

use leptos::prelude::*;

use crate::api::named_budgets::{list_named_budgets, DeleteNamedBudget, SaveNamedBudget};
use crate::model::views::{BudgetSummary, NamedBudgetView};
use crate::model::Role;
use crate::pages::budget_form::{
    budget_edit_inputs, budget_window, dollars_text, new_budget_inputs,
};
use crate::pages::frame::{error_message, SignedIn};

#[component]
pub fn NamedBudgetsPage() -> impl IntoView {
    view! { <SignedIn body=|csrf, role| view! { <NamedBudgetsBody csrf=csrf role=role/> }.into_any()/> }
}

#[component]
fn NamedBudgetsBody(csrf: String, role: Role) -> impl IntoView {
    let save = ServerAction::<SaveNamedBudget>::new();
    let delete = ServerAction::<DeleteNamedBudget>::new();
    let budgets = Resource::new(
        move || (save.version().get(), delete.version().get()),
        |_| list_named_budgets(),
    );
    let is_admin = role == Role::Admin;
    let list_csrf = csrf.clone();
    view! {
        <main class="page">
            <h1>"Named budgets"</h1>
            {is_admin.then(|| view! {
                <section class="card">
                    <h2>"Create a named budget"</h2>
                    <ActionForm action=save attr:class="grid-form">
                        <input type="hidden" name="csrf" value=csrf.clone()/>
                        <input type="hidden" name="existing" value="false"/>
                        <label>"Budget id (empty = generated)" <input type="text" name="budget_id"/></label>
                        {new_budget_inputs()}
                        <button type="submit">"Create named budget"</button>
                    </ActionForm>
                </section>
            })}
            {move || save.value().get().and_then(Result::err).map(error_message)}
            {move || delete.value().get().and_then(Result::err).map(error_message)}
            <Transition fallback=|| view! { <p>"Loading named budgets…"</p> }>
                {
                    let list_csrf = list_csrf.clone();
                    move || {
                        let csrf = list_csrf.clone();
                        Suspend::new(async move {
                            match budgets.await {
                                Err(error) => error_message(error).into_any(),
                                Ok(rows) if rows.is_empty() => view! { <p class="hint">"No named budgets yet."</p> }.into_any(),
                                Ok(rows) => view! {
                                    <table class="keys named-budgets">
                                        <thead>
                                            <tr>
                                                <th>"Budget id"</th>
                                                <th class="num">"Budget"</th>
                                                <th class="num">"Soft budget"</th>
                                                <th>"Window"</th>
                                                <th class="num">"Taken by"</th>
                                                {is_admin.then(|| view! { <th>"Change"</th> })}
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {rows.into_iter().map(|budget| {
                                                budget_row(budget, is_admin, save, delete, csrf.clone())
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                }.into_any(),
                            }
                        })
                    }
                }
            </Transition>
        </main>
    }
}

fn money(value: Option<f64>) -> String {
    value.map_or_else(|| "—".into(), |dollars| format!("${dollars:.2}"))
}

fn budget_row(
    budget: NamedBudgetView,
    is_admin: bool,
    save: ServerAction<SaveNamedBudget>,
    delete: ServerAction<DeleteNamedBudget>,
    csrf: String,
) -> impl IntoView {
    let limits = BudgetSummary {
        max_budget: budget.max_budget,
        soft_budget: budget.soft_budget,
        budget_duration: budget.budget_duration.clone(),
        ..BudgetSummary::default()
    };
    let window = budget_window(&limits);
    let change = is_admin.then(|| {
        let (edit_csrf, delete_csrf) = (csrf.clone(), csrf);
        let (edit_id, delete_id) = (budget.budget_id.clone(), budget.budget_id.clone());
        let inputs = budget_edit_inputs(&limits);
        view! {
            <td>
                <ActionForm action=save attr:class="inline edit">
                    <input type="hidden" name="csrf" value=edit_csrf/>
                    <input type="hidden" name="existing" value="true"/>
                    <input type="hidden" name="budget_id" value=edit_id/>
                    {inputs}
                    <button type="submit">"Save"</button>
                </ActionForm>
                <ActionForm action=delete attr:class="inline">
                    <input type="hidden" name="csrf" value=delete_csrf/>
                    <input type="hidden" name="budget_id" value=delete_id/>
                    <button type="submit" class="danger">"Delete"</button>
                </ActionForm>
            </td>
        }
    });
    let row_id = budget.budget_id.clone();
    let shown_max = dollars_text(budget.max_budget);
    view! {
        <tr data-budget=row_id data-max-budget=shown_max>
            <td>{budget.budget_id}</td>
            <td class="num">{money(budget.max_budget)}</td>
            <td class="num">{money(budget.soft_budget)}</td>
            <td>{window}</td>
            <td class="num">{budget.linked}</td>
            {change}
        </tr>
    }
}
