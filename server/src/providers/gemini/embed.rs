//! OpenAI embeddings ↔ Google's: `batchEmbedContents` on Google AI Studio (each input one
//! request of the batch, naming the model) and `predict` on Vertex AI (each input one instance,
//! with its token count). Float vectors come back as OpenAI's embedding list.

use bytes::Bytes;
use reqwest::Url;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::core::error::ApiError;
use crate::providers::adapter::{json_request, unreadable_reply, ChatBody, UpstreamRequest};
use crate::providers::embedding_list::{dimensions, passed_option, take_texts};

/// Vertex AI's `gemini-embedding-*` models take one instance per `predict` call; its older text
/// embedding models take up to 250.
const VERTEX_INSTANCES_PER_CALL: usize = 250;

/// How a Gemini deployment embeds.
#[derive(Debug)]
pub enum GeminiEmbedding {
    /// Google AI Studio: `…/models/{model}:batchEmbedContents`, every request naming
    /// `models/{model}`.
    Batch { url: Url, model: String },
    /// Vertex AI: `…/models/{model}:predict`, at most `per_call` instances per call.
    Predict { url: Url, per_call: usize },
}

impl GeminiEmbedding {
    /// Vertex AI's embedding method for `model_id`.
    pub fn vertex(url: Url, model_id: &str) -> GeminiEmbedding {
        let per_call = if model_id.starts_with("gemini-embedding") {
            1
        } else {
            VERTEX_INSTANCES_PER_CALL
        };
        GeminiEmbedding::Predict { url, per_call }
    }

    pub fn requests(&self, mut request: ChatBody) -> Result<Vec<UpstreamRequest>, ApiError> {
        let texts = take_texts(&mut request, "Gemini")?;
        let size = dimensions(&request);
        let task_type = passed_option(&request, "task_type");
        match self {
            GeminiEmbedding::Batch { url, model } => {
                let requests: Vec<Value> = texts
                    .into_iter()
                    .map(|text| {
                        let mut one = Map::new();
                        one.insert("model".into(), json!(model));
                        one.insert("content".into(), json!({ "parts": [{ "text": text }] }));
                        if let Some(task_type) = &task_type {
                            one.insert("taskType".into(), task_type.clone());
                        }
                        if let Some(size) = size {
                            one.insert("outputDimensionality".into(), json!(size));
                        }
                        Value::Object(one)
                    })
                    .collect();
                Ok(vec![json_request(url, &json!({ "requests": requests }))?])
            }
            GeminiEmbedding::Predict { url, per_call } => texts
                .chunks(*per_call)
                .map(|batch| {
                    let instances: Vec<Value> = batch
                        .iter()
                        .map(|text| match &task_type {
                            Some(task_type) => json!({ "content": text, "task_type": task_type }),
                            None => json!({ "content": text }),
                        })
                        .collect();
                    let mut body = json!({ "instances": instances });
                    if let Some(size) = size {
                        body["parameters"] = json!({ "outputDimensionality": size });
                    }
                    json_request(url, &body)
                })
                .collect(),
        }
    }

    /// The vectors in input order, and the prompt tokens Google reported (Vertex only).
    pub fn vectors(&self, replies: &[Bytes]) -> Result<(Vec<Value>, Option<u64>), ApiError> {
        match self {
            GeminiEmbedding::Batch { .. } => {
                let mut vectors = Vec::new();
                for reply in replies {
                    let batch: BatchEmbedResponse = serde_json::from_slice(reply)
                        .map_err(|error| unreadable_reply("gemini", &error))?;
                    vectors.extend(batch.embeddings.into_iter().map(|e| e.values));
                }
                Ok((vectors, None))
            }
            GeminiEmbedding::Predict { .. } => {
                let mut vectors = Vec::new();
                let mut tokens = 0;
                for reply in replies {
                    let predicted: PredictResponse = serde_json::from_slice(reply)
                        .map_err(|error| unreadable_reply("vertex_ai", &error))?;
                    for prediction in predicted.predictions {
                        tokens += prediction
                            .embeddings
                            .statistics
                            .map_or(0, |s| s.token_count);
                        vectors.push(prediction.embeddings.values);
                    }
                }
                Ok((vectors, Some(tokens)))
            }
        }
    }
}

