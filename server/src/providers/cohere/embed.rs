//! OpenAI embeddings ↔ Cohere `/v2/embed`: `input` becomes `texts` (Cohere embeds text only)
//! with float vectors, the reply becomes OpenAI's embedding list, usage its billed input units.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::core::error::ApiError;
use crate::providers::adapter::{unreadable_reply, ChatBody, ChatReply, EmbeddingsWanted};
use crate::providers::embedding_list::{dimensions, embedding_list, passed_option, take_texts};

pub fn to_cohere_embed(mut request: ChatBody) -> Result<Value, ApiError> {
    let texts = take_texts(&mut request, "Cohere")?;
    let mut body = Map::new();
    body.insert(
        "model".into(),
        request.remove("model").unwrap_or(Value::Null),
    );
    body.insert("texts".into(), json!(texts));
    body.insert(
        "input_type".into(),
        passed_option(&request, "input_type").unwrap_or_else(|| json!("search_document")),
    );
    body.insert("embedding_types".into(), json!(["float"]));
    if let Some(dimensions) = dimensions(&request) {
        body.insert("output_dimension".into(), json!(dimensions));
    }
    Ok(Value::Object(body))
}

#[derive(Deserialize)]
struct EmbedResponse {
    embeddings: Embeddings,
    meta: Option<Meta>,
}

#[derive(Deserialize)]
struct Embeddings {
    #[serde(default)]
    float: Vec<Value>,
}

#[derive(Deserialize)]
struct Meta {
    billed_units: Option<BilledUnits>,
}

#[derive(Deserialize)]
struct BilledUnits {
    #[serde(default)]
    input_tokens: f64,
}

pub fn to_embedding_list(body: &[u8], wanted: &EmbeddingsWanted) -> Result<ChatReply, ApiError> {
    let response: EmbedResponse =
        serde_json::from_slice(body).map_err(|error| unreadable_reply("cohere", &error))?;
    let prompt_tokens = response
        .meta
        .and_then(|meta| meta.billed_units)
        .map(|units| units.input_tokens as u64);
    embedding_list(response.embeddings.float, prompt_tokens, wanted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::usage::Usage;

    #[test]
    fn golden_embed_reply_becomes_an_embedding_list() {
        let fixture = include_str!("../../../tests/fixtures/cohere/embed_v2_response.json");
        let golden: Value = serde_json::from_str(fixture).unwrap();
        let reply = to_embedding_list(fixture.as_bytes(), &EmbeddingsWanted::default()).unwrap();
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["data"][1]["index"], 1);
        assert_eq!(
            body["data"][1]["embedding"],
            golden["embeddings"]["float"][1]
        );
        let billed = golden["meta"]["billed_units"]["input_tokens"]
            .as_u64()
            .unwrap();
        assert_eq!(reply.usage, Some(Usage::new(billed, 0)));
    }

    #[test]
    fn requests_embed_texts_as_floats() {
        let Value::Object(request) =
            json!({"model": "embed-v4.0", "input": ["a", "b"], "dimensions": 256})
        else {
            unreachable!()
        };
        let body = to_cohere_embed(request).unwrap();
        assert_eq!(body["texts"], json!(["a", "b"]));
        assert_eq!(body["embedding_types"], json!(["float"]));
        assert_eq!(body["output_dimension"], 256);
        let Value::Object(tokens) = json!({"model": "m", "input": [[1, 2]]}) else {
            unreachable!()
        };
        assert!(to_cohere_embed(tokens).is_err());
    }
}
