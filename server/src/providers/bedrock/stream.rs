//! Bedrock ConverseStream events → OpenAI chunks: text and reasoning deltas, `toolUse` block
//! starts and their input pieces as tool-call deltas, `messageStop` as the finish reason, and the
//! `metadata` event's usage (which arrives after `messageStop`) at the end. Exceptions inside
//! the stream end it with an error event.

use bytes::Bytes;
use serde_json::{json, Value};

use super::reply::{finish_reason, TokenUsage};
use crate::core::usage::Usage;
use crate::providers::adapter::{ReplyContext, StreamTranslator};
use crate::providers::chunks::ChunkWriter;
use crate::providers::frame::Frame;

pub struct ConverseStream {
    chunks: ChunkWriter,
    /// Bedrock content-block index → OpenAI tool-call index, for `toolUse` blocks.
    tool_blocks: Vec<(u64, usize)>,
    finish: Option<&'static str>,
    usage: Option<TokenUsage>,
    generated_chars: usize,
}

impl ConverseStream {
    pub fn new(context: ReplyContext, client_wants_usage: bool) -> Self {
        ConverseStream {
            chunks: ChunkWriter::new(context, client_wants_usage),
            tool_blocks: Vec::new(),
            finish: None,
            usage: None,
            generated_chars: 0,
        }
    }

    fn on_event(&mut self, event_type: &str, payload: Value, out: &mut Vec<Bytes>) {
        let block = payload["contentBlockIndex"].as_u64().unwrap_or(0);
        match event_type {
            "messageStart" => {
                out.push(
                    self.chunks
                        .delta(json!({ "role": "assistant", "content": "" }), None),
                );
            }
            "contentBlockStart" => {
                if let Some(tool_use) = payload["start"].get("toolUse") {
                    let tool = self.tool_blocks.len();
                    self.tool_blocks.push((block, tool));
                    out.push(self.chunks.delta(
                        json!({ "tool_calls": [{
                            "index": tool, "id": tool_use["toolUseId"], "type": "function",
                            "function": { "name": tool_use["name"], "arguments": "" },
                        }]}),
                        None,
                    ));
                }
            }
            "contentBlockDelta" => {
                let delta = &payload["delta"];
                if let Some(text) = delta["text"].as_str() {
                    self.generated_chars += text.len();
                    out.push(self.chunks.delta(json!({ "content": text }), None));
                } else if let Some(input) = delta["toolUse"]["input"].as_str() {
                    self.generated_chars += input.len();
                    let tool = self
                        .tool_blocks
                        .iter()
                        .find(|(index, _)| *index == block)
                        .map(|(_, tool)| *tool);
                    if let (Some(tool), false) = (tool, input.is_empty()) {
                        out.push(self.chunks.delta(
                            json!({ "tool_calls": [{ "index": tool, "function": { "arguments": input } }] }),
                            None,
                        ));
                    }
                } else if let Some(text) = delta["reasoningContent"]["text"].as_str() {
                    self.generated_chars += text.len();
                    out.push(
                        self.chunks
                            .delta(json!({ "reasoning_content": text }), None),
                    );
                }
            }
            "messageStop" => {
                let finish = finish_reason(payload["stopReason"].as_str());
                self.finish = Some(finish);
                out.push(self.chunks.delta(json!({}), Some(finish)));
            }
            "metadata" => {
                self.usage = serde_json::from_value(payload["usage"].clone()).ok();
            }
            _ => {}
        }
    }
}

impl StreamTranslator for ConverseStream {
    fn push(&mut self, frame: Frame, out: &mut Vec<Bytes>) {
        let Frame::Aws {
            exception,
            event_type,
            payload,
        } = frame
        else {
            return;
        };
        let payload: Value = serde_json::from_slice(&payload).unwrap_or(Value::Null);
        if exception {
            let message = payload["message"]
                .as_str()
                .map_or_else(|| format!("Bedrock reported {event_type}"), str::to_string);
            let kind = if event_type.starts_with("throttling") {
                "rate_limit_error"
            } else {
                "api_error"
            };
            self.chunks.fail(message, kind, out);
            return;
        }
        self.on_event(&event_type, payload, out);
    }

