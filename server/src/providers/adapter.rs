//! The one interface every upstream wire format implements: build the upstream request from a
//! chat request in OpenAI's format, translate the reply and the stream back to it. Sending,
//! credentials, timeouts and error statuses are shared (`transport`), so an adapter is only
//! its translations.

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::Url;
use serde_json::{Map, Value};

use crate::core::error::ApiError;
use crate::core::provider_error::ProviderError;
use crate::core::provider_error::StreamFailure;
use crate::core::usage::Usage;
use crate::providers::frame::Frame;
use crate::providers::framing::Framing;
use crate::providers::native::NativeEndpoint;

/// A chat request in OpenAI's format, already validated, with the upstream model id set.
pub type ChatBody = Map<String, Value>;

/// An HTTP request ready to be signed and sent.
#[derive(Debug)]
pub struct UpstreamRequest {
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A whole reply translated to an OpenAI `chat.completion` body.
#[derive(Debug)]
pub struct ChatReply {
    pub body: Bytes,
    /// Usage the upstream reported, if it did.
    pub usage: Option<Usage>,
}

/// What the gateway knows about the call when it translates a reply.
#[derive(Debug, Clone)]
pub struct ReplyContext {
    /// The id given to translated replies (`chatcmpl-…`).
    pub completion_id: String,
    /// The model id reported to the client.
    pub model: String,
    /// Unix seconds.
    pub created: i64,
}

/// Translates one upstream stream into OpenAI `chat.completion.chunk` server-sent events.
pub trait StreamTranslator: Send {
    /// Appends the client events this upstream frame becomes (possibly none).
    fn push(&mut self, frame: Frame, out: &mut Vec<Bytes>);
    /// Appends what ends the client stream after the upstream ended normally.
    fn finish(&mut self, out: &mut Vec<Bytes>);
    /// Usage the upstream reported so far.
    fn usage(&self) -> Option<Usage>;
    /// Bytes of generated text and tool arguments, for an estimate when usage is missing.
    fn generated_chars(&self) -> usize;
    /// An error the upstream reported inside the stream, if it did.
    fn upstream_error(&self) -> Option<&str>;
    /// Appends the event that ends a stream the gateway could not finish (the upstream stopped
    /// or its connection failed).
    fn fail(&mut self, failure: StreamFailure, out: &mut Vec<Bytes>) {
        out.push(crate::core::error::sse_error_event(
            &failure.to_string(),
            "api_error",
        ));
    }
}

/// One wire format.
pub trait ChatAdapter: Send + Sync + std::fmt::Debug {
    /// Builds the upstream request for an OpenAI-format chat request (`stream` says whether the
    /// client asked for a stream).
    fn chat_request(&self, request: ChatBody, stream: bool) -> Result<UpstreamRequest, ApiError>;

    /// Translates a whole successful reply.
    fn chat_reply(&self, body: Bytes, context: &ReplyContext) -> Result<ChatReply, ApiError>;

    /// A translator for one streamed reply. `client_wants_usage` is OpenAI's
    /// `stream_options.include_usage`.
    fn stream_translator(
        &self,
        context: ReplyContext,
        client_wants_usage: bool,
    ) -> Box<dyn StreamTranslator>;

    /// The OpenAI parameters it honours beyond those every adapter does
    /// (`openai_params::fit`); `None`: every parameter, as an OpenAI-compatible upstream.
    fn openai_params(&self) -> Option<&'static [&'static str]> {
        None
    }

    /// How this upstream frames its stream.
    fn framing(&self) -> Framing {
        Framing::ServerSentEvents
    }

    /// The format's embeddings API, if it has one Gatehouse speaks.
    fn embeddings(&self) -> Option<&dyn EmbeddingsAdapter> {
        None
    }

    /// Where this upstream serves Anthropic's Messages API as it is, if it does: `/v1/messages`
    /// is then relayed rather than translated.
    fn anthropic_messages_url(&self) -> Option<&Url> {
        None
    }

    /// Where this upstream serves `endpoint` in OpenAI's own format, if it does.
    fn native_url(&self, _endpoint: NativeEndpoint) -> Option<&Url> {
        None
    }
}

/// An embeddings API: OpenAI's `/v1/embeddings` request in, OpenAI's embedding list out.
pub trait EmbeddingsAdapter: Send + Sync {
    /// Builds the upstream requests (the model id already set): usually one, or one per batch of
    /// inputs where the upstream takes fewer inputs per call than OpenAI.
    fn embeddings_requests(&self, request: ChatBody) -> Result<Vec<UpstreamRequest>, ApiError>;
    /// Translates the successful replies, in request order, into one embedding list.
    fn embeddings_reply(
        &self,
        replies: Vec<Bytes>,
        wanted: &EmbeddingsWanted,
    ) -> Result<ChatReply, ApiError>;
}

