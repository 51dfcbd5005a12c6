//! The Routes page's server functions: every signed-in role sees the routing in force; admins
//! change router settings, a group's fallback chains and request classes, each change checked
//! against the model groups served and applied on every instance without a restart.

// A server function's arguments are its form's fields; `#[server]` drops a function-level allow.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::error::ConsoleError;
use crate::route_policy::RoutesView;

#[server(endpoint = "list_routes")]
pub async fn list_routes() -> Result<RoutesView, ConsoleError> {
    use crate::api::guard;
    use crate::model::Role;

    let session = guard::session().await?;
    guard::require_role(
        &session,
        &[Role::Admin, Role::TeamAdmin, Role::Finance, Role::Viewer],
    )
    .await?;
    Ok(crate::state::console_state()?.routes.routes())
}

#[server(endpoint = "save_router_settings")]
pub async fn save_router_settings(
    csrf: String,
    seen_version: i64,
    routing_strategy: String,
    num_retries: String,
    allowed_fails: String,
    cooldown_time: String,
    default_fallbacks: String,
) -> Result<(), ConsoleError> {
    use crate::api::route_form::{apply_settings, SettingsForm};

    let form = SettingsForm {
        routing_strategy,
        num_retries,
        allowed_fails,
        cooldown_time,
        default_fallbacks,
    };
    change_routes(
        &csrf,
        seen_version,
        "router settings",
        move |shown, overrides| apply_settings(&form, &shown.settings, overrides),
    )
    .await
}

#[server(endpoint = "save_group_routes")]
pub async fn save_group_routes(
    csrf: String,
    seen_version: i64,
    group: String,
    fallbacks: String,
    no_fallbacks: Option<String>,
    context_window_fallbacks: String,
    content_policy_fallbacks: String,
) -> Result<(), ConsoleError> {
    use crate::api::route_form::{apply_group, GroupForm};

    let form = GroupForm {
        fallbacks,
        no_fallbacks: no_fallbacks.is_some(),
        context_window_fallbacks,
        content_policy_fallbacks,
    };
    change_routes(&csrf, seen_version, "group fallbacks", move |shown, overrides| {
        let group = shown
            .groups
            .iter()
            .find(|shown| shown.name == group)
            .filter(|shown| !shown.name.contains('*'))
            .ok_or_else(|| format!("`{group}` is not a model group (wildcard patterns have no chains of their own)."))?;
        let default_set = !shown.settings.default_fallbacks.is_empty();
        apply_group(&form, group, default_set, overrides)
    })
    .await
}

/// Adds a class (`original_name` empty), or replaces one (renaming it if the name changed).
#[server(endpoint = "save_request_class")]
pub async fn save_request_class(
    csrf: String,
    seen_version: i64,
    original_name: String,
    name: String,
    is_default: Option<String>,
    routing_strategy: String,
    num_retries: String,
    model_groups: String,
    fallbacks: String,
    degrade_at: String,
    degrade_to: String,
) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::api::route_form::{class_policy, ClassForm};
    use crate::model::Role;

    // Authorised before the form is read: a refused caller learns nothing from validation.
    let session = guard::session().await?;
    guard::check_csrf(&session, &csrf).await?;
    guard::require_role(&session, &[Role::Admin]).await?;
    let (name, class) = class_policy(&ClassForm {
        name,
        is_default: is_default.is_some(),
        routing_strategy,
        num_retries,
        model_groups,
        fallbacks,
        degrade_at,
        degrade_to,
    })
    .map_err(ConsoleError::Invalid)?;
    if !original_name.trim().is_empty() && original_name.trim() != name {
        refuse_if_pinned(&csrf, original_name.trim()).await?;
    }
    change_routes(
        &csrf,
        seen_version,
        "request class",
        move |shown, overrides| {
            let original = original_name.trim();
            let exists = |name: &str| shown.classes.iter().any(|class| class.name == name);
            if original.is_empty() && exists(&name) {
                return Err(format!("A request class named `{name}` exists already."));
            }
            if !original.is_empty() && original != name {
                if exists(&name) {
                    return Err(format!("A request class named `{name}` exists already."));
                }
                remove_class(shown, overrides, original)?;
            }
            overrides.request_classes.insert(name, Some(class));
            Ok(())
        },
    )
    .await
}

#[server(endpoint = "delete_request_class")]
pub async fn delete_request_class(
    csrf: String,
    seen_version: i64,
    name: String,
) -> Result<(), ConsoleError> {
    refuse_if_pinned(&csrf, &name).await?;
    change_routes(
        &csrf,
        seen_version,
        "request class deleted",
        move |shown, overrides| remove_class(shown, overrides, &name),
    )
    .await
}

/// Removes a class: config.yaml's is overridden as gone, the console's own is simply dropped.
#[cfg(feature = "ssr")]
fn remove_class(
    shown: &RoutesView,
    overrides: &mut crate::route_policy::RouteOverrides,
    name: &str,
) -> Result<(), String> {
    let class = shown
        .classes
        .iter()
        .find(|class| class.name == name)
        .ok_or_else(|| format!("`{name}` is not a request class."))?;
    if class.in_file {
        overrides.request_classes.insert(name.to_string(), None);
    } else {
        overrides.request_classes.remove(name);
    }
    Ok(())
}

/// Drops every change made on the Routes page: config.yaml's routing applies again.
#[server(endpoint = "reset_routes")]
pub async fn reset_routes(csrf: String) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::ops::route_policy;

    let actor = guard::changer(&csrf).await?;
    let state = crate::state::console_state()?;
    route_policy::reset(&state.pool, &actor).await?;
    state.routes.reload().await;
    Ok(())
}

/// Refuses to remove a class keys are pinned to: every request of theirs would fail. (A key
/// pinned while the class is being removed is not caught; its requests then get a 400 naming
/// the class.)
#[cfg(feature = "ssr")]
async fn refuse_if_pinned(csrf: &str, class: &str) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::model::Role;

    let session = guard::session().await?;
    guard::check_csrf(&session, csrf).await?;
    guard::require_role(&session, &[Role::Admin]).await?;
    let pinned = crate::db::key_lists::count_pinned_to_class(&crate::state::pool()?, class).await?;
    if pinned > 0 {
        return Err(ConsoleError::Invalid(format!(
            "{pinned} key(s) are pinned to `{class}` (metadata.request_class): change or revoke \
             them first."
        )));
    }
    Ok(())
}

/// Checks the caller may change routing, applies `edit` to the stored policy under its lock,
/// refuses the result if it cannot be applied or adds a problem, then applies it here now.
#[cfg(feature = "ssr")]
async fn change_routes(
    csrf: &str,
    seen_version: i64,
    what: &str,
    edit: impl FnOnce(&RoutesView, &mut crate::route_policy::RouteOverrides) -> Result<(), String>,
) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::ops::route_policy;

    let actor = guard::changer(csrf).await?;
    actor.require_admin("change routing")?;
    let state = crate::state::console_state()?;
    let shown = state.routes.routes();
    let runtime = state.routes.clone();
    route_policy::change(&state.pool, &actor, seen_version, what, |current| {
        let mut proposed = current.clone();
        edit(&shown, &mut proposed)?;
        runtime
            .check(&current, &proposed)
            .map_err(|problem| format!("Not saved: {problem}."))?;
        Ok(proposed)
    })
    .await?;
    state.routes.reload().await;
    Ok(())
}
