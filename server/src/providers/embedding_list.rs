//! What every translated embeddings API shares: the texts of OpenAI's `input` (providers other
//! than OpenAI embed text, not token ids) and the OpenAI embedding list built from vectors, as
//! floats or, when asked, as base64 like OpenAI's.

use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Value};

use crate::core::error::ApiError;
use crate::core::provider_error::ProviderError;
use crate::core::usage::Usage;
use crate::providers::adapter::{invalid_request, to_body, ChatBody, ChatReply, EmbeddingsWanted};

/// The texts of the request's `input` (a string or an array of strings), removed from it.
pub fn take_texts(request: &mut ChatBody, provider: &str) -> Result<Vec<String>, ApiError> {
    let texts = match request.remove("input") {
        Some(Value::String(text)) => Some(vec![text]),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(text) => Some(text),
                _ => None,
            })
            .collect(),
        _ => None,
    };
    texts.ok_or_else(|| {
        invalid_request(
            format!("{provider} embeds text: `input` must be a string or an array of strings."),
            "input",
        )
    })
}

/// The request's `dimensions`, if it asked for a size.
pub fn dimensions(request: &ChatBody) -> Option<u64> {
    request.get("dimensions").and_then(Value::as_u64)
}

/// A provider option the client passed through (`input_type`, `task_type`), as LiteLLM lets it.
pub fn passed_option(request: &ChatBody, name: &str) -> Option<Value> {
    request.get(name).filter(|value| value.is_string()).cloned()
}

/// OpenAI's embedding list of `vectors`, in order; `reported_tokens` is the usage the upstream
/// reported, if it did.
pub fn embedding_list(
    vectors: Vec<Value>,
    reported_tokens: Option<u64>,
    wanted: &EmbeddingsWanted,
) -> Result<ChatReply, ApiError> {
    let prompt_tokens = reported_tokens.unwrap_or(wanted.estimated_prompt_tokens);
    let data = vectors
        .into_iter()
        .enumerate()
        .map(|(index, vector)| {
            let embedding = if wanted.base64 {
                base64_floats(&vector)?
            } else {
                vector
            };
            Ok(json!({ "object": "embedding", "index": index, "embedding": embedding }))
        })
        .collect::<Result<Vec<Value>, ApiError>>()?;
    let list = json!({
        "object": "list",
        "data": data,
        "usage": { "prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens },
    });
    Ok(ChatReply {
        body: to_body(&list)?,
        usage: Some(Usage::new(prompt_tokens, 0)),
    })
}

/// A vector of numbers as OpenAI's base64 encoding: little-endian `f32`s.
fn base64_floats(vector: &Value) -> Result<Value, ApiError> {
    let not_a_vector = || {
        ApiError::Upstream(ProviderError::Malformed(
            "an embedding the upstream sent is not a vector".into(),
        ))
    };
    let numbers = vector.as_array().ok_or_else(not_a_vector)?;
    let mut bytes = Vec::with_capacity(numbers.len() * 4);
    for number in numbers {
        let number = number.as_f64().ok_or_else(not_a_vector)?;
        bytes.extend_from_slice(&(number as f32).to_le_bytes());
    }
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(bytes),
    ))
}

/// The one reply of an upstream called once.
pub fn only_reply(replies: Vec<Bytes>) -> Result<Bytes, ApiError> {
    let mut replies = replies.into_iter();
    match (replies.next(), replies.next()) {
        (Some(reply), None) => Ok(reply),
        _ => {
            tracing::error!("an embeddings upstream called once got a different number of replies");
            Err(ApiError::Internal)
        }
    }
}

/// Helpers for the embeddings adapters' tests.
#[cfg(test)]
pub mod test_support {
    use serde_json::Value;

    use crate::providers::adapter::{ChatBody, UpstreamRequest};

    /// A request body from a JSON object literal.
    pub fn body(value: Value) -> ChatBody {
        match value {
            Value::Object(map) => map,
            _ => unreachable!("not an object"),
        }
    }

    /// The JSON an upstream request carries.
    pub fn sent(request: &UpstreamRequest) -> Value {
        serde_json::from_slice(&request.body).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::body;
    use super::*;

    #[test]
    fn takes_text_inputs_only() {
        let mut one = body(json!({"input": "a"}));
        assert_eq!(take_texts(&mut one, "X").unwrap(), ["a"]);
        assert!(one.get("input").is_none());
        let mut many = body(json!({"input": ["a", "b"]}));
        assert_eq!(take_texts(&mut many, "X").unwrap(), ["a", "b"]);
        let mut tokens = body(json!({"input": [[1, 2]]}));
        match take_texts(&mut tokens, "Gemini") {
            Err(ApiError::BadRequest { message, param }) => {
                assert_eq!(param, Some("input"));
                assert!(message.starts_with("Gemini embeds text"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lists_vectors_in_order_with_usage() {
        let wanted = EmbeddingsWanted {
            estimated_prompt_tokens: 3,
            base64: false,
        };
        let reply = embedding_list(vec![json!([0.1]), json!([0.2])], Some(7), &wanted).unwrap();
        let list: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(
            list["data"][1],
            json!({"object": "embedding", "index": 1, "embedding": [0.2]})
        );
        assert_eq!(list["usage"]["prompt_tokens"], 7);
        assert_eq!(reply.usage, Some(Usage::new(7, 0)));
        let estimated = embedding_list(vec![json!([0.1])], None, &wanted).unwrap();
        assert_eq!(estimated.usage, Some(Usage::new(3, 0)));
        assert!(only_reply(vec![]).is_err());
        assert_eq!(only_reply(vec![Bytes::from_static(b"x")]).unwrap(), "x");
    }

    #[test]
    fn encodes_base64_as_little_endian_f32s() {
        let wanted = EmbeddingsWanted {
            estimated_prompt_tokens: 1,
            base64: true,
        };
        let reply = embedding_list(vec![json!([1.0, -0.5])], None, &wanted).unwrap();
        let list: Value = serde_json::from_slice(&reply.body).unwrap();
        let encoded = list["data"][0]["embedding"].as_str().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(
            bytes,
            [1.0f32.to_le_bytes(), (-0.5f32).to_le_bytes()].concat()
        );
        assert!(embedding_list(vec![json!("x")], None, &wanted).is_err());
    }
}
