//! Amazon Bedrock's Converse API (`bedrock/` models): `converse` and `converse-stream`, signed
//! with SigV4, the stream framed as AWS event-stream messages. Requests are translated from
//! OpenAI's chat format (system blocks, text/image/tool-use/tool-result content blocks, inference
//! and tool configuration); replies and stream events back.

mod embed;
mod reply;
mod request;
mod stream;

pub use embed::BedrockEmbedding;

use bytes::Bytes;
use reqwest::header::{HeaderValue, ACCEPT};
use reqwest::Url;

use crate::core::error::ApiError;
use crate::providers::adapter::{
    json_request, ChatAdapter, ChatBody, ChatReply, EmbeddingsAdapter, EmbeddingsWanted,
    ReplyContext, StreamTranslator, UpstreamRequest,
};
use crate::providers::embedding_list::embedding_list;
use crate::providers::framing::Framing;

/// The SigV4 signing name of Bedrock's runtime API.
pub const SIGNING_NAME: &str = "bedrock";

#[derive(Debug)]
pub struct Bedrock {
    /// `{base}/model/{model id}/converse`.
    pub converse_url: Url,
    /// `{base}/model/{model id}/converse-stream`.
    pub stream_url: Url,
    /// `{base}/model/{model id}/invoke`, for the model's own body format.
    pub invoke_url: Url,
    /// How the model embeds, if it is an embedding model.
    pub embedding: Option<BedrockEmbedding>,
}

impl Bedrock {
    /// The runtime endpoint of a region.
    pub fn default_api_base(region: &str) -> String {
        format!("https://bedrock-runtime.{region}.amazonaws.com")
    }

    /// The converse, converse-stream and invoke URLs; the model id is one percent-encoded path
    /// segment (its `:` too, as AWS's SDKs send it, so the signature's canonical path matches
    /// the service's).
    pub fn urls(api_base: &str, model_id: &str) -> [String; 3] {
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
        ["converse", "converse-stream", "invoke"].map(|operation| format!("{base}/{operation}"))
    }
}

impl ChatAdapter for Bedrock {
    fn openai_params(&self) -> Option<&'static [&'static str]> {
        Some(crate::providers::openai_params::BEDROCK_PARAMS)
    }

    fn chat_request(&self, request: ChatBody, stream: bool) -> Result<UpstreamRequest, ApiError> {
        let body = request::to_converse(request)?;
        if !stream {
            return json_request(&self.converse_url, &body);
        }
        let mut request = json_request(&self.stream_url, &body)?;
        request.headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/vnd.amazon.eventstream"),
        );
        Ok(request)
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

    fn embeddings(&self) -> Option<&dyn EmbeddingsAdapter> {
        self.embedding.map(|_| self as &dyn EmbeddingsAdapter)
    }
}

impl EmbeddingsAdapter for Bedrock {
    fn embeddings_requests(&self, request: ChatBody) -> Result<Vec<UpstreamRequest>, ApiError> {
        self.embedding
            .ok_or(ApiError::Internal)?
            .requests(&self.invoke_url, request)
    }

    fn embeddings_reply(
        &self,
        replies: Vec<Bytes>,
        wanted: &EmbeddingsWanted,
    ) -> Result<ChatReply, ApiError> {
        let (vectors, reported_tokens) = self
            .embedding
            .ok_or(ApiError::Internal)?
            .vectors(&replies)?;
        embedding_list(vectors, reported_tokens, wanted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_are_one_encoded_segment() {
        let [converse, stream, invoke] = Bedrock::urls(
            &Bedrock::default_api_base("eu-west-1"),
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        );
        assert_eq!(
            converse,
            "https://bedrock-runtime.eu-west-1.amazonaws.com/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"
        );
        assert!(stream.ends_with("-v1%3A0/converse-stream"));
        assert!(invoke.ends_with("-v1%3A0/invoke"));
        let [arn, ..] = Bedrock::urls(
            "http://x",
            "arn:aws:bedrock:us-east-1:1:inference-profile/p",
        );
        assert_eq!(
            arn,
            "http://x/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fp/converse"
        );
    }
}
