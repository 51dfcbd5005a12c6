//! The test config.yaml, built from a catalogue of the deployments the mock upstream answers:
//! a test names the models it needs (`TestConfig::models`), or takes the whole catalogue.

use mock_upstream::MockUpstream;

use super::{vertex_key_json, ANTHROPIC_KEY, GEMINI_KEY, MASTER_KEY};

/// Every deployment a test may ask for: its `model_name` and the rest of its `model_list` entry
/// (`{base}`, `{root}`, `{vertex_key}`, … are filled in for the running mock).
pub const DEPLOYMENTS: &[(&str, &str)] = &[
    (
        "priced",
        r#"    litellm_params: { model: openai/priced-model, api_base: "{base}", api_key: sk-upstream }
    model_info: { input_cost_per_token: 0.00001, output_cost_per_token: 0.00003, access_groups: [beta-models] }"#,
    ),
    (
        "gpt-4o-mini",
        r#"    litellm_params: { model: openai/gpt-4o-mini, api_base: "{base}" }"#,
    ),
    (
        "fail-500",
        r#"    litellm_params: { model: openai/mock-fail-500, api_base: "{base}" }"#,
    ),
    (
        "fail-429",
        r#"    litellm_params: { model: openai/mock-fail-429, api_base: "{base}" }"#,
    ),
    (
        "fail-400",
        r#"    litellm_params: { model: openai/mock-fail-400, api_base: "{base}" }"#,
    ),
    (
        "hang",
        r#"    litellm_params: { model: openai/mock-hang, api_base: "{base}", timeout: 1, stream_timeout: 1 }"#,
    ),
    (
        "cut",
        r#"    litellm_params: { model: openai/mock-cut-stream, api_base: "{base}" }
    model_info: { input_cost_per_token: 0.00001, output_cost_per_token: 0.00003 }"#,
    ),
    (
        "slow",
        r#"    litellm_params: { model: openai/mock-slow-stream, api_base: "{base}" }
    model_info: { input_cost_per_token: 0.00001, output_cost_per_token: 0.00003 }"#,
    ),
    (
        "demo",
        r#"    litellm_params: { model: openai/demo, mock_response: "Hi from the built-in mock" }"#,
    ),
    (
        "no-tools",
        r#"    litellm_params: { model: openai/gpt-4o-mini, api_base: "{base}" }
    model_info: { supports_function_calling: false }"#,
    ),
    (
        "embed",
        r#"    litellm_params: { model: openai/text-embedding-3-small, api_base: "{base}" }
    model_info: { input_cost_per_token: 0.00001 }"#,
    ),
    (
        "embed-fail-500",
        r#"    litellm_params: { model: openai/mock-fail-500, api_base: "{base}" }
    model_info: { mode: embedding }"#,
    ),
    (
        "claude",
        r#"    litellm_params: { model: anthropic/claude-sonnet-4-5-20250929, api_base: "{root}", api_key: {anthropic_key} }"#,
    ),
    (
        "claude-cached",
        r#"    litellm_params: { model: anthropic/mock-cached, api_base: "{root}", api_key: {anthropic_key} }
    model_info: { input_cost_per_token: 0.000003, output_cost_per_token: 0.000015, cache_read_input_token_cost: 0.0000003, cache_creation_input_token_cost: 0.00000375 }"#,
    ),
    (
        "claude-fail-500",
        r#"    litellm_params: { model: anthropic/mock-fail-500, api_base: "{root}", api_key: {anthropic_key} }"#,
    ),
    (
        "claude-fail-400",
        r#"    litellm_params: { model: anthropic/mock-fail-400, api_base: "{root}", api_key: {anthropic_key} }"#,
    ),
    (
        "claude-cut",
        r#"    litellm_params: { model: anthropic/mock-cut-stream, api_base: "{root}", api_key: {anthropic_key} }
    model_info: { input_cost_per_token: 0.000003, output_cost_per_token: 0.000015 }"#,
    ),
    (
        "gemini",
        r#"    litellm_params: { model: gemini/gemini-2.5-flash, api_base: "{root}", api_key: {gemini_key} }"#,
    ),
    (
        "gemini-cached",
        r#"    litellm_params: { model: gemini/mock-cached, api_base: "{root}", api_key: {gemini_key} }
    model_info: { input_cost_per_token: 0.000001, output_cost_per_token: 0.000002, cache_read_input_token_cost: 0.0000001 }"#,
    ),
    (
        "gemini-fail-429",
        r#"    litellm_params: { model: gemini/mock-fail-429, api_base: "{root}", api_key: {gemini_key} }"#,
    ),
    (
        "cohere",
        r#"    litellm_params: { model: cohere/command-a-03-2025, api_base: "{root}", api_key: co-upstream-key }"#,
    ),
    (
        "cohere-embed",
        r#"    litellm_params: { model: cohere/embed-v4.0, api_base: "{root}", api_key: co-upstream-key }
    model_info: { input_cost_per_token: 0.00001 }"#,
    ),
    (
        "instruct",
        r#"    litellm_params: { model: openai/gpt-3.5-turbo-instruct, api_base: "{base}" }"#,
    ),
    (
        "dall-e",
        r#"    litellm_params: { model: openai/dall-e-3, api_base: "{base}" }"#,
    ),
    (
        "gpt-image",
        r#"    litellm_params: { model: openai/gpt-image-1, api_base: "{base}" }"#,
    ),
    (
        "tts",
        r#"    litellm_params: { model: openai/tts-1, api_base: "{base}" }"#,
    ),
    (
        "whisper",
        r#"    litellm_params: { model: openai/whisper-1, api_base: "{base}" }"#,
    ),
    (
        "omni-moderation-latest",
        r#"    litellm_params: { model: openai/omni-moderation-latest, api_base: "{base}" }"#,
    ),
    (
        "rerank",
        r#"    litellm_params: { model: cohere/rerank-v3.5, api_base: "{root}", api_key: co-upstream-key }"#,
    ),
    (
        "vllm-rerank",
        r#"    litellm_params: { model: hosted_vllm/BAAI/bge-reranker-v2-m3, api_base: "{base}" }
    model_info: { mode: rerank, input_cost_per_token: 0.000001 }"#,
    ),
    (
        "vertex",
        r#"    litellm_params: { model: vertex_ai/gemini-2.5-flash, vertex_project: gatehouse-test, vertex_location: europe-west4, api_base: "{root}", vertex_credentials: '{vertex_key}' }"#,
    ),
    (
        "vertex-wrong-audience",
        r#"    litellm_params: { model: vertex_ai/gemini-2.5-flash, api_base: "{root}", vertex_credentials: '{vertex_wrong_audience}' }"#,
    ),
    (
        "bedrock",
        r#"    litellm_params: { model: "bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0", api_base: "{root}", aws_access_key_id: {aws_key}, aws_secret_access_key: "{aws_secret}", aws_session_token: session-token-1, aws_region_name: eu-west-1 }"#,
    ),
    (
        "bedrock-wrong-secret",
        r#"    litellm_params: { model: "bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0", api_base: "{root}", aws_access_key_id: {aws_key}, aws_secret_access_key: not-the-secret, aws_region_name: eu-west-1 }"#,
    ),
    (
        "azure",
        r#"    litellm_params: { model: azure/gpt-4o-mini, api_base: "{root}", api_key: azure-upstream-key, api_version: "2024-10-21" }"#,
    ),
    (
        "azure-dall-e",
        r#"    litellm_params: { model: azure/dall-e-3, api_base: "{root}", api_key: azure-upstream-key }"#,
    ),
    (
        "gemini-embed",
        r#"    litellm_params: { model: gemini/gemini-embedding-001, api_base: "{root}", api_key: {gemini_key} }
    model_info: { input_cost_per_token: 0.00001 }"#,
    ),
    (
        "vertex-embed",
        r#"    litellm_params: { model: vertex_ai/text-embedding-005, vertex_project: gatehouse-test, vertex_location: europe-west4, api_base: "{root}", vertex_credentials: '{vertex_key}' }
    model_info: { input_cost_per_token: 0.00001 }"#,
    ),
    (
        "vertex-gemini-embed",
        r#"    litellm_params: { model: vertex_ai/gemini-embedding-001, vertex_project: gatehouse-test, vertex_location: europe-west4, api_base: "{root}", vertex_credentials: '{vertex_key}' }
    model_info: { input_cost_per_token: 0.00001 }"#,
    ),
    (
        "titan-embed",
        r#"    litellm_params: { model: "bedrock/amazon.titan-embed-text-v2:0", api_base: "{root}", aws_access_key_id: {aws_key}, aws_secret_access_key: "{aws_secret}", aws_region_name: eu-west-1 }
    model_info: { input_cost_per_token: 0.00001 }"#,
    ),
    (
        "bedrock-cohere-embed",
        r#"    litellm_params: { model: bedrock/cohere.embed-english-v3, api_base: "{root}", aws_access_key_id: {aws_key}, aws_secret_access_key: "{aws_secret}", aws_region_name: eu-west-1 }
    model_info: { input_cost_per_token: 0.00001 }"#,
    ),
];

