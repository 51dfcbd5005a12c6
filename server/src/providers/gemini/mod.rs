//! Google's Gemini API (`gemini/` models, Google AI Studio): `generateContent` and
//! `streamGenerateContent?alt=sse` with an API key. The request is translated from OpenAI's chat
//! format (system instruction, `user`/`model` contents of parts, function declarations and
//! responses, inline images, JSON schema output, thinking budgets); replies and chunks back.

mod embed;
mod reply;
mod request;
mod stream;

pub use embed::GeminiEmbedding;

use bytes::Bytes;
use reqwest::header::HeaderName;
use reqwest::Url;

use crate::core::error::ApiError;
use crate::providers::adapter::{
    json_request, ChatAdapter, ChatBody, ChatReply, EmbeddingsAdapter, EmbeddingsWanted,
    ReplyContext, StreamTranslator, UpstreamRequest,
};
use crate::providers::embedding_list::embedding_list;

/// The header that carries the API key.
pub const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-goog-api-key");
/// Joins a tool-call id and the Gemini thought signature it carries (LiteLLM's convention), so
/// the signature returns to Gemini with the call in the next turn.
pub const THOUGHT_SIGNATURE_SEPARATOR: &str = "__thought__";

#[derive(Debug)]
pub struct Gemini {
    /// `…/models/{model}:generateContent`.
    pub generate_url: Url,
    /// `…/models/{model}:streamGenerateContent?alt=sse`.
    pub stream_url: Url,
    /// `…/models/{model}:batchEmbedContents` (AI Studio) or `:predict` (Vertex AI).
    pub embedding: GeminiEmbedding,
    /// Requests may name provider-side files (`allow_file_references`).
    pub file_references: bool,
}

impl Gemini {
    /// Vertex AI's generate, stream and embed URLs under a publisher base
    /// (`https://{location}-aiplatform.googleapis.com/v1/projects/{p}/locations/{l}/publishers/google`).
    pub fn vertex_urls(publisher_base: &str, model_id: &str) -> [String; 3] {
        let prefix = format!("{}/models/{model_id}", publisher_base.trim_end_matches('/'));
        Self::method_urls(&prefix, "predict")
    }

    /// The generate, stream and embed URLs under `{api_base}/v1beta/models/{model}`. An
    /// `api_base` that already names a version (`…/v1` or `…/v1beta`) is used as it is.
    pub fn urls(api_base: &str, model_id: &str) -> [String; 3] {
        let base = api_base.trim_end_matches('/');
        let versioned = base.ends_with("/v1") || base.ends_with("/v1beta");
        let prefix = if versioned {
            format!("{base}/models/{model_id}")
        } else {
            format!("{base}/v1beta/models/{model_id}")
        };
        Self::method_urls(&prefix, "batchEmbedContents")
    }

    fn method_urls(model_prefix: &str, embed_method: &str) -> [String; 3] {
        [
            format!("{model_prefix}:generateContent"),
            format!("{model_prefix}:streamGenerateContent?alt=sse"),
            format!("{model_prefix}:{embed_method}"),
        ]
    }
}

impl ChatAdapter for Gemini {
    fn openai_params(&self) -> Option<&'static [&'static str]> {
        Some(crate::providers::openai_params::GEMINI_PARAMS)
    }

    fn chat_request(&self, request: ChatBody, stream: bool) -> Result<UpstreamRequest, ApiError> {
        let url = if stream {
            &self.stream_url
        } else {
            &self.generate_url
        };
        if !self.file_references {
            request::refuse_file_references(&request)?;
        }
        json_request(url, &request::to_generate_content(request)?)
    }

    fn chat_reply(&self, body: Bytes, context: &ReplyContext) -> Result<ChatReply, ApiError> {
        reply::to_chat_completion(&body, context)
    }

    fn stream_translator(
        &self,
        context: ReplyContext,
        client_wants_usage: bool,
    ) -> Box<dyn StreamTranslator> {
        Box::new(stream::GenerateStream::new(context, client_wants_usage))
    }

    fn embeddings(&self) -> Option<&dyn EmbeddingsAdapter> {
        Some(self)
    }
}

impl EmbeddingsAdapter for Gemini {
    fn embeddings_requests(&self, request: ChatBody) -> Result<Vec<UpstreamRequest>, ApiError> {
        self.embedding.requests(request)
    }

    fn embeddings_reply(
        &self,
        replies: Vec<Bytes>,
        wanted: &EmbeddingsWanted,
    ) -> Result<ChatReply, ApiError> {
        let (vectors, reported_tokens) = self.embedding.vectors(&replies)?;
        embedding_list(vectors, reported_tokens, wanted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_method_urls() {
        let [generate, stream, embed] = Gemini::urls(
            "https://generativelanguage.googleapis.com",
            "gemini-2.5-flash",
        );
        assert_eq!(
            embed,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:batchEmbedContents"
        );
        assert_eq!(
            generate,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(
            stream,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        let [generate, ..] = Gemini::urls("http://127.0.0.1:9/v1beta/", "m");
        assert_eq!(
            generate,
            "http://127.0.0.1:9/v1beta/models/m:generateContent"
        );
    }
}
