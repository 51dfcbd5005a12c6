//! Upstream deployments and the wire formats Gatehouse speaks to them: one adapter module per
//! format behind one trait (`adapter`), shared sending (`transport`) and stream framing (`sse`),
//! the model catalog and capability declarations, plus LiteLLM's `mock_response`.

pub mod adapter;
pub mod anthropic;
pub mod bedrock;
pub mod catalog;
pub mod chat_request;
pub mod chunks;
pub mod client_auth;
pub mod cohere;
pub mod credentials;
pub mod embedding_list;
pub mod forwarding;
pub mod frame;
pub mod framing;
pub mod gemini;
pub mod google_auth;
pub mod identity;
pub mod mock_response;
pub mod native;
pub mod openai_compat;
pub mod openai_params;
pub mod openai_responses;
pub mod probe;
pub mod sse;
pub mod transport;

use std::sync::Arc;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer};

/// An upstream response body arriving in pieces.
pub type ByteStream = futures::stream::BoxStream<'static, Result<bytes::Bytes, reqwest::Error>>;

use crate::core::capabilities::Capabilities;
use crate::core::prices::Prices;
use adapter::ChatAdapter;
use credentials::Credentials;
use native::NativeEndpoint;
use openai_compat::Quirks;

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireFormat {
    /// OpenAI's chat API, with the server's quirks.
    OpenAi(Quirks),
    /// Azure OpenAI: OpenAI's format at a deployment URL with `api-version` and `api-key`.
    Azure,
    /// Anthropic's Messages API.
    Anthropic,
    /// Google's Gemini API (AI Studio, API key).
    Gemini,
    /// The Gemini API on Vertex AI (service-account OAuth tokens, publisher-model paths).
    Vertex,
    /// Amazon Bedrock's Converse API, SigV4-signed.
    Bedrock,
    /// Cohere's v2 chat and embed API.
    Cohere,
}

/// A provider Gatehouse speaks, as named by a `model:` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownProvider {
    pub wire: WireFormat,
    /// Where its API lives when the config gives no `api_base`.
    pub default_api_base: Option<&'static str>,
}

/// Where a configured deployment's requests go.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// An HTTP API, spoken through this adapter (its URLs parsed once, at start-up).
    Http(Arc<dyn ChatAdapter>),
    /// LiteLLM's `mock_response`: answered locally.
    Mock,
}

/// LiteLLM provider prefixes, their wire format and default base URL.
const PROVIDERS: &[(&str, WireFormat, Option<&str>)] = &[
    ("openai", OPENAI, Some("https://api.openai.com/v1")),
    (
        "text-completion-openai",
        OPENAI,
        Some("https://api.openai.com/v1"),
    ),
    ("custom_openai", OPENAI, None),
    ("openai_like", OPENAI, None),
    ("hosted_vllm", OPENAI, None),
    ("vllm", OPENAI, None),
    ("lm_studio", OPENAI, Some("http://127.0.0.1:1234/v1")),
    ("ollama_chat", OPENAI, Some("http://127.0.0.1:11434/v1")),
    ("ollama", OPENAI, Some("http://127.0.0.1:11434/v1")),
    ("groq", OPENAI, Some("https://api.groq.com/openai/v1")),
    ("deepseek", OPENAI, Some("https://api.deepseek.com/v1")),
    ("xai", OPENAI, Some("https://api.x.ai/v1")),
    ("together_ai", OPENAI, Some("https://api.together.xyz/v1")),
    ("openrouter", OPENAI, Some("https://openrouter.ai/api/v1")),
    (
        "fireworks_ai",
        OPENAI,
        Some("https://api.fireworks.ai/inference/v1"),
    ),
    ("perplexity", OPENAI, Some("https://api.perplexity.ai")),
    (
        "deepinfra",
        OPENAI,
        Some("https://api.deepinfra.com/v1/openai"),
    ),
    (
        "mistral",
        WireFormat::OpenAi(Quirks::MISTRAL),
        Some("https://api.mistral.ai/v1"),
    ),
    ("azure", WireFormat::Azure, None),
    (
        "anthropic",
        WireFormat::Anthropic,
        Some("https://api.anthropic.com"),
    ),
    (
        "gemini",
        WireFormat::Gemini,
        Some("https://generativelanguage.googleapis.com"),
    ),
    // The runtime endpoint of the deployment's region.
    ("bedrock", WireFormat::Bedrock, None),
    // The regional endpoint of `vertex_location`.
    ("vertex_ai", WireFormat::Vertex, None),
    ("cohere", WireFormat::Cohere, Some("https://api.cohere.com")),
    (
        "cohere_chat",
        WireFormat::Cohere,
        Some("https://api.cohere.com"),
    ),
];

