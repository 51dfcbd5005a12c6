//! The frame around signed-in pages (session check, header, navigation, logout) and small
//! shared widgets.

use leptos::prelude::*;

use leptos_router::components::Redirect;

use crate::api::session::{get_session_info, Logout};
use crate::error::ConsoleError;
use crate::model::{Role, UserView};

/// A signed-in page: the header, then `body` with the session's CSRF token and the user's
/// role. A visitor without a session goes to the login page.
#[component]
pub fn SignedIn(body: fn(String, Role) -> AnyView) -> impl IntoView {
    let session = Resource::new(|| (), |_| get_session_info());
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match session.await {
                    Err(error) => error_message(error).into_any(),
                    Ok(info) => match info.user {
                        None => view! { <Redirect path="/login"/> }.into_any(),
                        Some(user) => {
                            let role = user.role;
                            view! {
                                <Header user=user csrf=info.csrf_token.clone()/>
                                {body(info.csrf_token, role)}
                            }.into_any()
                        }
                    },
                }
            })}
        </Suspense>
    }
}

/// The signed-in header: product name, navigation, the user and a logout button.
#[component]
pub fn Header(user: UserView, csrf: String) -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    view! {
        <header class="topbar">
            <span class="brand">"Gatehouse"</span>
            <nav>
                {matches!(user.role, Role::Admin | Role::Finance).then(|| view! {
                    <a href="/overview">"Overview"</a>
                    <a href="/spend">"Spend"</a>
                    <a href="/logs">"Logs"</a>
                })}
                {matches!(user.role, Role::Admin | Role::TeamAdmin).then(|| view! { <a href="/keys">"Keys"</a> })}
                <a href="/deployments">"Models & providers"</a>
                <a href="/routes">"Routes"</a>
                <a href="/teams">"Teams"</a>
                <a href="/projects">"Projects"</a>
                {matches!(user.role, Role::Admin | Role::Finance | Role::Viewer).then(|| view! {
                    <a href="/organizations">"Organizations"</a>
                    <a href="/end-users">"End users"</a>
                    <a href="/tags">"Tags"</a>
                    <a href="/named-budgets">"Named budgets"</a>
                })}
                <a href="/users">"Users"</a>
                {matches!(user.role, Role::Admin | Role::Finance).then(|| view! {
                    <a href="/budgets">"Budgets"</a>
                    <a href="/audit">"Audit log"</a>
                })}
            </nav>
            <span class="who">{user.email} " · " {user.role.as_str()}</span>
            <ActionForm action=logout attr:class="inline">
                <input type="hidden" name="csrf" value=csrf/>
                <button type="submit" class="link">"Log out"</button>
            </ActionForm>
        </header>
    }
}

/// The error of a failed form submission, announced to screen readers.
pub fn error_message(error: ConsoleError) -> impl IntoView {
    view! { <p class="error" role="alert">{error.to_string()}</p> }
}
