//! Anthropic's Messages API (`anthropic/` models): the request translated from OpenAI's chat
//! format (system messages hoisted, `max_tokens` defaulted, tools, tool results and images as
//! content blocks), the reply and the event stream translated back.

mod relay;
mod reply;
mod request;
mod stream;

pub use relay::{error_event, MessagesRelay};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::Url;

use crate::core::error::ApiError;
use crate::core::usage::Usage;
use crate::providers::adapter::{
    to_body, ChatAdapter, ChatBody, ChatReply, ReplyContext, StreamTranslator, UpstreamRequest,
};

/// The API version Gatehouse speaks (`anthropic-version`).
pub const API_VERSION: &str = "2023-06-01";
/// `max_tokens` when the client sets none (Anthropic requires it; LiteLLM's default).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;
/// The tool a `response_format: json_schema` request makes Anthropic call; its input is the
/// reply's JSON content.
pub const JSON_SCHEMA_TOOL: &str = "gatehouse_json_response";
/// The header that carries the API key.
pub const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");

#[derive(Debug)]
pub struct Anthropic {
    /// `{api_base}/v1/messages`, parsed once at start-up.
    pub messages_url: Url,
}

impl Anthropic {
    /// The Messages URL for an `api_base` given as the host, `…/v1` or the full URL.
    pub fn messages_url(api_base: &str) -> String {
        let base = api_base.trim_end_matches('/');
        if base.ends_with("/v1/messages") {
            base.to_string()
        } else if base.ends_with("/v1") {
            format!("{base}/messages")
        } else {
            format!("{base}/v1/messages")
        }
    }
}

/// What a whole Messages reply is billed by: its usage, in OpenAI's terms.
pub fn messages_usage(body: &[u8]) -> Option<Usage> {
    #[derive(serde::Deserialize)]
    struct UsageProbe {
        usage: Option<reply::AnthropicUsage>,
    }
    let probe: UsageProbe = serde_json::from_slice(body).ok()?;
    probe.usage.map(reply::AnthropicUsage::to_usage)
}

impl ChatAdapter for Anthropic {
    fn openai_params(&self) -> Option<&'static [&'static str]> {
        Some(crate::providers::openai_params::ANTHROPIC_PARAMS)
    }

    fn anthropic_messages_url(&self) -> Option<&Url> {
        Some(&self.messages_url)
    }

    fn chat_request(&self, request: ChatBody, stream: bool) -> Result<UpstreamRequest, ApiError> {
        let body = request::to_messages_request(request, stream)?;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(API_VERSION),
        );
        Ok(UpstreamRequest {
            url: self.messages_url.clone(),
            headers,
            body: to_body(&body)?,
        })
    }

    fn chat_reply(&self, body: Bytes, context: &ReplyContext) -> Result<ChatReply, ApiError> {
        reply::to_chat_completion(&body, context)
    }

    fn stream_translator(
        &self,
        context: ReplyContext,
        client_wants_usage: bool,
    ) -> Box<dyn StreamTranslator> {
        Box::new(stream::MessageStream::new(context, client_wants_usage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_messages_url_from_any_base() {
        for base in [
            "https://api.anthropic.com",
            "https://api.anthropic.com/",
            "https://api.anthropic.com/v1",
            "https://api.anthropic.com/v1/messages",
        ] {
            assert_eq!(
                Anthropic::messages_url(base),
                "https://api.anthropic.com/v1/messages"
            );
        }
    }
}
