//! The built-in model catalog (`catalog.json`, embedded): list prices and capability defaults
//! of the current models of every native provider. A deployment starts from its model's entry
//! and overrides it with `model_info`.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::core::capabilities::{Capabilities, Mode};
use crate::core::prices::{dollars_per_mtok_to_micros, dollars_per_token_to_micros, Prices};

/// One model's row in the catalog. Prices are US dollars per million tokens.
#[derive(Debug, Clone, Deserialize)]
pub struct CatalogEntry {
    pub provider: String,
    pub mode: Mode,
    #[serde(default)]
    pub input: Option<f64>,
    #[serde(default)]
    pub output: Option<f64>,
    #[serde(default)]
    pub cached_input: Option<f64>,
    #[serde(default)]
    pub cache_write: Option<f64>,
    /// Dollars per generated image.
    #[serde(default)]
    pub per_image: Option<f64>,
    /// Dollars per second of transcribed audio.
    #[serde(default)]
    pub per_second: Option<f64>,
    /// Dollars per million characters turned into speech.
    #[serde(default)]
    pub per_million_characters: Option<f64>,
    /// Dollars per thousand requests (rerank searches).
    #[serde(default)]
    pub per_thousand_requests: Option<f64>,
    #[serde(default)]
    pub max_input_tokens: Option<u64>,
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
    #[serde(default)]
    pub tools: Option<bool>,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub vision: Option<bool>,
    #[serde(default)]
    pub json_schema: Option<bool>,
    #[serde(default)]
    pub reasoning: Option<bool>,
}

impl CatalogEntry {
    /// The entry's prices in micro-dollars per million units.
    pub fn prices(&self) -> Result<Prices, String> {
        let micros = |dollars: Option<f64>| dollars.map(dollars_per_mtok_to_micros).transpose();
        let per_unit = |dollars: Option<f64>| {
            dollars
                .map(dollars_per_token_to_micros)
                .transpose()
                .map(Option::unwrap_or_default)
        };
        Ok(Prices {
            input_micros_per_mtok: micros(self.input)?.unwrap_or(0),
            output_micros_per_mtok: micros(self.output)?.unwrap_or(0),
            cached_input_micros_per_mtok: micros(self.cached_input)?,
            cache_write_micros_per_mtok: micros(self.cache_write)?,
            image_micros_per_m: per_unit(self.per_image)?,
            audio_second_micros_per_m: per_unit(self.per_second)?,
            character_micros_per_m: micros(self.per_million_characters)?.unwrap_or(0),
            request_micros_per_m: per_unit(self.per_thousand_requests.map(|per_k| per_k / 1e3))?,
        })
    }

    /// The entry's capabilities; what it does not state is assumed absent.
    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            mode: Some(self.mode),
            streaming: true,
            tools: self.tools.unwrap_or(false),
            parallel_tool_calls: self.parallel_tool_calls.unwrap_or(false),
            vision: self.vision.unwrap_or(false),
            json_schema: self.json_schema.unwrap_or(false),
            reasoning: self.reasoning.unwrap_or(false),
            max_input_tokens: self.max_input_tokens,
            max_output_tokens: self.max_output_tokens,
        }
    }
}

#[derive(Deserialize)]
struct CatalogFile {
    models: HashMap<String, CatalogEntry>,
}

static CATALOG: LazyLock<HashMap<String, CatalogEntry>> = LazyLock::new(|| {
    match serde_json::from_str::<CatalogFile>(include_str!("catalog.json")) {
        Ok(file) => file.models,
        Err(error) => {
            // A test reads the file, so this only happens to a broken build.
            tracing::error!(%error, "the built-in model catalog is unreadable");
            HashMap::new()
        }
    }
});

/// Region prefixes of Bedrock cross-region inference profiles (`us.anthropic.claude-…`).
const BEDROCK_REGION_PREFIXES: &[&str] =
    &["us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au."];

/// The catalog entry for a deployment's model: `provider/model` first (providers that price a
/// shared model id differently), then the bare id, then a Bedrock id without its region prefix.
/// `base_model` (LiteLLM's `model_info.base_model`, for Azure deployment names) wins.
pub fn lookup(
    provider: &str,
    model_id: &str,
    base_model: Option<&str>,
) -> Option<&'static CatalogEntry> {
    if let Some(base) = base_model {
        if let Some(entry) = CATALOG
            .get(base)
            .or_else(|| base.split_once('/').and_then(|(_, id)| CATALOG.get(id)))
        {
            return Some(entry);
        }
    }
    CATALOG
        .get(&format!("{provider}/{model_id}"))
        .or_else(|| CATALOG.get(model_id))
        .or_else(|| without_date_suffix(model_id).and_then(|id| CATALOG.get(id)))
        .or_else(|| {
            BEDROCK_REGION_PREFIXES
                .iter()
                .find_map(|prefix| model_id.strip_prefix(prefix))
                .and_then(|id| CATALOG.get(id))
        })
}

