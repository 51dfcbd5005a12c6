//! End users (customers) from the console, through `ops::end_users` (the API's write path):
//! roles that read everything list them; admins create, edit, block and delete them.
// A form posts one argument per field.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::error::ConsoleError;
use crate::model::forms::BudgetForm;
use crate::model::views::EndUserView;

/// End users shown at most.
pub const END_USER_PAGE: i64 = 500;

#[server(endpoint = "list_end_users")]
pub async fn list_end_users() -> Result<Vec<EndUserView>, ConsoleError> {
    use crate::api::guard;
    use crate::ops::end_users;

    let actor = guard::current_actor().await?;
    Ok(end_users::list(&crate::state::pool()?, &actor, None, END_USER_PAGE).await?)
}

/// Creates the end user, or (`existing`) changes the one with `user_id`.
#[server(endpoint = "save_end_user")]
pub async fn save_end_user(
    csrf: String,
    existing: bool,
    user_id: String,
    alias: String,
    #[server(flatten)] budget: BudgetForm,
    blocked: Option<String>,
) -> Result<EndUserView, ConsoleError> {
    use crate::api::{form, guard};
    use crate::ops::end_users::{self, EndUserUpdate, NewEndUser};

    let actor = guard::admin_changer(&csrf, "change end users").await?;
    let budget = form::budget(&budget)?;
    let blocked = blocked.is_some();
    let pool = crate::state::pool()?;
    let saved = if existing {
        let update = EndUserUpdate {
            user_id,
            alias: form::text(&alias),
            blocked: Some(blocked),
            budget,
            ..EndUserUpdate::default()
        };
        end_users::update(&pool, &actor, update).await?
    } else {
        let new = NewEndUser {
            user_id,
            alias: form::text(&alias),
            blocked,
            budget,
            ..NewEndUser::default()
        };
        end_users::create(&pool, &actor, new).await?
    };
    Ok(saved)
}

#[server(endpoint = "delete_end_user")]
pub async fn delete_end_user(csrf: String, user_id: String) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::ops::end_users;

    let actor = guard::changer(&csrf).await?;
    end_users::delete(&crate::state::pool()?, &actor, &[user_id]).await?;
    Ok(())
}
