//! `/v1/completions` for chat models (as LiteLLM's `text_completion` does): the prompt becomes
//! one user message, and the chat reply and chunks become `text_completion` objects. Completion
//! models behind an OpenAI-format server get the request as it is (`proxy::native`).

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::core::error::ApiError;
use crate::core::usage::Usage;
use crate::endpoints::request::ChatRequest;
use crate::endpoints::translate::egress::ChunkEgress;
use crate::providers::adapter::{invalid_request as invalid, sse_data, sse_done};

/// Text-completion fields a chat request takes under the same name.
const SAME_NAME_FIELDS: &[&str] = &[
    "model",
    "stream",
    "stream_options",
    "max_tokens",
    "temperature",
    "top_p",
    "n",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "user",
    "logit_bias",
];

/// A text-completion request as the equivalent chat request.
pub fn to_chat_request(mut request: Map<String, Value>) -> Result<ChatRequest, ApiError> {
    let prompt = match request.remove("prompt") {
        Some(Value::String(text)) if !text.is_empty() => text,
        Some(Value::Array(items)) if items.len() == 1 && items[0].is_string() => {
            items[0].as_str().unwrap_or_default().to_string()
        }
        Some(Value::Array(_)) => {
            return Err(invalid(
                "prompt: chat models take one prompt string per request (token arrays and batches are served by completion models).",
                "prompt",
            ))
        }
        _ => return Err(invalid("prompt must be a non-empty string.", "prompt")),
    };
    for unsupported in ["suffix", "echo", "best_of"] {
        if request
            .get(unsupported)
            .is_some_and(|value| !value.is_null() && value != &json!(false) && value != &json!(1))
        {
            return Err(invalid(
                format!("`{unsupported}` is served by completion models only."),
                "prompt",
            ));
        }
    }
    let mut chat = Map::new();
    for field in SAME_NAME_FIELDS {
        if let Some(value) = request.remove(*field).filter(|value| !value.is_null()) {
            chat.insert((*field).into(), value);
        }
    }
    chat.insert(
        "messages".into(),
        json!([{ "role": "user", "content": prompt }]),
    );
    ChatRequest::from_object(chat)
}

fn completion_id(chat_id: &str) -> String {
    format!(
        "cmpl-{}",
        chat_id.strip_prefix("chatcmpl-").unwrap_or(chat_id)
    )
}

/// A chat completion as a `text_completion` object.
pub fn to_text_completion(completion: &Value, usage: &Usage, model: &str) -> Value {
    let choices: Vec<Value> = completion["choices"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|choice| {
            json!({
                "index": choice["index"],
                "text": choice["message"]["content"].as_str().unwrap_or_default(),
                "logprobs": null,
                "finish_reason": choice["finish_reason"],
            })
        })
        .collect();
    json!({
        "id": completion_id(completion["id"].as_str().unwrap_or_default()),
        "object": "text_completion",
        "created": completion["created"],
        "model": model,
        "choices": choices,
        "usage": usage.to_openai(),
    })
}

/// Re-expresses a provider's chat chunks as text-completion chunks.
pub struct TextCompletionEgress {
    model: String,
    client_wants_usage: bool,
}

impl TextCompletionEgress {
    pub fn new(model: String, client_wants_usage: bool) -> Self {
        TextCompletionEgress {
            model,
            client_wants_usage,
        }
    }
}

impl ChunkEgress for TextCompletionEgress {
    fn on_chunk(&mut self, chunk: &Value, out: &mut Vec<Bytes>) {
        if chunk.get("error").is_some() {
            out.push(sse_data(chunk));
            return;
        }
        let choices: Vec<Value> = chunk["choices"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|choice| {
                json!({
                    "index": choice["index"],
                    "text": choice["delta"]["content"].as_str().unwrap_or_default(),
                    "logprobs": null,
                    "finish_reason": choice["finish_reason"],
                })
            })
            .collect();
        let usage = chunk
            .get("usage")
            .filter(|usage| !usage.is_null() && self.client_wants_usage);
        if choices.is_empty() && usage.is_none() {
            return;
        }
        let mut translated = json!({
            "id": completion_id(chunk["id"].as_str().unwrap_or_default()),
            "object": "text_completion",
            "created": chunk["created"],
            "model": self.model,
            "choices": choices,
        });
        if let Some(usage) = usage {
            translated["usage"] = usage.clone();
        }
        out.push(sse_data(&translated));
    }

