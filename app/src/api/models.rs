//! The Models page's server functions: every signed-in role sees the deployments and their
//! prices; admins add, edit and delete stored deployments and test connections.

// A server function's arguments are its form's fields; `#[server]` drops a function-level allow.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::error::ConsoleError;
use crate::model::{ConnectionTest, DeploymentView};

#[server(endpoint = "list_deployments")]
pub async fn list_deployments() -> Result<Vec<DeploymentView>, ConsoleError> {
    use crate::api::deployment_form::form_of;
    use crate::api::guard;
    use crate::db::deployments;
    use crate::model::Role;

    let session = guard::session().await?;
    let user = guard::require_role(
        &session,
        &[Role::Admin, Role::TeamAdmin, Role::Finance, Role::Viewer],
    )
    .await?;
    let state = crate::state::console_state()?;
    let mut views = state.models.deployments();
    if user.role() != Some(Role::Admin) {
        // Where the operator's credentials go, and the other params, are for admins only.
        for view in &mut views {
            view.api_base.clear();
            view.form = None;
        }
        return Ok(views);
    }
    let stored = deployments::list(&state.pool).await?;
    for view in &mut views {
        if let Some(row) = stored.iter().find(|row| row.id.to_string() == view.id) {
            view.form = Some(form_of(row));
        }
    }
    Ok(views)
}

/// Adds a deployment (`id` empty) or replaces a stored one. A blank `api_key` keeps the
/// stored credentials.
#[server(endpoint = "save_deployment")]
pub async fn save_deployment(
    csrf: String,
    id: String,
    model_name: String,
    model: String,
    api_base: String,
    api_key: String,
    api_version: String,
    input_cost: String,
    output_cost: String,
    cached_input_cost: String,
    extra_params: String,
) -> Result<String, ConsoleError> {
    use crate::api::deployment_form::spec_of;
    use crate::api::guard;
    use crate::model::DeploymentForm;
    use crate::ops::{deployments, OpsError};

    let actor = guard::admin_changer(&csrf, "change deployments").await?;
    let state = crate::state::console_state()?;
    let sealer = state.sealer.as_deref();
    let form = DeploymentForm {
        model_name,
        model,
        api_base,
        api_version,
        input_cost,
        output_cost,
        cached_input_cost,
        has_credentials: false,
        extra_params,
    };
    let invalid = |message: String| OpsError::conflict(message, "litellm_params");
    let saved = match id.trim() {
        "" => {
            let spec = spec_of(&form, &api_key, None).map_err(ConsoleError::Invalid)?;
            let id = uuid::Uuid::new_v4();
            deployments::create(&state.pool, &actor, &*state.catalog, sealer, id, spec).await?
        }
        text => {
            let id = uuid::Uuid::parse_str(text).map_err(|_| no_such_deployment())?;
            let edit = |existing| spec_of(&form, &api_key, Some(existing)).map_err(invalid);
            deployments::update(&state.pool, &actor, &*state.catalog, sealer, id, edit).await?
        }
    };
    state.models.reload().await;
    Ok(saved["model_id"].as_str().unwrap_or_default().to_string())
}

#[cfg(feature = "ssr")]
fn no_such_deployment() -> ConsoleError {
    ConsoleError::Invalid("No such stored deployment.".into())
}

#[server(endpoint = "delete_deployment")]
pub async fn delete_deployment(csrf: String, id: String) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::ops::deployments;

    let actor = guard::admin_changer(&csrf, "change deployments").await?;
    let state = crate::state::console_state()?;
    let id = uuid::Uuid::parse_str(id.trim()).map_err(|_| no_such_deployment())?;
    deployments::delete(&state.pool, &actor, id).await?;
    state.models.reload().await;
    Ok(())
}

/// Sends a one-token request to a deployment and reports what happened.
#[server(endpoint = "test_connection")]
pub async fn test_connection(csrf: String, id: String) -> Result<ConnectionTest, ConsoleError> {
    use crate::api::guard;
    use crate::model::Role;

    let session = guard::session().await?;
    guard::check_csrf(&session, &csrf).await?;
    guard::require_role(&session, &[Role::Admin]).await?;
    let state = crate::state::console_state()?;
    Ok(state.models.test_connection(id).await)
}
