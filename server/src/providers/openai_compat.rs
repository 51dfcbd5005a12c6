//! The OpenAI wire format, spoken by OpenAI, Azure OpenAI and the OpenAI-compatible family
//! (Groq, DeepSeek, xAI, Together, OpenRouter, vLLM, Ollama, …). Requests and replies pass
//! through unchanged apart from the model id and a request for the stream's usage; the relay
//! only reads each chunk for usage and strips the usage chunk the client did not ask for.

use bytes::Bytes;
use reqwest::Url;
use serde_json::{Map, Value};

use crate::core::error::ApiError;
use crate::core::usage::{inspect_chunk, usage_of_body, Usage};
use crate::providers::adapter::{
    json_request, ChatAdapter, ChatBody, ChatReply, EmbeddingsAdapter, EmbeddingsWanted,
    ReplyContext, StreamTranslator, UpstreamRequest,
};
use crate::providers::embedding_list::only_reply;
use crate::providers::frame::Frame;
use crate::providers::native::NativeEndpoint;
use crate::providers::sse::data_payload;

/// Differences between servers that speak the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quirks {
    /// The server accepts `stream_options.include_usage` (Mistral reports usage unasked and
    /// refuses the field).
    pub accepts_stream_options: bool,
    /// The server spells `tool_choice: "required"` as `"any"` (Mistral).
    pub tool_choice_required_is_any: bool,
}

impl Quirks {
    pub const STANDARD: Quirks = Quirks {
        accepts_stream_options: true,
        tool_choice_required_is_any: false,
    };
    pub const MISTRAL: Quirks = Quirks {
        accepts_stream_options: false,
        tool_choice_required_is_any: true,
    };
}

#[derive(Debug)]
pub struct OpenAiCompatible {
    /// The chat-completions URL, parsed once at start-up (Azure's carries `api-version`).
    pub chat_completions_url: Url,
    /// The embeddings URL, likewise.
    pub embeddings_url: Url,
    /// The other OpenAI endpoints this server is asked to serve in their own format.
    pub native_urls: Vec<(NativeEndpoint, Url)>,
    pub quirks: Quirks,
}

impl ChatAdapter for OpenAiCompatible {
    fn chat_request(
        &self,
        mut request: ChatBody,
        stream: bool,
    ) -> Result<UpstreamRequest, ApiError> {
        if stream && self.quirks.accepts_stream_options {
            let options = request
                .entry("stream_options")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(options) = options {
                options.insert("include_usage".into(), Value::Bool(true));
            } else {
                *options = serde_json::json!({ "include_usage": true });
            }
        }
        if !self.quirks.accepts_stream_options {
            request.remove("stream_options");
        }
        if self.quirks.tool_choice_required_is_any
            && request.get("tool_choice").and_then(Value::as_str) == Some("required")
        {
            request.insert("tool_choice".into(), Value::String("any".into()));
        }
        json_request(&self.chat_completions_url, &Value::Object(request))
    }

    fn chat_reply(&self, body: Bytes, _context: &ReplyContext) -> Result<ChatReply, ApiError> {
        Ok(ChatReply {
            usage: usage_of_body(&body),
            body,
        })
    }

    fn stream_translator(
        &self,
        _context: ReplyContext,
        client_wants_usage: bool,
    ) -> Box<dyn StreamTranslator> {
        pass_through(client_wants_usage)
    }

    fn embeddings(&self) -> Option<&dyn EmbeddingsAdapter> {
        Some(self)
    }

    fn native_url(&self, endpoint: NativeEndpoint) -> Option<&Url> {
        self.native_urls
            .iter()
            .find(|(served, _)| *served == endpoint)
            .map(|(_, url)| url)
    }
}

impl EmbeddingsAdapter for OpenAiCompatible {
    fn embeddings_requests(&self, request: ChatBody) -> Result<Vec<UpstreamRequest>, ApiError> {
        Ok(vec![json_request(
            &self.embeddings_url,
            &Value::Object(request),
        )?])
    }

    fn embeddings_reply(
        &self,
        replies: Vec<Bytes>,
        _wanted: &EmbeddingsWanted,
    ) -> Result<ChatReply, ApiError> {
        let body = only_reply(replies)?;
        Ok(ChatReply {
            usage: usage_of_body(&body),
            body,
        })
    }
}

/// A translator that relays OpenAI chunks unchanged (also used for `mock_response` streams).
pub fn pass_through(client_wants_usage: bool) -> Box<dyn StreamTranslator> {
    Box::new(PassThrough {
        client_wants_usage,
        usage: None,
        generated_chars: 0,
        error: None,
    })
}

