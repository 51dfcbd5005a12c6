//! The Models & providers page (`/deployments`; `/models` is OpenAI's model list): every deployment with its provider, capabilities and prices;
//! admins add, edit and delete stored deployments and test a connection with one token.

use leptos::prelude::*;

use crate::api::models::{list_deployments, DeleteDeployment, SaveDeployment, TestConnection};
use crate::model::{format_usd, ConnectionTest, DeploymentForm, DeploymentView, Role};
use crate::pages::frame::{error_message, SignedIn};

#[component]
pub fn ModelsPage() -> impl IntoView {
    view! { <SignedIn body=|csrf, role| view! { <ModelsBody csrf=csrf is_admin={role == Role::Admin}/> }.into_any()/> }
}

/// The actions a row's buttons submit, with the session's CSRF token.
#[derive(Clone)]
struct RowActions {
    csrf: String,
    is_admin: bool,
    save: ServerAction<SaveDeployment>,
    delete: ServerAction<DeleteDeployment>,
    test: ServerAction<TestConnection>,
}

#[component]
fn ModelsBody(csrf: String, is_admin: bool) -> impl IntoView {
    let actions = RowActions {
        csrf,
        is_admin,
        save: ServerAction::<SaveDeployment>::new(),
        delete: ServerAction::<DeleteDeployment>::new(),
        test: ServerAction::<TestConnection>::new(),
    };
    let (save, delete) = (actions.save, actions.delete);
    let deployments = Resource::new(
        move || (save.version().get(), delete.version().get()),
        |_| list_deployments(),
    );
    let add_form = is_admin.then(|| {
        let csrf = actions.csrf.clone();
        view! {
            <section class="card" data-testid="add-deployment">
                <h2>"Add a deployment"</h2>
                {deployment_form(save, csrf, String::new(), DeploymentForm::default(), "Add deployment")}
                {move || save.value().get().map(|result| match result {
                    Ok(_) => view! { <p class="hint" role="status">"Saved: the gateway serves it now."</p> }.into_any(),
                    Err(error) => error_message(error).into_any(),
                })}
            </section>
        }
    });
    view! {
        <main class="page">
            <h1>"Models & providers"</h1>
            {add_form}
            <section class="card">
                <h2>"Deployments"</h2>
                {move || delete.value().get().and_then(Result::err).map(error_message)}
                <Transition fallback=|| view! { <p>"Loading deployments…"</p> }>
                    {
                        let actions = actions.clone();
                        move || {
                            let actions = actions.clone();
                            Suspend::new(async move {
                                match deployments.await {
                                    Err(error) => error_message(error).into_any(),
                                    Ok(rows) if rows.is_empty() => view! { <p class="hint">"No deployments: add one here or in config.yaml."</p> }.into_any(),
                                    Ok(rows) => deployments_table(rows, actions).into_any(),
                                }
                            })
                        }
                    }
                </Transition>
            </section>
        </main>
    }
}

fn deployment_form(
    save: ServerAction<SaveDeployment>,
    csrf: String,
    id: String,
    form: DeploymentForm,
    submit: &'static str,
) -> impl IntoView {
    let key_hint = if form.has_credentials {
        "API key (stored; leave blank to keep it)"
    } else {
        "API key"
    };
    view! {
        <ActionForm action=save attr:class="grid-form">
            <input type="hidden" name="csrf" value=csrf/>
            <input type="hidden" name="id" value=id/>
            <label>"Model name" <input type="text" name="model_name" required value=form.model_name placeholder="gpt-4o-mini"/></label>
            <label>"Provider model" <input type="text" name="model" required value=form.model placeholder="openai/gpt-4o-mini"/></label>
            <label>"API base" <input type="text" name="api_base" value=form.api_base placeholder="https://api.openai.com/v1"/></label>
            <label>{key_hint} <input type="password" name="api_key" autocomplete="off" value=""/></label>
            <label>"API version (Azure)" <input type="text" name="api_version" value=form.api_version/></label>
            <label>"Input $ per 1M tokens (empty = built-in)" <input type="text" name="input_cost" inputmode="decimal" value=form.input_cost/></label>
            <label>"Output $ per 1M tokens (empty = built-in)" <input type="text" name="output_cost" inputmode="decimal" value=form.output_cost/></label>
            <label>"Cached input $ per 1M tokens (empty = built-in)" <input type="text" name="cached_input_cost" inputmode="decimal" value=form.cached_input_cost/></label>
            <label>"Other litellm_params (JSON object)" <textarea name="extra_params" rows="2" placeholder=r#"{"timeout": 60}"#>{form.extra_params}</textarea></label>
            <button type="submit">{submit}</button>
        </ActionForm>
    }
}

