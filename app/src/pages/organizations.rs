//! The Organizations page: every organization with its models, teams and budget (spend of the
//! window against it); admins create, edit and delete them. Every change goes through the same
//! operation as `/organization/*`.

use leptos::prelude::*;

use crate::api::organizations::{list_organizations, DeleteOrganization, SaveOrganization};
use crate::model::views::OrganizationView;
use crate::model::Role;
use crate::pages::budget_form::{
    budget_edit_inputs, budget_window, new_budget_inputs, utilisation,
};
use crate::pages::frame::{error_message, SignedIn};

#[component]
pub fn OrganizationsPage() -> impl IntoView {
    view! { <SignedIn body=|csrf, role| view! { <OrganizationsBody csrf=csrf role=role/> }.into_any()/> }
}

#[component]
fn OrganizationsBody(csrf: String, role: Role) -> impl IntoView {
    let save = ServerAction::<SaveOrganization>::new();
    let delete = ServerAction::<DeleteOrganization>::new();
    let organizations = Resource::new(
        move || (save.version().get(), delete.version().get()),
        |_| list_organizations(),
    );
    let is_admin = role == Role::Admin;
    let list_csrf = csrf.clone();
    view! {
        <main class="page">
            <h1>"Organizations"</h1>
            {is_admin.then(|| view! {
                <section class="card">
                    <h2>"Create an organization"</h2>
                    <ActionForm action=save attr:class="grid-form">
                        <input type="hidden" name="csrf" value=csrf.clone()/>
                        <input type="hidden" name="existing" value="false"/>
                        <label>"Organization id (empty = generated)" <input type="text" name="organization_id"/></label>
                        <label>"Alias" <input type="text" name="organization_alias" required/></label>
                        <label>"Models (comma-separated, empty = all)" <input type="text" name="models"/></label>
                        {new_budget_inputs()}
                        <button type="submit">"Create organization"</button>
                    </ActionForm>
                </section>
            })}
            {move || save.value().get().and_then(Result::err).map(error_message)}
            {move || delete.value().get().and_then(Result::err).map(error_message)}
            <Transition fallback=|| view! { <p>"Loading organizations…"</p> }>
                {
                    let list_csrf = list_csrf.clone();
                    move || {
                        let csrf = list_csrf.clone();
                        Suspend::new(async move {
                            match organizations.await {
                                Err(error) => error_message(error).into_any(),
                                Ok(rows) if rows.is_empty() => view! { <p class="hint">"No organizations yet."</p> }.into_any(),
                                Ok(rows) => view! {
                                    <table class="keys organizations">
                                        <thead>
                                            <tr>
                                                <th>"Organization"</th>
                                                <th>"Models"</th>
                                                <th class="num">"Teams"</th>
                                                <th>"Budget used"</th>
                                                <th>"Window"</th>
                                                {is_admin.then(|| view! { <th>"Change"</th> })}
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {rows.into_iter().map(|organization| {
                                                organization_row(organization, is_admin, save, delete, csrf.clone())
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

fn organization_row(
    organization: OrganizationView,
    is_admin: bool,
    save: ServerAction<SaveOrganization>,
    delete: ServerAction<DeleteOrganization>,
    csrf: String,
) -> impl IntoView {
    let models = if organization.models.is_empty() {
        "all".to_string()
    } else {
        organization.models.join(", ")
    };
    let used = utilisation(&organization.budget);
    let title = format!(
        "{} ({})",
        organization.organization_alias, organization.organization_id
    );
    let window = budget_window(&organization.budget);
    let change = is_admin.then(|| {
        let (edit_csrf, delete_csrf) = (csrf.clone(), csrf);
        let (edit_id, delete_id) = (
            organization.organization_id.clone(),
            organization.organization_id.clone(),
        );
        let alias = organization.organization_alias.clone();
        let model_list = organization.models.join(", ");
        let budget = budget_edit_inputs(&organization.budget);
        view! {
            <td>
                <ActionForm action=save attr:class="inline edit">
                    <input type="hidden" name="csrf" value=edit_csrf/>
                    <input type="hidden" name="existing" value="true"/>
                    <input type="hidden" name="organization_id" value=edit_id/>
                    <input type="text" name="organization_alias" aria-label="Alias" value=alias/>
                    <input type="text" name="models" aria-label="Models" value=model_list/>
                    {budget}
                    <button type="submit">"Save"</button>
                </ActionForm>
                <ActionForm action=delete attr:class="inline">
                    <input type="hidden" name="csrf" value=delete_csrf/>
                    <input type="hidden" name="organization_id" value=delete_id/>
                    <button type="submit" class="danger">"Delete"</button>
                </ActionForm>
            </td>
        }
    });
    view! {
        <tr>
            <td>{title}</td>
            <td>{models}</td>
            <td class="num">{organization.teams}</td>
            <td>{used}</td>
            <td>{window}</td>
            {change}
        </tr>
    }
}