const OPENAI: WireFormat = WireFormat::OpenAi(Quirks::STANDARD);

/// Azure's `api-version` when the config sets none (the current GA version).
pub const AZURE_DEFAULT_API_VERSION: &str = "2024-10-21";
/// Azure's `api-version` for the Responses API when the config sets none (it is not in GA
/// versions before the v1 API).
pub const AZURE_RESPONSES_API_VERSION: &str = "2025-04-01-preview";

impl KnownProvider {
    /// The header an API key travels in, when it is not `Authorization: Bearer`.
    pub fn key_header(&self) -> Option<reqwest::header::HeaderName> {
        match self.wire {
            WireFormat::OpenAi(_) | WireFormat::Cohere => None,
            WireFormat::Azure => Some(reqwest::header::HeaderName::from_static("api-key")),
            WireFormat::Anthropic => Some(anthropic::API_KEY_HEADER),
            WireFormat::Gemini => Some(gemini::API_KEY_HEADER),
            WireFormat::Bedrock | WireFormat::Vertex => None,
        }
    }
}

/// The adapter for a deployment, with its URL parsed and checked once.
pub fn upstream_for(
    wire: WireFormat,
    api_base: &str,
    model_id: &str,
    api_version: Option<&str>,
    file_references: bool,
) -> Result<Upstream, String> {
    let adapter: Arc<dyn ChatAdapter> = match wire {
        WireFormat::OpenAi(quirks) => {
            let url = |path: &str| http_url(&endpoint(api_base, path));
            Arc::new(openai_compat::OpenAiCompatible {
                chat_completions_url: url("chat/completions")?,
                embeddings_url: url("embeddings")?,
                native_urls: NativeEndpoint::ALL
                    .into_iter()
                    .map(|native| Ok((native, url(native.path())?)))
                    .collect::<Result<_, String>>()?,
                quirks,
            })
        }
        WireFormat::Azure => {
            let azure_url = |path: &str, version: &str| -> Result<reqwest::Url, String> {
                let mut url = http_url(&endpoint(api_base, path))?;
                url.query_pairs_mut().append_pair("api-version", version);
                Ok(url)
            };
            let version = api_version.unwrap_or(AZURE_DEFAULT_API_VERSION);
            let deployment_url = |operation: &str| {
                azure_url(
                    &format!("openai/deployments/{model_id}/{operation}"),
                    version,
                )
            };
            let mut native_urls = [
                NativeEndpoint::Completions,
                NativeEndpoint::ImageGenerations,
                NativeEndpoint::AudioSpeech,
                NativeEndpoint::AudioTranscriptions,
            ]
            .into_iter()
            .map(|native| Ok((native, deployment_url(native.path())?)))
            .collect::<Result<Vec<_>, String>>()?;
            native_urls.push((
                NativeEndpoint::Responses,
                azure_url(
                    "openai/responses",
                    api_version.unwrap_or(AZURE_RESPONSES_API_VERSION),
                )?,
            ));
            Arc::new(openai_compat::OpenAiCompatible {
                chat_completions_url: deployment_url("chat/completions")?,
                embeddings_url: deployment_url("embeddings")?,
                native_urls,
                quirks: Quirks::STANDARD,
            })
        }
        WireFormat::Anthropic => Arc::new(anthropic::Anthropic {
            messages_url: http_url(&anthropic::Anthropic::messages_url(api_base))?,
        }),
        WireFormat::Cohere => {
            let [chat, embed, rerank] = cohere::Cohere::urls(api_base);
            Arc::new(cohere::Cohere {
                chat_url: http_url(&chat)?,
                embed_url: http_url(&embed)?,
                rerank_url: http_url(&rerank)?,
            })
        }
        WireFormat::Bedrock => {
            let [converse, stream, invoke] = bedrock::Bedrock::urls(api_base, model_id);
            Arc::new(bedrock::Bedrock {
                converse_url: http_url(&converse)?,
                stream_url: http_url(&stream)?,
                invoke_url: http_url(&invoke)?,
                embedding: bedrock::BedrockEmbedding::of(model_id),
            })
        }
        WireFormat::Vertex => {
            let [generate, stream, predict] = gemini::Gemini::vertex_urls(api_base, model_id);
            Arc::new(gemini::Gemini {
                generate_url: http_url(&generate)?,
                stream_url: http_url(&stream)?,
                embedding: gemini::GeminiEmbedding::vertex(http_url(&predict)?, model_id),
                file_references,
            })
        }
        WireFormat::Gemini => {
            let [generate, stream, embed] = gemini::Gemini::urls(api_base, model_id);
            Arc::new(gemini::Gemini {
                generate_url: http_url(&generate)?,
                stream_url: http_url(&stream)?,
                embedding: gemini::GeminiEmbedding::Batch {
                    url: http_url(&embed)?,
                    model: format!("models/{model_id}"),
                },
                file_references,
            })
        }
    };
    Ok(Upstream::Http(adapter))
}

