//! The Projects page: the projects the user may read, with team, models, keys and spend against
//! budget; admins, and team admins within their teams, create and edit them; admins delete
//! them. Every change goes through the same operation as `/project/*`.

use leptos::prelude::*;

use crate::api::projects::{list_projects, DeleteProject, SaveProject};
use crate::model::views::ProjectView;
use crate::model::Role;
use crate::pages::budget_form::{
    budget_edit_inputs, budget_window, new_budget_inputs, utilisation,
};
use crate::pages::frame::{error_message, SignedIn};

#[component]
pub fn ProjectsPage() -> impl IntoView {
    view! { <SignedIn body=|csrf, role| view! { <ProjectsBody csrf=csrf role=role/> }.into_any()/> }
}

/// What the signed-in user may do on this page.
#[derive(Clone, Copy)]
struct Powers {
    /// Create and edit (an admin, or a team admin within its teams).
    edit: bool,
    delete: bool,
}

#[component]
fn ProjectsBody(csrf: String, role: Role) -> impl IntoView {
    let save = ServerAction::<SaveProject>::new();
    let delete = ServerAction::<DeleteProject>::new();
    let projects = Resource::new(
        move || (save.version().get(), delete.version().get()),
        |_| list_projects(),
    );
    let powers = Powers {
        edit: matches!(role, Role::Admin | Role::TeamAdmin),
        delete: role == Role::Admin,
    };
    let list_csrf = csrf.clone();
    view! {
        <main class="page">
            <h1>"Projects"</h1>
            {powers.edit.then(|| view! {
                <section class="card">
                    <h2>"Create a project"</h2>
                    <ActionForm action=save attr:class="grid-form">
                        <input type="hidden" name="csrf" value=csrf.clone()/>
                        <input type="hidden" name="existing" value="false"/>
                        <label>"Project id (empty = generated)" <input type="text" name="project_id"/></label>
                        <label>"Alias" <input type="text" name="project_alias"/></label>
                        <label>"Description" <input type="text" name="description"/></label>
                        <label>"Team id (a team admin: one of its teams)" <input type="text" name="team_id"/></label>
                        <label>"Models (comma-separated, empty = all)" <input type="text" name="models"/></label>
                        {new_budget_inputs()}
                        <button type="submit">"Create project"</button>
                    </ActionForm>
                </section>
            })}
            {move || save.value().get().and_then(Result::err).map(error_message)}
            {move || delete.value().get().and_then(Result::err).map(error_message)}
            <Transition fallback=|| view! { <p>"Loading projects…"</p> }>
                {
                    let list_csrf = list_csrf.clone();
                    move || {
                        let csrf = list_csrf.clone();
                        Suspend::new(async move {
                            match projects.await {
                                Err(error) => error_message(error).into_any(),
                                Ok(rows) if rows.is_empty() => view! { <p class="hint">"No projects to show."</p> }.into_any(),
                                Ok(rows) => view! {
                                    <table class="keys projects">
                                        <thead>
                                            <tr>
                                                <th>"Project"</th>
                                                <th>"Team"</th>
                                                <th>"Models"</th>
                                                <th class="num">"Keys"</th>
                                                <th>"Budget used"</th>
                                                <th>"Window"</th>
                                                {powers.edit.then(|| view! { <th>"Change"</th> })}
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {rows.into_iter().map(|project| {
                                                project_row(project, powers, save, delete, csrf.clone())
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

fn project_row(
    project: ProjectView,
    powers: Powers,
    save: ServerAction<SaveProject>,
    delete: ServerAction<DeleteProject>,
    csrf: String,
) -> impl IntoView {
    let title = match &project.project_alias {
        Some(alias) => format!("{alias} ({})", project.project_id),
        None => project.project_id.clone(),
    };
    let models = if project.models.is_empty() {
        "all".to_string()
    } else {
        project.models.join(", ")
    };
    let used = utilisation(&project.budget);
    let window = budget_window(&project.budget);
    let change = powers.edit.then(|| {
        let (edit_csrf, delete_csrf) = (csrf.clone(), csrf);
        let (edit_id, delete_id) = (project.project_id.clone(), project.project_id.clone());
        let alias = project.project_alias.clone().unwrap_or_default();
        let description = project.description.clone().unwrap_or_default();
        let model_list = project.models.join(", ");
        let budget = budget_edit_inputs(&project.budget);
        let remove = powers.delete.then(|| view! {
            <ActionForm action=delete attr:class="inline">
                <input type="hidden" name="csrf" value=delete_csrf/>
                <input type="hidden" name="project_id" value=delete_id/>
                <button type="submit" class="danger">"Delete"</button>
            </ActionForm>
        });
        view! {
            <td>
                <ActionForm action=save attr:class="inline edit">
                    <input type="hidden" name="csrf" value=edit_csrf/>
                    <input type="hidden" name="existing" value="true"/>
                    <input type="hidden" name="project_id" value=edit_id/>
                    <input type="hidden" name="team_id" value=""/>
                    <input type="text" name="project_alias" aria-label="Alias" value=alias/>
                    <input type="text" name="description" aria-label="Description" value=description/>
                    <input type="text" name="models" aria-label="Models" value=model_list/>
                    {budget}
                    <button type="submit">"Save"</button>
                </ActionForm>
                {remove}
            </td>
        }
    });
    let row_id = project.project_id.clone();
    view! {
        <tr data-project=row_id>
            <td>{title}</td>
            <td>{project.team_id.unwrap_or_else(|| "—".into())}</td>
            <td>{models}</td>
            <td class="num">{project.keys}</td>
            <td>{used}</td>
            <td>{window}</td>
            {change}
        </tr>
    }
}
