//! The End users page: LiteLLM's customers (the `user` a request names), each with its spend
//! against its budget and whether it is blocked; admins create, edit and delete them. Every
//! change goes through the same operation as `/customer/*`.

use leptos::prelude::*;

use crate::api::end_users::{list_end_users, DeleteEndUser, SaveEndUser};
use crate::model::views::EndUserView;
use crate::model::Role;
use crate::pages::budget_form::{
    budget_edit_inputs, budget_window, new_budget_inputs, utilisation,
};
use crate::pages::frame::{error_message, SignedIn};

#[component]
pub fn EndUsersPage() -> impl IntoView {
    view! { <SignedIn body=|csrf, role| view! { <EndUsersBody csrf=csrf role=role/> }.into_any()/> }
}

#[component]
fn EndUsersBody(csrf: String, role: Role) -> impl IntoView {
    let save = ServerAction::<SaveEndUser>::new();
    let delete = ServerAction::<DeleteEndUser>::new();
    let end_users = Resource::new(
        move || (save.version().get(), delete.version().get()),
        |_| list_end_users(),
    );
    let is_admin = role == Role::Admin;
    let list_csrf = csrf.clone();
    view! {
        <main class="page">
            <h1>"End users"</h1>
            {is_admin.then(|| view! {
                <section class="card">
                    <h2>"Create an end user"</h2>
                    <ActionForm action=save attr:class="grid-form">
                        <input type="hidden" name="csrf" value=csrf.clone()/>
                        <input type="hidden" name="existing" value="false"/>
                        <label>"End user id (the request's `user`)" <input type="text" name="user_id" required/></label>
                        <label>"Alias" <input type="text" name="alias"/></label>
                        {new_budget_inputs()}
                        <button type="submit">"Create end user"</button>
                    </ActionForm>
                </section>
            })}
            {move || save.value().get().and_then(Result::err).map(error_message)}
            {move || delete.value().get().and_then(Result::err).map(error_message)}
            <Transition fallback=|| view! { <p>"Loading end users…"</p> }>
                {
                    let list_csrf = list_csrf.clone();
                    move || {
                        let csrf = list_csrf.clone();
                        Suspend::new(async move {
                            match end_users.await {
                                Err(error) => error_message(error).into_any(),
                                Ok(rows) if rows.is_empty() => view! { <p class="hint">"No end users yet."</p> }.into_any(),
                                Ok(rows) => view! {
                                    <table class="keys end-users">
                                        <thead>
                                            <tr>
                                                <th>"End user"</th>
                                                <th>"Status"</th>
                                                <th>"Budget used"</th>
                                                <th>"Window"</th>
                                                {is_admin.then(|| view! { <th>"Change"</th> })}
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {rows.into_iter().map(|end_user| {
                                                end_user_row(end_user, is_admin, save, delete, csrf.clone())
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

fn end_user_row(
    end_user: EndUserView,
    is_admin: bool,
    save: ServerAction<SaveEndUser>,
    delete: ServerAction<DeleteEndUser>,
    csrf: String,
) -> impl IntoView {
    let title = match &end_user.alias {
        Some(alias) => format!("{alias} ({})", end_user.user_id),
        None => end_user.user_id.clone(),
    };
    let used = utilisation(&end_user.budget);
    let window = budget_window(&end_user.budget);
    let status = if end_user.blocked {
        "blocked"
    } else {
        "active"
    };
    let change = is_admin.then(|| {
        let (edit_csrf, delete_csrf) = (csrf.clone(), csrf);
        let (edit_id, delete_id) = (end_user.user_id.clone(), end_user.user_id.clone());
        let alias = end_user.alias.clone().unwrap_or_default();
        let budget = budget_edit_inputs(&end_user.budget);
        view! {
            <td>
                <ActionForm action=save attr:class="inline edit">
                    <input type="hidden" name="csrf" value=edit_csrf/>
                    <input type="hidden" name="existing" value="true"/>
                    <input type="hidden" name="user_id" value=edit_id/>
                    <input type="text" name="alias" aria-label="Alias" value=alias/>
                    {budget}
                    <button type="submit">"Save"</button>
                </ActionForm>
                <ActionForm action=delete attr:class="inline">
                    <input type="hidden" name="csrf" value=delete_csrf/>
                    <input type="hidden" name="user_id" value=delete_id/>
                    <button type="submit" class="danger">"Delete"</button>
                </ActionForm>
            </td>
        }
    });
    let row_id = end_user.user_id.clone();
    view! {
        <tr data-end-user=row_id>
            <td>{title}</td>
            <td><span class="badge">{status}</span></td>
            <td>{used}</td>
            <td>{window}</td>
            {change}
        </tr>
    }
}
