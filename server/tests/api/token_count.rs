//! Counting tokens without calling a model: LiteLLM's `/utils/token_counter` and Anthropic's
//! `/v1/messages/count_tokens`, exact for OpenAI's models (the OpenAI cookbook's figures),
//! relayed to Anthropic for its deployments, estimated otherwise, and refused as the data plane
//! refuses.

use crate::common::*;
use serde_json::{json, Value};
use sqlx::PgPool;

/// The OpenAI cookbook's example conversation: 124 prompt tokens on gpt-4o and gpt-4o-mini,
/// as the API counted them.
fn cookbook_messages() -> Value {
    json!([
        {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
        {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
        {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
        {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
        {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
        {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."},
    ])
}

#[sqlx::test(migrations = false)]
async fn token_counter_counts_openai_models_exactly_and_estimates_the_rest(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_config(
        pool,
        TestConfig::new(&mock).models(&["gpt-4o-mini", "claude", "priced"]),
    )
    .await;
    let key = app
        .new_key(json!({ "models": ["gpt-4o-mini", "claude"] }))
        .await;
    let count = |body: Value| {
        app.http
            .post(format!("{}/utils/token_counter", app.base))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };

    let response = count(json!({"model": "gpt-4o-mini", "messages": cookbook_messages()}))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let counted: Value = response.json().await.unwrap();
    assert_eq!(
        counted,
        json!({"total_tokens": 124, "request_model": "gpt-4o-mini",
               "model_used": "gpt-4o-mini", "tokenizer_type": "openai_tokenizer"})
    );
    let counted: Value = count(json!({"model": "gpt-4o-mini", "prompt": "hello world"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counted["total_tokens"], 2);

    // Anthropic's tokenizer is not public: estimated, and said so.
    let counted: Value = count(json!({"model": "claude", "prompt": "x".repeat(400)}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counted["total_tokens"], 100);
    assert_eq!(counted["tokenizer_type"], "estimate");

    // Refused as a chat request would be; no model is called.
    for (body, status) in [
        (json!({"model": "gpt-4o-mini"}), 400),
        (json!({"model": "nowhere", "prompt": "x"}), 404),
        (json!({"model": "priced", "prompt": "x"}), 401),
    ] {
        assert_openai_error(count(body).await.unwrap(), status).await;
    }
    // Counting is CPU no rate limit meters: held to 4 MiB.
    let huge = json!({"model": "gpt-4o-mini", "prompt": "x".repeat(5 * 1024 * 1024)});
    assert_openai_error(count(huge).await.unwrap(), 413).await;
    let anonymous = app
        .post(
            "/utils/token_counter",
            "sk-unknown",
            &json!({"model": "claude", "prompt": "x"}),
        )
        .await;
    assert_eq!(anonymous.status(), 401);
    assert_eq!(mock.record.requests(), 0);
}

#[sqlx::test(migrations = false)]
async fn count_tokens_is_relayed_to_anthropic_and_counted_here_for_openai(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_config(
        pool,
        TestConfig::new(&mock).models(&["gpt-4o-mini", "claude"]),
    )
    .await;
    let key = app.new_key(json!({})).await;
    let count = |body: Value| {
        app.http
            .post(format!("{}/v1/messages/count_tokens", app.base))
            .header("x-api-key", &key)
            .header("anthropic-version", "2023-06-01")
            .json(&body)
            .send()
    };

    // Claude Code's shape: Anthropic counts it, with the deployment's model id and key.
    let response = count(json!({
        "model": "claude", "max_tokens": 1024, "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
    }))
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let counted: Value = response.json().await.unwrap();
    assert_eq!(counted, json!({"input_tokens": 20}));
    let sent = mock.record.last_request().unwrap();
    assert_eq!(sent["model"], "claude-sonnet-4-5-20250929");
    assert!(sent.get("max_tokens").is_none(), "{sent}");
    assert_eq!(
        mock.record.last_header("x-api-key").as_deref(),
        Some(ANTHROPIC_KEY)
    );

    // An OpenAI model: counted here, exactly.
    let counted: Value = count(json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello world"}]}],
    }))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(counted["input_tokens"], 3 + 1 + 2 + 3);

    // Errors in Anthropic's shape.
    let response = count(json!({"model": "nowhere", "messages": []}))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["type"], "error");
    assert_eq!(mock.record.requests(), 1);
}
