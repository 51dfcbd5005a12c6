//! LiteLLM-compatible management routes (`/key/*`, `/team/*`, `/user/*`, `/organization/*`,
//! `/customer/*`, `/project/*`, `/tag/*`, `/budget/*`, `/model/*`, `/spend/*`, `/audit/log`) and
//! health probes. Every route requires a known key (`access::require_caller`, deny by default)
//! except the health probes, the only `access::PUBLIC_ROUTES`; each handler is thin over the
//! management operations (`app::ops`), which decide what the caller's role may do.

pub mod access;
mod activity;
pub mod audit;
pub mod budgets;
pub mod customers;
mod daily_activity;
mod extract;
pub mod health;
pub mod keys;
pub mod members;
pub mod metrics;
pub mod model_group_info;
pub mod model_info;
pub mod models;
pub mod organizations;
pub mod projects;
pub mod reports;
pub mod spend;
pub mod tags;
pub mod teams;
pub mod users;

use axum::routing::{delete, get, patch, post};
use axum::Router;
use serde::de::DeserializeOwned;

use crate::core::error::ApiError;
use crate::state::SharedGateway;
use app::ops::rfc3339;

/// The management routes, each watched by the audit (`audit::watch`).
pub fn routes(gateway: SharedGateway) -> Router<SharedGateway> {
    Router::new()
        .route("/key/generate", post(keys::generate))
        .route("/key/info", get(keys::info))
        .route("/key/delete", post(keys::delete))
        .route("/key/list", get(keys::list))
        .route("/key/update", post(keys::update))
        .route("/key/block", post(keys::set_blocked::<true>))
        .route("/key/unblock", post(keys::set_blocked::<false>))
        .route("/key/regenerate", post(keys::regenerate))
        .route("/key/{key}/regenerate", post(keys::regenerate_path))
        .route("/team/new", post(teams::create))
        .route("/team/info", get(teams::info))
        .route("/team/list", get(teams::list))
        .route("/team/update", post(teams::update))
        .route("/team/delete", post(teams::delete))
        .route("/team/block", post(teams::set_blocked::<true>))
        .route("/team/unblock", post(teams::set_blocked::<false>))
        .route("/team/member_add", post(members::add))
        .route("/team/member_update", post(members::update))
        .route("/team/member_delete", post(members::delete))
        .route("/customer/new", post(customers::create))
        .route("/customer/info", get(customers::info))
        .route("/customer/list", get(customers::list))
        .route("/customer/update", post(customers::update))
        .route("/customer/delete", post(customers::delete))
        .route("/customer/block", post(customers::set_blocked::<true>))
        .route("/customer/unblock", post(customers::set_blocked::<false>))
        .route("/organization/new", post(organizations::create))
        .route("/organization/info", get(organizations::info))
        .route("/organization/list", get(organizations::list))
        .route("/organization/update", post(organizations::update))
        .route("/organization/delete", post(organizations::delete))
        .route("/project/new", post(projects::create))
        .route("/project/info", get(projects::info))
        .route("/project/list", get(projects::list))
        .route("/project/update", post(projects::update))
        .route(
            "/project/delete",
            delete(projects::delete).post(projects::delete),
        )
        .route("/budget/new", post(budgets::create))
        .route("/budget/info", post(budgets::info))
        .route("/budget/list", get(budgets::list))
        .route("/budget/settings", get(budgets::settings))
        .route("/budget/update", post(budgets::update))
        .route("/budget/delete", post(budgets::delete))
        .route("/tag/new", post(tags::create))
        .route("/tag/info", post(tags::info))
        .route("/tag/list", get(tags::list))
        .route("/tag/update", post(tags::update))
        .route("/tag/delete", post(tags::delete))
        .route("/user/new", post(users::create))
        .route("/user/info", get(users::info))
        .route("/user/list", get(users::list))
        .route("/user/update", post(users::update))
        .route("/user/delete", post(users::delete))
        .route("/spend/logs", get(spend::logs))
        .route("/spend/logs/page", get(spend::page))
        .route("/spend/report", get(reports::spend_report))
        .route("/spend/tags", get(reports::spend_tags))
        .route("/spend/reconcile", get(reports::reconcile))
        .route("/global/spend/tags", get(reports::global_spend_tags))
        .route("/global/spend/report", get(reports::global_report))
        .route(
            "/user/daily/activity",
            get(daily_activity::user_daily_activity),
        )
        .route(
            "/team/daily/activity",
            get(daily_activity::team_daily_activity),
        )
        .route("/model/info", get(model_info::model_info))
        .route("/model_group/info", get(model_group_info::model_group_info))
        .route(
            "/v1/model_group/info",
            get(model_group_info::model_group_info),
        )
        .route("/v1/model/info", get(model_info::model_info))
        .route("/model/new", post(models::create))
        .route("/model/update", post(models::update))
        .route("/model/{model_id}/update", patch(models::patch))
        .route("/model/delete", post(models::delete))
        .route("/audit/log", get(audit::log))
        // Public (`access::PUBLIC_ROUTES`): probes carry no data.
        .route("/health/liveliness", get(health::liveliness))
        .route("/health/liveness", get(health::liveliness))
        .route("/health/readiness", get(health::readiness))
        .route("/health", get(health::health))
        // Public to the caller check: it takes the master key or the metrics token itself.
        .route("/metrics", get(metrics::metrics))
        .route_layer(axum::middleware::from_fn_with_state(
            gateway.clone(),
            access::require_caller,
        ))
        .route_layer(axum::middleware::from_fn_with_state(gateway, audit::watch))
}

/// Query parameters, with a 400 in OpenAI's shape when they do not parse.
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|rejection| {
                ApiError::bad_request(
                    format!("The query string is not valid: {}.", rejection.body_text()),
                    None,
                )
            })
    }
}
