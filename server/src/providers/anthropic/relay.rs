//! Anthropic's Messages stream relayed as it is (`/v1/messages` to an Anthropic deployment):
//! every event is forwarded unchanged — thinking blocks and their signatures, citations, server
//! tools — while the relay reads the usage (`message_start`, `message_delta`), the generated
//! text for estimates, and errors.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

use super::reply::AnthropicUsage;
use crate::core::provider_error::StreamFailure;
use crate::core::usage::Usage;
use crate::providers::adapter::StreamTranslator;
use crate::providers::frame::Frame;
use crate::providers::sse::relay_event;

#[derive(Default)]
pub struct MessagesRelay {
    usage: Option<AnthropicUsage>,
    generated_chars: usize,
    stopped: bool,
    error: Option<String>,
}

/// The parts of a stream event the relay reads.
#[derive(Deserialize)]
struct EventProbe {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    message: Option<MessageProbe>,
    #[serde(default)]
    delta: Option<Value>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct MessageProbe {
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

/// Anthropic's `error` event.
pub fn error_event(message: &str) -> Bytes {
    let data = json!({ "type": "error", "error": { "type": "api_error", "message": message } });
    Bytes::from(format!("event: error\ndata: {data}\n\n"))
}

impl MessagesRelay {
    fn read(&mut self, event: EventProbe) {
        match event.kind.as_str() {
            "message_start" => self.usage = event.message.and_then(|message| message.usage),
            "content_block_delta" => {
                let delta = event.delta.unwrap_or_default();
                let piece = ["text", "thinking", "partial_json"]
                    .iter()
                    .find_map(|field| delta[*field].as_str());
                self.generated_chars += piece.map_or(0, str::len);
            }
            "message_delta" => {
                if let Some(later) = event.usage {
                    self.usage
                        .get_or_insert_with(AnthropicUsage::default)
                        .update(later);
                }
            }
            "message_stop" => self.stopped = true,
            "error" => {
                let message = event
                    .error
                    .as_ref()
                    .and_then(|error| error["message"].as_str())
                    .unwrap_or("the upstream reported an error mid-stream");
                self.error = Some(message.to_string());
            }
            _ => {}
        }
    }
}

impl StreamTranslator for MessagesRelay {
    fn push(&mut self, frame: Frame, out: &mut Vec<Bytes>) {
        if let Some(probe) = relay_event::<EventProbe>(frame, out) {
            self.read(probe);
        }
    }

    /// A stream that ended without `message_stop` (or an error event) was cut short.
    fn finish(&mut self, out: &mut Vec<Bytes>) {
        if !self.stopped && self.error.is_none() {
            let message = "the upstream ended the stream before message_stop";
            self.error = Some(message.into());
            out.push(error_event(message));
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.map(AnthropicUsage::to_usage)
    }

    fn generated_chars(&self) -> usize {
        self.generated_chars
    }

    fn upstream_error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    fn fail(&mut self, failure: StreamFailure, out: &mut Vec<Bytes>) {
        out.push(error_event(&failure.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::sse::SseSplitter;

    fn relay(fixture: &str) -> (String, MessagesRelay) {
        let mut relay = MessagesRelay::default();
        let mut splitter = SseSplitter::default();
        splitter.push(fixture.as_bytes());
        let mut out = Vec::new();
        while let Some(event) = splitter.next_event() {
            relay.push(Frame::Sse(event), &mut out);
        }
        relay.finish(&mut out);
        (String::from_utf8(out.concat()).unwrap(), relay)
    }

    #[test]
    fn golden_streams_are_relayed_byte_for_byte_and_billed_from_their_usage() {
        for fixture in [
            include_str!("../../../tests/fixtures/anthropic/stream_text.sse"),
            include_str!("../../../tests/fixtures/anthropic/stream_tool_use.sse"),
        ] {
            let (relayed, relay) = relay(fixture);
            assert_eq!(relayed.replace("\r\n", "\n"), fixture.replace("\r\n", "\n"));
            assert_eq!(relay.upstream_error(), None);
            let usage = relay.usage().unwrap();
            assert!(
                usage.prompt_tokens > 0 && usage.completion_tokens > 0,
                "{usage:?}"
            );
            assert!(relay.generated_chars() > 0);
        }
    }

    #[test]
    fn thinking_and_cache_usage_are_read_and_a_cut_stream_ends_with_an_error() {
        let stream = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":",
            "{\"input_tokens\":10,\"cache_read_input_tokens\":100,\"cache_creation_input_tokens\":20,\"output_tokens\":1}}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,",
            "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Let me see\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,",
            "\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQBCgIYAhIM\"}}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},",
            "\"usage\":{\"output_tokens\":42}}\n\n",
        );
        let (relayed, relay) = relay(stream);
        assert!(relayed.starts_with(stream));
        let last = relayed[stream.len()..].to_string();
        assert!(last.starts_with("event: error\n"), "{last}");
        assert!(last.contains("before message_stop"), "{last}");
        assert!(relay.upstream_error().is_some());
        let usage = relay.usage().unwrap();
        assert_eq!(usage.prompt_tokens, 130);
        assert_eq!(usage.cached_tokens, 100);
        assert_eq!(usage.cache_write_tokens, 20);
        assert_eq!(usage.completion_tokens, 42);
        assert_eq!(relay.generated_chars(), "Let me see".len());
    }
}