    fn end(&mut self, _usage: Option<Usage>, out: &mut Vec<Bytes>) {
        out.push(sse_done());
    }

    fn fail(&mut self, message: &str, out: &mut Vec<Bytes>) {
        out.push(crate::core::error::sse_error_event(message, "api_error"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::translate::egress::Egressed;
    use crate::providers::adapter::StreamTranslator;
    use crate::providers::frame::Frame;
    use crate::providers::openai_compat::pass_through;
    use crate::providers::sse::{data_payload, SseSplitter};

    #[test]
    fn prompt_becomes_one_user_message() {
        let Value::Object(request) = json!({
            "model": "m", "prompt": ["Say hi"], "max_tokens": 5, "stop": ["\n"], "echo": false,
        }) else {
            unreachable!()
        };
        let chat = to_chat_request(request).unwrap();
        assert_eq!(chat.prompt_token_estimate(), 2);
        let refuse = |body: Value| {
            let Value::Object(request) = body else {
                unreachable!()
            };
            to_chat_request(request).is_err()
        };
        assert!(refuse(json!({ "model": "m", "prompt": ["a", "b"] })));
        assert!(refuse(json!({ "model": "m", "prompt": [1, 2] })));
        assert!(refuse(json!({ "model": "m", "prompt": "x", "echo": true })));
        assert!(refuse(
            json!({ "model": "m", "prompt": "x", "suffix": "y" })
        ));
    }

    #[test]
    fn golden_reply_and_stream_become_text_completions() {
        let completion: Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/openai/response_cached_reasoning.json"
        ))
        .unwrap();
        let text = to_text_completion(&completion, &Usage::new(3, 4), "legacy");
        assert_eq!(text["object"], "text_completion");
        assert!(text["id"].as_str().unwrap().starts_with("cmpl-"));
        assert_eq!(text["model"], "legacy");
        assert_eq!(
            text["choices"][0]["text"],
            completion["choices"][0]["message"]["content"]
        );
        assert_eq!(text["usage"]["total_tokens"], 7);

        let mut egress = Egressed::new(
            pass_through(true),
            TextCompletionEgress::new("legacy".into(), true),
        );
        let mut splitter = SseSplitter::default();
        splitter.push(b"data: {\"id\":\"chatcmpl-9\",\"created\":5,\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":null}]}\n\ndata: {\"id\":\"chatcmpl-9\",\"created\":5,\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\ndata: {\"id\":\"chatcmpl-9\",\"created\":5,\"choices\":[],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":2,\"total_tokens\":4}}\n\ndata: [DONE]\n\n");
        let mut out = Vec::new();
        while let Some(event) = splitter.next_event() {
            egress.push(Frame::Sse(event), &mut out);
        }
        egress.finish(&mut out);
        let datas: Vec<String> = out
            .iter()
            .map(|event| String::from_utf8(data_payload(event).unwrap().to_vec()).unwrap())
            .collect();
        assert_eq!(datas.last().unwrap(), "[DONE]");
        let chunks: Vec<Value> = datas[..datas.len() - 1]
            .iter()
            .map(|data| serde_json::from_str(data).unwrap())
            .collect();
        let text: String = chunks
            .iter()
            .filter_map(|chunk| chunk["choices"].get(0)?["text"].as_str())
            .collect();
        assert_eq!(text, "Hello");
        assert!(chunks
            .iter()
            .all(|chunk| chunk["object"] == "text_completion"));
        assert_eq!(chunks.last().unwrap()["usage"]["total_tokens"], 4);
        assert_eq!(egress.usage(), Some(Usage::new(2, 2)));
    }
}
