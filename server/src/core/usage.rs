//! Token usage: read from an OpenAI-format response or final stream chunk (including cached and
//! reasoning token details), or estimated when an upstream did not report it (a cut stream, a
//! provider without usage).

use serde::Deserialize;

/// Tokens of one request. Like OpenAI's usage, the prompt count includes cached input and the
/// completion count includes reasoning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "WireUsage")]
pub struct Usage {
    /// Every input token, including those read from or written to a prompt cache.
    pub prompt_tokens: u64,
    /// Every output token, including reasoning.
    pub completion_tokens: u64,
    /// Input tokens read from the provider's prompt cache.
    pub cached_tokens: u64,
    /// Input tokens written to the provider's prompt cache.
    pub cache_write_tokens: u64,
    /// Output tokens spent on reasoning.
    pub reasoning_tokens: u64,
    /// What non-token endpoints bill by (images, audio seconds, characters, requests).
    pub units: Units,
}

/// The largest count of any kind one request is billed for: far beyond any real request, far
/// below what would overflow a sum of them.
pub const MAX_REPORTED: u64 = 1_000_000_000_000;

/// Billable quantities that are not tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Units {
    /// Images generated.
    pub images: u64,
    /// Milliseconds of audio transcribed.
    pub audio_millis: u64,
    /// Characters of text turned into speech.
    pub characters: u64,
    /// Requests billed per request (rerank search units).
    pub requests: u64,
}

impl Units {
    pub fn is_zero(&self) -> bool {
        *self == Units::default()
    }
}

impl Usage {
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Usage {
        Usage {
            prompt_tokens,
            completion_tokens,
            ..Usage::default()
        }
    }

    /// The usage with every count at most `MAX_REPORTED`: an upstream's figure is never trusted
    /// to fit the sums it joins (rollups, budgets, rate limits).
    pub fn bounded(self) -> Usage {
        let bound = |count: u64| count.min(MAX_REPORTED);
        Usage {
            prompt_tokens: bound(self.prompt_tokens),
            completion_tokens: bound(self.completion_tokens),
            cached_tokens: bound(self.cached_tokens),
            cache_write_tokens: bound(self.cache_write_tokens),
            reasoning_tokens: bound(self.reasoning_tokens),
            units: Units {
                images: bound(self.units.images),
                audio_millis: bound(self.units.audio_millis),
                characters: bound(self.units.characters),
                requests: bound(self.units.requests),
            },
        }
    }

    /// The OpenAI `usage` object, with the details OpenAI and LiteLLM report.
    pub fn to_openai(&self) -> serde_json::Value {
        let mut usage = serde_json::json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens.saturating_add(self.completion_tokens),
            "prompt_tokens_details": { "cached_tokens": self.cached_tokens },
            "completion_tokens_details": { "reasoning_tokens": self.reasoning_tokens },
        });
        if self.cache_write_tokens > 0 || self.cached_tokens > 0 {
            usage["cache_creation_input_tokens"] = self.cache_write_tokens.into();
            usage["cache_read_input_tokens"] = self.cached_tokens.into();
        }
        usage
    }
}

/// OpenAI's usage object and the variants compatible servers send: chat completions'
/// `prompt_tokens`, the Responses, Images and audio APIs' `input_tokens`, and transcriptions'
/// `{"type": "duration", "seconds": …}`.
#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    input_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    output_tokens_details: Option<CompletionDetails>,
    #[serde(default)]
    seconds: Option<f64>,
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionDetails>,
    /// Anthropic-style cache write count (LiteLLM and Anthropic-backed servers).
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    /// DeepSeek's cache hits.
    #[serde(default)]
    prompt_cache_hit_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl From<WireUsage> for Usage {
    fn from(wire: WireUsage) -> Self {
        let cached = wire
            .prompt_tokens_details
            .or(wire.input_tokens_details)
            .and_then(|details| details.cached_tokens)
            .or(wire.prompt_cache_hit_tokens);
        let audio_millis = wire
            .seconds
            .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
            .map_or(0, |seconds| (seconds * 1000.0).round() as u64);
        Usage {
            prompt_tokens: wire.prompt_tokens.or(wire.input_tokens).unwrap_or(0),
            completion_tokens: wire.completion_tokens.or(wire.output_tokens).unwrap_or(0),
            cached_tokens: cached.unwrap_or(0),
            cache_write_tokens: wire.cache_creation_input_tokens.unwrap_or(0),
            reasoning_tokens: wire
                .completion_tokens_details
                .or(wire.output_tokens_details)
                .and_then(|details| details.reasoning_tokens)
                .unwrap_or(0),
            units: Units {
                audio_millis,
                ..Units::default()
            },
        }
    }
}

#[derive(Deserialize)]
struct UsageProbe {
    usage: Option<Usage>,
}

/// The `usage` object of a chat completion body.
pub fn usage_of_body(body: &[u8]) -> Option<Usage> {
    serde_json::from_slice::<UsageProbe>(body).ok()?.usage
}

/// What the relay needs from one streamed chunk.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ChunkFacts {
    pub usage: Option<Usage>,
    /// True for the usage-only chunk (`choices: []`) that `include_usage` adds.
    pub usage_only: bool,
    /// Characters of generated text and tool arguments, for estimates.
    pub generated_chars: usize,
}

