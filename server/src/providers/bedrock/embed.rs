//! OpenAI embeddings ↔ Bedrock's `InvokeModel` for its embedding models, whose bodies are the
//! model vendor's: Amazon Titan (`{inputText}`, one text per call, with its token count) and
//! Cohere Embed (`{texts, input_type}`, up to 96 texts per call, no usage reported).

use bytes::Bytes;
use reqwest::header::{HeaderValue, ACCEPT};
use reqwest::Url;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::core::error::ApiError;
use crate::providers::adapter::{json_request, unreadable_reply, ChatBody, UpstreamRequest};
use crate::providers::embedding_list::{dimensions, passed_option, take_texts};

/// Cohere Embed on Bedrock takes at most this many texts per call.
const COHERE_TEXTS_PER_CALL: usize = 96;

/// The request body family of a Bedrock embedding model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BedrockEmbedding {
    Titan,
    Cohere,
}

impl BedrockEmbedding {
    /// The family of `model_id` (`amazon.titan-embed-text-v2:0`, `cohere.embed-english-v3`,
    /// with or without a cross-region prefix), or `None` for a model that does not embed.
    pub fn of(model_id: &str) -> Option<BedrockEmbedding> {
        if model_id.contains("titan-embed") {
            Some(BedrockEmbedding::Titan)
        } else if model_id.contains("cohere.embed") {
            Some(BedrockEmbedding::Cohere)
        } else {
            None
        }
    }

    pub fn requests(
        self,
        invoke_url: &Url,
        mut request: ChatBody,
    ) -> Result<Vec<UpstreamRequest>, ApiError> {
        let texts = take_texts(&mut request, "Bedrock")?;
        let size = dimensions(&request);
        let bodies: Vec<Value> = match self {
            BedrockEmbedding::Titan => texts
                .into_iter()
                .map(|text| {
                    let mut body = Map::new();
                    body.insert("inputText".into(), json!(text));
                    if let Some(size) = size {
                        body.insert("dimensions".into(), json!(size));
                    }
                    Value::Object(body)
                })
                .collect(),
            BedrockEmbedding::Cohere => {
                let input_type = passed_option(&request, "input_type")
                    .unwrap_or_else(|| json!("search_document"));
                texts
                    .chunks(COHERE_TEXTS_PER_CALL)
                    .map(|batch| {
                        let mut body = json!({ "texts": batch, "input_type": input_type,
                                               "embedding_types": ["float"] });
                        if let Some(size) = size {
                            body["output_dimension"] = json!(size);
                        }
                        body
                    })
                    .collect()
            }
        };
        bodies
            .iter()
            .map(|body| {
                let mut request = json_request(invoke_url, body)?;
                request
                    .headers
                    .insert(ACCEPT, HeaderValue::from_static("application/json"));
                Ok(request)
            })
            .collect()
    }

