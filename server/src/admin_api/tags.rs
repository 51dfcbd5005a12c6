//! `/tag/new`, `/tag/info`, `/tag/list`, `/tag/update`, `/tag/delete` in LiteLLM's shapes, over
//! `app::ops::tags`.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use app::model::views::TagView;
use app::ops::tags::{self, TagInput};

use super::extract::{answer, Admin, Answer, Input, Manager, Reader};

/// LiteLLM's answer to a tag change: a message and the tag.
fn changed(tag: TagView, done: &str) -> Answer<Value> {
    let message = format!("Tag {} {done} successfully", tag.name);
    Ok(json!({ "message": message, "tag": tag }).into())
}

pub async fn create(admin: Admin, Input(input): Input<TagInput>) -> Answer<Value> {
    changed(tags::create(admin.pool(), &admin, input).await?, "created")
}

#[derive(Deserialize)]
pub struct TagInfoRequest {
    names: Vec<String>,
}

/// The named tags, keyed by name (LiteLLM's shape); a 404 when none exists.
pub async fn info(reader: Reader, Input(request): Input<TagInfoRequest>) -> Answer<Value> {
    let found: Map<String, Value> = tags::find(reader.pool(), &reader, &request.names)
        .await?
        .into_iter()
        .map(|tag| (tag.name.clone(), json!(tag)))
        .collect();
    Ok(Value::Object(found).into())
}

pub async fn list(manager: Manager) -> Answer<Vec<TagView>> {
    answer(tags::list(manager.pool(), &manager).await)
}

pub async fn update(admin: Admin, Input(input): Input<TagInput>) -> Answer<Value> {
    changed(tags::update(admin.pool(), &admin, input).await?, "updated")
}

#[derive(Deserialize)]
pub struct DeleteTagRequest {
    name: String,
}

/// Deletes a tag and its budget; its spend rows keep the tag.
pub async fn delete(admin: Admin, Input(request): Input<DeleteTagRequest>) -> Answer<Value> {
    tags::delete(admin.pool(), &admin, &request.name).await?;
    let message = format!("Tag {} deleted successfully", request.name);
    Ok(json!({ "message": message }).into())
}
