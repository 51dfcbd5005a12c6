//! Organizations from the console, through `ops::organizations` (the API's write path): roles
//! that read everything list them; admins create, edit and delete them.
// A form posts one argument per field.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::error::ConsoleError;
use crate::model::forms::BudgetForm;
use crate::model::views::OrganizationView;

#[server(endpoint = "list_organizations")]
pub async fn list_organizations() -> Result<Vec<OrganizationView>, ConsoleError> {
    use crate::api::guard;
    use crate::ops::organizations;

    let actor = guard::current_actor().await?;
    Ok(organizations::list(&crate::state::pool()?, &actor).await?)
}

/// Creates the organization, or (`existing`) changes the one with `organization_id`.
#[server(endpoint = "save_organization")]
pub async fn save_organization(
    csrf: String,
    existing: bool,
    organization_id: String,
    organization_alias: String,
    models: String,
    #[server(flatten)] budget: BudgetForm,
) -> Result<OrganizationView, ConsoleError> {
    use crate::api::{form, guard};
    use crate::ops::organizations::{self, NewOrganization, OrganizationUpdate};

    let actor = guard::admin_changer(&csrf, "change organizations").await?;
    let budget = form::budget(&budget)?;
    let pool = crate::state::pool()?;
    let saved = if existing {
        let update = OrganizationUpdate {
            organization_id,
            organization_alias: form::text(&organization_alias),
            models: Some(form::list(&models)),
            budget,
            ..OrganizationUpdate::default()
        };
        organizations::update(&pool, &actor, update).await?
    } else {
        let new = NewOrganization {
            organization_id: form::text(&organization_id),
            organization_alias,
            models: form::list(&models),
            budget,
            ..NewOrganization::default()
        };
        organizations::create(&pool, &actor, new).await?
    };
    Ok(saved)
}

#[server(endpoint = "delete_organization")]
pub async fn delete_organization(
    csrf: String,
    organization_id: String,
) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::ops::organizations;

    let actor = guard::changer(&csrf).await?;
    organizations::delete(&crate::state::pool()?, &actor, &[organization_id]).await?;
    Ok(())
}
