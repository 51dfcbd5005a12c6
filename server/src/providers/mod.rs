//! Upstream deployments and the wire formats Gatehouse speaks to them. Foundation speaks the
//! OpenAI-compatible family (OpenAI, vLLM, Groq, DeepSeek, …) plus LiteLLM's `mock_response`.

pub mod mock_response;
pub mod openai_compat;
pub mod sse;

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer};

/// An upstream response body arriving in pieces; errors are described in words.
pub type ByteStream = futures::stream::BoxStream<'static, Result<bytes::Bytes, String>>;

use crate::metering::prices::Prices;

/// A secret value (upstream key, master key, database URL) that never prints itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Secret(***)")
    }
}

/// A provider Gatehouse speaks, as named by a `model:` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownProvider {
    /// Where its API lives when the config gives no `api_base`.
    pub default_api_base: Option<&'static str>,
}

/// Where a configured deployment's requests go.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// An OpenAI-compatible HTTP API, at this chat-completions URL (parsed once, at start-up).
    OpenAiCompatible { chat_completions_url: reqwest::Url },
    /// LiteLLM's `mock_response`: answered locally.
    Mock,
}

/// LiteLLM provider prefixes that speak the OpenAI chat API, with their default base URL.
const OPENAI_COMPATIBLE: &[(&str, Option<&str>)] = &[
    ("openai", Some("https://api.openai.com/v1")),
    ("text-completion-openai", Some("https://api.openai.com/v1")),
    ("custom_openai", None),
    ("openai_like", None),
    ("hosted_vllm", None),
    ("vllm", None),
    ("lm_studio", Some("http://127.0.0.1:1234/v1")),
    ("ollama_chat", Some("http://127.0.0.1:11434/v1")),
    ("groq", Some("https://api.groq.com/openai/v1")),
    ("deepseek", Some("https://api.deepseek.com/v1")),
    ("xai", Some("https://api.x.ai/v1")),
    ("together_ai", Some("https://api.together.xyz/v1")),
    ("openrouter", Some("https://openrouter.ai/api/v1")),
    (
        "fireworks_ai",
        Some("https://api.fireworks.ai/inference/v1"),
    ),
    ("perplexity", Some("https://api.perplexity.ai")),
    ("mistral", Some("https://api.mistral.ai/v1")),
    ("deepinfra", Some("https://api.deepinfra.com/v1/openai")),
];

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

    /// The provider, or `None` when Gatehouse does not speak its API yet (every known one
    /// speaks the OpenAI-compatible wire format for now).
    pub fn known_provider(&self) -> Option<KnownProvider> {
        OPENAI_COMPATIBLE
            .iter()
            .find(|(name, _)| *name == self.provider)
            .map(|(_, base)| KnownProvider {
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
    /// The public name clients ask for (`model_name`).
    pub model_group: String,
    /// The LiteLLM provider prefix (`openai`, `hosted_vllm`, …).
    pub provider: String,
    /// The model id sent upstream.
    pub upstream_model: String,
    pub api_base: String,
    pub api_key: Option<Secret>,
    pub upstream: Upstream,
    /// Whole-request limit.
    pub timeout: Duration,
    /// Limit to the first byte of a stream, and between its chunks.
    pub stream_timeout: Duration,
    pub prices: Prices,
    pub mock_response: Option<String>,
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
        assert!(ProviderModel::parse("anthropic/claude")
            .unwrap()
            .known_provider()
            .is_none());
    }

    #[test]
    fn secrets_do_not_print() {
        let secret = Secret::new("sk-very-secret".into());
        assert!(!format!("{secret:?}").contains("very"));
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
