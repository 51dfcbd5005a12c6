//! Mutated request bodies against a running gateway: a few thousand bodies derived from valid
//! requests to every endpoint (fields removed, retyped, enlarged, nested, NULs and odd Unicode
//! inserted, bytes flipped and cut) must each get an answer below 500 on an open connection:
//! malformed input is the caller's fault, never a panic or a dropped connection. Deterministic
//! (a fixed seed), so a failure reproduces; the longer, coverage-guided search is `cargo fuzz`
//! (fuzz/README.md).

use crate::common::*;
use serde_json::{json, Value};
use sqlx::PgPool;

/// Bodies sent per seed request.
const MUTATIONS_PER_SEED: usize = 300;

/// A small deterministic generator (xorshift).
struct Seed(u64);

impl Seed {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below.max(1) as u64) as usize
    }
}

/// Valid requests to every JSON endpoint.
fn seeds() -> Vec<(&'static str, Value)> {
    vec![
        (
            "/v1/chat/completions",
            json!({ "model": "priced", "messages": [
            { "role": "system", "content": "be brief" },
            { "role": "user", "content": [{ "type": "text", "text": "hi" },
              { "type": "image_url", "image_url": { "url": "data:image/png;base64,AAAA" } }] }],
            "max_tokens": 20, "n": 1, "temperature": 0.5, "stream": false,
            "tools": [{ "type": "function", "function": { "name": "f", "parameters": { "type": "object" } } }],
            "user": "alice", "metadata": { "tags": ["a"] } }),
        ),
        (
            "/v1/chat/completions",
            json!({ "model": "claude", "messages": [{ "role": "user", "content": "hi" }],
            "stream": true, "stream_options": { "include_usage": true } }),
        ),
        (
            "/v1/chat/completions",
            json!({ "model": "gemini", "messages": [{ "role": "user", "content": "hi" }],
            "response_format": { "type": "json_schema", "json_schema": { "name": "x", "schema": { "type": "object" } } } }),
        ),
        (
            "/v1/messages",
            json!({ "model": "claude", "max_tokens": 30, "system": "s",
            "messages": [{ "role": "user", "content": [{ "type": "text", "text": "hi" }] }],
            "metadata": { "user_id": "bob" } }),
        ),
        (
            "/v1/messages",
            json!({ "model": "priced", "max_tokens": 30, "stream": true,
            "messages": [{ "role": "user", "content": "hi" }] }),
        ),
        (
            "/v1/responses",
            json!({ "model": "priced", "input": [{ "role": "user", "content": "hi" }],
            "max_output_tokens": 20, "instructions": "be brief" }),
        ),
        (
            "/v1/completions",
            json!({ "model": "instruct", "prompt": ["a", "b"], "max_tokens": 5, "n": 2 }),
        ),
        (
            "/v1/embeddings",
            json!({ "model": "embed", "input": ["a", "b"], "dimensions": 8 }),
        ),
        (
            "/v1/embeddings",
            json!({ "model": "cohere-embed", "input": "hello", "encoding_format": "float" }),
        ),
        (
            "/v1/images/generations",
            json!({ "model": "dall-e", "prompt": "a cat", "n": 1, "size": "1024x1024" }),
        ),
        ("/v1/moderations", json!({ "input": "hello" })),
        (
            "/v1/rerank",
            json!({ "model": "rerank", "query": "q", "documents": ["a", "b"], "top_n": 1 }),
        ),
        (
            "/key/generate",
            json!({ "models": ["priced"], "max_budget": 1.0, "duration": "1d",
            "metadata": { "tags": ["x"] }, "rpm_limit": 5 }),
        ),
    ]
}

/// A value of another shape than the one it replaces.
fn odd_value(seed: &mut Seed) -> Value {
    match seed.next(14) {
        0 => Value::Null,
        1 => json!(-1),
        2 => json!(u64::MAX),
        3 => json!(1e308),
        4 => json!(""),
        5 => json!("\u{0}\u{7}\u{202e}\u{fffd}🦀"),
        6 => json!("x".repeat(70_000)),
        7 => json!([]),
        8 => json!({}),
        9 => json!(true),
        10 => json!(i64::MIN),
        11 => {
            let mut nested = json!("deep");
            for _ in 0..200 {
                nested = json!([nested]);
            }
            nested
        }
        12 => Value::Array(vec![json!("a"); 40]),
        _ => json!({ "type": "unknown", "text": 7 }),
    }
}