/// The number of models in the whole catalogue.
pub const MODEL_COUNT: usize = DEPLOYMENTS.len();

/// A config.yaml for a test: the models it needs, and settings.
pub struct TestConfig<'a> {
    mock: &'a MockUpstream,
    models: Vec<&'static str>,
    batch_seconds: f64,
}

impl<'a> TestConfig<'a> {
    /// No models yet; spend written every 50 ms.
    pub fn new(mock: &'a MockUpstream) -> Self {
        TestConfig {
            mock,
            models: Vec::new(),
            batch_seconds: 0.05,
        }
    }

    /// Serves these models of the catalogue.
    pub fn models(mut self, names: &[&'static str]) -> Self {
        for name in names {
            assert!(
                DEPLOYMENTS.iter().any(|(known, _)| known == name),
                "no deployment `{name}` in the test catalogue"
            );
        }
        self.models.extend_from_slice(names);
        self
    }

    /// Serves every model of the catalogue.
    pub fn all_models(mut self) -> Self {
        self.models = DEPLOYMENTS.iter().map(|(name, _)| *name).collect();
        self
    }

    /// Writes spend every `seconds`.
    pub fn batch_seconds(mut self, seconds: f64) -> Self {
        self.batch_seconds = seconds;
        self
    }

    pub fn yaml(&self) -> String {
        let base = self.mock.api_base();
        let root = self.mock.root();
        let fill = |entry: &str| {
            entry
                .replace("{base}", &base)
                .replace("{root}", &root)
                .replace("{anthropic_key}", ANTHROPIC_KEY)
                .replace("{gemini_key}", GEMINI_KEY)
                .replace("{aws_key}", mock_upstream::MOCK_AWS_ACCESS_KEY_ID)
                .replace("{aws_secret}", mock_upstream::MOCK_AWS_SECRET_ACCESS_KEY)
                .replace("{vertex_key}", &vertex_key_json(&format!("{root}/token")))
                .replace(
                    "{vertex_wrong_audience}",
                    &vertex_key_json(&format!("{root}/token?audience=wrong")),
                )
        };
        let mut yaml = String::from(if self.models.is_empty() {
            "model_list: []\n"
        } else {
            "model_list:\n"
        });
        for name in &self.models {
            let (_, entry) = DEPLOYMENTS
                .iter()
                .find(|(known, _)| known == name)
                .expect("checked in models()");
            yaml.push_str(&format!("  - model_name: {name}\n{}\n", fill(entry)));
        }
        yaml.push_str(&format!(
            "general_settings:\n  master_key: {MASTER_KEY}\n  proxy_batch_write_at: {}\n",
            self.batch_seconds
        ));
        yaml
    }
}
