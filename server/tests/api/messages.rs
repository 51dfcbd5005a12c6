//! `/v1/messages`: Anthropic's API in front of every provider, end to end.

use crate::common::*;
use serde_json::{json, Value};
use sqlx::PgPool;

async fn messages(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(format!("{}/v1/messages", app.base))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap()
}

/// `(event, data)` pairs of an Anthropic SSE body.
fn events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|event| !event.trim().is_empty())
        .map(|event| {
            let (kind, data) = event.trim().split_once('\n').unwrap();
            (
                kind.trim_start_matches("event: ").to_string(),
                serde_json::from_str(data.trim_start_matches("data: ")).unwrap(),
            )
        })
        .collect()
}

#[sqlx::test(migrations = false)]
async fn messages_reach_anthropic_and_openai_backends(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;
    // The mock bills 10 tokens a message: Anthropic hoists the system prompt, OpenAI counts it.
    for (model, input_tokens) in [("claude", 10), ("gpt-4o-mini", 20)] {
        let response = messages(
            &app,
            &key,
            &json!({ "model": model, "max_tokens": 50, "system": "Be brief.",
                     "messages": [{ "role": "user", "content": "Hello" }] }),
        )
        .await;
        assert_eq!(response.status(), 200, "{model}");
        let message: Value = response.json().await.unwrap();
        assert_eq!(message["type"], "message");
        assert_eq!(message["role"], "assistant");
        // Anthropic's reply is relayed as it is, naming the upstream model.
        let reported = if model == "claude" {
            "claude-sonnet-4-5-20250929"
        } else {
            model
        };
        assert_eq!(message["model"], reported);
        assert_eq!(
            message["content"],
            json!([{ "type": "text", "text": "Hello from the mock upstream." }])
        );
        assert_eq!(message["stop_reason"], "end_turn");
        assert_eq!(message["usage"]["input_tokens"], input_tokens);
        assert_eq!(message["usage"]["output_tokens"], 5);
    }
    // The OpenAI backend got an OpenAI request with the system message first.
    let sent = mock.record.last_request().unwrap();
    assert_eq!(
        sent["messages"][0],
        json!({ "role": "system", "content": "Be brief." })
    );
    assert_eq!(sent["max_tokens"], 50);
    assert_eq!(wait_for_rows(&pool, &key, 2).await.len(), 2);
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn streamed_tool_use_from_an_openai_backend_has_anthropics_events(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;
    let response = messages(
        &app,
        &key,
        &json!({ "model": "gpt-4o-mini", "max_tokens": 50, "stream": true,
                 "tools": [{ "name": "get_weather", "input_schema": {
                     "type": "object", "properties": { "city": { "type": "string" } } } }],
                 "messages": [{ "role": "user", "content": "Weather in Paris?" }] }),
    )
    .await;
    assert_eq!(response.status(), 200);
    let events = events(&response.text().await.unwrap());
    let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"message_start"));
    assert_eq!(kinds[kinds.len() - 2..], ["message_delta", "message_stop"]);
    let text: String = events
        .iter()
        .filter_map(|(_, data)| data["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "Hello from the mock upstream.");
    let tool_start = events
        .iter()
        .find(|(_, data)| data["content_block"]["type"] == "tool_use")
        .unwrap();
    assert_eq!(tool_start.1["content_block"]["name"], "get_weather");
    let arguments: String = events
        .iter()
        .filter_map(|(_, data)| data["delta"]["partial_json"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).unwrap(),
        json!({ "city": "Paris" })
    );
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta["usage"]["output_tokens"], 5);
    // The OpenAI backend was asked for usage even though the Anthropic client cannot ask.
    let sent = mock.record.last_request().unwrap();
    assert_eq!(sent["stream_options"]["include_usage"], true);
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn messages_errors_have_anthropics_shape(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;
    let hello = json!({ "model": "claude", "max_tokens": 5, "messages": [{ "role": "user", "content": "x" }] });

    let cases = [
        (
            messages(&app, "sk-wrong", &hello).await,
            401,
            "authentication_error",
        ),
        (
            messages(&app, &key, &json!({ "model": "claude", "messages": [] })).await,
            400,
            "invalid_request_error",
        ),
        (
            messages(
                &app,
                &key,
                &json!({ "model": "nope", "max_tokens": 5,
                "messages": [{ "role": "user", "content": "x" }] }),
            )
            .await,
            404,
            "not_found_error",
        ),
        (
            messages(
                &app,
                &key,
                &json!({ "model": "claude-fail-500", "max_tokens": 5,
                "messages": [{ "role": "user", "content": "x" }] }),
            )
            .await,
            502,
            "api_error",
        ),
    ];
    for (response, status, kind) in cases {
        assert_eq!(response.status(), status);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["type"], "error", "{body}");
        assert_eq!(body["error"]["type"], kind, "{body}");
        assert!(body["error"]["message"].is_string());
    }
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn messages_to_anthropic_are_relayed_as_written_with_thinking_intact(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;
    // A second turn of an extended-thinking tool conversation, as Claude Code sends it: the
    // earlier thinking block must go back with its signature.
    let request = json!({
        "model": "claude",
        "max_tokens": 2048,
        "thinking": { "type": "enabled", "budget_tokens": 1024 },
        "metadata": { "user_id": "dev-1" },
        "system": [{ "type": "text", "text": "Be brief.", "cache_control": { "type": "ephemeral" } }],
        "tools": [{ "name": "read_file", "input_schema": { "type": "object",
                    "properties": { "path": { "type": "string" } }, "required": ["path"] } }],
        "messages": [
            { "role": "user", "content": "What is in README.md?" },
            { "role": "assistant", "content": [
                { "type": "thinking", "thinking": "I should read it.", "signature": "sig-from-turn-1" },
                { "type": "tool_use", "id": "toolu_1", "name": "read_file", "input": { "path": "README.md" } },
            ]},
            { "role": "user", "content": [
                { "type": "tool_result", "tool_use_id": "toolu_1", "content": "# Gatehouse" },
            ]},
        ],
    });
    let response = app
        .http
        .post(format!("{}/v1/messages", app.base))
        .header("authorization", format!("Bearer {key}"))
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "interleaved-thinking-2025-05-14")
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let message: Value = response.json().await.unwrap();
    assert_eq!(
        message["content"][0],
        json!({ "type": "thinking", "thinking": "The user greets me; greet back.",
                "signature": mock_upstream::MOCK_THINKING_SIGNATURE })
    );
    assert_eq!(message["content"][1]["type"], "text");

    // Upstream got the request exactly as written, but for the model id; the beta header too.
    let mut expected = request.clone();
    expected["model"] = json!("claude-sonnet-4-5-20250929");
    assert_eq!(mock.record.last_request().unwrap(), expected);
    assert_eq!(
        mock.record.last_header("anthropic-beta").unwrap(),
        "interleaved-thinking-2025-05-14"
    );
    assert_eq!(mock.record.last_header("x-api-key").unwrap(), ANTHROPIC_KEY);

    // Streamed: Anthropic's own events, metered from their usage.
    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    let response = messages(&app, &key, &streamed).await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    let kinds: Vec<String> = events(&body).into_iter().map(|(kind, _)| kind).collect();
    assert_eq!(kinds.first().map(String::as_str), Some("message_start"));
    assert_eq!(kinds.last().map(String::as_str), Some("message_stop"));
    assert!(
        kinds.iter().any(|kind| kind == "ping"),
        "pings relayed: {kinds:?}"
    );

    let rows: Vec<(String, i64, i64, bool, String)> = {
        wait_for_rows(&pool, &key, 2).await;
        sqlx::query_as(
            "SELECT call_type, prompt_tokens, completion_tokens, is_stream, end_user \
             FROM spend_logs WHERE token_hash = $1 ORDER BY started_at",
        )
        .bind(app::secrets::hash_key(&key))
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    // The mock bills 10 input tokens a message.
    assert_eq!(
        rows[0],
        ("acompletion".into(), 30, 5, false, "dev-1".into())
    );
    assert_eq!(rows[1].1, 30);
    assert!(rows[1].3);

    // A thinking block without its signature is the upstream's 400, in Anthropic's shape.
    let mut unsigned = request.clone();
    unsigned["messages"][1]["content"][0]
        .as_object_mut()
        .unwrap()
        .remove("signature");
    let response = messages(&app, &key, &unsigned).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("signature"));
    app.shutdown().await;
}
