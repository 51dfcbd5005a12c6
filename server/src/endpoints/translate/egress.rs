//! Re-expressing a provider's OpenAI chunk stream in another API's shape (Anthropic Messages,
//! Responses, text completions): the wrapper runs the provider's translator and hands each of
//! its chunks, and the stream's end, to the shape's `ChunkEgress`.

use bytes::Bytes;
use serde_json::Value;

use crate::core::provider_error::StreamFailure;
use crate::core::usage::Usage;
use crate::providers::adapter::StreamTranslator;
use crate::providers::frame::Frame;
use crate::providers::sse::data_payload;

/// One API shape's view of an OpenAI chunk stream.
pub trait ChunkEgress: Send {
    /// Appends the events one OpenAI chunk becomes.
    fn on_chunk(&mut self, chunk: &Value, out: &mut Vec<Bytes>);
    /// Appends what ends the stream after `[DONE]`; `usage` is the provider's final usage.
    fn end(&mut self, usage: Option<Usage>, out: &mut Vec<Bytes>);
    /// Appends the event that ends a stream the gateway could not finish.
    fn fail(&mut self, message: &str, out: &mut Vec<Bytes>);
}

/// A provider translator whose chunks are re-expressed by `E`.
pub struct Egressed<E> {
    inner: Box<dyn StreamTranslator>,
    egress: E,
    /// The inner translator's OpenAI events, reused between frames.
    scratch: Vec<Bytes>,
}

impl<E: ChunkEgress> Egressed<E> {
    /// Wraps a provider translator, which must include the usage chunk.
    pub fn new(inner: Box<dyn StreamTranslator>, egress: E) -> Self {
        Egressed {
            inner,
            egress,
            scratch: Vec::new(),
        }
    }

    fn translate(&mut self, openai_events: &[Bytes], out: &mut Vec<Bytes>) {
        for event in openai_events {
            let Some(data) = data_payload(event) else {
                continue;
            };
            if data.as_ref() == b"[DONE]" {
                self.egress.end(self.inner.usage(), out);
            } else if let Ok(chunk) = serde_json::from_slice::<Value>(&data) {
                self.egress.on_chunk(&chunk, out);
            }
        }
    }
}

impl<E: ChunkEgress> StreamTranslator for Egressed<E> {
    fn push(&mut self, frame: Frame, out: &mut Vec<Bytes>) {
        let mut openai_events = std::mem::take(&mut self.scratch);
        self.inner.push(frame, &mut openai_events);
        self.translate(&openai_events, out);
        openai_events.clear();
        self.scratch = openai_events;
    }

    fn finish(&mut self, out: &mut Vec<Bytes>) {
        let mut openai_events = std::mem::take(&mut self.scratch);
        self.inner.finish(&mut openai_events);
        self.translate(&openai_events, out);
        openai_events.clear();
        self.scratch = openai_events;
    }

    fn fail(&mut self, failure: StreamFailure, out: &mut Vec<Bytes>) {
        self.egress.fail(&failure.to_string(), out);
    }

    fn usage(&self) -> Option<Usage> {
        self.inner.usage()
    }

    fn generated_chars(&self) -> usize {
        self.inner.generated_chars()
    }

    fn upstream_error(&self) -> Option<&str> {
        self.inner.upstream_error()
    }
}
