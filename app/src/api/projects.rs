//! Projects from the console, through `ops::projects` (the API's write path): everyone lists
//! the projects it may read; admins, and team admins within their teams, create and edit them;
//! admins delete them.
// A form posts one argument per field.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::error::ConsoleError;
use crate::model::forms::BudgetForm;
use crate::model::views::ProjectView;

#[server(endpoint = "list_projects")]
pub async fn list_projects() -> Result<Vec<ProjectView>, ConsoleError> {
    use crate::api::guard;
    use crate::ops::projects;

    let actor = guard::current_actor().await?;
    Ok(projects::list(&crate::state::pool()?, &actor).await?)
}

/// Creates the project, or (`existing`) changes the one with `project_id` (its team stays).
#[server(endpoint = "save_project")]
pub async fn save_project(
    csrf: String,
    existing: bool,
    project_id: String,
    project_alias: String,
    description: String,
    team_id: String,
    models: String,
    #[server(flatten)] budget: BudgetForm,
) -> Result<ProjectView, ConsoleError> {
    use crate::api::{form, guard};
    use crate::ops::budget_fields::BudgetFields;
    use crate::ops::projects::{self, NewProject, ProjectUpdate};

    let actor = guard::team_changer(&csrf, "change projects").await?;
    let BudgetFields {
        max_budget,
        soft_budget,
        budget_duration,
    } = form::budget(&budget)?;
    let state = crate::state::console_state()?;
    Ok(if existing {
        let update = ProjectUpdate {
            project_id,
            project_alias: form::text(&project_alias),
            description: form::text(&description),
            models: Some(form::list(&models)),
            max_budget,
            soft_budget,
            budget_duration,
            metadata: None,
        };
        projects::update(&state.pool, &actor, &*state.catalog, update).await?
    } else {
        let new = NewProject {
            project_id: form::text(&project_id),
            project_alias: form::text(&project_alias),
            description: form::text(&description),
            team_id: form::text(&team_id),
            models: form::list(&models),
            max_budget,
            soft_budget,
            budget_duration,
            metadata: None,
        };
        projects::create(&state.pool, &actor, &*state.catalog, new).await?
    })
}

#[server(endpoint = "delete_project")]
pub async fn delete_project(csrf: String, project_id: String) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::ops::projects;

    let actor = guard::changer(&csrf).await?;
    projects::delete(&crate::state::pool()?, &actor, &[project_id]).await?;
    Ok(())
}
