//! LiteLLM's own request fields, as a migrating client sends them: taken off before the upstream
//! call (the mock's `gpt-…` models refuse an unknown argument exactly as OpenAI does), read where
//! they belong, and client-side destinations refused.

use crate::common::*;
use serde_json::{json, Value};
use sqlx::PgPool;

/// A chat request to OpenAI's `gpt-4o-mini` carrying LiteLLM's fields beside OpenAI's.
fn with_litellm_fields() -> Value {
    let mut body = hello("gpt-4o-mini");
    let fields = json!({
        "metadata": {
            "tags": ["migrated"], "trace_id": "trace-1", "generation_name": "gen-1",
            "session_id": "session-1", "spend_logs_metadata": {"ticket": "T-42"},
        },
        "litellm_metadata": {"tags": ["also-litellm"]},
        "fallbacks": ["gpt-4o-mini"], "num_retries": 2, "timeout": 30, "request_timeout": 30,
        "context_window_fallback_dict": {}, "mock_response": "not from the upstream",
        "cache": {"no-cache": true}, "guardrails": ["pii"], "drop_params": true,
        "additional_drop_params": ["seed"], "allowed_openai_params": ["seed"],
        "temperature": 0.2,
    });
    for (field, value) in fields.as_object().unwrap() {
        body[field] = value.clone();
    }
    body
}

#[sqlx::test(migrations = false)]
async fn litellm_fields_never_reach_openai_and_the_call_succeeds(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_config(
        pool.clone(),
        TestConfig::new(&mock).models(&["gpt-4o-mini"]),
    )
    .await;
    let key = app.new_key(json!({ "models": ["gpt-4o-mini"] })).await;

    let response = app.chat(&key, &with_litellm_fields()).await;
    assert_eq!(response.status(), 200);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(
        reply["choices"][0]["message"]["content"], "Hello from the mock upstream.",
        "a client's mock_response is not honoured unless the operator allows it"
    );

    let sent = mock.record.last_request().unwrap();
    let mut fields: Vec<&str> = sent
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["messages", "model", "temperature"], "{sent}");

    wait_for_rows(&pool, &key, 1).await;
    let tags: Vec<String> =
        sqlx::query_scalar("SELECT unnest(request_tags) FROM spend_logs ORDER BY 1")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(tags, ["also-litellm", "migrated"]);
}

#[sqlx::test(migrations = false)]
async fn an_argument_openai_does_not_know_is_forwarded_and_refused_as_openai_refuses_it(
    pool: PgPool,
) {
    let mock = mock().await;
    let app = spawn_config(pool, TestConfig::new(&mock).models(&["gpt-4o-mini"])).await;
    let key = app.new_key(json!({ "models": ["gpt-4o-mini"] })).await;

    let mut body = hello("gpt-4o-mini");
    body["top_k"] = json!(3);
    let refused = assert_openai_error(app.chat(&key, &body).await, 400).await;
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Unrecognized request argument supplied: top_k"),
        "{refused}"
    );
}

#[sqlx::test(migrations = false)]
async fn a_client_side_destination_or_credential_is_refused_before_any_call(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_config(pool, TestConfig::new(&mock).models(&["gpt-4o-mini"])).await;
    let key = app.new_key(json!({ "models": ["gpt-4o-mini"] })).await;

    for (field, value) in [
        ("api_base", json!("http://169.254.169.254/latest/meta-data")),
        ("base_url", json!("http://127.0.0.1:1/")),
        ("api_key", json!("sk-someone-elses")),
        ("extra_headers", json!({"x-forwarded-host": "evil.test"})),
    ] {
        let mut body = hello("gpt-4o-mini");
        body[field] = value;
        let refused = assert_openai_error(app.chat(&key, &body).await, 400).await;
        assert_eq!(refused["error"]["param"], field, "{refused}");
    }
    assert_eq!(mock.record.requests(), 0, "nothing reached the upstream");
}
