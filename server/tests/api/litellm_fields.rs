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
    let logged = app.spend_logs(&key).await;
    assert_eq!(logged[0]["session_id"], "session-1");
    assert_eq!(logged[0]["metadata"]["trace_id"], "trace-1");
    assert_eq!(logged[0]["metadata"]["generation_name"], "gen-1");
    assert_eq!(
        logged[0]["metadata"]["spend_logs_metadata"],
        json!({"ticket": "T-42"})
    );
    // Asked of features still to come: recorded as sent.
    assert_eq!(logged[0]["metadata"]["cache"], json!({"no-cache": true}));
    assert_eq!(logged[0]["metadata"]["guardrails"], json!(["pii"]));

    // LiteLLM's header carries the custom fields too; the body's win where both say.
    let response = app
        .http
        .post(format!("{}/v1/chat/completions", app.base))
        .bearer_auth(&key)
        .header("x-litellm-spend-logs-metadata", r#"{"from": "header"}"#)
        .json(&hello("gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    wait_for_rows(&pool, &key, 2).await;
    let metadata: Vec<Option<Value>> =
        sqlx::query_scalar("SELECT metadata FROM spend_logs ORDER BY started_at")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        metadata[1],
        Some(json!({"spend_logs_metadata": {"from": "header"}}))
    );
    let response = app
        .http
        .post(format!("{}/v1/chat/completions", app.base))
        .bearer_auth(&key)
        .header("x-litellm-spend-logs-metadata", "[1]")
        .json(&hello("gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_openai_error(response, 400).await;
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

    for (field, value, param) in [
        (
            "api_base",
            json!("http://169.254.169.254/latest/meta-data"),
            "api_base",
        ),
        ("base_url", json!("http://127.0.0.1:1/"), "api_base"),
        ("api_key", json!("sk-someone-elses"), "api_key"),
        (
            "extra_headers",
            json!({"x-forwarded-host": "evil.test"}),
            "extra_headers",
        ),
    ] {
        let mut body = hello("gpt-4o-mini");
        body[field] = value;
        let refused = assert_openai_error(app.chat(&key, &body).await, 400).await;
        assert_eq!(refused["error"]["param"], param, "{refused}");
    }
    assert_eq!(mock.record.requests(), 0, "nothing reached the upstream");
}

/// `claude` (Anthropic) refusing what it lacks, `claude-drops` dropping it
/// (`litellm_params.drop_params`), with `litellm_settings` appended.
fn anthropic_yaml(mock: &mock_upstream::MockUpstream, litellm_settings: &str) -> String {
    let root = mock.root();
    format!(
        "model_list:\n\
         \x20 - model_name: claude\n\
         \x20   litellm_params: {{ model: anthropic/claude-sonnet-4-5-20250929, api_base: \"{root}\", api_key: {ANTHROPIC_KEY} }}\n\
         \x20 - model_name: claude-drops\n\
         \x20   litellm_params: {{ model: anthropic/claude-sonnet-4-5-20250929, api_base: \"{root}\", api_key: {ANTHROPIC_KEY}, drop_params: true, additional_drop_params: [temperature] }}\n\
         {litellm_settings}general_settings:\n  master_key: {MASTER_KEY}\n  proxy_batch_write_at: 0.05\n"
    )
}

#[sqlx::test(migrations = false)]
async fn a_parameter_the_provider_lacks_is_refused_naming_it_or_dropped_where_allowed(
    pool: PgPool,
) {
    let mock = mock().await;
    let app = spawn_app_from_yaml(pool.clone(), &anthropic_yaml(&mock, "")).await;
    let key = app
        .new_key(json!({ "models": ["claude", "claude-drops"] }))
        .await;
    let with_bias = |model: &str, extra: Value| {
        let mut body = hello(model);
        body["logit_bias"] = json!({"50256": -100});
        body["temperature"] = json!(0.5);
        for (field, value) in extra.as_object().unwrap() {
            body[field] = value.clone();
        }
        body
    };

    // drop_params off (the default): a 400 naming it, before any upstream call.
    let refused =
        assert_openai_error(app.chat(&key, &with_bias("claude", json!({}))).await, 400).await;
    assert_eq!(refused["error"]["param"], "logit_bias", "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("anthropic does not support parameters: ['logit_bias']"),
        "{message}"
    );
    assert_eq!(mock.record.requests(), 0);

    // On per request, per model, or let through by name: the call is made.
    for (model, extra) in [
        ("claude", json!({"drop_params": true})),
        ("claude-drops", json!({})),
        ("claude", json!({"allowed_openai_params": ["logit_bias"]})),
    ] {
        let response = app.chat(&key, &with_bias(model, extra.clone())).await;
        assert_eq!(response.status(), 200, "{model} {extra}");
        let sent = mock.record.last_request().unwrap();
        assert!(sent.get("logit_bias").is_none(), "{sent}");
        // `additional_drop_params` on `claude-drops` takes temperature off too.
        assert_eq!(
            sent.get("temperature").is_some(),
            model == "claude",
            "{model}: {sent}"
        );
    }
    // A request may still turn dropping off where the model has it on.
    let refused = assert_openai_error(
        app.chat(
            &key,
            &with_bias("claude-drops", json!({"drop_params": false})),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(refused["error"]["param"], "logit_bias");
    app.shutdown().await;

    // `litellm_settings.drop_params` turns it on for every model that does not say.
    let mock = self::mock().await;
    let app = spawn_app_from_yaml(
        pool,
        &anthropic_yaml(&mock, "litellm_settings:\n  drop_params: true\n"),
    )
    .await;
    let key = app.new_key(json!({ "models": ["claude"] })).await;
    assert_eq!(
        app.chat(&key, &with_bias("claude", json!({})))
            .await
            .status(),
        200
    );
}

#[sqlx::test(migrations = false)]
async fn request_routing_limits_narrow_the_policy_and_never_reach_a_forbidden_group(pool: PgPool) {
    use crate::routing::{app_with, attempts, entry, outcomes};
    use mock_upstream::Scripted;
    let (first, second) = (mock().await, mock().await);
    let models = entry("g", &first, "first", "")
        + &entry("h", &second, "second", "")
        + &entry("secret", &second, "secret", "");
    let app = app_with(
        pool,
        &models,
        "  num_retries: 2\n  disable_cooldowns: true\n",
    )
    .await;
    let key = app.new_key(json!({ "models": ["g", "h"] })).await;
    // Each request below consumes exactly the failures scripted for it.
    let failing = |count: usize| first.record.script(vec![Scripted::Status(500); count]);

    // The request's fallbacks and no retries: one attempt at g, then h.
    failing(1);
    let mut body = hello("g");
    body["fallbacks"] = json!(["h"]);
    body["num_retries"] = json!(0);
    let response = app.chat(&key, &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-litellm-model-id"), "second");
    assert_eq!(header(&response, "x-litellm-attempted-retries"), "0");
    assert_eq!(header(&response, "x-litellm-attempted-fallbacks"), "1");
    assert_eq!(first.record.requests(), 1);

    // More retries than the policy's are held to the policy's (2), by body or header.
    failing(3);
    let mut body = hello("g");
    body["num_retries"] = json!(9);
    let response = app.chat(&key, &body).await;
    assert_eq!(response.status(), 502);
    assert_eq!(first.record.requests(), 4, "one attempt and two retries");
    failing(1);
    let response = app
        .http
        .post(format!("{}/v1/chat/completions", app.base))
        .bearer_auth(&key)
        .header("x-litellm-num-retries", "0")
        .json(&hello("g"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(first.record.requests(), 5, "one attempt, no retry");

    // A fallback the key may not use, or that does not exist, is refused before any call.
    let mut body = hello("g");
    body["fallbacks"] = json!(["secret"]);
    let refused = assert_openai_error(app.chat(&key, &body).await, 401).await;
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("secret"));
    body["fallbacks"] = json!([{"model": "h", "api_base": "http://169.254.169.254"}]);
    assert_openai_error(app.chat(&key, &body).await, 400).await;
    body["fallbacks"] = json!(["nowhere"]);
    assert_openai_error(app.chat(&key, &body).await, 400).await;
    assert_eq!(first.record.requests(), 5);
    assert_eq!(second.record.requests(), 1);

    let recorded = attempts(&app, &key, 3).await;
    assert_eq!(
        outcomes(&recorded[0]),
        [
            ("first".to_string(), "server_error".to_string()),
            ("second".to_string(), "success".to_string())
        ]
    );
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn a_clients_own_api_base_is_allowed_only_for_a_listed_model_and_pattern(pool: PgPool) {
    let (ours, theirs) = (mock().await, mock().await);
    let yaml = format!(
        "model_list:\n\
         \x20 - model_name: byo\n\
         \x20   litellm_params: {{ model: openai/byo-model, api_base: \"{ours}\", api_key: sk-ours, configurable_clientside_auth_params: [api_key, {{api_base: 'http://127\\.0\\.0\\.1:[0-9]+/v1'}}] }}\n\
         \x20 - model_name: locked\n\
         \x20   litellm_params: {{ model: openai/locked-model, api_base: \"{ours}\", api_key: sk-ours }}\n\
         general_settings:\n  master_key: {MASTER_KEY}\n  proxy_batch_write_at: 0.05\n",
        ours = ours.api_base()
    );
    let app = spawn_app_from_yaml(pool, &yaml).await;
    let key = app.new_key(json!({ "models": ["byo", "locked"] })).await;
    let asking = |model: &str, fields: Value| {
        let mut body = hello(model);
        for (field, value) in fields.as_object().unwrap() {
            body[field] = value.clone();
        }
        body
    };

    // A listed model, an address matching the operator's pattern: served there, with the
    // deployment's key (the operator vouched for the address) or the client's own.
    let response = app
        .chat(&key, &asking("byo", json!({"api_base": theirs.api_base()})))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!((ours.record.requests(), theirs.record.requests()), (0, 1));
    assert_eq!(
        theirs.record.last_header("authorization").as_deref(),
        Some("Bearer sk-ours")
    );
    let response = app
        .chat(
            &key,
            &asking(
                "byo",
                json!({"api_base": theirs.api_base(), "api_key": "sk-client-own"}),
            ),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        theirs.record.last_header("authorization").as_deref(),
        Some("Bearer sk-client-own")
    );

    // Anywhere else, or on a model that does not list it: refused before any call.
    for (model, fields) in [
        (
            "byo",
            json!({"api_base": "http://169.254.169.254/latest/meta-data"}),
        ),
        (
            "byo",
            json!({"api_base": format!("{}/../../admin", theirs.api_base())}),
        ),
        ("locked", json!({"api_base": theirs.api_base()})),
        ("locked", json!({"api_key": "sk-client-own"})),
    ] {
        let refused =
            assert_openai_error(app.chat(&key, &asking(model, fields.clone())).await, 400).await;
        assert!(
            ["api_base", "api_key"].contains(&refused["error"]["param"].as_str().unwrap()),
            "{model} {fields}: {refused}"
        );
    }
    assert_eq!((ours.record.requests(), theirs.record.requests()), (0, 2));
}

#[sqlx::test(migrations = false)]
async fn litellms_headers_are_honoured_and_only_allowed_client_headers_reach_the_upstream(
    pool: PgPool,
) {
    let mock = mock().await;
    let base = mock.api_base();
    let yaml = format!(
        "model_list:\n\
         \x20 - model_name: forwards\n\
         \x20   litellm_params: {{ model: openai/gpt-4o-mini, api_base: \"{base}\", api_key: sk-upstream }}\n\
         \x20 - model_name: keeps\n\
         \x20   litellm_params: {{ model: openai/gpt-4o-mini, api_base: \"{base}\", api_key: sk-upstream }}\n\
         litellm_settings:\n  model_group_settings:\n    forward_client_headers_to_llm_api: [forwards]\n\
         general_settings:\n  master_key: {MASTER_KEY}\n  proxy_batch_write_at: 0.05\n"
    );
    let app = spawn_app_from_yaml(pool.clone(), &yaml).await;
    let key = app
        .new_key(json!({ "models": ["forwards", "keeps"] }))
        .await;
    let send = |model: &str| {
        app.http
            .post(format!("{}/v1/chat/completions", app.base))
            // The virtual key in LiteLLM's header; Authorization carries something else.
            .header("x-litellm-api-key", format!("Bearer {key}"))
            .header("authorization", "Bearer sk-not-a-gatehouse-key")
            .header("x-trace-id", "trace-7")
            .header("x-stainless-lang", "python")
            .header("x-litellm-tags", "from-header")
            .json(&hello(model))
            .send()
    };

    let response = send("forwards").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        mock.record.last_header("x-trace-id").as_deref(),
        Some("trace-7")
    );
    for never in ["x-stainless-lang", "x-litellm-api-key", "x-litellm-tags"] {
        assert_eq!(mock.record.last_header(never), None, "{never}");
    }
    assert_eq!(
        mock.record.last_header("authorization").as_deref(),
        Some("Bearer sk-upstream")
    );

    let response = send("keeps").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(mock.record.last_header("x-trace-id"), None);

    wait_for_rows(&pool, &key, 2).await;
    let tags: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT unnest(request_tags) FROM spend_logs")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(tags, ["from-header"]);
}

#[sqlx::test(migrations = false)]
async fn a_clients_mock_response_is_honoured_only_where_the_operator_allows_it_and_never_billed(
    pool: PgPool,
) {
    let mock = mock().await;
    let mut body = hello("priced");
    body["mock_response"] = json!("canned reply");
    let content = |reply: &Value| reply["choices"][0]["message"]["content"].clone();

    let app = spawn_config(pool.clone(), TestConfig::new(&mock).models(&["priced"])).await;
    let key = app.new_key(json!({ "models": ["priced"] })).await;
    // A plain key's is ignored: the model answers, and is billed.
    let reply: Value = app.chat(&key, &body).await.json().await.unwrap();
    assert_eq!(content(&reply), "Hello from the mock upstream.");
    assert_eq!(mock.record.requests(), 1);
    // The master key's is honoured, in-process and at no cost, streamed too.
    let reply: Value = app.chat(MASTER_KEY, &body).await.json().await.unwrap();
    assert_eq!(content(&reply), "canned reply");
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let text = app.chat(MASTER_KEY, &streamed).await.text().await.unwrap();
    assert_eq!(streamed_text(&stream_chunks(&text)), "canned reply");
    assert_eq!(mock.record.requests(), 1);
    wait_for_rows(&pool, &key, 1).await;
    wait_for_rows(&pool, MASTER_KEY, 2).await;
    let master_cost: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(cost_micros), 0)::bigint FROM spend_logs WHERE token_hash = $1",
    )
    .bind(app::secrets::hash_key(MASTER_KEY))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(master_cost, 0);
    app.shutdown().await;

    // `allow_client_mock_response` honours every key's.
    let yaml = TestConfig::new(&mock).models(&["priced"]).yaml().replace(
        "general_settings:\n",
        "general_settings:\n  allow_client_mock_response: true\n",
    );
    let app = spawn_app_from_yaml(pool, &yaml).await;
    let key = app.new_key(json!({ "models": ["priced"] })).await;
    let reply: Value = app.chat(&key, &body).await.json().await.unwrap();
    assert_eq!(content(&reply), "canned reply");
    assert_eq!(mock.record.requests(), 1);
}

#[sqlx::test(migrations = false)]
async fn exact_prompt_counts_let_a_request_near_the_budgets_edge_through(pool: PgPool) {
    use server::core::tokens::Encoding;
    let mock = mock().await;
    let base = mock.api_base();
    // The same prices; only `exact`'s tokenizer is public (gpt-4o-mini: o200k_base).
    let yaml = format!(
        "model_list:\n\
         \x20 - model_name: exact\n\
         \x20   litellm_params: {{ model: openai/gpt-4o-mini, api_base: \"{base}\" }}\n\
         \x20 - model_name: bytes\n\
         \x20   litellm_params: {{ model: openai/mini-clone, api_base: \"{base}\" }}\n\
         \x20   model_info: {{ input_cost_per_token: 0.00000015, output_cost_per_token: 0.0000006 }}\n\
         general_settings:\n  master_key: {MASTER_KEY}\n  proxy_batch_write_at: 0.05\n"
    );
    let app = spawn_app_from_yaml(pool, &yaml).await;
    let key = app
        .new_key(json!({ "models": ["exact", "bytes"], "max_budget": 0.0008 }))
        .await;
    let prompt = "The quick brown fox jumps over the lazy dog. ".repeat(200);
    let body = |model: &str| {
        json!({"model": model, "max_tokens": 10,
               "messages": [{"role": "user", "content": prompt}]})
    };
    // What each way reserves for the prompt: its size in bytes, or its count.
    let bytes = serde_json::to_vec(&body("exact")).unwrap().len() as u64;
    let exact = Encoding::O200k
        .chat_tokens(body("exact")["messages"].as_array().unwrap())
        .unwrap();
    assert!(bytes > 4 * exact, "{bytes} bytes, {exact} tokens");

    // At $0.15 per million input tokens: the byte bound ($0.00136) exceeds the $0.0008 budget,
    // the exact count ($0.00030) does not.
    let refused = assert_openai_error(app.chat(&key, &body("bytes")).await, 400).await;
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("budget"),
        "{refused}"
    );
    assert_eq!(app.chat(&key, &body("exact")).await.status(), 200);
    assert_eq!(mock.record.requests(), 1);
}