/// Parses an upstream URL, refusing anything but http(s) with a host.
fn http_url(text: &str) -> Result<reqwest::Url, String> {
    match reqwest::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(url),
        Ok(_) => Err("is not an http(s) URL".into()),
        Err(error) => Err(format!("is not a URL ({error})")),
    }
}

/// A `litellm_params.model` value: `provider/model-id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderModel {
    pub provider: String,
    pub model_id: String,
}

impl ProviderModel {
    pub fn parse(text: &str) -> Result<ProviderModel, String> {
        match text.split_once('/') {
            Some((provider, model_id)) if !provider.is_empty() && !model_id.is_empty() => {
                Ok(ProviderModel {
                    provider: provider.to_string(),
                    model_id: model_id.to_string(),
                })
            }
            _ => Err(format!(
                "model `{text}` needs a provider prefix, e.g. `openai/{text}` or `hosted_vllm/{text}`"
            )),
        }
    }

    /// The provider, or `None` when Gatehouse does not speak its API yet.
    pub fn known_provider(&self) -> Option<KnownProvider> {
        PROVIDERS
            .iter()
            .find(|(name, _, _)| *name == self.provider)
            .map(|(_, wire, base)| KnownProvider {
                wire: *wire,
                default_api_base: *base,
            })
    }
}

impl<'de> Deserialize<'de> for ProviderModel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ProviderModel::parse(&text).map_err(de::Error::custom)
    }
}

/// One configured upstream model: a `model_list` entry.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// LiteLLM's `model_info.id`: a stored deployment's UUID, or a config entry's digest.
    pub id: String,
    /// Stored in the database (console, `/model/new`) rather than read from config.yaml.
    pub stored: bool,
    /// LiteLLM's `model_info.access_groups`.
    pub access_groups: Vec<String>,
    /// The public name clients ask for (`model_name`).
    pub model_group: String,
    /// The LiteLLM provider prefix (`openai`, `hosted_vllm`, …).
    pub provider: String,
    /// The model id sent upstream.
    pub upstream_model: String,
    pub api_base: String,
    pub credentials: Credentials,
    pub upstream: Upstream,
    /// Whole-request limit.
    pub timeout: Duration,
    /// Limit to the first byte of a stream, and between its chunks.
    pub stream_timeout: Duration,
    pub prices: Prices,
    pub capabilities: Capabilities,
    pub mock_response: Option<String>,
    /// Its `drop_params`, `additional_drop_params` and `allowed_openai_params`.
    pub params: openai_params::ParamRules,
    /// Whether its group forwards clients' `x-…` headers (`forward_client_headers_to_llm_api`).
    pub forward_client_headers: bool,
    /// What its clients may set themselves (`configurable_clientside_auth_params`).
    pub client_auth: Option<std::sync::Arc<client_auth::ClientAuthRules>>,
    /// How it shares its group's traffic.
    pub balance: Balance,
    /// What the router has seen of it: load, latency, usage, health.
    pub state: std::sync::Arc<crate::core::health::DeploymentState>,
    /// Set on a wildcard entry (`model_name: anthropic/*`): how it serves each model it matches.
    pub wildcard: Option<std::sync::Arc<dyn Specialize>>,
    /// Its id, group and api_base as response header values, rendered on first use.
    pub identity_headers: std::sync::OnceLock<identity::IdentityHeaders>,
    /// Its span attributes as OTLP encodes them (an attempt's, and a reply's), written by the
    /// tracer on first use: they are the same on every span of it.
    pub span_attributes: std::sync::OnceLock<[Box<[u8]>; 2]>,
}

