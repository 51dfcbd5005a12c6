//! `GET /model/info` (LiteLLM's): each deployment the calling key may use, with its provider,
//! prices and capabilities. Upstream credentials are never shown; `api_base` only to admins.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::access::Actor;
use crate::core::error::ApiError;
use crate::providers::Deployment;
use crate::state::SharedGateway;

/// Micro-dollars per million tokens as LiteLLM's dollars per token.
pub(super) fn dollars_per_token(micros_per_mtok: i64) -> f64 {
    micros_per_mtok as f64 / 1e12
}

/// A unit price in LiteLLM's dollars, or `null` when the model has none.
fn unit_price(micros_per_m: i64) -> Option<f64> {
    (micros_per_m > 0).then(|| dollars_per_token(micros_per_m))
}

/// A deployment as `/model/info` lists it; its `api_base` (where the operator's credentials
/// go) only for admins.
fn deployment_info(deployment: &Deployment, for_admin: bool) -> Value {
    let prices = &deployment.prices;
    let capabilities = &deployment.capabilities;
    let mut params = json!({
        "model": format!("{}/{}", deployment.provider, deployment.upstream_model),
    });
    if for_admin {
        params["api_base"] = json!(deployment.api_base);
    }
    json!({
        "model_name": deployment.model_group,
        "litellm_params": params,
        "model_info": {
            "id": deployment.id,
            "db_model": deployment.stored,
            "litellm_provider": deployment.provider,
            "mode": capabilities.mode.map(|mode| mode.as_str()),
            "input_cost_per_token": dollars_per_token(prices.input_micros_per_mtok),
            "output_cost_per_token": dollars_per_token(prices.output_micros_per_mtok),
            "cache_read_input_token_cost": prices.cached_input_micros_per_mtok.map(dollars_per_token),
            "cache_creation_input_token_cost": prices.cache_write_micros_per_mtok.map(dollars_per_token),
            "output_cost_per_image": unit_price(prices.image_micros_per_m),
            "input_cost_per_second": unit_price(prices.audio_second_micros_per_m),
            "input_cost_per_character": unit_price(prices.character_micros_per_m),
            "input_cost_per_query": unit_price(prices.request_micros_per_m),
            "max_input_tokens": capabilities.max_input_tokens,
            "max_output_tokens": capabilities.max_output_tokens,
            "supports_native_streaming": capabilities.streaming,
            "supports_function_calling": capabilities.tools,
            "supports_parallel_function_calling": capabilities.parallel_tool_calls,
            "supports_vision": capabilities.vision,
            "supports_response_schema": capabilities.json_schema,
            "supports_reasoning": capabilities.reasoning,
        },
    })
}

pub async fn model_info(
    State(gateway): State<SharedGateway>,
    caller: Actor,
) -> Result<Json<Value>, ApiError> {
    let actor = caller;
    let for_admin = actor.is_admin();
    let caller = actor.caller;
    let groups = gateway.models.groups();
    let data: Vec<Value> = groups
        .names()
        .filter(|name| caller.may_use(name, groups.access()))
        .filter_map(|name| groups.named(name))
        .flat_map(|group| {
            group
                .deployments()
                .iter()
                .map(|deployment| deployment_info(deployment, for_admin))
        })
        .collect();
    Ok(Json(json!({ "data": data })))
}
