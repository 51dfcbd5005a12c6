//! The Users page: every user with role, teams, login, spend and budget; admins create users,
//! edit their budgets, limits and models, change roles, reset passwords and delete users
//! (never their own). Every change goes through the same operation as `/user/*`.

use leptos::prelude::*;

use crate::api::users::{
    list_users, ChangeRole, CreateUser, DeleteUser, ResetPassword, UpdateUser, MIN_PASSWORD_CHARS,
};
use crate::model::{format_usd, AccountView, Role};
use crate::pages::budget_form::{dollars_text, utilisation};
use crate::pages::frame::{error_message, SignedIn};

const ROLES: [Role; 4] = [Role::Admin, Role::TeamAdmin, Role::Finance, Role::Viewer];

#[component]
pub fn UsersPage() -> impl IntoView {
    view! { <SignedIn body=|csrf, role| view! { <UsersBody csrf=csrf role=role/> }.into_any()/> }
}

/// The actions an admin takes on users, shared by every row.
#[derive(Clone, Copy)]
struct UserActions {
    change_role: ServerAction<ChangeRole>,
    reset_password: ServerAction<ResetPassword>,
    delete: ServerAction<DeleteUser>,
    update: ServerAction<UpdateUser>,
}

#[component]
fn UsersBody(csrf: String, role: Role) -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let actions = UserActions {
        change_role: ServerAction::new(),
        reset_password: ServerAction::new(),
        delete: ServerAction::new(),
        update: ServerAction::new(),
    };
    let users = Resource::new(
        move || {
            (
                create.version().get(),
                actions.change_role.version().get(),
                actions.delete.version().get(),
                actions.update.version().get(),
            )
        },
        |_| list_users(),
    );
    let is_admin = role == Role::Admin;
    let table_csrf = csrf.clone();
    view! {
        <main class="page">
            <h1>"Users"</h1>
            {is_admin.then(|| view! {
                <section class="card">
                    <h2>"Create a user"</h2>
                    <ActionForm action=create attr:class="grid-form">
                        <input type="hidden" name="csrf" value=csrf.clone()/>
                        <label>"Email" <input type="email" name="email" required/></label>
                        <label>"Role" {role_select("role", Role::Viewer)}</label>
                        <label>{format!("Password (at least {MIN_PASSWORD_CHARS} characters)")}
                            <input type="password" name="password" required autocomplete="new-password"/></label>
                        <button type="submit">"Create user"</button>
                    </ActionForm>
                    {move || create.value().get().map(|result| match result {
                        Ok(()) => view! { <p class="hint" role="status">"User created."</p> }.into_any(),
                        Err(error) => error_message(error).into_any(),
                    })}
                </section>
            })}
            <section class="card">
                <h2>"All users"</h2>
                {move || actions.change_role.value().get().and_then(Result::err).map(error_message)}
                {move || actions.reset_password.value().get().map(|result| match result {
                    Ok(()) => view! { <p class="hint" role="status">"Password reset."</p> }.into_any(),
                    Err(error) => error_message(error).into_any(),
                })}
                {move || actions.delete.value().get().and_then(Result::err).map(error_message)}
                {move || actions.update.value().get().and_then(Result::err).map(error_message)}
                <Transition fallback=|| view! { <p>"Loading users…"</p> }>
                    {
                        let table_csrf = table_csrf.clone();
                        move || {
                            let csrf = table_csrf.clone();
                            Suspend::new(async move {
                                match users.await {
                                    Err(error) => error_message(error).into_any(),
                                    Ok(rows) => users_table(rows, is_admin, actions, csrf).into_any(),
                                }
                            })
                        }
                    }
                </Transition>
            </section>
        </main>
    }
}

fn role_select(name: &'static str, selected: Role) -> impl IntoView {
    view! {
        <select name=name>
            {ROLES.into_iter().map(|role| view! {
                <option value=role.as_str() selected=role == selected>{role.as_str()}</option>
            }).collect_view()}
        </select>
    }
}

fn users_table(
    rows: Vec<AccountView>,
    is_admin: bool,
    actions: UserActions,
    csrf: String,
) -> impl IntoView {
    view! {
        <table class="keys users">
            <thead>
                <tr>
                    <th>"User"</th>
                    <th>"Role"</th>
                    <th>"Teams"</th>
                    <th>"Login"</th>
                    <th class="num">"Spend"</th>
                    <th class="num">"Budget"</th>
                    <th>"Created"</th>
                    {is_admin.then(|| view! { <th>"Manage"</th> })}
                </tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|user| user_row(user, is_admin, actions, csrf.clone())).collect_view()}
            </tbody>
        </table>
    }
}

