//! Cohere's v2 API (`cohere/` models): `/v2/chat` (streamed as typed SSE events) and
//! `/v2/embed`. Its chat format is close to OpenAI's, so requests keep their messages and tools
//! and drop what Cohere refuses; replies, stream events and usage (the billed units) are mapped.

mod embed;
mod reply;
mod request;
mod stream;

use bytes::Bytes;
use reqwest::Url;

use crate::core::error::ApiError;
use crate::providers::adapter::{
    json_request, ChatAdapter, ChatBody, ChatReply, EmbeddingsAdapter, EmbeddingsWanted,
    ReplyContext, StreamTranslator, UpstreamRequest,
};
use crate::providers::embedding_list::only_reply;
use crate::providers::native::NativeEndpoint;

#[derive(Debug)]
pub struct Cohere {
    /// `{api_base}/v2/chat`.
    pub chat_url: Url,
    /// `{api_base}/v2/embed`.
    pub embed_url: Url,
    /// `{api_base}/v2/rerank`, which takes and returns the format of `/v1/rerank` as it is.
    pub rerank_url: Url,
}

impl Cohere {
    /// The chat, embed and rerank URLs under an `api_base` given as the host or `…/v2`.
    pub fn urls(api_base: &str) -> [String; 3] {
        let base = api_base.trim_end_matches('/');
        let base = base.strip_suffix("/v2").unwrap_or(base);
        ["chat", "embed", "rerank"].map(|operation| format!("{base}/v2/{operation}"))
    }
}

impl ChatAdapter for Cohere {
    fn openai_params(&self) -> Option<&'static [&'static str]> {
        Some(crate::providers::openai_params::COHERE_PARAMS)
    }

    fn chat_request(&self, request: ChatBody, stream: bool) -> Result<UpstreamRequest, ApiError> {
        json_request(&self.chat_url, &request::to_cohere_chat(request, stream)?)
    }

    fn chat_reply(&self, body: Bytes, context: &ReplyContext) -> Result<ChatReply, ApiError> {
        reply::to_chat_completion(&body, context)
    }

    fn stream_translator(
        &self,
        context: ReplyContext,
        client_wants_usage: bool,
    ) -> Box<dyn StreamTranslator> {
        Box::new(stream::ChatStream::new(context, client_wants_usage))
    }

    fn embeddings(&self) -> Option<&dyn EmbeddingsAdapter> {
        Some(self)
    }

    fn native_url(&self, endpoint: NativeEndpoint) -> Option<&Url> {
        (endpoint == NativeEndpoint::Rerank).then_some(&self.rerank_url)
    }
}

impl EmbeddingsAdapter for Cohere {
    fn embeddings_requests(&self, request: ChatBody) -> Result<Vec<UpstreamRequest>, ApiError> {
        Ok(vec![json_request(
            &self.embed_url,
            &embed::to_cohere_embed(request)?,
        )?])
    }

    fn embeddings_reply(
        &self,
        replies: Vec<Bytes>,
        wanted: &EmbeddingsWanted,
    ) -> Result<ChatReply, ApiError> {
        embed::to_embedding_list(&only_reply(replies)?, wanted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_operation_urls() {
        for base in ["https://api.cohere.com", "https://api.cohere.com/v2/"] {
            assert_eq!(
                Cohere::urls(base),
                [
                    "https://api.cohere.com/v2/chat",
                    "https://api.cohere.com/v2/embed",
                    "https://api.cohere.com/v2/rerank"
                ]
            );
        }
    }
}
