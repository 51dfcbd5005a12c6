//! The Tags page: tags made with `/tag/new`, each a budget every request carrying it counts
//! against, with its spend; admins create, edit and delete them. Every change goes through the
//! same operation as `/tag/*`.

use leptos::prelude::*;

use crate::api::tags::{list_tags, DeleteTag, SaveTag};
use crate::model::views::TagView;
use crate::model::Role;
use crate::pages::budget_form::{
    budget_edit_inputs, budget_window, new_budget_inputs, utilisation,
};
use crate::pages::frame::{error_message, SignedIn};

#[component]
pub fn TagsPage() -> impl IntoView {
    view! { <SignedIn body=|csrf, role| view! { <TagsBody csrf=csrf role=role/> }.into_any()/> }
}

#[component]
fn TagsBody(csrf: String, role: Role) -> impl IntoView {
    let save = ServerAction::<SaveTag>::new();
    let delete = ServerAction::<DeleteTag>::new();
    let tags = Resource::new(
        move || (save.version().get(), delete.version().get()),
        |_| list_tags(),
    );
    let is_admin = role == Role::Admin;
    let list_csrf = csrf.clone();
    view! {
        <main class="page">
            <h1>"Tags"</h1>
            {is_admin.then(|| view! {
                <section class="card">
                    <h2>"Create a tag"</h2>
                    <ActionForm action=save attr:class="grid-form">
                        <input type="hidden" name="csrf" value=csrf.clone()/>
                        <input type="hidden" name="existing" value="false"/>
                        <label>"Tag" <input type="text" name="name" required/></label>
                        <label>"Description" <input type="text" name="description"/></label>
                        {new_budget_inputs()}
                        <button type="submit">"Create tag"</button>
                    </ActionForm>
                </section>
            })}
            {move || save.value().get().and_then(Result::err).map(error_message)}
            {move || delete.value().get().and_then(Result::err).map(error_message)}
            <Transition fallback=|| view! { <p>"Loading tags…"</p> }>
                {
                    let list_csrf = list_csrf.clone();
                    move || {
                        let csrf = list_csrf.clone();
                        Suspend::new(async move {
                            match tags.await {
                                Err(error) => error_message(error).into_any(),
                                Ok(rows) if rows.is_empty() => view! { <p class="hint">"No tags yet."</p> }.into_any(),
                                Ok(rows) => view! {
                                    <table class="keys tags">
                                        <thead>
                                            <tr>
                                                <th>"Tag"</th>
                                                <th>"Description"</th>
                                                <th>"Budget used"</th>
                                                <th>"Window"</th>
                                                {is_admin.then(|| view! { <th>"Change"</th> })}
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {rows.into_iter().map(|tag| {
                                                tag_row(tag, is_admin, save, delete, csrf.clone())
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

fn tag_row(
    tag: TagView,
    is_admin: bool,
    save: ServerAction<SaveTag>,
    delete: ServerAction<DeleteTag>,
    csrf: String,
) -> impl IntoView {
    let used = utilisation(&tag.budget);
    let window = budget_window(&tag.budget);
    let change = is_admin.then(|| {
        let (edit_csrf, delete_csrf) = (csrf.clone(), csrf);
        let (edit_name, delete_name) = (tag.name.clone(), tag.name.clone());
        let description = tag.description.clone().unwrap_or_default();
        let budget = budget_edit_inputs(&tag.budget);
        view! {
            <td>
                <ActionForm action=save attr:class="inline edit">
                    <input type="hidden" name="csrf" value=edit_csrf/>
                    <input type="hidden" name="existing" value="true"/>
                    <input type="hidden" name="name" value=edit_name/>
                    <input type="text" name="description" aria-label="Description" value=description/>
                    {budget}
                    <button type="submit">"Save"</button>
                </ActionForm>
                <ActionForm action=delete attr:class="inline">
                    <input type="hidden" name="csrf" value=delete_csrf/>
                    <input type="hidden" name="name" value=delete_name/>
                    <button type="submit" class="danger">"Delete"</button>
                </ActionForm>
            </td>
        }
    });
    let row_name = tag.name.clone();
    view! {
        <tr data-tag=row_name>
            <td>{tag.name}</td>
            <td>{tag.description.unwrap_or_default()}</td>
            <td>{used}</td>
            <td>{window}</td>
            {change}
        </tr>
    }
}
