//! Amazon Bedrock's Converse API (`bedrock/` models): `converse` and `converse-stream`, signed
//! with SigV4, the stream framed as AWS event-stream messages. Requests are translated from
//! OpenAI's chat format (system blocks, text/image/tool-use/tool-result content blocks, inference
//! and tool configuration); replies and stream events back.

mod reply;
mod request;
mod stream;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::Url;

use crate::error::ApiError;
use crate::providers::adapter::{
    to_body, ChatAdapter, ChatBody, ChatReply, ReplyContext, StreamTranslator, UpstreamRequest,
};
use crate::providers::framing::Framing;

/// The SigV4 signing name of Bedrock's runtime API.
pub const SIGNING_NAME: &str = "bedrock";

#[derive(Debug)]
pub struct Bedrock {
    /// `{base}/model/{model id}/converse`.
    pub converse_url: Url,
    /// `{base}/model/{model id}/converse-stream`.
    pub stream_url: Url,
}

impl Bedrock {
    /// The runtime endpoint of a region.
    pub fn default_api_base(region: &str) -> String {
        format!("https://bedrock-runtime.{region}.amazonaws.com")
    }

    /// The two operation URLs; the model id is one percent-encoded path segment (its `:` too,
    /// as AWS's SDKs send it, so the signature's canonical path matches the service's).
    pub fn urls(api_base: &str, model_id: &str) -> (String, String) {
        let encoded: String = model_id
            .bytes()
            .map(|byte| match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    char::from(byte).to_string()
                }
                other => format!("%{other:02X}"),
            })
            .collect();
        let base = format!("{}/model/{encoded}", api_base.trim_end_matches('/'));
        (
            format!("{base}/converse"),
            format!("{base}/converse-stream"),
        )
    }
}

impl ChatAdapter for Bedrock {
    fn chat_request(&self, request: ChatBody, stream: bool) -> Result<UpstreamRequest, ApiError> {
        let body = request::to_converse(request)?;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if stream {
            headers.insert(
                ACCEPT,
                HeaderValue::from_static("application/vnd.amazon.eventstream"),
            );
        }
        Ok(UpstreamRequest {
            url: if stream {
                self.stream_url.clone()
            } else {
                self.converse_url.clone()
            },
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
        Box::new(stream::ConverseStream::new(context, client_wants_usage))
    }

    fn framing(&self) -> Framing {
        Framing::AwsEventStream
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_are_one_encoded_segment() {
        let (converse, stream) = Bedrock::urls(
            &Bedrock::default_api_base("eu-west-1"),
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        );
        assert_eq!(
            converse,
            "https://bedrock-runtime.eu-west-1.amazonaws.com/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"
        );
        assert!(stream.ends_with("-v1%3A0/converse-stream"));
        let (arn, _) = Bedrock::urls(
            "http://x",
            "arn:aws:bedrock:us-east-1:1:inference-profile/p",
        );
        assert_eq!(
            arn,
            "http://x/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fp/converse"
        );
    }
}
