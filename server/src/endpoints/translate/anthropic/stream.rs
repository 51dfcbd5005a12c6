//! OpenAI chunks → Anthropic Messages events, for streamed `/v1/messages` replies from any
//! provider: wraps the provider's translator and re-expresses its OpenAI chunks as
//! `message_start`, content blocks (text, `tool_use` with `input_json_delta`), `message_delta`
//! with the stop reason and usage, and `message_stop`.

use bytes::Bytes;
use serde_json::{json, Value};

use super::reply::{anthropic_usage, message_id, stop_reason};
use crate::core::usage::Usage;
use crate::endpoints::translate::egress::ChunkEgress;

/// The content block being streamed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    Tool { openai_index: u64 },
}

pub struct AnthropicEgress {
    model: String,
    started: bool,
    /// The open block and its Anthropic index.
    open: Option<(Block, u64)>,
    next_index: u64,
    stop_reason: Option<&'static str>,
    usage: Option<Usage>,
    finished: bool,
}

fn event(kind: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {kind}\ndata: {data}\n\n"))
}

impl AnthropicEgress {
    pub fn new(model: String) -> Self {
        AnthropicEgress {
            model,
            started: false,
            open: None,
            next_index: 0,
            stop_reason: None,
            usage: None,
            finished: false,
        }
    }

    fn start(&mut self, id: &str, out: &mut Vec<Bytes>) {
        if self.started {
            return;
        }
        self.started = true;
        out.push(event(
            "message_start",
            &json!({ "type": "message_start", "message": {
                "id": message_id(id), "type": "message", "role": "assistant", "model": self.model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": { "input_tokens": 0, "output_tokens": 0 },
            }}),
        ));
    }

    fn close_block(&mut self, out: &mut Vec<Bytes>) {
        if let Some((_, index)) = self.open.take() {
            out.push(event(
                "content_block_stop",
                &json!({ "type": "content_block_stop", "index": index }),
            ));
        }
    }

    /// Makes `block` the open block (starting it with `content_block`), returning its index.
    fn open_block(&mut self, block: Block, content_block: Value, out: &mut Vec<Bytes>) -> u64 {
        if let Some((open, index)) = self.open {
            if open == block {
                return index;
            }
        }
        self.close_block(out);
        let index = self.next_index;
        self.next_index += 1;
        out.push(event(
            "content_block_start",
            &json!({ "type": "content_block_start", "index": index, "content_block": content_block }),
        ));
        self.open = Some((block, index));
        index
    }
}

impl ChunkEgress for AnthropicEgress {
    fn on_chunk(&mut self, chunk: &Value, out: &mut Vec<Bytes>) {
        if let Some(error) = chunk.get("error") {
            out.push(event(
                "error",
                &json!({ "type": "error", "error": {
                    "type": "api_error",
                    "message": error["message"].as_str().unwrap_or("the upstream failed"),
                }}),
            ));
            self.finished = true;
            return;
        }
        self.start(chunk["id"].as_str().unwrap_or("gatehouse"), out);
        if let Some(usage) = chunk.get("usage").filter(|usage| !usage.is_null()) {
            self.usage = serde_json::from_value(usage.clone()).ok();
        }
        let Some(choice) = chunk["choices"].get(0) else {
            return;
        };
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str().filter(|text| !text.is_empty()) {
            let index = self.open_block(Block::Text, json!({ "type": "text", "text": "" }), out);
            out.push(event(
                "content_block_delta",
                &json!({ "type": "content_block_delta", "index": index,
                         "delta": { "type": "text_delta", "text": text } }),
            ));
        }
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let block = Block::Tool {
                openai_index: call["index"].as_u64().unwrap_or(0),
            };
            let index = self.open_block(
                block,
                json!({ "type": "tool_use", "id": call["id"], "name": call["function"]["name"], "input": {} }),
                out,
            );
            if let Some(arguments) = call["function"]["arguments"]
                .as_str()
                .filter(|a| !a.is_empty())
            {
                out.push(event(
                    "content_block_delta",
                    &json!({ "type": "content_block_delta", "index": index,
                             "delta": { "type": "input_json_delta", "partial_json": arguments } }),
                ));
            }
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.stop_reason = Some(stop_reason(Some(reason)));
        }
    }

    fn end(&mut self, usage: Option<Usage>, out: &mut Vec<Bytes>) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.start("gatehouse", out);
        self.close_block(out);
        let usage = self.usage.or(usage).unwrap_or_default();
        out.push(event(
            "message_delta",
            &json!({ "type": "message_delta",
                     "delta": { "stop_reason": self.stop_reason.unwrap_or("end_turn"), "stop_sequence": null },
                     "usage": anthropic_usage(&usage) }),
        ));
        out.push(event("message_stop", &json!({ "type": "message_stop" })));
    }

    fn fail(&mut self, message: &str, out: &mut Vec<Bytes>) {
        if !self.finished {
            self.finished = true;
            out.push(event(
                "error",
                &json!({ "type": "error", "error": { "type": "api_error", "message": message } }),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::translate::egress::Egressed;
    use crate::providers::adapter::StreamTranslator;
    use crate::providers::frame::Frame;
    use crate::providers::openai_compat::pass_through;
    use crate::providers::sse::SseSplitter;

    #[test]
    fn golden_openai_tool_stream_becomes_anthropic_events() {
        let fixture = include_str!("../../../../tests/fixtures/openai/stream_tool_calls.sse");
        let mut egress = Egressed::new(pass_through(true), AnthropicEgress::new("claude".into()));
        let mut splitter = SseSplitter::default();
        splitter.push(fixture.as_bytes());
        let mut out = Vec::new();
        while let Some(event) = splitter.next_event() {
            egress.push(Frame::Sse(event), &mut out);
        }
        egress.finish(&mut out);
        let events: Vec<(String, Value)> = out
            .iter()
            .map(|event| {
                let text = std::str::from_utf8(event).unwrap();
                let (kind, data) = text.trim_end().split_once('\n').unwrap();
                (
                    kind.trim_start_matches("event: ").to_string(),
                    serde_json::from_str(data.trim_start_matches("data: ")).unwrap(),
                )
            })
            .collect();
        let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
        assert_eq!(kinds[0], "message_start");
        assert_eq!(kinds[kinds.len() - 2..], ["message_delta", "message_stop"]);
        assert!(kinds.contains(&"content_block_start") && kinds.contains(&"content_block_stop"));
        let tool = events
            .iter()
            .find(|(_, data)| data["content_block"]["type"] == "tool_use")
            .unwrap();
        assert!(tool.1["content_block"]["name"].is_string());
        let arguments: String = events
            .iter()
            .filter_map(|(_, data)| data["delta"]["partial_json"].as_str())
            .collect();
        assert!(serde_json::from_str::<Value>(&arguments)
            .unwrap()
            .is_object());
        let (_, delta) = &events[events.len() - 2];
        assert_eq!(delta["delta"]["stop_reason"], "tool_use");
        assert!(delta["usage"]["output_tokens"].as_u64().unwrap() > 0);
        // Starts and stops pair up.
        let starts = kinds
            .iter()
            .filter(|kind| **kind == "content_block_start")
            .count();
        let stops = kinds
            .iter()
            .filter(|kind| **kind == "content_block_stop")
            .count();
        assert_eq!(starts, stops);
    }
}
