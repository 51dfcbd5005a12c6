//! OpenAI chunks → Responses API stream events, for streamed `/v1/responses` replies from
//! providers without that API: wraps the provider's translator and re-expresses its chunks as
//! `response.created`, output items (`message` with `output_text` deltas, `function_call` with
//! argument deltas), and `response.completed` carrying the whole output and usage.

use bytes::Bytes;
use serde_json::{json, Value};

use super::reply::{function_call_item, message_item, response_id, response_object};
use crate::core::usage::Usage;
use crate::endpoints::translate::egress::ChunkEgress;
use crate::providers::adapter::ReplyContext;

/// The output item being streamed.
enum OpenItem {
    Message {
        id: String,
        text: String,
    },
    Call {
        id: String,
        openai_index: u64,
        call_id: String,
        name: String,
        arguments: String,
    },
}

pub struct ResponsesEgress {
    model: String,
    context: ReplyContext,
    response_id: String,
    sequence_number: u64,
    started: bool,
    /// Finished output items, in order.
    output: Vec<Value>,
    open: Option<OpenItem>,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    finished: bool,
}

impl ResponsesEgress {
    pub fn new(model: String, context: ReplyContext) -> Self {
        ResponsesEgress {
            model,
            response_id: response_id(&context),
            context,
            sequence_number: 0,
            started: false,
            output: Vec::new(),
            open: None,
            finish_reason: None,
            usage: None,
            finished: false,
        }
    }

    fn event(&mut self, mut data: Value, out: &mut Vec<Bytes>) {
        data["sequence_number"] = json!(self.sequence_number);
        self.sequence_number += 1;
        let kind = data["type"].as_str().unwrap_or("error").to_string();
        out.push(Bytes::from(format!("event: {kind}\ndata: {data}\n\n")));
    }

    fn start(&mut self, out: &mut Vec<Bytes>) {
        if self.started {
            return;
        }
        self.started = true;
        let response = response_object(&self.context, &self.model, Vec::new(), None, None);
        self.event(
            json!({ "type": "response.created", "response": response }),
            out,
        );
        self.event(
            json!({ "type": "response.in_progress", "response": response }),
            out,
        );
    }

    fn output_index(&self) -> usize {
        self.output.len()
    }

    fn close_item(&mut self, out: &mut Vec<Bytes>) {
        let output_index = self.output_index();
        let item = match self.open.take() {
            None => return,
            Some(OpenItem::Message { id, text }) => {
                self.event(
                    json!({ "type": "response.output_text.done", "item_id": id, "output_index": output_index,
                            "content_index": 0, "text": text, "logprobs": [] }),
                    out,
                );
                self.event(
                    json!({ "type": "response.content_part.done", "item_id": id, "output_index": output_index,
                            "content_index": 0,
                            "part": { "type": "output_text", "text": text, "annotations": [], "logprobs": [] } }),
                    out,
                );
                message_item(&id, &text, "completed")
            }
            Some(OpenItem::Call {
                id,
                call_id,
                name,
                arguments,
                ..
            }) => {
                self.event(
                    json!({ "type": "response.function_call_arguments.done", "item_id": id,
                            "output_index": output_index, "arguments": arguments }),
                    out,
                );
                function_call_item(&id, &call_id, &name, &arguments, "completed")
            }
        };
        self.event(
            json!({ "type": "response.output_item.done", "output_index": output_index, "item": item }),
            out,
        );
        self.output.push(item);
    }

    fn on_text(&mut self, text: &str, out: &mut Vec<Bytes>) {
        if !matches!(self.open, Some(OpenItem::Message { .. })) {
            self.close_item(out);
            let id = format!("msg_{}_{}", self.response_id, self.output_index());
            let output_index = self.output_index();
            let mut item = message_item(&id, "", "in_progress");
            item["content"] = json!([]);
            self.event(
                json!({ "type": "response.output_item.added", "output_index": output_index, "item": item }),
                out,
            );
            self.event(
                json!({ "type": "response.content_part.added", "item_id": id, "output_index": output_index,
                        "content_index": 0,
                        "part": { "type": "output_text", "text": "", "annotations": [], "logprobs": [] } }),
                out,
            );
            self.open = Some(OpenItem::Message {
                id,
                text: String::new(),
            });
        }
        let output_index = self.output_index();
        if let Some(OpenItem::Message { id, text: all }) = &mut self.open {
            all.push_str(text);
            let id = id.clone();
            self.event(
                json!({ "type": "response.output_text.delta", "item_id": id, "output_index": output_index,
                        "content_index": 0, "delta": text, "logprobs": [] }),
                out,
            );
        }
    }

