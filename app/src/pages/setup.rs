//! First-run setup: create the first admin account.

use leptos::prelude::*;
use leptos_router::components::Redirect;

use crate::api::session::{get_session_info, SetupAdmin, MIN_PASSWORD_LENGTH};
use crate::pages::frame::error_message;

#[component]
pub fn SetupPage() -> impl IntoView {
    let session = Resource::new(|| (), |_| get_session_info());
    let setup = ServerAction::<SetupAdmin>::new();
    view! {
        <main class="auth">
            <h1>"Gatehouse"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match session.await {
                        Err(error) => error_message(error).into_any(),
                        Ok(info) if !info.needs_setup => view! { <Redirect path="/login"/> }.into_any(),
                        Ok(info) => view! {
                            <ActionForm action=setup attr:class="card">
                                <h2>"Create the first admin"</h2>
                                <p class="hint">"No accounts exist yet. This account will administer Gatehouse."</p>
                                <input type="hidden" name="csrf" value=info.csrf_token/>
                                <label>
                                    "Master key, or the setup token from the server's log"
                                    <input type="password" name="setup_secret" required autocomplete="off"/>
                                </label>
                                <label>"Email" <input type="email" name="email" required autocomplete="username"/></label>
                                <label>
                                    "Password (at least " {MIN_PASSWORD_LENGTH} " characters)"
                                    <input type="password" name="password" required autocomplete="new-password"/>
                                </label>
                                <label>"Repeat password" <input type="password" name="password_confirmation" required autocomplete="new-password"/></label>
                                <button type="submit">"Create admin"</button>
                                {move || setup.value().get().and_then(Result::err).map(error_message)}
                            </ActionForm>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}