/// Changes one place in the value, somewhere in its tree.
fn mutate(value: &mut Value, seed: &mut Seed) {
    match value {
        Value::Object(fields) if !fields.is_empty() && seed.next(3) > 0 => {
            let names: Vec<String> = fields.keys().cloned().collect();
            let name = &names[seed.next(names.len())];
            match seed.next(4) {
                0 => {
                    fields.remove(name);
                }
                1 => {
                    fields.insert(name.clone(), odd_value(seed));
                }
                _ => mutate(fields.get_mut(name).unwrap(), seed),
            }
        }
        Value::Array(items) if !items.is_empty() && seed.next(3) > 0 => {
            let index = seed.next(items.len());
            match seed.next(4) {
                0 => {
                    items.remove(index);
                }
                1 => items[index] = odd_value(seed),
                2 => {
                    let copy = items[index].clone();
                    items.extend(std::iter::repeat_n(copy, 1 + seed.next(50)));
                }
                _ => mutate(&mut items[index], seed),
            }
        }
        Value::Object(fields) => {
            let names = [
                "model",
                "messages",
                "stream",
                "n",
                "user",
                "metadata",
                "tags",
                "input",
                "max_tokens",
                "extra",
            ];
            fields.insert(names[seed.next(names.len())].to_string(), odd_value(seed));
        }
        other => *other = odd_value(seed),
    }
}

/// The body as bytes, sometimes broken below the JSON level.
fn encode(value: &Value, seed: &mut Seed) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(value).unwrap();
    match seed.next(8) {
        0 if !bytes.is_empty() => bytes.truncate(seed.next(bytes.len())),
        1 if !bytes.is_empty() => {
            let index = seed.next(bytes.len());
            bytes[index] ^= 1 << seed.next(8);
        }
        2 => bytes.extend_from_slice(b"\xff\xfe trailing"),
        _ => {}
    }
    bytes
}

#[sqlx::test(migrations = false)]
async fn mutated_bodies_never_get_a_5xx_or_a_dropped_connection(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool, &mock).await;
    let key = app.new_key(json!({ "max_budget": 1000.0 })).await;
    // Another seed explores further: GATEHOUSE_MUTATION_SEED=<number>.
    let start = std::env::var("GATEHOUSE_MUTATION_SEED")
        .ok()
        .and_then(|text| text.parse::<u64>().ok())
        .unwrap_or(0x5EED_1234_ABCD_0001);
    let mut seed = Seed(start.max(1));
    let mut sent = 0;
    for (path, valid) in seeds() {
        let bearer = if path.starts_with("/key/") {
            MASTER_KEY.to_string()
        } else {
            key.clone()
        };
        for _ in 0..MUTATIONS_PER_SEED {
            let mut body = valid.clone();
            for _ in 0..1 + seed.next(3) {
                mutate(&mut body, &mut seed);
            }
            let bytes = encode(&body, &mut seed);
            let shown = String::from_utf8_lossy(&bytes)
                .chars()
                .take(400)
                .collect::<String>();
            let response = app
                .http
                .post(format!("{}{path}", app.base))
                .bearer_auth(&bearer)
                .header("content-type", "application/json")
                .body(bytes)
                .send()
                .await
                .unwrap_or_else(|error| panic!("{path}: connection failed ({error}) for {shown}"));
            let status = response.status();
            let text = response
                .text()
                .await
                .unwrap_or_else(|error| panic!("{path}: body cut ({error}) for {shown}"));
            assert!(
                status.as_u16() < 500,
                "{path}: {status} {} for {shown}",
                text.chars().take(300).collect::<String>()
            );
            sent += 1;
        }
    }
    assert_eq!(sent, seeds().len() * MUTATIONS_PER_SEED);
    // The gateway still serves a valid request.
    assert_eq!(app.chat(&key, &hello("priced")).await.status(), 200);
}
