//! The frame around signed-in pages (header, navigation, logout) and small shared widgets.

use leptos::prelude::*;

use crate::api::session::Logout;
use crate::error::ConsoleError;
use crate::model::UserView;

/// The signed-in header: product name, navigation, the user and a logout button.
#[component]
pub fn Header(user: UserView, csrf: String) -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    view! {
        <header class="topbar">
            <span class="brand">"Gatehouse"</span>
            <nav>
                <a href="/keys">"Keys"</a>
                <a href="/deployments">"Models & providers"</a>
                <a href="/routes">"Routes"</a>
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