/// Relays OpenAI chunks as they are.
struct PassThrough {
    client_wants_usage: bool,
    usage: Option<Usage>,
    generated_chars: usize,
    error: Option<String>,
}

impl StreamTranslator for PassThrough {
    fn push(&mut self, frame: Frame, out: &mut Vec<Bytes>) {
        let Frame::Sse(event) = frame else {
            return;
        };
        if self.should_forward(&event) {
            out.push(event);
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
}

impl PassThrough {
    /// Records what an event tells about usage; false for the usage-only chunk the client did
    /// not ask for.
    fn should_forward(&mut self, event: &[u8]) -> bool {
        let Some(data) = data_payload(event) else {
            return true;
        };
        if data.as_ref() == b"[DONE]" {
            return true;
        }
        let Some(facts) = inspect_chunk(&data) else {
            if let Some(message) = crate::providers::transport::upstream_message(&data) {
                self.error = Some(message);
            }
            return true;
        };
        self.generated_chars += facts.generated_chars;
        if facts.usage.is_some() {
            self.usage = facts.usage;
        }
        !facts.usage_only || self.client_wants_usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(quirks: Quirks) -> OpenAiCompatible {
        OpenAiCompatible {
            chat_completions_url: "http://upstream.test/v1/chat/completions".parse().unwrap(),
            embeddings_url: "http://upstream.test/v1/embeddings".parse().unwrap(),
            native_urls: Vec::new(),
            quirks,
        }
    }

    fn body(json: Value) -> ChatBody {
        match json {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn context() -> ReplyContext {
        ReplyContext {
            completion_id: "chatcmpl-1".into(),
            model: "m".into(),
            created: 0,
        }
    }

    #[test]
    fn streams_ask_the_upstream_for_usage() {
        let request = adapter(Quirks::STANDARD)
            .chat_request(
                body(serde_json::json!({"model":"m","messages":[],"stream":true,"x_custom":1})),
                true,
            )
            .unwrap();
        let sent: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(sent["stream_options"]["include_usage"], true);
        assert_eq!(sent["x_custom"], 1);
        assert_eq!(request.url.path(), "/v1/chat/completions");
    }

    #[test]
    fn mistral_gets_its_spelling() {
        let request = adapter(Quirks::MISTRAL)
            .chat_request(
                body(serde_json::json!({"model":"m","messages":[],"stream":true,
                    "stream_options":{"include_usage":true},"tool_choice":"required"})),
                true,
            )
            .unwrap();
        let sent: Value = serde_json::from_slice(&request.body).unwrap();
        assert!(sent.get("stream_options").is_none());
        assert_eq!(sent["tool_choice"], "any");
    }

    #[test]
    fn strips_only_the_unrequested_usage_chunk() {
        let text =
            Bytes::from_static(b"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n");
        let usage = Bytes::from_static(
            b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":1}}\n\n",
        );
        let mut translator = adapter(Quirks::STANDARD).stream_translator(context(), false);
        let mut out = Vec::new();
        translator.push(Frame::Sse(text.clone()), &mut out);
        translator.push(Frame::Sse(usage.clone()), &mut out);
        translator.push(
            Frame::Sse(Bytes::from_static(b"data: [DONE]\n\n")),
            &mut out,
        );
        assert_eq!(out, vec![text, Bytes::from_static(b"data: [DONE]\n\n")]);
        assert_eq!(translator.generated_chars(), 2);
        assert_eq!(translator.usage(), Some(Usage::new(4, 1)));

        let mut wants = adapter(Quirks::STANDARD).stream_translator(context(), true);
        let mut out = Vec::new();
        wants.push(Frame::Sse(usage.clone()), &mut out);
        assert_eq!(out, vec![usage]);
    }

    #[test]
    fn golden_tool_call_stream_is_relayed_with_its_usage() {
        let fixture = include_str!("../../tests/fixtures/openai/stream_tool_calls.sse");
        let mut splitter = crate::providers::sse::SseSplitter::default();
        splitter.push(fixture.as_bytes());
        let mut translator = adapter(Quirks::STANDARD).stream_translator(context(), false);
        let mut out = Vec::new();
        let mut events = 0;
        while let Some(event) = splitter.next_event() {
            events += 1;
            translator.push(Frame::Sse(event), &mut out);
        }
        // Everything but the usage-only chunk reaches the client.
        assert_eq!(out.len(), events - 1);
        let usage = translator.usage().unwrap();
        assert!(usage.prompt_tokens > 0 && usage.completion_tokens > 0);
        assert!(translator.generated_chars() > 0);
    }
}
