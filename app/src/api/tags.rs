//! Tags from the console, through `ops::tags` (the API's write path): roles that read
//! everything list them; admins create, edit and delete them.

use leptos::prelude::*;

use crate::error::ConsoleError;
use crate::model::forms::BudgetForm;
use crate::model::views::TagView;

#[server(endpoint = "list_tags")]
pub async fn list_tags() -> Result<Vec<TagView>, ConsoleError> {
    use crate::api::guard;
    use crate::ops::tags;

    let actor = guard::current_actor().await?;
    Ok(tags::list(&crate::state::pool()?, &actor).await?)
}

/// Creates the tag, or (`existing`) changes the one named `name`.
#[server(endpoint = "save_tag")]
pub async fn save_tag(
    csrf: String,
    existing: bool,
    name: String,
    description: String,
    #[server(flatten)] budget: BudgetForm,
) -> Result<TagView, ConsoleError> {
    use crate::api::{form, guard};
    use crate::ops::tags::{self, TagInput};

    let actor = guard::admin_changer(&csrf, "change tags").await?;
    let budget = form::budget(&budget)?;
    let input = TagInput {
        name,
        description: form::text(&description),
        max_budget: budget.max_budget,
        soft_budget: budget.soft_budget,
        budget_duration: budget.budget_duration,
        metadata: None,
    };
    let pool = crate::state::pool()?;
    Ok(if existing {
        tags::update(&pool, &actor, input).await?
    } else {
        tags::create(&pool, &actor, input).await?
    })
}

#[server(endpoint = "delete_tag")]
pub async fn delete_tag(csrf: String, name: String) -> Result<(), ConsoleError> {
    use crate::api::guard;
    use crate::ops::tags;

    let actor = guard::changer(&csrf).await?;
    tags::delete(&crate::state::pool()?, &actor, &name).await?;
    Ok(())
}
