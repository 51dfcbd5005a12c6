//! Gemini's `streamGenerateContent?alt=sse` → OpenAI chunks. Every Gemini event is a whole
//! `GenerateContentResponse` holding the next parts and the usage so far; the stream simply
//! ends, so the finish, usage and `[DONE]` chunks are written when it does.

use bytes::Bytes;
use serde_json::{json, Value};

use super::reply::{finish_reason, read_parts, tool_calls_json, GenerateResponse, UsageMetadata};
use crate::core::usage::Usage;
use crate::providers::adapter::{ReplyContext, StreamTranslator};
use crate::providers::chunks::ChunkWriter;
use crate::providers::frame::Frame;
use crate::providers::sse::data_payload;
use crate::providers::transport::upstream_message;

pub struct GenerateStream {
    chunks: ChunkWriter,
    started: bool,
    tool_calls: usize,
    finish: Option<&'static str>,
    usage: Option<UsageMetadata>,
    generated_chars: usize,
}

impl GenerateStream {
    pub fn new(context: ReplyContext, client_wants_usage: bool) -> Self {
        GenerateStream {
            chunks: ChunkWriter::new(context, client_wants_usage),
            started: false,
            tool_calls: 0,
            finish: None,
            usage: None,
            generated_chars: 0,
        }
    }

    fn on_response(&mut self, response: GenerateResponse, out: &mut Vec<Bytes>) {
        if !self.started {
            self.started = true;
            if let Some(id) = response.response_id {
                self.chunks.context.completion_id = id;
            }
            if let Some(model) = response.model_version {
                self.chunks.context.model = model;
            }
            out.push(
                self.chunks
                    .delta(json!({ "role": "assistant", "content": "" }), None),
            );
        }
        if response.usage_metadata.is_some() {
            self.usage = response.usage_metadata;
        }
        let Some(candidate) = response.candidates.into_iter().next() else {
            if response.prompt_feedback.is_some() {
                self.finish = Some("content_filter");
            }
            return;
        };
        let parts = candidate
            .content
            .map(|content| read_parts(&content.parts, self.tool_calls))
            .unwrap_or_default();
        if !parts.reasoning.is_empty() {
            self.generated_chars += parts.reasoning.len();
            out.push(
                self.chunks
                    .delta(json!({ "reasoning_content": parts.reasoning }), None),
            );
        }
        if !parts.text.is_empty() {
            self.generated_chars += parts.text.len();
            out.push(self.chunks.delta(json!({ "content": parts.text }), None));
        }
        if !parts.calls.is_empty() {
            let mut calls = tool_calls_json(&parts.calls, true);
            if let Value::Array(calls) = &mut calls {
                for call in calls.iter_mut() {
                    call["index"] =
                        json!(call["index"].as_u64().unwrap_or(0) + self.tool_calls as u64);
                }
            }
            self.generated_chars += parts.calls.iter().map(|call| call.2.len()).sum::<usize>();
            self.tool_calls += parts.calls.len();
            out.push(self.chunks.delta(json!({ "tool_calls": calls }), None));
        }
        if let Some(reason) = candidate.finish_reason {
            self.finish = Some(finish_reason(&reason, self.tool_calls > 0));
        }
    }
}