/// What the client's embeddings request asked of the reply, beyond its inputs.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmbeddingsWanted {
    /// Billed where the upstream reports no usage.
    pub estimated_prompt_tokens: u64,
    /// `encoding_format: "base64"`: each vector as base64 of little-endian `f32`s.
    pub base64: bool,
}

/// A JSON `POST` to `url`.
pub fn json_request(url: &Url, body: &Value) -> Result<UpstreamRequest, ApiError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        reqwest::header::CONTENT_TYPE,
        reqwest::header::HeaderValue::from_static("application/json"),
    );
    Ok(UpstreamRequest {
        url: url.clone(),
        headers,
        body: to_body(body)?,
    })
}

/// The assistant message of a translated reply, gathered from a provider's content blocks.
#[derive(Debug, Default)]
pub struct AssistantMessage {
    pub text: String,
    pub reasoning: String,
    /// OpenAI tool calls: `{id, type: "function", function: {name, arguments}}`.
    pub tool_calls: Vec<Value>,
}

impl AssistantMessage {
    /// Adds a tool call whose arguments are the provider's `input` object (`{}` when absent).
    pub fn push_tool_call(&mut self, id: &Value, name: &Value, input: Option<&Value>) {
        self.tool_calls.push(serde_json::json!({
            "id": id,
            "type": "function",
            "function": {
                "name": name,
                "arguments": input.map_or_else(|| "{}".to_string(), Value::to_string),
            },
        }));
    }

    /// OpenAI's message: `content` is null when the reply only calls tools.
    fn into_json(self) -> Value {
        let calls_only = self.text.is_empty() && !self.tool_calls.is_empty();
        let mut message = serde_json::json!({
            "role": "assistant",
            "content": if calls_only { Value::Null } else { Value::String(self.text) },
        });
        if !self.tool_calls.is_empty() {
            message["tool_calls"] = Value::Array(self.tool_calls);
        }
        if !self.reasoning.is_empty() {
            message["reasoning_content"] = Value::String(self.reasoning);
        }
        message
    }
}

/// A translated whole reply: a one-choice `chat.completion` body and the usage it reports.
pub fn chat_completion(
    id: &str,
    model: &str,
    created: i64,
    message: AssistantMessage,
    finish_reason: &str,
    usage: Option<Usage>,
) -> Result<ChatReply, ApiError> {
    let completion = serde_json::json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{ "index": 0, "message": message.into_json(), "finish_reason": finish_reason }],
        "usage": usage.unwrap_or_default().to_openai(),
    });
    Ok(ChatReply {
        body: to_body(&completion)?,
        usage,
    })
}

/// A `data: {json}` server-sent event.
pub fn sse_data(value: &Value) -> Bytes {
    let mut event = Vec::with_capacity(256);
    event.extend_from_slice(b"data: ");
    // Writing a `Value` to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut event, value);
    event.extend_from_slice(b"\n\n");
    Bytes::from(event)
}

/// The `data: [DONE]` event that ends an OpenAI stream.
pub fn sse_done() -> Bytes {
    Bytes::from_static(b"data: [DONE]\n\n")
}

/// Serialises a translated body.
pub fn to_body(value: &Value) -> Result<Bytes, ApiError> {
    serde_json::to_vec(value).map(Bytes::from).map_err(|error| {
        tracing::error!(%error, "cannot serialise a translated body");
        ApiError::Internal
    })
}

/// A reply body the adapter could not read: the upstream broke its own format.
pub fn unreadable_reply(provider: &str, error: &serde_json::Error) -> ApiError {
    tracing::warn!(%error, provider, "unreadable upstream reply");
    ApiError::Upstream(ProviderError::Malformed(format!(
        "{provider} sent a reply Gatehouse could not read"
    )))
}

/// The media type and base64 data of a `data:<media type>;base64,<data>` URL.
pub fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let (media_type, data) = url.strip_prefix("data:")?.split_once(";base64,")?;
    (!media_type.is_empty()).then_some((media_type, data))
}

/// A request field's parameter error.
pub fn invalid_request(message: impl Into<String>, param: &'static str) -> ApiError {
    ApiError::bad_request(message, Some(param))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_data_urls() {
        assert_eq!(
            parse_data_url("data:image/png;base64,iVBOR"),
            Some(("image/png", "iVBOR"))
        );
        assert_eq!(parse_data_url("data:;base64,x"), None);
        assert_eq!(parse_data_url("https://x/a.png"), None);
        assert_eq!(parse_data_url("data:image/png,rawtext"), None);
    }
}
