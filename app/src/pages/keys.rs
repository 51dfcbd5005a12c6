//! The Keys page: the keys the user manages (every key for an admin, its teams' keys for a team
//! admin) with team, spend, budget and limits; a form to create one (secret shown once); an
//! edit form per key; rotation (new secret shown once), blocking and revocation. Every change
//! goes through the same operation as `/key/*`.

use leptos::prelude::*;

use crate::api::keys::{list_keys, CreateKey, RevokeKey, RotateKey, SetKeyBlocked, UpdateKey};
use crate::api::spend::{spend_per_day, DAILY_SPEND_DAYS};
use crate::model::views::KeyDetails;
use crate::model::{format_usd, short_time, CreatedKey, Role};
use crate::pages::budget_form::dollars_text;
use crate::pages::frame::{error_message, SignedIn};
use crate::pages::spend_chart::DailySpendChart;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;

#[component]
pub fn KeysPage() -> impl IntoView {
    view! {
        <SignedIn body=|csrf, role| {
            if matches!(role, Role::Admin | Role::TeamAdmin) {
                view! { <KeysBody csrf=csrf/> }.into_any()
            } else {
                // Keys are managed by admins and team admins; every other role goes where it
                // can work.
                view! { <Redirect path=role.home()/> }.into_any()
            }
        }/>
    }
}

#[component]
fn KeysBody(csrf: String) -> impl IntoView {
    let create = ServerAction::<CreateKey>::new();
    let actions = KeyActions {
        revoke: ServerAction::<RevokeKey>::new(),
        rotate: ServerAction::<RotateKey>::new(),
        block: ServerAction::<SetKeyBlocked>::new(),
        update: ServerAction::<UpdateKey>::new(),
    };
    let query = use_query_map();
    let page =
        move || query.with(|query| query.get("page").and_then(|page| page.parse::<i64>().ok()));
    let keys = Resource::new(
        move || {
            (
                page(),
                create.version().get(),
                actions.revoke.version().get(),
                actions.rotate.version().get(),
                actions.block.version().get(),
                actions.update.version().get(),
            )
        },
        |(page, ..)| list_keys(page),
    );
    let spend = Resource::new(|| (), |_| spend_per_day());
    let revoke_csrf = csrf.clone();
    view! {
        <main class="page">
            <h1>"Keys"</h1>
            <section class="card">
                <h2>{format!("Spend, last {DAILY_SPEND_DAYS} days")}</h2>
                <Suspense fallback=|| view! { <p>"Loading spend…"</p> }>
                    {move || Suspend::new(async move {
                        match spend.await {
                            Err(error) => error_message(error).into_any(),
                            Ok(days) => view! { <DailySpendChart days=days/> }.into_any(),
                        }
                    })}
                </Suspense>
            </section>
            <section class="card">
                <h2>"Create a key"</h2>
                <ActionForm action=create attr:class="grid-form">
                    <input type="hidden" name="csrf" value=csrf/>
                    <label>"Alias" <input type="text" name="key_alias" placeholder="team-search-prod"/></label>
                    <label>"Models (comma-separated, empty = all)" <input type="text" name="models" placeholder="gpt-4o-mini, gpt-4o"/></label>
                    <label>"Max budget in USD (empty = none)" <input type="text" name="max_budget" inputmode="decimal" placeholder="25.00"/></label>
                    <label>"Expires after (e.g. 30d, empty = never)" <input type="text" name="duration" placeholder="30d"/></label>
                    <label>"Team id (empty = none)" <input type="text" name="team_id" placeholder="search"/></label>
                    <label>"Soft budget in USD (alert)" <input type="text" name="soft_budget" inputmode="decimal" placeholder="20.00"/></label>
                    <label>"Budget window (e.g. 30d, empty = all time)" <input type="text" name="budget_duration" placeholder="30d"/></label>
                    <label>"Requests per minute" <input type="text" name="rpm_limit" inputmode="numeric"/></label>
                    <label>"Tokens per minute" <input type="text" name="tpm_limit" inputmode="numeric"/></label>
                    <label>"Parallel requests" <input type="text" name="max_parallel_requests" inputmode="numeric"/></label>
                    <button type="submit">"Create key"</button>
                </ActionForm>
                {move || create.value().get().map(|result| match result {
                    Ok(created) => new_secret(created).into_any(),
                    Err(error) => error_message(error).into_any(),
                })}
            </section>
            <section class="card">
                <h2>"Keys you manage"</h2>
                {move || actions.revoke.value().get().and_then(Result::err).map(error_message)}
                {move || actions.block.value().get().and_then(Result::err).map(error_message)}
                {move || actions.update.value().get().and_then(Result::err).map(error_message)}
                {move || actions.rotate.value().get().map(|result| match result {
                    Ok(rotated) => rotated_secret(rotated).into_any(),
                    Err(error) => error_message(error).into_any(),
                })}
                <Transition fallback=|| view! { <p>"Loading keys…"</p> }>
                    {
                        let revoke_csrf = revoke_csrf.clone();
                        move || {
                            let revoke_csrf = revoke_csrf.clone();
                            Suspend::new(async move {
                                match keys.await {
                                    Err(error) => error_message(error).into_any(),
                                    Ok(listing) if listing.keys.is_empty() => view! { <p class="hint">"No keys yet."</p> }.into_any(),
                                    Ok(listing) => view! {
                                        {keys_table(listing.keys, actions, revoke_csrf)}
                                        {pager(listing.page, listing.pages)}
                                    }.into_any(),
                                }
                            })
                        }
                    }
                </Transition>
            </section>
        </main>
    }
}