    fn finish(&mut self, out: &mut Vec<Bytes>) {
        let usage = self.usage();
        self.chunks
            .end(self.finish.is_some(), "messageStop", usage, out);
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.map(TokenUsage::to_usage)
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
    use mock_upstream::aws_frames::{aws_event, aws_exception};

    fn run(bytes: &[u8], client_wants_usage: bool) -> (Vec<Value>, ConverseStream) {
        let mut translator = ConverseStream::new(
            ReplyContext {
                completion_id: "chatcmpl-x".into(),
                model: "claude".into(),
                created: 1,
            },
            client_wants_usage,
        );
        let chunks = translate_in_pieces(&mut translator, Framing::AwsEventStream, bytes, 13);
        (chunks, translator)
    }

    #[test]
    fn golden_event_stream_becomes_chunks_with_tool_deltas_and_usage() {
        let events: Vec<Value> = serde_json::from_str(include_str!(
            "../../../tests/fixtures/bedrock/converse_stream_events.json"
        ))
        .unwrap();
        let bytes: Vec<u8> = events
            .iter()
            .flat_map(|event| {
                aws_event(event["event_type"].as_str().unwrap(), &event["payload"]).to_vec()
            })
            .collect();
        let (chunks, translator) = run(&bytes, true);
        let text: String = chunks
            .iter()
            .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str())
            .collect();
        let expected: String = events
            .iter()
            .filter_map(|event| event["payload"]["delta"]["text"].as_str())
            .collect();
        assert_eq!(text, expected);
        let tool_start = events
            .iter()
            .find(|event| event["event_type"] == "contentBlockStart")
            .unwrap();
        let opening = chunks
            .iter()
            .find(|chunk| chunk["choices"][0]["delta"]["tool_calls"][0]["id"].is_string())
            .unwrap();
        assert_eq!(
            opening["choices"][0]["delta"]["tool_calls"][0]["id"],
            tool_start["payload"]["start"]["toolUse"]["toolUseId"]
        );
        let arguments: String = chunks
            .iter()
            .filter_map(|chunk| {
                chunk["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
            })
            .collect();
        assert!(serde_json::from_str::<Value>(&arguments)
            .unwrap()
            .is_object());
        assert!(chunks
            .iter()
            .any(|chunk| chunk["choices"][0]["finish_reason"] == "tool_calls"));
        let metadata = &events.last().unwrap()["payload"]["usage"];
        let usage = translator.usage().unwrap();
        assert_eq!(
            usage.prompt_tokens,
            metadata["inputTokens"].as_u64().unwrap()
        );
        assert_eq!(
            usage.completion_tokens,
            metadata["outputTokens"].as_u64().unwrap()
        );
        let count = chunks.len();
        assert_eq!(
            chunks[count - 2]["usage"]["completion_tokens"],
            usage.completion_tokens
        );
        assert_eq!(chunks[count - 1], "[DONE]");
    }

    #[test]
    fn exceptions_and_unfinished_streams_end_with_an_error() {
        let mut bytes = aws_event("messageStart", &json!({"role": "assistant"})).to_vec();
        bytes.extend_from_slice(&aws_exception(
            "throttlingException",
            &json!({"message": "Too many requests"}),
        ));
        let (chunks, translator) = run(&bytes, false);
        assert_eq!(chunks.last().unwrap()["error"]["type"], "rate_limit_error");
        assert_eq!(translator.upstream_error(), Some("Too many requests"));

        let (chunks, translator) = run(
            &aws_event("messageStart", &json!({"role": "assistant"})),
            false,
        );
        assert!(chunks.last().unwrap()["error"].is_object());
        assert!(translator.upstream_error().is_some());
    }
}
