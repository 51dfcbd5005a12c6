//! Spend figures for the console's charts: admins and finance read them.

use leptos::prelude::*;

use crate::error::ConsoleError;
use crate::model::DailySpend;

/// Days the console's daily spend chart covers, today included.
pub const DAILY_SPEND_DAYS: i32 = 14;

#[server(endpoint = "spend_per_day")]
pub async fn spend_per_day() -> Result<Vec<DailySpend>, ConsoleError> {
    use crate::api::guard;
    use crate::db::spend;
    use crate::model::Role;

    let session = guard::session().await?;
    guard::require_role(&session, &[Role::Admin, Role::Finance]).await?;
    let today = time::OffsetDateTime::now_utc().date();
    Ok(spend::daily_totals(&crate::state::pool()?, today, DAILY_SPEND_DAYS).await?)
}
