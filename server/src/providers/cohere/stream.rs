//! Cohere v2 chat stream (typed events: `message-start`, `content-delta`, `tool-call-start`,
//! `tool-call-delta`, `message-end`, then `data: [DONE]`) → OpenAI chunks.

use bytes::Bytes;
use serde_json::{json, Value};

use super::reply::{finish_reason, CohereUsage};
use crate::core::usage::Usage;
use crate::providers::adapter::{ReplyContext, StreamTranslator};
use crate::providers::chunks::ChunkWriter;
use crate::providers::frame::Frame;
use crate::providers::sse::data_payload;
use crate::providers::transport::upstream_message;

pub struct ChatStream {
    chunks: ChunkWriter,
    tool_calls: usize,
    usage: Option<CohereUsage>,
    ended: bool,
    generated_chars: usize,
}

impl ChatStream {
    pub fn new(context: ReplyContext, client_wants_usage: bool) -> Self {
        ChatStream {
            chunks: ChunkWriter::new(context, client_wants_usage),
            tool_calls: 0,
            usage: None,
            ended: false,
            generated_chars: 0,
        }
    }

    fn on_event(&mut self, event: Value, out: &mut Vec<Bytes>) {
        let message = &event["delta"]["message"];
        match event["type"].as_str() {
            Some("message-start") => {
                if let Some(id) = event["id"].as_str() {
                    self.chunks.context.completion_id = id.to_string();
                }
                out.push(
                    self.chunks
                        .delta(json!({ "role": "assistant", "content": "" }), None),
                );
            }
            Some("content-delta") => {
                if let Some(text) = message["content"]["text"].as_str() {
                    self.generated_chars += text.len();
                    out.push(self.chunks.delta(json!({ "content": text }), None));
                }
            }
            Some("tool-call-start") => {
                let call = &message["tool_calls"];
                let arguments = call["function"]["arguments"].as_str().unwrap_or_default();
                self.generated_chars += arguments.len();
                out.push(self.chunks.delta(
                    json!({ "tool_calls": [{
                        "index": self.tool_calls, "id": call["id"], "type": "function",
                        "function": { "name": call["function"]["name"], "arguments": arguments },
                    }]}),
                    None,
                ));
                self.tool_calls += 1;
            }
            Some("tool-call-delta") => {
                if let Some(arguments) = message["tool_calls"]["function"]["arguments"].as_str() {
                    self.generated_chars += arguments.len();
                    out.push(self.chunks.delta(
                        json!({ "tool_calls": [{
                            "index": self.tool_calls.saturating_sub(1),
                            "function": { "arguments": arguments },
                        }]}),
                        None,
                    ));
                }
            }
            Some("message-end") => {
                self.ended = true;
                self.usage = serde_json::from_value(event["delta"]["usage"].clone()).ok();
                let reason = finish_reason(event["delta"]["finish_reason"].as_str());
                out.push(self.chunks.delta(json!({}), Some(reason)));
            }
            _ => {}
        }
    }
}

impl StreamTranslator for ChatStream {
    fn push(&mut self, frame: Frame, out: &mut Vec<Bytes>) {
        let Frame::Sse(event) = frame else {
            return;
        };
        let Some(data) = data_payload(&event) else {
            return;
        };
        if data.as_ref() == b"[DONE]" {
            return;
        }
        match serde_json::from_slice::<Value>(&data) {
            Ok(event) if event.get("type").is_some() => self.on_event(event, out),
            _ => {
                let message = upstream_message(&data)
                    .unwrap_or_else(|| "Cohere sent an event Gatehouse could not read".into());
                self.chunks.fail(message, "api_error", out);
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<Bytes>) {
        let usage = self.usage();
        self.chunks.end(self.ended, "message-end", usage, out);
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.map(CohereUsage::to_usage)
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

    fn run(fixture: &str) -> (Vec<Value>, ChatStream) {
        let mut translator = ChatStream::new(
            ReplyContext {
                completion_id: "chatcmpl-x".into(),
                model: "command-a".into(),
                created: 1,
            },
            true,
        );
        let chunks = translate_in_pieces(
            &mut translator,
            Framing::ServerSentEvents,
            fixture.as_bytes(),
            5,
        );
        (chunks, translator)
    }

    #[test]
    fn golden_stream_chunk_by_chunk() {
        let fixture = include_str!("../../../tests/fixtures/cohere/chat_v2_stream.sse");
        let (chunks, translator) = run(fixture);
        let text: String = chunks
            .iter()
            .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(text, "Hello! How can I help you today?");
        assert_eq!(chunks[0]["id"], "29f14a5a-11de-4cae-9800-25e4747408ea");
        let count = chunks.len();
        assert_eq!(chunks[count - 3]["choices"][0]["finish_reason"], "stop");
        assert_eq!(chunks[count - 2]["usage"]["prompt_tokens"], 2);
        assert_eq!(chunks[count - 1], "[DONE]");
        assert_eq!(translator.usage(), Some(Usage::new(2, 9)));
    }

    #[test]
    fn tool_calls_stream_as_deltas_and_a_cut_stream_is_an_error() {
        let events = [
            json!({"type": "message-start", "id": "m1", "delta": {"message": {"role": "assistant"}}}),
            json!({"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": {
                "id": "get_weather_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}}}}),
            json!({"type": "tool-call-delta", "index": 0, "delta": {"message": {"tool_calls": {"function": {"arguments": "{\"city\":"}}}}}),
            json!({"type": "tool-call-delta", "index": 0, "delta": {"message": {"tool_calls": {"function": {"arguments": "\"Paris\"}"}}}}}),
            json!({"type": "message-end", "delta": {"finish_reason": "TOOL_CALL", "usage": {"billed_units": {"input_tokens": 3, "output_tokens": 4}}}}),
        ];
        let stream: String = events
            .iter()
            .map(|event| {
                format!(
                    "event: {}\ndata: {event}\n\n",
                    event["type"].as_str().unwrap()
                )
            })
            .collect();
        let (chunks, _) = run(&stream);
        let arguments: String = chunks
            .iter()
            .filter_map(|chunk| {
                chunk["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
            })
            .collect();
        assert_eq!(arguments, "{\"city\":\"Paris\"}");
        assert!(chunks
            .iter()
            .any(|chunk| chunk["choices"][0]["finish_reason"] == "tool_calls"));

        let cut: String = events[..2]
            .iter()
            .map(|event| format!("data: {event}\n\n"))
            .collect();
        let (chunks, translator) = run(&cut);
        assert!(chunks.last().unwrap()["error"].is_object());
        assert!(translator.upstream_error().is_some());
    }
}
