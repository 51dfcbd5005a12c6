//! Token usage: read from an upstream's response or final stream chunk, or estimated when an
//! upstream did not report it (a cut stream, a provider without usage).

use serde::Deserialize;

/// Tokens of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
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
        .filter_map(|choice| choice.delta.as_ref())
        .map(|delta| {
            delta.content.as_deref().map_or(0, str::len)
                + delta
                    .tool_calls
                    .iter()
                    .filter_map(|call| call.function.as_ref()?.arguments.as_deref())
                    .map(str::len)
                    .sum::<usize>()
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
    fn reads_usage_from_a_body() {
        let body = br#"{"id":"x","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}"#;
        assert_eq!(
            usage_of_body(body),
            Some(Usage {
                prompt_tokens: 12,
                completion_tokens: 5
            })
        );
        assert_eq!(usage_of_body(br#"{"id":"x"}"#), None);
        assert_eq!(usage_of_body(b"not json"), None);
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
        assert_eq!(
            facts.usage,
            Some(Usage {
                prompt_tokens: 3,
                completion_tokens: 2
            })
        );

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
