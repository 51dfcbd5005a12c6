//! The login page.

use leptos::prelude::*;
use leptos_router::components::Redirect;

use crate::api::session::{get_session_info, Login};
use crate::pages::frame::error_message;

#[component]
pub fn LoginPage() -> impl IntoView {
    let session = Resource::new(|| (), |_| get_session_info());
    let login = ServerAction::<Login>::new();
    view! {
        <main class="auth">
            <h1>"Gatehouse"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match session.await {
                        Err(error) => error_message(error).into_any(),
                        Ok(info) if info.user.is_some() => {
                            let home = info.user.as_ref().map_or("/keys", |user| user.role.home());
                            view! { <Redirect path=home/> }.into_any()
                        }
                        Ok(info) if info.needs_setup => view! { <Redirect path="/setup"/> }.into_any(),
                        Ok(info) => view! {
                            <ActionForm action=login attr:class="card">
                                <h2>"Log in"</h2>
                                <input type="hidden" name="csrf" value=info.csrf_token/>
                                <label>"Email" <input type="email" name="email" required autocomplete="username"/></label>
                                <label>"Password" <input type="password" name="password" required autocomplete="current-password"/></label>
                                <button type="submit">"Log in"</button>
                                {move || login.value().get().and_then(Result::err).map(error_message)}
                            </ActionForm>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}
