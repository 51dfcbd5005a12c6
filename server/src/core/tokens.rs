//! Counting tokens exactly where a model's tokenizer is public: OpenAI's families, through
//! `tiktoken-rs`, counting a chat prompt as OpenAI bills it (its cookbook's formula). Every
//! other model is estimated (`usage::estimate_tokens`).

use serde_json::Value;
use tiktoken_rs::tokenizer::{get_tokenizer, Tokenizer};
use tiktoken_rs::CoreBPE;

/// A public tokenizer Gatehouse counts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `o200k_base`: GPT-4o, GPT-4.1, GPT-5, o-series.
    O200k,
    /// `cl100k_base`: GPT-4, GPT-3.5-turbo, text-embedding-3.
    Cl100k,
}

/// Providers whose model ids are OpenAI's own (their names say their tokenizer).
const OPENAI_PROVIDERS: [&str; 3] = ["openai", "azure", "text-completion-openai"];

/// Tokens OpenAI adds per chat message, per `name`, and to prime the reply.
const TOKENS_PER_MESSAGE: u64 = 3;
const TOKENS_PER_NAME: u64 = 1;
const REPLY_PRIMING: u64 = 3;

impl Encoding {
    /// The tokenizer of an OpenAI model served by an OpenAI-family provider; `None` when it
    /// is not public (or not known).
    pub fn for_model(provider: &str, model: &str) -> Option<Encoding> {
        if !OPENAI_PROVIDERS.contains(&provider) {
            return None;
        }
        match get_tokenizer(model)? {
            Tokenizer::O200kBase => Some(Encoding::O200k),
            Tokenizer::Cl100kBase => Some(Encoding::Cl100k),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Encoding::O200k => "o200k_base",
            Encoding::Cl100k => "cl100k_base",
        }
    }

    fn bpe(self) -> &'static CoreBPE {
        match self {
            Encoding::O200k => tiktoken_rs::o200k_base_singleton(),
            Encoding::Cl100k => tiktoken_rs::cl100k_base_singleton(),
        }
    }

    /// Tokens of a text.
    pub fn text_tokens(self, text: &str) -> u64 {
        self.bpe().encode_with_special_tokens(text).len() as u64
    }

    /// Tokens of a chat prompt as OpenAI counts it: each message's fields, three more per
    /// message, one more per `name`, three to prime the reply. `None` when a message holds
    /// what this cannot count exactly (images, audio, tool calls, tools offered).
    pub fn chat_tokens(self, messages: &[Value]) -> Option<u64> {
        let mut tokens = REPLY_PRIMING;
        for message in messages {
            tokens += TOKENS_PER_MESSAGE;
            for (field, value) in message.as_object()? {
                let text = match value {
                    Value::Null => continue,
                    Value::String(text) => self.text_tokens(text),
                    Value::Array(parts) if field == "content" => self.text_parts(parts)?,
                    _ => return None,
                };
                tokens += text;
                if field == "name" {
                    tokens += TOKENS_PER_NAME;
                }
            }
        }
        Some(tokens)
    }

    /// Content given as parts: exact when every part is text.
    fn text_parts(self, parts: &[Value]) -> Option<u64> {
        parts
            .iter()
            .map(
                |part| match (part.get("type")?.as_str()?, part.get("text")?) {
                    ("text", Value::String(text)) => Some(self.text_tokens(text)),
                    _ => None,
                },
            )
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The OpenAI cookbook's example ("How to count tokens with tiktoken"), whose counts it
    /// checked against the API: 129 prompt tokens for gpt-4 and gpt-3.5-turbo, 124 for gpt-4o
    /// and gpt-4o-mini.
    fn cookbook_messages() -> Vec<Value> {
        json!([
            {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
            {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
            {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
            {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
            {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
            {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."},
        ])
        .as_array()
        .unwrap()
        .clone()
    }

    #[test]
    fn counts_chat_prompts_as_openai_bills_them() {
        let o200k = Encoding::for_model("openai", "gpt-4o-mini").unwrap();
        let cl100k = Encoding::for_model("openai", "gpt-4").unwrap();
        assert_eq!((o200k, cl100k), (Encoding::O200k, Encoding::Cl100k));
        assert_eq!(o200k.chat_tokens(&cookbook_messages()), Some(124));
        assert_eq!(cl100k.chat_tokens(&cookbook_messages()), Some(129));
        assert_eq!(cl100k.text_tokens("hello world"), 2);
    }

    #[test]
    fn only_public_tokenizers_of_openai_models_count_exactly() {
        assert_eq!(Encoding::for_model("anthropic", "gpt-4o"), None);
        assert_eq!(Encoding::for_model("openai", "my-finetune"), None);
        assert_eq!(
            Encoding::O200k.chat_tokens(&[json!({"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "https://x/a.png"}}]})]),
            None
        );
        assert_eq!(
            Encoding::O200k.chat_tokens(&[json!({"role": "user", "content": [
                {"type": "text", "text": "hello world"}]})]),
            Some(3 + 1 + 2 + 3)
        );
    }

    /// The reservation-to-actual ratio of a prompt (docs/COMPATIBILITY.md): reserved by its
    /// size in bytes, the prompt reserves 4.5 to 8 times what OpenAI bills; counted, exactly it.
    #[test]
    fn byte_bounds_reserve_several_times_the_exact_count() {
        let fox = "The quick brown fox jumps over the lazy dog. ".repeat(200);
        for (messages, bytes, tokens) in [
            (json!([{"role": "user", "content": "Hello!"}]), 71, 9),
            (Value::Array(cookbook_messages()), 761, 124),
            (json!([{"role": "user", "content": fox}]), 9_065, 2_008),
        ] {
            let body = json!({"model": "gpt-4o-mini", "messages": messages});
            assert_eq!(serde_json::to_vec(&body).unwrap().len(), bytes);
            let exact = Encoding::O200k.chat_tokens(messages.as_array().unwrap());
            assert_eq!(exact, Some(tokens));
        }
    }
}