/// Links to the newer and older pages of keys, when there are more than one.
fn pager(page: i64, pages: i64) -> impl IntoView {
    (pages > 1).then(|| {
        view! {
            <nav class="pager">
                {(page > 1).then(|| view! { <a href=format!("/keys?page={}", page - 1)>"← Newer keys"</a> })}
                <span>{format!(" Page {page} of {pages} ")}</span>
                {(page < pages).then(|| view! { <a href=format!("/keys?page={}", page + 1)>"Older keys →"</a> })}
            </nav>
        }
    })
}

fn new_secret(created: CreatedKey) -> impl IntoView {
    view! {
        <div class="secret" role="status">
            <p>"Copy this key now: it will not be shown again."</p>
            <code data-testid="new-key-secret">{created.key}</code>
        </div>
    }
}

/// A rotated key's new secret.
fn rotated_secret(rotated: CreatedKey) -> impl IntoView {
    view! {
        <div class="secret" role="status">
            <p>{format!("New secret for {}: copy it now, it will not be shown again.", rotated.key_name)}</p>
            <code data-testid="rotated-key-secret">{rotated.key}</code>
        </div>
    }
}

/// What each key's row can do.
#[derive(Clone, Copy)]
struct KeyActions {
    revoke: ServerAction<RevokeKey>,
    rotate: ServerAction<RotateKey>,
    block: ServerAction<SetKeyBlocked>,
    update: ServerAction<UpdateKey>,
}

fn keys_table(rows: Vec<KeyDetails>, actions: KeyActions, csrf: String) -> impl IntoView {
    view! {
        <table class="keys">
            <thead>
                <tr>
                    <th>"Alias"</th>
                    <th>"Key"</th>
                    <th>"Team"</th>
                    <th>"Models"</th>
                    <th class="num">"Spend"</th>
                    <th class="num">"Budget"</th>
                    <th>"Limits"</th>
                    <th>"Created"</th>
                    <th>"Expires"</th>
                    <th>"Status"</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|key| key_row(key, actions, csrf.clone())).collect_view()}
            </tbody>
        </table>
    }
}

/// `$25.00 / 30d (soft $20.00)`, or a dash without a budget.
fn budget_text(key: &KeyDetails) -> String {
    let Some(max) = key.budget.max_budget else {
        return "—".into();
    };
    let mut text = format!("${max:.2}");
    if let Some(window) = &key.budget.budget_duration {
        text.push_str(&format!(" / {window}"));
    }
    if let Some(soft) = key.budget.soft_budget {
        text.push_str(&format!(" (soft ${soft:.2})"));
    }
    text
}

/// `60 rpm · 10000 tpm · 4 parallel`, or a dash without limits.
fn limits_text(key: &KeyDetails) -> String {
    let parts: Vec<String> = [
        (key.rpm_limit, "rpm"),
        (key.tpm_limit, "tpm"),
        (key.max_parallel_requests, "parallel"),
    ]
    .iter()
    .filter_map(|(limit, unit)| limit.map(|limit| format!("{limit} {unit}")))
    .collect();
    if parts.is_empty() {
        "—".into()
    } else {
        parts.join(" · ")
    }
}

/// A limit's current value, as the edit form shows it.
fn count_text(value: Option<i64>) -> String {
    value.map(|value| value.to_string()).unwrap_or_default()
}