/// `o4-mini` for a dated snapshot id like `o4-mini-2025-04-16`.
fn without_date_suffix(model_id: &str) -> Option<&str> {
    let split = model_id.len().checked_sub(11)?;
    if !model_id.is_char_boundary(split) {
        return None;
    }
    let (base, date) = model_id.split_at(split);
    let date = date.as_bytes();
    let shaped = date[0] == b'-'
        && date[5] == b'-'
        && date[8] == b'-'
        && [1, 2, 3, 4, 6, 7, 9, 10]
            .iter()
            .all(|index| date[*index].is_ascii_digit());
    shaped.then_some(base)
}

/// Every catalog entry, by model id (for `/model/info`'s built-in view and tests).
pub fn entries() -> impl Iterator<Item = (&'static str, &'static CatalogEntry)> {
    CATALOG.iter().map(|(id, entry)| (id.as_str(), entry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_complete_and_priced_sensibly() {
        let file: CatalogFile = serde_json::from_str(include_str!("catalog.json")).unwrap();
        assert!(file.models.len() >= 60, "{} models", file.models.len());
        for (id, entry) in &file.models {
            entry
                .prices()
                .unwrap_or_else(|error| panic!("{id}: {error}"));
            if entry.mode == Mode::Chat {
                assert!(
                    entry.input.is_some() && entry.output.is_some(),
                    "{id}: prices"
                );
                assert!(entry.max_input_tokens.is_some(), "{id}: max_input_tokens");
                assert!(
                    entry.tools.is_some() && entry.vision.is_some(),
                    "{id}: capabilities"
                );
            }
        }
        let providers: std::collections::BTreeSet<&str> = file
            .models
            .values()
            .map(|entry| entry.provider.as_str())
            .collect();
        for provider in [
            "openai",
            "anthropic",
            "gemini",
            "bedrock",
            "mistral",
            "cohere",
        ] {
            assert!(providers.contains(provider), "no {provider} models");
        }
    }

    #[test]
    fn looks_up_by_provider_id_and_region_prefix() {
        let gpt = lookup("openai", "gpt-4o", None).unwrap();
        assert_eq!(gpt.prices().unwrap().input_micros_per_mtok, 2_500_000);
        assert_eq!(
            gpt.prices().unwrap().cached_input_micros_per_mtok,
            Some(1_250_000)
        );
        let sonnet = lookup("anthropic", "claude-sonnet-4-5-20250929", None).unwrap();
        assert_eq!(
            sonnet.prices().unwrap().cache_write_micros_per_mtok,
            Some(3_750_000)
        );
        assert!(sonnet.capabilities().tools);
        let bedrock = lookup(
            "bedrock",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            None,
        );
        assert_eq!(bedrock.unwrap().provider, "bedrock");
        let azure = lookup("azure", "my-deployment", Some("azure/gpt-4o")).unwrap();
        assert_eq!(azure.prices().unwrap().output_micros_per_mtok, 10_000_000);
        assert!(lookup("openai", "no-such-model", None).is_none());
        assert_eq!(
            lookup("openai", "o4-mini-2025-04-16", None).unwrap().input,
            lookup("openai", "o4-mini", None).unwrap().input
        );
        assert!(lookup("openai", "gpt-4o-2024-xx-06", None).is_none());
    }

    #[test]
    fn golden_reply_with_cached_and_reasoning_tokens_costs_the_hand_computed_amount() {
        let body = include_str!("../../tests/fixtures/openai/response_cached_reasoning.json");
        let model: serde_json::Value = serde_json::from_str(body).unwrap();
        let usage = crate::core::usage::usage_of_body(body.as_bytes()).unwrap();
        assert_eq!((usage.prompt_tokens, usage.cached_tokens), (2006, 1920));
        assert_eq!(
            (usage.completion_tokens, usage.reasoning_tokens),
            (1187, 960)
        );
        let prices = lookup("openai", model["model"].as_str().unwrap(), None)
            .unwrap()
            .prices()
            .unwrap();
        // o4-mini: $1.10/M input, $0.275/M cached input, $4.40/M output (reasoning included):
        //   86 fresh × 1.10 = 94.6 µ$;  1,920 cached × 0.275 = 528 µ$;
        //   1,187 out × 4.40 = 5,222.8 µ$;  total 5,845.4 µ$ → 5,845 µ$.
        assert_eq!(prices.cost_micros(&usage), 5_845);
    }
}
