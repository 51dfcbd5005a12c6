//! OpenAI's Responses API stream relayed as it is: each event is forwarded unchanged while the
//! relay reads the generated text (for estimates) and the final usage from
//! `response.completed` / `response.incomplete`.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use crate::core::provider_error::StreamFailure;
use crate::core::usage::Usage;
use crate::providers::adapter::StreamTranslator;
use crate::providers::frame::Frame;
use crate::providers::sse::relay_event;

#[derive(Default)]
pub struct ResponsesRelay {
    usage: Option<Usage>,
    generated_chars: usize,
    error: Option<String>,
    last_sequence_number: Option<u64>,
}

/// The parts of a Responses stream event the relay reads.
#[derive(Deserialize)]
struct EventProbe {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    sequence_number: Option<u64>,
    #[serde(default)]
    delta: Option<String>,
    #[serde(default)]
    response: Option<ResponseProbe>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct ResponseProbe {
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<ErrorProbe>,
}

#[derive(Deserialize)]
struct ErrorProbe {
    #[serde(default)]
    message: Option<String>,
}

impl StreamTranslator for ResponsesRelay {
    fn push(&mut self, frame: Frame, out: &mut Vec<Bytes>) {
        if let Some(probe) = relay_event::<EventProbe>(frame, out) {
            self.read(probe);
        }
    }

    fn finish(&mut self, _out: &mut Vec<Bytes>) {}

    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn generated_chars(&self) -> usize {
        self.generated_chars
    }

    fn upstream_error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    fn fail(&mut self, failure: StreamFailure, out: &mut Vec<Bytes>) {
        let message = failure.to_string();
        let sequence_number = self.last_sequence_number.map_or(0, |last| last + 1);
        let data = json!({
            "type": "error", "code": "api_error", "message": message, "param": null,
            "sequence_number": sequence_number,
        });
        out.push(Bytes::from(format!("event: error\ndata: {data}\n\n")));
    }
}

impl ResponsesRelay {
    fn read(&mut self, event: EventProbe) {
        if event.sequence_number.is_some() {
            self.last_sequence_number = event.sequence_number;
        }
        match event.kind.as_str() {
            "response.output_text.delta"
            | "response.function_call_arguments.delta"
            | "response.reasoning_summary_text.delta" => {
                self.generated_chars += event.delta.map_or(0, |delta| delta.len());
            }
            "response.completed" | "response.incomplete" => {
                self.usage = event.response.and_then(|response| response.usage);
            }
            "response.failed" => {
                let message = event
                    .response
                    .and_then(|response| response.error?.message)
                    .unwrap_or_else(|| "the response failed".into());
                self.error = Some(message);
            }
            "error" => {
                self.error = Some(event.message.unwrap_or_else(|| "upstream error".into()));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::sse::SseSplitter;

    #[test]
    fn golden_stream_is_relayed_unchanged_and_billed_from_its_final_usage() {
        let fixture = include_str!("../../tests/fixtures/openai/responses_api_stream.sse");
        let mut relay = ResponsesRelay::default();
        let mut splitter = SseSplitter::default();
        splitter.push(fixture.as_bytes());
        let mut out = Vec::new();
        while let Some(event) = splitter.next_event() {
            relay.push(Frame::Sse(event), &mut out);
        }
        relay.finish(&mut out);
        let relayed: Vec<u8> = out.concat();
        assert_eq!(
            String::from_utf8(relayed).unwrap().replace("\r\n", "\n"),
            fixture.replace("\r\n", "\n")
        );
        let usage = relay.usage().unwrap();
        assert!(usage.prompt_tokens > 0 && usage.completion_tokens > 0);
        assert_eq!(relay.generated_chars(), "Hi there! How can I help?".len());
        assert_eq!(relay.upstream_error(), None);

        let mut failing = ResponsesRelay::default();
        let mut out = Vec::new();
        failing.push(
            Frame::Sse(Bytes::from_static(
                b"event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0}\n\n",
            )),
            &mut out,
        );
        failing.fail(StreamFailure::Stalled, &mut out);
        let last = std::str::from_utf8(out.last().unwrap()).unwrap();
        assert!(last.starts_with("event: error\n"));
        assert!(last.contains("\"sequence_number\":1"));
    }
}
