//! Anthropic's Messages event stream → OpenAI `chat.completion.chunk` events: text deltas as
//! content, `tool_use` blocks and their `input_json_delta` pieces as tool-call deltas, thinking
//! as `reasoning_content`, the stop reason as `finish_reason`, usage at the end.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

use super::reply::{finish_reason, AnthropicUsage};
use super::JSON_SCHEMA_TOOL;
use crate::core::usage::Usage;
use crate::providers::adapter::{ReplyContext, StreamTranslator};
use crate::providers::chunks::ChunkWriter;
use crate::providers::frame::Frame;
use crate::providers::sse::data_payload;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    MessageStart {
        message: StartedMessage,
    },
    ContentBlockStart {
        index: u64,
        content_block: Value,
    },
    ContentBlockDelta {
        index: u64,
        delta: Value,
    },
    ContentBlockStop {},
    MessageDelta {
        delta: MessageDeltaBody,
        #[serde(default)]
        usage: Option<AnthropicUsage>,
    },
    MessageStop {},
    Ping {},
    Error {
        error: Value,
    },
}

#[derive(Deserialize)]
struct StartedMessage {
    id: Option<String>,
    model: Option<String>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
struct MessageDeltaBody {
    stop_reason: Option<String>,
}

pub struct MessageStream {
    chunks: ChunkWriter,
    usage: Option<AnthropicUsage>,
    /// Anthropic content-block index → OpenAI tool-call index, for `tool_use` blocks.
    tool_blocks: Vec<(u64, usize)>,
    /// The content-block index of a JSON-schema reply's tool call, streamed as content.
    json_block: Option<u64>,
    generated_chars: usize,
    stopped: bool,
}

impl MessageStream {
    pub fn new(context: ReplyContext, client_wants_usage: bool) -> Self {
        MessageStream {
            chunks: ChunkWriter::new(context, client_wants_usage),
            usage: None,
            tool_blocks: Vec::new(),
            json_block: None,
            generated_chars: 0,
            stopped: false,
        }
    }

    fn tool_index(&self, block: u64) -> Option<usize> {
        self.tool_blocks
            .iter()
            .find(|(index, _)| *index == block)
            .map(|(_, tool)| *tool)
    }

    fn on_event(&mut self, event: Event, out: &mut Vec<Bytes>) {
        match event {
            Event::MessageStart { message } => {
                if let Some(id) = message.id {
                    self.chunks.context.completion_id = id;
                }
                if let Some(model) = message.model {
                    self.chunks.context.model = model;
                }
                self.usage = message.usage;
                out.push(
                    self.chunks
                        .delta(json!({ "role": "assistant", "content": "" }), None),
                );
            }
            Event::ContentBlockStart {
                index,
                content_block,
            } => {
                if content_block["type"] == "tool_use" && content_block["name"] == JSON_SCHEMA_TOOL
                {
                    self.json_block = Some(index);
                } else if content_block["type"] == "tool_use" {
                    let tool = self.tool_blocks.len();
                    self.tool_blocks.push((index, tool));
                    out.push(self.chunks.delta(
                        json!({ "tool_calls": [{
                            "index": tool, "id": content_block["id"], "type": "function",
                            "function": { "name": content_block["name"], "arguments": "" },
                        }]}),
                        None,
                    ));
                } else if let Some(text) = content_block["text"].as_str().filter(|t| !t.is_empty())
                {
                    self.generated_chars += text.len();
                    out.push(self.chunks.delta(json!({ "content": text }), None));
                }
            }
            Event::ContentBlockDelta { index, delta } => {
                let piece = match delta["type"].as_str() {
                    Some("text_delta") => delta["text"].as_str().map(|text| ("content", text)),
                    Some("thinking_delta") => delta["thinking"]
                        .as_str()
                        .map(|text| ("reasoning_content", text)),
                    Some("input_json_delta") => delta["partial_json"]
                        .as_str()
                        .map(|json| ("arguments", json)),
                    _ => None,
                };
                match piece {
                    Some(("arguments", partial)) if self.json_block == Some(index) => {
                        self.generated_chars += partial.len();
                        out.push(self.chunks.delta(json!({ "content": partial }), None));
                    }
                    Some(("arguments", partial)) => {
                        self.generated_chars += partial.len();
                        if let Some(tool) = self.tool_index(index) {
                            out.push(self.chunks.delta(
                                json!({ "tool_calls": [{
                                    "index": tool, "function": { "arguments": partial },
                                }]}),
                                None,
                            ));
                        }
                    }
                    Some((field, text)) => {
                        self.generated_chars += text.len();
                        out.push(self.chunks.delta(json!({ field: text }), None));
                    }
                    None => {}
                }
            }
            Event::MessageDelta { delta, usage } => {
                if let Some(later) = usage {
                    self.usage
                        .get_or_insert_with(AnthropicUsage::default)
                        .update(later);
                }
                let finish = if self.json_block.is_some() {
                    "stop"
                } else {
                    finish_reason(delta.stop_reason.as_deref())
                };
                out.push(self.chunks.delta(json!({}), Some(finish)));
            }
            // Usage and `[DONE]` follow when the stream closes (`finish`).
            Event::MessageStop {} => self.stopped = true,
            Event::Error { error } => {
                let message = error["message"]
                    .as_str()
                    .unwrap_or("the upstream reported an error mid-stream")
                    .to_string();
                let kind = match error["type"].as_str() {
                    Some("overloaded_error") | Some("api_error") => "api_error",
                    Some("rate_limit_error") => "rate_limit_error",
                    _ => "invalid_request_error",
                };
                self.chunks.fail(message, kind, out);
            }
            Event::ContentBlockStop {} | Event::Ping {} => {}
        }
    }
}

impl StreamTranslator for MessageStream {
    fn push(&mut self, frame: Frame, out: &mut Vec<Bytes>) {
        let Frame::Sse(event) = frame else {
            return;
        };
        let Some(data) = data_payload(&event) else {
            return;
        };
        // Event types Anthropic adds later are skipped, as its docs ask clients to do.
        if let Ok(event) = serde_json::from_slice::<Event>(&data) {
            self.on_event(event, out);
        }
    }