fn deployments_table(rows: Vec<DeploymentView>, actions: RowActions) -> impl IntoView {
    view! {
        <table class="deployments">
            <thead>
                <tr>
                    <th>"Model name"</th>
                    <th>"Provider"</th>
                    <th>"Upstream model"</th>
                    <th>"API base"</th>
                    <th>"Source"</th>
                    <th>"Capabilities"</th>
                    <th class="num">"Context in / out"</th>
                    <th class="num">"Input $/1M"</th>
                    <th class="num">"Output $/1M"</th>
                    <th class="num">"Cached $/1M"</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|row| deployment_row(row, actions.clone())).collect_view()}
            </tbody>
        </table>
    }
}

fn tokens(count: Option<u64>) -> String {
    count.map_or_else(|| "—".into(), |count| count.to_string())
}

fn deployment_row(row: DeploymentView, actions: RowActions) -> impl IntoView {
    let id = row.id.clone();
    let source = if row.stored { "console" } else { "config.yaml" };
    let capabilities = match (&row.mode, row.capabilities.is_empty()) {
        (Some(mode), false) => format!("{mode}: {}", row.capabilities.join(", ")),
        (Some(mode), true) => mode.clone(),
        (None, _) => row.capabilities.join(", "),
    };
    let test = actions.test;
    let result_id = id.clone();
    let result = move || {
        test.value().get().and_then(|outcome| match outcome {
            Ok(outcome) if outcome.deployment_id == result_id => {
                Some(connection_result(outcome).into_any())
            }
            Ok(_) => None,
            Err(error) => Some(error_message(error).into_any()),
        })
    };
    let controls = actions.is_admin.then(|| {
        let (edit_csrf, edit_id) = (actions.csrf.clone(), id.clone());
        let edit = row.form.clone().map(move |form| {
            view! {
                <details class="edit">
                    <summary>"Edit"</summary>
                    {deployment_form(actions.save, edit_csrf.clone(), edit_id.clone(), form, "Save changes")}
                </details>
                <ActionForm action=actions.delete attr:class="inline">
                    <input type="hidden" name="csrf" value=edit_csrf/>
                    <input type="hidden" name="id" value=edit_id/>
                    <button type="submit" class="danger">"Delete"</button>
                </ActionForm>
            }
        });
        view! {
            <ActionForm action=test attr:class="inline">
                <input type="hidden" name="csrf" value=actions.csrf.clone()/>
                <input type="hidden" name="id" value=id.clone()/>
                <button type="submit">"Test connection"</button>
            </ActionForm>
            {edit}
        }
    });
    view! {
        <tr data-deployment-id=row.id.clone()>
            <td>{row.model_name}</td>
            <td>{row.provider}</td>
            <td><code>{row.upstream_model}</code></td>
            <td><code>{row.api_base}</code></td>
            <td>{source}</td>
            <td>
                {capabilities}
                {row.problem.map(|problem| view! { <p class="error">{format!("Not served: {problem}")}</p> })}
            </td>
            <td class="num">{format!("{} / {}", tokens(row.max_input_tokens), tokens(row.max_output_tokens))}</td>
            <td class="num">{format_usd(row.input_micros_per_mtok)}</td>
            <td class="num">{format_usd(row.output_micros_per_mtok)}</td>
            <td class="num">{row.cached_input_micros_per_mtok.map_or_else(|| "—".into(), format_usd)}</td>
            <td>{controls} {result}</td>
        </tr>
    }
}

fn connection_result(outcome: ConnectionTest) -> impl IntoView {
    let class = if outcome.ok {
        "connection ok"
    } else {
        "connection failed"
    };
    let verdict = if outcome.ok { "Connected" } else { "Failed" };
    view! {
        <p class=class role="status" data-testid="connection-result">
            {format!("{verdict} in {} ms: {}", outcome.latency_ms, outcome.message)}
        </p>
    }
}
