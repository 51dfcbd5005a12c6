//! Redaction of stored payloads (`store_prompts_in_spend_logs`): every string in a request or
//! response has credentials (API keys, bearer tokens, JWTs, AWS access keys), e-mail addresses
//! and long digit runs (card and phone numbers) replaced, and is cut to a bounded length.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

/// Characters a stored string keeps at most.
const MAX_STRING_CHARS: usize = 16_384;

/// What each pattern's matches become.
static PATTERNS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}", "[REDACTED_TOKEN]"),
        (
            r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",
            "[REDACTED_TOKEN]",
        ),
        (r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}", "[REDACTED_KEY]"),
        (r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", "[REDACTED_KEY]"),
        (r"\bgh[pousr]_[A-Za-z0-9]{30,}\b", "[REDACTED_KEY]"),
        (r"\bxox[abprs]-[A-Za-z0-9-]{10,}", "[REDACTED_KEY]"),
        (r"\bAIza[0-9A-Za-z_-]{35}\b", "[REDACTED_KEY]"),
        (
            r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
            "[REDACTED_EMAIL]",
        ),
        (r"\+?\b\d(?:[ -]?\d){8,18}\b", "[REDACTED_NUMBER]"),
    ]
    .into_iter()
    .filter_map(|(pattern, replacement)| match Regex::new(pattern) {
        Ok(regex) => Some((regex, replacement)),
        Err(error) => {
            tracing::error!(%error, pattern, "redaction pattern does not compile");
            None
        }
    })
    .collect()
});

/// `value` with every string redacted.
pub fn redact(value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(redact_text(&text)),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(name, value)| (without_nul(name), redact(value)))
                .collect(),
        ),
        other => other,
    }
}

/// A text without NUL characters, which PostgreSQL's jsonb refuses.
fn without_nul(text: String) -> String {
    if text.contains('\0') {
        text.replace('\0', "\u{FFFD}")
    } else {
        text
    }
}

fn redact_text(text: &str) -> String {
    let mut text = without_nul(match text.char_indices().nth(MAX_STRING_CHARS) {
        Some((cut, _)) => format!("{}…[truncated]", &text[..cut]),
        None => text.to_string(),
    });
    for (pattern, replacement) in PATTERNS.iter() {
        if pattern.is_match(&text) {
            text = pattern.replace_all(&text, *replacement).into_owned();
        }
    }
    text
}

/// A reply body (JSON) redacted, or `None` when it is not JSON.
pub fn redact_body(body: &[u8]) -> Option<Value> {
    serde_json::from_slice(body).ok().map(redact)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_and_personal_data_are_replaced() {
        let request = json!({
            "model": "gpt-4o",
            "max_tokens": 12,
            "messages": [{
                "role": "user",
                "content": "Mail jane.doe@example.com, card 4111 1111 1111 1111, key sk-abcdefghijklmnopqrstuvwx, \
                            Authorization: Bearer abc.def-ghijklmnop, aws AKIAABCDEFGHIJKLMNOP, call +44 20 7946 0958"
            }]
        });
        let redacted = redact(request);
        let content = redacted["messages"][0]["content"].as_str().unwrap();
        for secret in [
            "jane.doe",
            "4111",
            "sk-abcdef",
            "abc.def-ghijklmnop",
            "AKIAABCD",
            "7946",
        ] {
            assert!(!content.contains(secret), "{secret} survived: {content}");
        }
        for mark in [
            "[REDACTED_EMAIL]",
            "[REDACTED_NUMBER]",
            "[REDACTED_KEY]",
            "[REDACTED_TOKEN]",
        ] {
            assert!(content.contains(mark), "{mark} missing: {content}");
        }
        assert_eq!(redacted["model"], "gpt-4o");
        assert_eq!(redacted["max_tokens"], 12);
    }

    #[test]
    fn ordinary_text_and_short_numbers_stay() {
        let text = "The meeting is at 10:30 in room 42; order 12345 shipped.";
        assert_eq!(redact(json!(text)), json!(text));
    }

    #[test]
    fn long_strings_are_cut() {
        let long = "a".repeat(MAX_STRING_CHARS + 10);
        let redacted = redact(json!(long));
        let text = redacted.as_str().unwrap();
        assert!(text.ends_with("…[truncated]"));
        assert_eq!(
            text.chars().count(),
            MAX_STRING_CHARS + "…[truncated]".chars().count()
        );
    }

    #[test]
    fn nul_characters_never_reach_the_database() {
        let redacted = redact(json!({ "a\u{0}b": ["x\u{0}y"] }));
        assert_eq!(redacted, json!({ "a\u{FFFD}b": ["x\u{FFFD}y"] }));
    }
}