    fn finish(&mut self, out: &mut Vec<Bytes>) {
        let usage = self.usage();
        self.chunks.end(self.stopped, "message_stop", usage, out);
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.map(AnthropicUsage::to_usage)
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

    fn run(fixture: &str, client_wants_usage: bool) -> (Vec<Value>, MessageStream) {
        let mut translator = MessageStream::new(
            ReplyContext {
                completion_id: "chatcmpl-x".into(),
                model: "claude".into(),
                created: 1,
            },
            client_wants_usage,
        );
        // Byte by byte: events split anywhere must still translate.
        let payloads = translate_in_pieces(
            &mut translator,
            Framing::ServerSentEvents,
            fixture.as_bytes(),
            1,
        );
        (payloads, translator)
    }

    #[test]
    fn golden_text_stream_chunk_by_chunk() {
        let fixture = include_str!("../../../tests/fixtures/anthropic/stream_text.sse");
        let (chunks, translator) = run(fixture, true);
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        let text: String = chunks
            .iter()
            .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str())
            .collect();
        let expected: String = fixture
            .lines()
            .filter_map(|line| line.strip_prefix("data: "))
            .filter_map(|data| serde_json::from_str::<Value>(data).ok())
            .filter(|event| event["delta"]["type"] == "text_delta")
            .map(|event| event["delta"]["text"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(text, expected);
        assert!(!text.is_empty());
        let finish = chunks
            .iter()
            .find_map(|chunk| chunk["choices"][0]["finish_reason"].as_str())
            .unwrap();
        assert_eq!(finish, "stop");
        assert_eq!(chunks.last().unwrap(), "[DONE]");
        let usage_chunk = &chunks[chunks.len() - 2];
        assert_eq!(usage_chunk["choices"], json!([]));
        let usage = translator.usage().unwrap();
        assert!(usage.prompt_tokens > 0 && usage.completion_tokens > 0);
        assert_eq!(
            usage_chunk["usage"]["completion_tokens"],
            usage.completion_tokens
        );
        assert!(translator.upstream_error().is_none());
    }

    #[test]
    fn golden_tool_stream_becomes_tool_call_deltas() {
        let fixture = include_str!("../../../tests/fixtures/anthropic/stream_tool_use.sse");
        let (chunks, translator) = run(fixture, false);
        let opening = chunks
            .iter()
            .find(|chunk| chunk["choices"][0]["delta"]["tool_calls"][0]["id"].is_string())
            .unwrap();
        let call = &opening["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(call["index"], 0);
        assert_eq!(call["type"], "function");
        let arguments: String = chunks
            .iter()
            .filter_map(|chunk| {
                chunk["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
            })
            .collect();
        let parsed: Value = serde_json::from_str(&arguments).unwrap();
        assert!(parsed.is_object());
        assert!(chunks
            .iter()
            .any(|chunk| chunk["choices"][0]["finish_reason"] == "tool_calls"));
        // The client did not ask for usage: no usage-only chunk.
        assert!(!chunks.iter().any(|chunk| chunk["choices"] == json!([])));
        assert!(translator.usage().is_some());
    }

    #[test]
    fn an_error_event_or_a_missing_stop_ends_with_an_error() {
        let (chunks, translator) = run(
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
            false,
        );
        assert_eq!(chunks[0]["error"]["message"], "Overloaded");
        assert_eq!(translator.upstream_error(), Some("Overloaded"));

        let cut = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n";
        let (chunks, translator) = run(cut, false);
        assert!(chunks.last().unwrap()["error"]["message"].is_string());
        assert!(translator.upstream_error().is_some());
        assert_eq!(translator.usage().unwrap().prompt_tokens, 5);
    }
}
