//! `/tag/new`, `/tag/info`, `/tag/list`, `/tag/update`, `/tag/delete` in LiteLLM's shapes, over
//! `app::ops::tags`.

use axum::body::Body;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use app::model::views::TagView;
use app::ops::tags::{self, TagInput};

use super::access::Actor;
use super::json_body;
use crate::core::error::ApiError;
use crate::state::SharedGateway;

pub async fn create(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin("change this")?;
    let actor = caller;
    let input: TagInput = json_body(body).await?;
    let tag = tags::create(&gateway.pool, &actor, input).await?;
    Ok(Json(json!({
        "message": format!("Tag {} created successfully", tag.name),
        "tag": tag,
    })))
}

#[derive(Deserialize)]
pub struct TagInfoRequest {
    names: Vec<String>,
}

/// The named tags, keyed by name (LiteLLM's shape); a 404 when none exists.
pub async fn info(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let actor = caller;
    actor.require_reads_everything("read tags")?;
    let request: TagInfoRequest = json_body(body).await?;
    let found: Map<String, Value> = tags::find(&gateway.pool, &actor, &request.names)
        .await?
        .into_iter()
        .map(|tag| (tag.name.clone(), json!(tag)))
        .collect();
    Ok(Json(Value::Object(found)))
}

pub async fn list(
    State(gateway): State<SharedGateway>,
    caller: Actor,
) -> Result<Json<Vec<TagView>>, ApiError> {
    let actor = caller;
    Ok(Json(tags::list(&gateway.pool, &actor).await?))
}

pub async fn update(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin("change this")?;
    let actor = caller;
    let input: TagInput = json_body(body).await?;
    let tag = tags::update(&gateway.pool, &actor, input).await?;
    Ok(Json(json!({
        "message": format!("Tag {} updated successfully", tag.name),
        "tag": tag,
    })))
}

#[derive(Deserialize)]
pub struct DeleteTagRequest {
    name: String,
}

/// Deletes a tag and its budget; its spend rows keep the tag.
pub async fn delete(
    State(gateway): State<SharedGateway>,
    caller: Actor,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin("change this")?;
    let actor = caller;
    let request: DeleteTagRequest = json_body(body).await?;
    tags::delete(&gateway.pool, &actor, &request.name).await?;
    Ok(Json(json!({
        "message": format!("Tag {} deleted successfully", request.name)
    })))
}