impl StreamTranslator for GenerateStream {
    fn push(&mut self, frame: Frame, out: &mut Vec<Bytes>) {
        let Frame::Sse(event) = frame else {
            return;
        };
        let Some(data) = data_payload(&event) else {
            return;
        };
        match serde_json::from_slice::<GenerateResponse>(&data) {
            Ok(response) if response.error.is_none() => self.on_response(response, out),
            _ => {
                let message = upstream_message(&data)
                    .unwrap_or_else(|| "Gemini sent an event Gatehouse could not read".into());
                self.chunks.fail(message, "api_error", out);
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<Bytes>) {
        // Gemini's stream simply ends; its last event carried the finish reason.
        if let (Some(finish), None) = (self.finish, self.chunks.error()) {
            out.push(self.chunks.delta(json!({}), Some(finish)));
        }
        let usage = self.usage();
        self.chunks
            .end(self.finish.is_some(), "a finish reason", usage, out);
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.map(UsageMetadata::to_usage)
    }

    fn generated_chars(&self) -> usize {
        self.generated_chars
    }

    fn upstream_error(&self) -> Option<&str> {
        self.chunks.error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::chunks::translate_in_pieces;
    use crate::providers::framing::Framing;

    fn run(fixture: &str, client_wants_usage: bool) -> (Vec<Value>, GenerateStream) {
        let mut translator = GenerateStream::new(
            ReplyContext {
                completion_id: "chatcmpl-x".into(),
                model: "gemini".into(),
                created: 1,
            },
            client_wants_usage,
        );
        let chunks = translate_in_pieces(
            &mut translator,
            Framing::ServerSentEvents,
            fixture.as_bytes(),
            7,
        );
        (chunks, translator)
    }

    #[test]
    fn golden_stream_chunk_by_chunk_with_final_usage() {
        let fixture = include_str!("../../../tests/fixtures/gemini/stream_text.sse");
        for line_ending in ["\n", "\r\n"] {
            let fixture = fixture.replace('\n', line_ending);
            let (chunks, translator) = run(&fixture, true);
            let text: String = chunks
                .iter()
                .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str())
                .collect();
            let expected: String = fixture
                .lines()
                .filter_map(|line| line.strip_prefix("data: "))
                .map(|data| serde_json::from_str::<Value>(data).unwrap())
                .map(|event| {
                    event["candidates"][0]["content"]["parts"][0]["text"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect();
            assert_eq!(text, expected);
            assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
            let last_event: Value = serde_json::from_str(
                fixture
                    .lines()
                    .rev()
                    .find_map(|line| line.strip_prefix("data: "))
                    .unwrap(),
            )
            .unwrap();
            let usage = translator.usage().unwrap();
            let meta = &last_event["usageMetadata"];
            assert_eq!(
                usage.prompt_tokens,
                meta["promptTokenCount"].as_u64().unwrap()
            );
            assert_eq!(
                usage.completion_tokens,
                meta["candidatesTokenCount"].as_u64().unwrap()
                    + meta["thoughtsTokenCount"].as_u64().unwrap()
            );
            let count = chunks.len();
            assert_eq!(chunks[count - 3]["choices"][0]["finish_reason"], "stop");
            assert_eq!(
                chunks[count - 2]["usage"]["completion_tokens"],
                usage.completion_tokens
            );
            assert_eq!(chunks[count - 1], "[DONE]");
        }
    }

    #[test]
    fn an_error_event_or_an_unfinished_stream_ends_with_an_error() {
        let (chunks, translator) = run(
            "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":\"UNAVAILABLE\"}}\n\n",
            false,
        );
        assert_eq!(chunks[0]["error"]["message"], "The model is overloaded.");
        assert!(translator.upstream_error().is_some());
        let (chunks, translator) = run(
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}],\"role\":\"model\"}}]}\n\n",
            false,
        );
        assert!(chunks.last().unwrap()["error"].is_object());
        assert!(translator.upstream_error().is_some());
    }

    #[test]
    fn function_calls_stream_as_whole_tool_call_deltas() {
        let (chunks, _) = run(
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"city\":\"Paris\"}}}],\"role\":\"model\"},\"finishReason\":\"STOP\"}]}\n\n",
            false,
        );
        let call = &chunks[1]["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(call["index"], 0);
        assert_eq!(call["function"]["name"], "get_weather");
        assert_eq!(call["function"]["arguments"], "{\"city\":\"Paris\"}");
        assert_eq!(chunks[2]["choices"][0]["finish_reason"], "tool_calls");
    }
}