    /// The vectors in input order, and the prompt tokens Bedrock reported (Titan only).
    pub fn vectors(self, replies: &[Bytes]) -> Result<(Vec<Value>, Option<u64>), ApiError> {
        let unreadable = |error: serde_json::Error| unreadable_reply("bedrock", &error);
        match self {
            BedrockEmbedding::Titan => {
                let mut vectors = Vec::with_capacity(replies.len());
                let mut tokens = 0;
                for reply in replies {
                    let titan: TitanResponse = serde_json::from_slice(reply).map_err(unreadable)?;
                    tokens += titan.input_text_token_count;
                    vectors.push(titan.embedding);
                }
                Ok((vectors, Some(tokens)))
            }
            BedrockEmbedding::Cohere => {
                let mut vectors = Vec::new();
                for reply in replies {
                    let cohere: CohereResponse =
                        serde_json::from_slice(reply).map_err(unreadable)?;
                    vectors.extend(match cohere.embeddings {
                        CohereEmbeddings::Floats(floats) => floats,
                        CohereEmbeddings::ByType { float } => float,
                    });
                }
                Ok((vectors, None))
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TitanResponse {
    embedding: Value,
    #[serde(default)]
    input_text_token_count: u64,
}

#[derive(Deserialize)]
struct CohereResponse {
    embeddings: CohereEmbeddings,
}

/// `embeddings_floats` (a list of vectors) or `embeddings_by_type` (`{float: [...]}`).
#[derive(Deserialize)]
#[serde(untagged)]
enum CohereEmbeddings {
    Floats(Vec<Value>),
    ByType { float: Vec<Value> },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::embedding_list::test_support::{body as request, sent};

    fn invoke_url() -> Url {
        Url::parse("http://b/model/amazon.titan-embed-text-v2%3A0/invoke").unwrap()
    }

    #[test]
    fn knows_the_embedding_families() {
        let titan = Some(BedrockEmbedding::Titan);
        assert_eq!(BedrockEmbedding::of("amazon.titan-embed-text-v2:0"), titan);
        let cohere = Some(BedrockEmbedding::Cohere);
        assert_eq!(BedrockEmbedding::of("us.cohere.embed-v4:0"), cohere);
        assert_eq!(
            BedrockEmbedding::of("anthropic.claude-sonnet-4-5-20250929-v1:0"),
            None
        );
    }

    #[test]
    fn titan_is_called_once_per_text_and_counts_tokens() {
        let requests = BedrockEmbedding::Titan
            .requests(
                &invoke_url(),
                request(json!({"model": "m", "input": ["a", "b"], "dimensions": 256})),
            )
            .unwrap();
        assert_eq!(requests.len(), 2);
        assert_eq!(
            sent(&requests[1]),
            json!({"inputText": "b", "dimensions": 256})
        );
        assert_eq!(requests[0].headers[ACCEPT], "application/json");

        let fixture = include_str!("../../../tests/fixtures/bedrock/titan_embed_response.json");
        let golden: Value = serde_json::from_str(fixture).unwrap();
        let (vectors, tokens) = BedrockEmbedding::Titan
            .vectors(&[Bytes::from(fixture), Bytes::from(fixture)])
            .unwrap();
        assert_eq!(
            vectors,
            vec![golden["embedding"].clone(), golden["embedding"].clone()]
        );
        assert_eq!(
            tokens,
            Some(2 * golden["inputTextTokenCount"].as_u64().unwrap())
        );
    }

    #[test]
    fn cohere_batches_texts_and_reads_both_reply_shapes() {
        let texts: Vec<String> = (0..100).map(|i| format!("t{i}")).collect();
        let requests = BedrockEmbedding::Cohere
            .requests(
                &invoke_url(),
                request(json!({"model": "m", "input": texts, "input_type": "search_query"})),
            )
            .unwrap();
        assert_eq!(requests.len(), 2);
        let first = sent(&requests[0]);
        assert_eq!(first["texts"].as_array().unwrap().len(), 96);
        assert_eq!(first["input_type"], "search_query");
        assert_eq!(first["embedding_types"], json!(["float"]));
        assert_eq!(
            sent(&requests[1])["texts"],
            json!(["t96", "t97", "t98", "t99"])
        );

        let fixture = include_str!("../../../tests/fixtures/bedrock/cohere_embed_response.json");
        let golden: Value = serde_json::from_str(fixture).unwrap();
        let (vectors, tokens) = BedrockEmbedding::Cohere
            .vectors(&[Bytes::from(fixture)])
            .unwrap();
        assert_eq!(vectors[1], golden["embeddings"]["float"][1]);
        assert_eq!(tokens, None);
        let floats = json!({"id": "x", "response_type": "embeddings_floats", "texts": ["a"],
                            "embeddings": [[0.5, 0.25]]});
        let (vectors, _) = BedrockEmbedding::Cohere
            .vectors(&[Bytes::from(floats.to_string())])
            .unwrap();
        assert_eq!(vectors, vec![json!([0.5, 0.25])]);
    }
}