#[derive(Deserialize)]
struct BatchEmbedResponse {
    embeddings: Vec<ContentEmbedding>,
}

#[derive(Deserialize)]
struct ContentEmbedding {
    values: Value,
}

#[derive(Deserialize)]
struct PredictResponse {
    predictions: Vec<Prediction>,
}

#[derive(Deserialize)]
struct Prediction {
    embeddings: VertexEmbedding,
}

#[derive(Deserialize)]
struct VertexEmbedding {
    values: Value,
    statistics: Option<Statistics>,
}

#[derive(Deserialize)]
struct Statistics {
    #[serde(default)]
    token_count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::embedding_list::test_support::{body as request, sent};

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn studio_batches_every_input_naming_the_model() {
        let studio = GeminiEmbedding::Batch {
            url: url("http://g/v1beta/models/gemini-embedding-001:batchEmbedContents"),
            model: "models/gemini-embedding-001".into(),
        };
        let requests = studio
            .requests(request(
                json!({"model": "gemini-embedding-001", "input": ["a", "b"],
                "dimensions": 768, "task_type": "RETRIEVAL_QUERY"}),
            ))
            .unwrap();
        assert_eq!(requests.len(), 1);
        assert_eq!(
            sent(&requests[0])["requests"][1],
            json!({"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]},
                   "taskType": "RETRIEVAL_QUERY", "outputDimensionality": 768})
        );
    }

    #[test]
    fn golden_batch_reply_gives_the_vectors_in_order() {
        let fixture = include_str!("../../../tests/fixtures/gemini/batch_embed_response.json");
        let golden: Value = serde_json::from_str(fixture).unwrap();
        let studio = GeminiEmbedding::Batch {
            url: url("http://g/"),
            model: "models/m".into(),
        };
        let (vectors, tokens) = studio.vectors(&[Bytes::from(fixture)]).unwrap();
        assert_eq!(vectors.len(), 2);
        assert_eq!(vectors[1], golden["embeddings"][1]["values"]);
        assert_eq!(tokens, None);
    }

    #[test]
    fn vertex_gemini_embedding_is_called_once_per_input_and_counts_tokens() {
        let vertex = GeminiEmbedding::vertex(url("http://v/m:predict"), "gemini-embedding-001");
        let requests = vertex
            .requests(request(
                json!({"model": "m", "input": ["a", "b", "c"], "dimensions": 256}),
            ))
            .unwrap();
        assert_eq!(requests.len(), 3);
        assert_eq!(
            sent(&requests[2]),
            json!({"instances": [{"content": "c"}], "parameters": {"outputDimensionality": 256}})
        );
        let batched = GeminiEmbedding::vertex(url("http://v/m:predict"), "text-embedding-005");
        let requests = batched
            .requests(request(json!({"model": "m", "input": ["a", "b"]})))
            .unwrap();
        assert_eq!(requests.len(), 1);
        assert_eq!(sent(&requests[0])["instances"][1]["content"], "b");

        let fixture =
            include_str!("../../../tests/fixtures/vertex/predict_embeddings_response.json");
        let golden: Value = serde_json::from_str(fixture).unwrap();
        let (vectors, tokens) = batched
            .vectors(&[Bytes::from(fixture), Bytes::from(fixture)])
            .unwrap();
        assert_eq!(
            vectors.len(),
            2 * golden["predictions"].as_array().unwrap().len()
        );
        assert_eq!(vectors[0], golden["predictions"][0]["embeddings"]["values"]);
        let golden_tokens: u64 = golden["predictions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                p["embeddings"]["statistics"]["token_count"]
                    .as_u64()
                    .unwrap()
            })
            .sum();
        assert_eq!(tokens, Some(2 * golden_tokens));
    }
}