    fn on_tool_call(&mut self, call: &Value, out: &mut Vec<Bytes>) {
        let openai_index = call["index"].as_u64().unwrap_or(0);
        let continues = matches!(&self.open, Some(OpenItem::Call { openai_index: open, .. }) if *open == openai_index);
        if !continues {
            self.close_item(out);
            let id = format!("fc_{}_{}", self.response_id, self.output_index());
            let call_id = call["id"].as_str().unwrap_or_default().to_string();
            let name = call["function"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let output_index = self.output_index();
            self.event(
                json!({ "type": "response.output_item.added", "output_index": output_index,
                        "item": function_call_item(&id, &call_id, &name, "", "in_progress") }),
                out,
            );
            self.open = Some(OpenItem::Call {
                id,
                openai_index,
                call_id,
                name,
                arguments: String::new(),
            });
        }
        let Some(delta) = call["function"]["arguments"]
            .as_str()
            .filter(|delta| !delta.is_empty())
        else {
            return;
        };
        let output_index = self.output_index();
        if let Some(OpenItem::Call { id, arguments, .. }) = &mut self.open {
            arguments.push_str(delta);
            let id = id.clone();
            self.event(
                json!({ "type": "response.function_call_arguments.delta", "item_id": id,
                        "output_index": output_index, "delta": delta }),
                out,
            );
        }
    }

    fn error_event(&mut self, message: &str, out: &mut Vec<Bytes>) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.event(
            json!({ "type": "error", "code": "api_error", "message": message, "param": null }),
            out,
        );
    }
}

impl ChunkEgress for ResponsesEgress {
    fn on_chunk(&mut self, chunk: &Value, out: &mut Vec<Bytes>) {
        if let Some(error) = chunk.get("error") {
            let message = error["message"].as_str().unwrap_or("the upstream failed");
            self.error_event(message, out);
            return;
        }
        self.start(out);
        if let Some(usage) = chunk.get("usage").filter(|usage| !usage.is_null()) {
            self.usage = serde_json::from_value(usage.clone()).ok();
        }
        let Some(choice) = chunk["choices"].get(0) else {
            return;
        };
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str().filter(|text| !text.is_empty()) {
            self.on_text(text, out);
        }
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            self.on_tool_call(call, out);
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.finish_reason = Some(reason.to_string());
        }
    }

    fn end(&mut self, usage: Option<Usage>, out: &mut Vec<Bytes>) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.start(out);
        self.close_item(out);
        let usage = self.usage.or(usage).unwrap_or_default();
        let finish_reason = self.finish_reason.clone().unwrap_or_else(|| "stop".into());
        let response = response_object(
            &self.context,
            &self.model,
            std::mem::take(&mut self.output),
            Some(&usage),
            Some(&finish_reason),
        );
        let kind = if response["status"] == "incomplete" {
            "response.incomplete"
        } else {
            "response.completed"
        };
        self.event(json!({ "type": kind, "response": response }), out);
    }

    fn fail(&mut self, message: &str, out: &mut Vec<Bytes>) {
        self.error_event(message, out);
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
    fn golden_openai_tool_stream_becomes_response_events() {
        let fixture = include_str!("../../../../tests/fixtures/openai/stream_tool_calls.sse");
        let context = ReplyContext {
            completion_id: "chatcmpl-abc".into(),
            model: "upstream".into(),
            created: 1,
        };
        let mut egress = Egressed::new(
            pass_through(true),
            ResponsesEgress::new("smart".into(), context),
        );
        let mut splitter = SseSplitter::default();
        splitter.push(fixture.as_bytes());
        let mut out = Vec::new();
        while let Some(event) = splitter.next_event() {
            egress.push(Frame::Sse(event), &mut out);
        }
        egress.finish(&mut out);
        let events: Vec<Value> = out
            .iter()
            .map(|event| {
                let text = std::str::from_utf8(event).unwrap();
                let (kind, data) = text.trim_end().split_once('\n').unwrap();
                let data: Value = serde_json::from_str(data.trim_start_matches("data: ")).unwrap();
                assert_eq!(kind.trim_start_matches("event: "), data["type"]);
                data
            })
            .collect();
        for (index, event) in events.iter().enumerate() {
            assert_eq!(event["sequence_number"], index);
        }
        let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(kinds[..2], ["response.created", "response.in_progress"]);
        assert_eq!(*kinds.last().unwrap(), "response.completed");
        let added = kinds
            .iter()
            .filter(|k| **k == "response.output_item.added")
            .count();
        let done = kinds
            .iter()
            .filter(|k| **k == "response.output_item.done")
            .count();
        assert!(added >= 1);
        assert_eq!(added, done);
        let completed = &events.last().unwrap()["response"];
        let calls: Vec<&Value> = completed["output"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|item| item["type"] == "function_call")
            .collect();
        assert!(!calls.is_empty());
        for call in &calls {
            assert!(
                serde_json::from_str::<Value>(call["arguments"].as_str().unwrap())
                    .unwrap()
                    .is_object()
            );
            // The streamed deltas add up to the final arguments.
            let streamed: String = events
                .iter()
                .filter(|e| {
                    e["type"] == "response.function_call_arguments.delta"
                        && e["item_id"] == call["id"]
                })
                .map(|e| e["delta"].as_str().unwrap())
                .collect();
            assert_eq!(streamed, call["arguments"].as_str().unwrap());
        }
        assert!(completed["usage"]["output_tokens"].as_u64().unwrap() > 0);
    }
}
