//! Writing the OpenAI chunk stream that translating adapters produce: one `chat.completion.chunk`
//! shape, an upstream error reported once, and one ending (the usage chunk the client asked for
//! and `[DONE]`, or an error event when the upstream stopped early).

use bytes::Bytes;
use serde_json::{json, Value};

use crate::core::error::sse_error_event;
use crate::core::usage::Usage;
use crate::providers::adapter::{sse_data, sse_done, ReplyContext};

pub struct ChunkWriter {
    /// Id, model and time of every chunk; adapters update them from the stream's first event.
    pub context: ReplyContext,
    client_wants_usage: bool,
    error: Option<String>,
}

impl ChunkWriter {
    pub fn new(context: ReplyContext, client_wants_usage: bool) -> Self {
        ChunkWriter {
            context,
            client_wants_usage,
            error: None,
        }
    }

    fn envelope(&self, choices: Value) -> Value {
        json!({
            "id": self.context.completion_id,
            "object": "chat.completion.chunk",
            "created": self.context.created,
            "model": self.context.model,
            "choices": choices,
        })
    }

    /// A chunk of one choice.
    pub fn delta(&self, delta: Value, finish_reason: Option<&str>) -> Bytes {
        sse_data(&self.envelope(json!([{
            "index": 0, "delta": delta, "finish_reason": finish_reason,
        }])))
    }

    /// Records an error the upstream reported and appends its event.
    pub fn fail(&mut self, message: String, kind: &str, out: &mut Vec<Bytes>) {
        out.push(sse_error_event(&message, kind));
        self.error = Some(message);
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Ends a stream whose upstream closed: the usage chunk (if the client asked) and `[DONE]`
    /// when the upstream `finished`; otherwise an error event saying what never came.
    pub fn end(
        &mut self,
        finished: bool,
        never_came: &str,
        usage: Option<Usage>,
        out: &mut Vec<Bytes>,
    ) {
        if self.error.is_some() {
            return;
        }
        if !finished {
            self.fail(
                format!("the upstream stream ended before {never_came}"),
                "api_error",
                out,
            );
            return;
        }
        if self.client_wants_usage {
            let mut chunk = self.envelope(json!([]));
            chunk["usage"] = usage.unwrap_or_default().to_openai();
            out.push(sse_data(&chunk));
        }
        out.push(sse_done());
    }
}

/// Test support: runs bytes through a deframer and translator in pieces of `piece` bytes, and
/// returns the client events' payloads (`[DONE]` as a string).
#[cfg(test)]
pub fn translate_in_pieces(
    translator: &mut dyn crate::providers::adapter::StreamTranslator,
    framing: crate::providers::framing::Framing,
    bytes: &[u8],
    piece: usize,
) -> Vec<Value> {
    let mut deframer = crate::providers::framing::Deframer::new(framing);
    let mut out = Vec::new();
    for chunk in bytes.chunks(piece) {
        deframer.push(chunk);
        while let Some(frame) = deframer.next_frame() {
            translator.push(frame.unwrap(), &mut out);
        }
    }
    translator.finish(&mut out);
    out.iter()
        .map(|event| {
            let data = crate::providers::sse::data_payload(event).unwrap();
            serde_json::from_slice(&data).unwrap_or(Value::String("[DONE]".into()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(client_wants_usage: bool) -> ChunkWriter {
        ChunkWriter::new(
            ReplyContext {
                completion_id: "chatcmpl-1".into(),
                model: "m".into(),
                created: 7,
            },
            client_wants_usage,
        )
    }

    #[test]
    fn ends_with_usage_and_done_or_with_one_error() {
        let mut out = Vec::new();
        writer(true).end(true, "the end", Some(Usage::new(3, 4)), &mut out);
        assert_eq!(out.len(), 2);
        assert!(std::str::from_utf8(&out[0])
            .unwrap()
            .contains("\"completion_tokens\":4"));
        assert_eq!(out[1], sse_done());

        let mut out = Vec::new();
        writer(false).end(true, "the end", None, &mut out);
        assert_eq!(out, vec![sse_done()]);

        let mut cut = writer(true);
        let mut out = Vec::new();
        cut.end(false, "message_stop", None, &mut out);
        assert_eq!(
            cut.error(),
            Some("the upstream stream ended before message_stop")
        );
        assert_eq!(out.len(), 1);

        let mut failed = writer(true);
        let mut out = Vec::new();
        failed.fail("Overloaded".into(), "api_error", &mut out);
        failed.end(true, "x", None, &mut out);
        assert_eq!(out.len(), 1, "nothing follows an upstream error");
    }
}