fn user_row(
    user: AccountView,
    is_admin: bool,
    actions: UserActions,
    csrf: String,
) -> impl IntoView {
    let name = user.email.clone().unwrap_or_else(|| user.user_id.clone());
    let role_label = user.role.map_or("none", Role::as_str);
    let budget = match user.budget.max_budget {
        Some(_) => utilisation(&user.budget),
        None => "—".into(),
    };
    let teams = if user.teams.is_empty() {
        "—".to_string()
    } else {
        user.teams.join(", ")
    };
    let edit = is_admin.then(|| edit_form(user.clone(), actions.update, csrf.clone()));
    let manage = is_admin.then(|| {
        let current = user.role.unwrap_or(Role::Viewer);
        let (role_csrf, password_csrf, delete_csrf) = (csrf.clone(), csrf.clone(), csrf);
        let (role_id, password_id, delete_id) =
            (user.user_id.clone(), user.user_id.clone(), user.user_id.clone());
        view! {
            <td class="manage">
                <ActionForm action=actions.change_role attr:class="inline">
                    <input type="hidden" name="csrf" value=role_csrf/>
                    <input type="hidden" name="user_id" value=role_id/>
                    {role_select("role", current)}
                    <button type="submit">"Set role"</button>
                </ActionForm>
                <ActionForm action=actions.reset_password attr:class="inline">
                    <input type="hidden" name="csrf" value=password_csrf/>
                    <input type="hidden" name="user_id" value=password_id/>
                    <input type="password" name="password" placeholder="new password" autocomplete="new-password" aria-label="New password"/>
                    <button type="submit">"Reset password"</button>
                </ActionForm>
                <ActionForm action=actions.delete attr:class="inline">
                    <input type="hidden" name="csrf" value=delete_csrf/>
                    <input type="hidden" name="user_id" value=delete_id/>
                    <button type="submit" class="danger">"Delete"</button>
                </ActionForm>
                {edit}
            </td>
        }
    });
    let row_name = name.clone();
    view! {
        <tr data-user=row_name>
            <td>{name}</td>
            <td><span class="badge">{role_label}</span></td>
            <td>{teams}</td>
            <td>{if user.can_log_in { "yes" } else { "API only" }}</td>
            <td class="num">{format_usd(user.budget.spend_micros)}</td>
            <td class="num">{budget}</td>
            <td>{user.created_at}</td>
            {manage}
        </tr>
    }
}

fn count_text(value: Option<i64>) -> String {
    value.map(|value| value.to_string()).unwrap_or_default()
}

/// A user's edit form, filled with what it has now.
fn edit_form(user: AccountView, update: ServerAction<UpdateUser>, csrf: String) -> impl IntoView {
    view! {
        <details class="edit">
            <summary>"Edit user"</summary>
            <ActionForm action=update attr:class="grid-form">
                <input type="hidden" name="csrf" value=csrf/>
                <input type="hidden" name="user_id" value=user.user_id/>
                <label>"Display name" <input type="text" name="user_alias" value=user.user_alias.unwrap_or_default()/></label>
                <label>"User models (empty = all)" <input type="text" name="models" value=user.models.join(", ")/></label>
                <label>"User cap (USD)" <input type="text" name="max_budget" inputmode="decimal" value=dollars_text(user.budget.max_budget)/></label>
                <label>"User alert at (USD)" <input type="text" name="soft_budget" inputmode="decimal" value=dollars_text(user.budget.soft_budget)/></label>
                <label>"User cap resets every" <input type="text" name="budget_duration" value=user.budget.budget_duration.unwrap_or_default()/></label>
                <label>"User RPM" <input type="text" name="rpm_limit" inputmode="numeric" value=count_text(user.rpm_limit)/></label>
                <label>"User TPM" <input type="text" name="tpm_limit" inputmode="numeric" value=count_text(user.tpm_limit)/></label>
                <label>"User in flight at once" <input type="text" name="max_parallel_requests" inputmode="numeric" value=count_text(user.max_parallel_requests)/></label>
                <button type="submit">"Save user"</button>
            </ActionForm>
        </details>
    }
}
