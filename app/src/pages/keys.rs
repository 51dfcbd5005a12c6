//! The Keys page: every virtual key with its spend, a form to create one (secret shown once),
//! and revocation.

use leptos::prelude::*;

use crate::api::keys::{list_keys, CreateKey, RevokeKey};
use crate::api::spend::{spend_per_day, DAILY_SPEND_DAYS};
use crate::model::{format_usd, CreatedKey, KeyStatus, KeyView};
use crate::pages::frame::{error_message, SignedIn};
use crate::pages::spend_chart::DailySpendChart;

#[component]
pub fn KeysPage() -> impl IntoView {
    view! { <SignedIn body=|csrf, _| view! { <KeysBody csrf=csrf/> }.into_any()/> }
}

#[component]
fn KeysBody(csrf: String) -> impl IntoView {
    let create = ServerAction::<CreateKey>::new();
    let revoke = ServerAction::<RevokeKey>::new();
    let keys = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_keys(),
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
                    <button type="submit">"Create key"</button>
                </ActionForm>
                {move || create.value().get().map(|result| match result {
                    Ok(created) => new_secret(created).into_any(),
                    Err(error) => error_message(error).into_any(),
                })}
            </section>
            <section class="card">
                <h2>"All keys"</h2>
                {move || revoke.value().get().and_then(Result::err).map(error_message)}
                <Transition fallback=|| view! { <p>"Loading keys…"</p> }>
                    {
                        let revoke_csrf = revoke_csrf.clone();
                        move || {
                            let revoke_csrf = revoke_csrf.clone();
                            Suspend::new(async move {
                                match keys.await {
                                    Err(error) => error_message(error).into_any(),
                                    Ok(rows) if rows.is_empty() => view! { <p class="hint">"No keys yet."</p> }.into_any(),
                                    Ok(rows) => keys_table(rows, revoke, revoke_csrf).into_any(),
                                }
                            })
                        }
                    }
                </Transition>
            </section>
        </main>
    }
}

fn new_secret(created: CreatedKey) -> impl IntoView {
    view! {
        <div class="secret" role="status">
            <p>"Copy this key now: it will not be shown again."</p>
            <code data-testid="new-key-secret">{created.key}</code>
        </div>
    }
}

fn keys_table(rows: Vec<KeyView>, revoke: ServerAction<RevokeKey>, csrf: String) -> impl IntoView {
    view! {
        <table class="keys">
            <thead>
                <tr>
                    <th>"Alias"</th>
                    <th>"Key"</th>
                    <th>"Models"</th>
                    <th class="num">"Spend"</th>
                    <th class="num">"Budget"</th>
                    <th>"Created"</th>
                    <th>"Expires"</th>
                    <th>"Status"</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|key| key_row(key, revoke, csrf.clone())).collect_view()}
            </tbody>
        </table>
    }
}

fn key_row(key: KeyView, revoke: ServerAction<RevokeKey>, csrf: String) -> impl IntoView {
    let models = if key.models.is_empty() {
        "all".to_string()
    } else {
        key.models.join(", ")
    };
    let budget = key
        .max_budget_micros
        .map(format_usd)
        .unwrap_or_else(|| "—".into());
    let status = key.status;
    let key_name = key.key_name.clone();
    view! {
        <tr data-key-name=key_name class=format!("status-{}", status.label())>
            <td>{key.key_alias.unwrap_or_default()}</td>
            <td><code>{key.key_name}</code></td>
            <td>{models}</td>
            <td class="num">{format_usd(key.spend_micros)}</td>
            <td class="num">{budget}</td>
            <td>{key.created_at}</td>
            <td>{key.expires_at.unwrap_or_else(|| "never".into())}</td>
            <td><span class="badge">{status.label()}</span></td>
            <td>
                {(status != KeyStatus::Revoked).then(|| view! {
                    <ActionForm action=revoke attr:class="inline">
                        <input type="hidden" name="csrf" value=csrf/>
                        <input type="hidden" name="token_hash" value=key.token_hash/>
                        <button type="submit" class="danger">"Revoke"</button>
                    </ActionForm>
                })}
            </td>
        </tr>
    }
}
