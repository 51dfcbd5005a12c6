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
    use crate::db::deployments;
    use crate::model::{DeploymentForm, Role};

    let session = guard::session().await?;
    guard::check_csrf(&session, &csrf).await?;
    let user = guard::require_role(&session, &[Role::Admin]).await?;
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
    let (id, existing) = match id.trim() {
        "" => (None, None),
        text => {
            let id = uuid::Uuid::parse_str(text).map_err(|_| no_such_deployment())?;
            let row = deployments::find(&state.pool, id)
                .await?
                .ok_or_else(no_such_deployment)?;
            (Some(id), Some(row.spec(sealer).map_err(cannot_save)?))
        }
    };
    let spec = spec_of(&form, &api_key, existing).map_err(ConsoleError::Invalid)?;
    state.models.check(&spec).map_err(ConsoleError::Invalid)?;
    let saved = match id {
        Some(id) => deployments::replace(&state.pool, sealer, id, spec)
            .await
            .map_err(cannot_save)?
            .ok_or_else(no_such_deployment)?,
        None => deployments::insert(
            &state.pool,
            sealer,
            uuid::Uuid::new_v4(),
            spec,
            user.label(),
        )
        .await
        .map_err(cannot_save)?,
    };
    tracing::info!(by = %user.label(), deployment = %saved.id, model_name = %saved.model_name,
        "deployment saved in console");
    let after = serde_json::json!({
        "model_name": saved.model_name,
        "litellm_params": saved.public_params(),
    });
    guard::audit(
        &user,
        "model.save",
        "model",
        &saved.id.to_string(),
        Some(after),
    )
    .await;
    state.models.reload().await;
    Ok(saved.id.to_string())
}

#[cfg(feature = "ssr")]
fn no_such_deployment() -> ConsoleError {
    ConsoleError::Invalid("No such stored deployment.".into())
}

#[cfg(feature = "ssr")]
fn cannot_save(error: crate::db::deployments::DeploymentError) -> ConsoleError {
    use crate::db::deployments::DeploymentError;
    match error {
        DeploymentError::Database(error) => ConsoleError::from(error),
        other => ConsoleError::Invalid(format!("Cannot save the deployment: {other}.")),
    }
}

#[server(endpoint = "delete_deployment")]
pub async fn delete_deployment(csrf: String, id: String) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::db::deployments;
    use crate::model::Role;

    let session = guard::session().await?;
    guard::check_csrf(&session, &csrf).await?;
    let user = guard::require_role(&session, &[Role::Admin]).await?;
    let state = crate::state::console_state()?;
    let id = uuid::Uuid::parse_str(id.trim()).map_err(|_| no_such_deployment())?;
    if !deployments::delete(&state.pool, id).await? {
        return Err(no_such_deployment());
    }
    tracing::info!(by = %user.label(), deployment = %id, "deployment deleted in console");
    guard::audit(&user, "model.delete", "model", &id.to_string(), None).await;
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