/// The edit form of a key, its fields filled with what the key has now.
fn edit_form(key: KeyDetails, update: ServerAction<UpdateKey>, csrf: String) -> impl IntoView {
    let metadata = if key
        .metadata
        .as_object()
        .is_some_and(|fields| fields.is_empty())
    {
        String::new()
    } else {
        key.metadata.to_string()
    };
    view! {
        <details class="edit">
            <summary>"Edit"</summary>
            <ActionForm action=update attr:class="grid-form">
                <input type="hidden" name="csrf" value=csrf/>
                <input type="hidden" name="token_hash" value=key.token/>
                <label>"Rename to" <input type="text" name="key_alias" value=key.key_alias.unwrap_or_default()/></label>
                <label>"Allowed models (empty = all)" <input type="text" name="models" value=key.models.join(", ")/></label>
                <label>"Spending cap (USD)" <input type="text" name="max_budget" inputmode="decimal" value=dollars_text(key.budget.max_budget)/></label>
                <label>"Alert at (USD)" <input type="text" name="soft_budget" inputmode="decimal" value=dollars_text(key.budget.soft_budget)/></label>
                <label>"Cap resets every" <input type="text" name="budget_duration" value=key.budget.budget_duration.unwrap_or_default()/></label>
                <label>"RPM" <input type="text" name="rpm_limit" inputmode="numeric" value=count_text(key.rpm_limit)/></label>
                <label>"TPM" <input type="text" name="tpm_limit" inputmode="numeric" value=count_text(key.tpm_limit)/></label>
                <label>"In flight at once" <input type="text" name="max_parallel_requests" inputmode="numeric" value=count_text(key.max_parallel_requests)/></label>
                <label>"Expire in (e.g. 30d, empty = unchanged)" <input type="text" name="duration"/></label>
                <label>"Metadata (JSON object)" <textarea name="metadata" rows="2">{metadata}</textarea></label>
                <button type="submit">"Save key"</button>
            </ActionForm>
        </details>
    }
}

fn key_row(key: KeyDetails, actions: KeyActions, csrf: String) -> impl IntoView {
    let models = if key.models.is_empty() {
        "all".to_string()
    } else {
        key.models.join(", ")
    };
    let budget = budget_text(&key);
    let limits = limits_text(&key);
    let shown_status = if key.blocked && key.status == "active" {
        "blocked".to_string()
    } else {
        key.status.clone()
    };
    let edit = edit_form(key.clone(), actions.update, csrf.clone());
    let row_class = format!("status-{shown_status}");
    let key_name = key.key_name.clone();
    let (rotate_csrf, block_csrf) = (csrf.clone(), csrf.clone());
    let (rotate_hash, block_hash) = (key.token.clone(), key.token.clone());
    let blocked = key.blocked && key.status == "active";
    view! {
        <tr data-key-name=key_name class=row_class>
            <td>{key.key_alias.unwrap_or_default()}</td>
            <td><code>{key.key_name}</code></td>
            <td>{key.team_id.unwrap_or_else(|| "—".into())}</td>
            <td>{models}</td>
            <td class="num">{format_usd(key.budget.spend_micros)}</td>
            <td class="num">{budget}</td>
            <td>{limits}</td>
            <td>{short_time(&key.created_at)}</td>
            <td>{key.expires.as_deref().map_or_else(|| "never".into(), short_time)}</td>
            <td><span class="badge">{shown_status}</span></td>
            <td>
                <ActionForm action=actions.rotate attr:class="inline">
                    <input type="hidden" name="csrf" value=rotate_csrf/>
                    <input type="hidden" name="token_hash" value=rotate_hash/>
                    <input type="text" name="grace_period" placeholder="grace, e.g. 1h" size="8" aria-label="Grace period"/>
                    <button type="submit">"Rotate"</button>
                </ActionForm>
                <ActionForm action=actions.block attr:class="inline">
                    <input type="hidden" name="csrf" value=block_csrf/>
                    <input type="hidden" name="token_hash" value=block_hash/>
                    <input type="hidden" name="blocked" value=(!blocked).to_string()/>
                    <button type="submit">{if blocked { "Unblock" } else { "Block" }}</button>
                </ActionForm>
                <ActionForm action=actions.revoke attr:class="inline">
                    <input type="hidden" name="csrf" value=csrf/>
                    <input type="hidden" name="token_hash" value=key.token/>
                    <button type="submit" class="danger">"Revoke"</button>
                </ActionForm>
                {edit}
            </td>
        </tr>
    }
}