#[derive(Deserialize)]
struct ChunkProbe {
    #[serde(default)]
    choices: Vec<ChoiceProbe>,
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct ChoiceProbe {
    delta: Option<DeltaProbe>,
    /// A text-completion chunk's text.
    text: Option<String>,
}

#[derive(Deserialize)]
struct DeltaProbe {
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<ToolCallProbe>,
}

#[derive(Deserialize)]
struct ToolCallProbe {
    function: Option<FunctionProbe>,
}

#[derive(Deserialize)]
struct FunctionProbe {
    arguments: Option<String>,
}

/// Reads a chat-completion chunk's JSON; `None` if it is not one.
pub fn inspect_chunk(data: &[u8]) -> Option<ChunkFacts> {
    let chunk: ChunkProbe = serde_json::from_slice(data).ok()?;
    let generated_chars = chunk
        .choices
        .iter()
        .map(|choice| {
            let text = choice.text.as_deref().map_or(0, str::len);
            text + choice.delta.as_ref().map_or(0, |delta| {
                delta.content.as_deref().map_or(0, str::len)
                    + delta
                        .tool_calls
                        .iter()
                        .filter_map(|call| call.function.as_ref()?.arguments.as_deref())
                        .map(str::len)
                        .sum::<usize>()
            })
        })
        .sum();
    Some(ChunkFacts {
        usage_only: chunk.usage.is_some() && chunk.choices.is_empty(),
        usage: chunk.usage,
        generated_chars,
    })
}

/// A rough token count for text of this many bytes (about four bytes a token).
pub fn estimate_tokens(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reported_counts_are_bounded_before_they_join_any_sum() {
        let wire: Usage = serde_json::from_value(serde_json::json!({
            "prompt_tokens": u64::MAX, "completion_tokens": u64::MAX,
            "prompt_tokens_details": { "cached_tokens": u64::MAX },
        }))
        .unwrap();
        let bounded = wire.bounded();
        assert_eq!(bounded.prompt_tokens, MAX_REPORTED);
        assert_eq!(bounded.cached_tokens, MAX_REPORTED);
        // A thousand such requests still sum within an i64 (what the rollups hold).
        assert!(i64::try_from(bounded.prompt_tokens.saturating_mul(1_000)).is_ok());
        assert_eq!(
            wire.to_openai()["total_tokens"],
            serde_json::json!(u64::MAX),
            "totals saturate rather than overflow"
        );
    }

    #[test]
    fn reads_usage_from_a_body() {
        let body = br#"{"id":"x","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}"#;
        assert_eq!(usage_of_body(body), Some(Usage::new(12, 5)));
        assert_eq!(usage_of_body(br#"{"id":"x"}"#), None);
        assert_eq!(usage_of_body(b"not json"), None);
    }

    #[test]
    fn reads_cached_and_reasoning_details() {
        let body = br#"{"usage":{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,
            "prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0},
            "completion_tokens_details":{"reasoning_tokens":192,"audio_tokens":0}}}"#;
        let usage = usage_of_body(body).unwrap();
        assert_eq!(usage.cached_tokens, 1920);
        assert_eq!(usage.reasoning_tokens, 192);
        assert_eq!(usage.cache_write_tokens, 0);

        let deepseek = br#"{"usage":{"prompt_tokens":100,"completion_tokens":5,"prompt_cache_hit_tokens":64,"prompt_cache_miss_tokens":36}}"#;
        assert_eq!(usage_of_body(deepseek).unwrap().cached_tokens, 64);

        let nulls =
            br#"{"usage":{"prompt_tokens":3,"completion_tokens":1,"prompt_tokens_details":null}}"#;
        assert_eq!(usage_of_body(nulls), Some(Usage::new(3, 1)));
    }

    #[test]
    fn writes_openai_usage_with_details() {
        let usage = Usage {
            prompt_tokens: 100,
            completion_tokens: 20,
            cached_tokens: 60,
            cache_write_tokens: 10,
            reasoning_tokens: 5,
            ..Usage::default()
        };
        let written = usage.to_openai();
        assert_eq!(written["total_tokens"], 120);
        assert_eq!(written["prompt_tokens_details"]["cached_tokens"], 60);
        assert_eq!(written["completion_tokens_details"]["reasoning_tokens"], 5);
        assert_eq!(written["cache_creation_input_tokens"], 10);
        let round_trip: Usage = serde_json::from_value(written).unwrap();
        assert_eq!(round_trip, usage);
    }

    #[test]
    fn inspects_stream_chunks() {
        let text = br#"{"choices":[{"index":0,"delta":{"content":"Hello"}}],"usage":null}"#;
        let facts = inspect_chunk(text).unwrap();
        assert_eq!(facts.generated_chars, 5);
        assert!(!facts.usage_only);
        assert_eq!(facts.usage, None);

        let usage = br#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#;
        let facts = inspect_chunk(usage).unwrap();
        assert!(facts.usage_only);
        assert_eq!(facts.usage, Some(Usage::new(3, 2)));

        let tool = br#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":1}"}}]}}]}"#;
        assert_eq!(inspect_chunk(tool).unwrap().generated_chars, 7);
    }

    #[test]
    fn estimates_round_up() {
        assert_eq!(estimate_tokens(0), 0);
        assert_eq!(estimate_tokens(1), 1);
        assert_eq!(estimate_tokens(8), 2);
    }
}