/// How a wildcard entry (`model_name: anthropic/*`) serves each model it matches: the
/// deployment it becomes for `requested`, given what the pattern's `*`s `captured`.
pub trait Specialize: std::fmt::Debug + Send + Sync {
    fn specialize(
        &self,
        template: &Deployment,
        requested: &str,
        captured: &[&str],
    ) -> Result<Deployment, String>;
}

/// How a deployment shares its group's traffic: LiteLLM's `weight`, `rpm` and `tpm` (used by
/// the shuffle and usage strategies) and `order` (its priority tier: lower first).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Balance {
    pub weight: Option<f64>,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub order: Option<u32>,
}

/// `{api_base}/{path}` without doubled slashes.
pub fn endpoint(api_base: &str, path: &str) -> String {
    format!("{}/{path}", api_base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_provider_prefixes() {
        let parsed = ProviderModel::parse("hosted_vllm/meta-llama/Llama-3.1-8B").unwrap();
        assert_eq!(parsed.provider, "hosted_vllm");
        assert_eq!(parsed.model_id, "meta-llama/Llama-3.1-8B");
        assert!(ProviderModel::parse("gpt-4o").is_err());
        assert!(ProviderModel::parse("openai/").is_err());
        assert_eq!(
            ProviderModel::parse("groq/llama")
                .unwrap()
                .known_provider()
                .unwrap()
                .default_api_base,
            Some("https://api.groq.com/openai/v1")
        );
        assert_eq!(
            ProviderModel::parse("anthropic/claude")
                .unwrap()
                .known_provider()
                .unwrap()
                .wire,
            WireFormat::Anthropic
        );
        assert!(ProviderModel::parse("sagemaker/x")
            .unwrap()
            .known_provider()
            .is_none());
    }

    #[test]
    fn azure_urls_carry_the_deployment_and_api_version() {
        let Upstream::Http(adapter) = upstream_for(
            WireFormat::Azure,
            "https://example.openai.azure.com/",
            "gpt4o-prod",
            None,
            false,
        )
        .unwrap() else {
            panic!("not an HTTP upstream");
        };
        let request = adapter.chat_request(serde_json::Map::new(), false).unwrap();
        assert_eq!(
            request.url.as_str(),
            "https://example.openai.azure.com/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21"
        );
        let url = |native| adapter.native_url(native).map(reqwest::Url::as_str);
        assert_eq!(
            url(NativeEndpoint::ImageGenerations),
            Some("https://example.openai.azure.com/openai/deployments/gpt4o-prod/images/generations?api-version=2024-10-21")
        );
        assert_eq!(
            url(NativeEndpoint::Responses),
            Some(
                "https://example.openai.azure.com/openai/responses?api-version=2025-04-01-preview"
            )
        );
        assert_eq!(url(NativeEndpoint::Moderations), None);
        assert!(upstream_for(WireFormat::Anthropic, "ftp://x", "m", None, false).is_err());
    }

    #[test]
    fn joins_endpoints() {
        assert_eq!(
            endpoint("http://x/v1/", "chat/completions"),
            "http://x/v1/chat/completions"
        );
        assert_eq!(
            endpoint("http://x/v1", "chat/completions"),
            "http://x/v1/chat/completions"
        );
    }
}
