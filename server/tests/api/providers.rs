//! Native provider adapters end to end: OpenAI-format requests through the gateway to a
//! loopback mock speaking the provider's own wire format, translated both ways and metered.

use crate::common::*;
use serde_json::{json, Value};
use sqlx::PgPool;

fn weather_tool() -> Value {
    json!([{ "type": "function", "function": {
        "name": "get_weather", "description": "The weather in a city now",
        "parameters": { "type": "object", "properties": { "city": { "type": "string" } },
                        "required": ["city"] } } }])
}

/// Cost, prompt, completion, cached and cache-write tokens of a key's rows.
async fn usage_rows(pool: &PgPool, key: &str, count: usize) -> Vec<(i64, i64, i64, i64, i64)> {
    wait_for_rows(pool, key, count).await;
    sqlx::query_as(
        "SELECT cost_micros, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens \
         FROM spend_logs WHERE token_hash = $1 ORDER BY started_at",
    )
    .bind(app::secrets::hash_key(key))
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn anthropic_chat_is_translated_both_ways_and_metered(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;
    let response = app
        .chat(
            &key,
            &json!({
                // `seed` is not Anthropic's: dropped as the request asks (else refused).
                "model": "claude", "temperature": 0.5, "seed": 7, "user": "alice",
                "drop_params": true,
                "messages": [
                    { "role": "system", "content": "Answer briefly." },
                    { "role": "user", "content": "Weather in Paris?" }
                ],
                "tools": weather_tool(),
            }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();

    // What Anthropic received: its own format, its own headers, no OpenAI-only fields.
    let sent = mock.record.last_request().unwrap();
    assert_eq!(sent["model"], "claude-sonnet-4-5-20250929");
    assert_eq!(sent["system"][0]["text"], "Answer briefly.");
    assert_eq!(sent["max_tokens"], 4096);
    assert_eq!(sent["metadata"]["user_id"], "alice");
    assert_eq!(sent["messages"].as_array().unwrap().len(), 1);
    assert_eq!(
        sent["tools"][0]["input_schema"]["required"],
        json!(["city"])
    );
    assert!(sent.get("seed").is_none());
    assert_eq!(mock.record.last_header("x-api-key").unwrap(), ANTHROPIC_KEY);
    assert_eq!(
        mock.record.last_header("anthropic-version").unwrap(),
        "2023-06-01"
    );
    assert!(mock.record.last_header("authorization").is_none());

    // What the client got: OpenAI's format.
    assert_eq!(body["object"], "chat.completion");
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(
        choice["message"]["content"],
        "Hello from the mock upstream."
    );
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let arguments: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({ "city": "Paris" }));
    assert_eq!(body["usage"]["prompt_tokens"], 10);
    assert_eq!(body["usage"]["completion_tokens"], 5);

    // Metered at the catalog price of claude-sonnet-4-5: $3/M in, $15/M out.
    let rows = usage_rows(&pool, &key, 1).await;
    assert_eq!(rows[0], (10 * 3 + 5 * 15, 10, 5, 0, 0));
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn a_tool_result_goes_back_as_a_tool_result_block(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;
    let response = app
        .chat(
            &key,
            &json!({
                "model": "claude", "tools": weather_tool(),
                "messages": [
                    { "role": "user", "content": "Weather in Paris?" },
                    { "role": "assistant", "content": null, "tool_calls": [{ "id": "toolu_9",
                      "type": "function", "function": { "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" } }] },
                    { "role": "tool", "tool_call_id": "toolu_9", "content": "18°C and sunny" }
                ],
            }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let sent = mock.record.last_request().unwrap();
    let turns = sent["messages"].as_array().unwrap();
    assert_eq!(turns.len(), 3);
    assert_eq!(turns[1]["content"][0]["type"], "tool_use");
    assert_eq!(turns[1]["content"][0]["input"], json!({ "city": "Paris" }));
    assert_eq!(turns[2]["role"], "user");
    assert_eq!(
        turns[2]["content"][0],
        json!({ "type": "tool_result", "tool_use_id": "toolu_9", "content": "18°C and sunny" })
    );
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn anthropic_streams_become_openai_chunks_with_tool_call_deltas(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;
    let response = app
        .chat(
            &key,
            &json!({
                "model": "claude", "stream": true, "stream_options": { "include_usage": true },
                "messages": [{ "role": "user", "content": "Weather in Paris?" }],
                "tools": weather_tool(),
            }),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = response.text().await.unwrap();
    let chunks = stream_chunks(&text);
    assert!(chunks
        .iter()
        .all(|chunk| chunk["object"] == "chat.completion.chunk"));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let content = streamed_text(&chunks);
    assert_eq!(content, "Hello from the mock upstream.");
    let arguments = streamed_arguments(&chunks);
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).unwrap(),
        json!({ "city": "Paris" })
    );
    assert!(chunks
        .iter()
        .any(|chunk| chunk["choices"][0]["finish_reason"] == "tool_calls"));
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(usage["prompt_tokens"], 10);
    assert_eq!(usage["completion_tokens"], 5);
    let rows = usage_rows(&pool, &key, 1).await;
    assert_eq!(rows[0], (10 * 3 + 5 * 15, 10, 5, 0, 0));
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn prompt_cache_reads_and_writes_are_billed_at_their_own_prices(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;
    for stream in [false, true] {
        let mut request = hello("claude-cached");
        request["stream"] = json!(stream);
        let response = app.chat(&key, &request).await;
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        if !stream {
            let body: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(body["usage"]["prompt_tokens"], 10 + 1_000 + 200);
            assert_eq!(
                body["usage"]["prompt_tokens_details"]["cached_tokens"],
                1_000
            );
        }
    }
    // 10 fresh × $3/M + 1,000 cache reads × $0.30/M + 200 cache writes × $3.75/M
    //   + 5 out × $15/M = 30 + 300 + 750 + 75 µ$.
    let expected = (1_155, 1_210, 5, 1_000, 200);
    assert_eq!(usage_rows(&pool, &key, 2).await, vec![expected, expected]);
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn anthropic_failures_become_openai_errors(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;

    let failed = assert_openai_error(app.chat(&key, &hello("claude-fail-500")).await, 502).await;
    assert!(!failed.to_string().contains("hunter2"));
    let rejected = assert_openai_error(app.chat(&key, &hello("claude-fail-400")).await, 400).await;
    assert!(rejected["error"]["message"]
        .as_str()
        .unwrap()
        .contains("prompt is too long"));
    // What Anthropic cannot take is refused before the call.
    let before = mock.record.requests();
    let mut two_choices = hello("claude");
    two_choices["n"] = json!(2);
    let refused = assert_openai_error(app.chat(&key, &two_choices).await, 400).await;
    assert_eq!(refused["error"]["param"], "n");
    assert_eq!(mock.record.requests(), before);

    // A stream cut midway ends with an error event and is billed for what was produced.
    let mut cut = hello("claude-cut");
    cut["stream"] = json!(true);
    let text = app.chat(&key, &cut).await.text().await.unwrap();
    let last: Value = serde_json::from_str(sse_payloads(&text).last().unwrap()).unwrap();
    assert!(last["error"]["message"].is_string(), "{text}");
    let rows = wait_for_rows(&pool, &key, 4).await;
    let statuses: Vec<&str> = rows.iter().map(|row| row.3.as_str()).collect();
    assert_eq!(statuses, ["failure", "failure", "failure", "failure"]);
    let cut_row = &rows[3];
    assert!(cut_row.0 > 0, "the cut stream is billed: {cut_row:?}");
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn tools_to_a_deployment_without_tool_support_get_a_400_naming_the_capability(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;
    let before = mock.record.requests();
    let mut request = hello("no-tools");
    request["tools"] = weather_tool();
    let body = assert_openai_error(app.chat(&key, &request).await, 400).await;
    assert_eq!(body["error"]["param"], "tools");
    assert_eq!(body["error"]["code"], "unsupported_capability");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("no-tools") && message.contains("tools (function calling)"),
        "{message}"
    );
    assert_eq!(
        mock.record.requests(),
        before,
        "no upstream call was wasted"
    );
    // Without tools the same deployment serves the request.
    assert_eq!(app.chat(&key, &hello("no-tools")).await.status(), 200);
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn gemini_chat_and_tool_calls_are_translated_both_ways(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;

    let response = app.chat(&key, &hello("gemini")).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello from the mock upstream."
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        mock.record.last_header("x-goog-api-key").unwrap(),
        GEMINI_KEY
    );
    let sent = mock.record.last_request().unwrap();
    assert_eq!(
        sent["contents"],
        json!([{ "role": "user", "parts": [{ "text": "Say hello" }] }])
    );

    let response = app
        .chat(
            &key,
            &json!({
                "model": "gemini", "tools": weather_tool(), "tool_choice": "required",
                "messages": [{ "role": "system", "content": "Use tools." },
                             { "role": "user", "content": "Weather in Paris?" }],
            }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let sent = mock.record.last_request().unwrap();
    assert_eq!(sent["systemInstruction"]["parts"][0]["text"], "Use tools.");
    assert_eq!(sent["toolConfig"]["functionCallingConfig"]["mode"], "ANY");
    assert_eq!(
        sent["tools"][0]["functionDeclarations"][0]["name"],
        "get_weather"
    );
    let call = &body["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], "{\"city\":\"Paris\"}");

    // The result goes back as a functionResponse named after the call.
    let call_id = call["id"].as_str().unwrap();
    let response = app
        .chat(
            &key,
            &json!({
                "model": "gemini", "tools": weather_tool(),
                "messages": [
                    { "role": "user", "content": "Weather in Paris?" },
                    { "role": "assistant", "content": null, "tool_calls": [call] },
                    { "role": "tool", "tool_call_id": call_id, "content": "18°C" }
                ],
            }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let sent = mock.record.last_request().unwrap();
    assert_eq!(
        sent["contents"][2]["parts"][0]["functionResponse"],
        json!({ "name": "get_weather", "response": { "content": "18°C" } })
    );
    // gemini-2.5-flash at the catalog's $0.30/M in, $2.50/M out: 10 × 0.3 + 5 × 2.5 = 15.5 → 16.
    let rows = usage_rows(&pool, &key, 3).await;
    assert_eq!(rows[0], (16, 10, 5, 0, 0));
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn gemini_streams_become_openai_chunks_and_bill_thoughts_and_cache(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;
    let mut request = hello("gemini-cached");
    request["stream"] = json!(true);
    request["stream_options"] = json!({ "include_usage": true });
    let response = app.chat(&key, &request).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let chunks = stream_chunks(&text);
    let content = streamed_text(&chunks);
    assert_eq!(content, "Hello from the mock upstream.");
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(usage["prompt_tokens"], 1_010);
    assert_eq!(usage["completion_tokens"], 55);
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 50);
    // 10 fresh × $1/M + 1,000 cached × $0.10/M + (5 + 50 thinking) out × $2/M = 10 + 100 + 110.
    let rows = usage_rows(&pool, &key, 1).await;
    assert_eq!(rows[0], (220, 1_010, 55, 1_000, 0));

    let limited = assert_openai_error(app.chat(&key, &hello("gemini-fail-429")).await, 429).await;
    assert_eq!(limited["error"]["type"], "rate_limit_error");
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn model_info_shows_prices_and_capabilities_but_no_secrets(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app
        .new_key(json!({ "models": ["claude", "no-tools"] }))
        .await;

    let info: Value = app.get("/v1/model/info", &key).await.json().await.unwrap();
    let data = info["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    let claude = data
        .iter()
        .find(|entry| entry["model_name"] == "claude")
        .unwrap();
    assert_eq!(
        claude["litellm_params"]["model"],
        "anthropic/claude-sonnet-4-5-20250929"
    );
    let model_info = &claude["model_info"];
    assert_eq!(model_info["litellm_provider"], "anthropic");
    assert_eq!(model_info["mode"], "chat");
    assert!((model_info["input_cost_per_token"].as_f64().unwrap() - 3e-6).abs() < 1e-15);
    assert!(
        (model_info["cache_creation_input_token_cost"]
            .as_f64()
            .unwrap()
            - 3.75e-6)
            .abs()
            < 1e-15
    );
    assert_eq!(model_info["supports_function_calling"], true);
    assert_eq!(model_info["max_input_tokens"], 200_000);
    let no_tools = data
        .iter()
        .find(|entry| entry["model_name"] == "no-tools")
        .unwrap();
    assert_eq!(no_tools["model_info"]["supports_function_calling"], false);
    assert!(
        !info.to_string().contains(ANTHROPIC_KEY),
        "upstream keys never shown"
    );

    let all: Value = app
        .get("/model/info", MASTER_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["data"].as_array().unwrap().len(), MODEL_COUNT);

    let model: Value = app
        .get("/v1/models/claude", &key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(model["id"], "claude");
    assert_eq!(model["object"], "model");
    assert_openai_error(app.get("/v1/models/gemini", &key).await, 404).await;
    assert_openai_error(app.get("/models/no-such/model", MASTER_KEY).await, 404).await;
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn bedrock_converse_is_signed_translated_and_metered(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;

    // The mock recomputes every SigV4 signature; a 200 means it matched.
    let response = app
        .chat(
            &key,
            &json!({
                "model": "bedrock", "max_tokens": 100, "tools": weather_tool(),
                "messages": [{ "role": "system", "content": "Use tools." },
                             { "role": "user", "content": "Weather in Paris?" }],
            }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let authorization = mock.record.last_header("authorization").unwrap();
    assert!(
        authorization.contains("/eu-west-1/bedrock/aws4_request"),
        "{authorization}"
    );
    assert_eq!(
        mock.record.last_header("x-amz-security-token").unwrap(),
        "session-token-1"
    );
    let sent = mock.record.last_request().unwrap();
    assert_eq!(sent["system"], json!([{ "text": "Use tools." }]));
    assert_eq!(sent["inferenceConfig"]["maxTokens"], 100);
    assert_eq!(
        sent["toolConfig"]["tools"][0]["toolSpec"]["name"],
        "get_weather"
    );
    let call = &body["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(call["function"]["arguments"], "{\"city\":\"Paris\"}");

    // Streams arrive as AWS event-stream frames and leave as OpenAI chunks.
    let mut request = hello("bedrock");
    request["stream"] = json!(true);
    request["stream_options"] = json!({ "include_usage": true });
    let text = app.chat(&key, &request).await.text().await.unwrap();
    let chunks = stream_chunks(&text);
    let content = streamed_text(&chunks);
    assert_eq!(content, "Hello from the mock upstream.");
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], 5);

    // Bedrock's Claude Sonnet 4.5 at $3/M in, $15/M out (the system prompt is hoisted, so one
    // message of 10 tokens each time).
    let expected = (10 * 3 + 5 * 15, 10, 5, 0, 0);
    assert_eq!(usage_rows(&pool, &key, 2).await, vec![expected, expected]);

    // A wrong secret gives a signature the service refuses: a 502, never the upstream's text.
    let refused =
        assert_openai_error(app.chat(&key, &hello("bedrock-wrong-secret")).await, 502).await;
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("credentials"));
    app.shutdown().await;
}

async fn embed(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(format!("{}/v1/embeddings", app.base))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn embeddings_are_proxied_metered_and_kept_to_embedding_models(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;

    let response = embed(
        &app,
        &key,
        &json!({ "model": "embed", "input": ["a cat", "a dog"], "dimensions": 4 }),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-litellm-call-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(body["data"][1]["embedding"].as_array().unwrap().len(), 4);
    assert_eq!(
        mock.record.last_request().unwrap()["model"],
        "text-embedding-3-small"
    );

    // The wrong kind of model for the endpoint is refused before any upstream call.
    let before = mock.record.requests();
    let chat_model = assert_openai_error(
        embed(&app, &key, &json!({ "model": "claude", "input": "x" })).await,
        400,
    )
    .await;
    assert_eq!(chat_model["error"]["code"], "unsupported_capability");
    let embedding_model = assert_openai_error(app.chat(&key, &hello("embed")).await, 400).await;
    assert!(embedding_model["error"]["message"]
        .as_str()
        .unwrap()
        .contains("embedding"));
    assert_openai_error(
        embed(&app, &key, &json!({ "model": "embed", "input": [] })).await,
        400,
    )
    .await;
    assert_eq!(mock.record.requests(), before);
    assert_openai_error(
        embed(
            &app,
            &key,
            &json!({ "model": "embed-fail-500", "input": "x" }),
        )
        .await,
        502,
    )
    .await;

    // One row each, `aembedding`, 2 inputs × 10 tokens at $10/M = 200 µ$.
    wait_for_rows(&pool, &key, 2).await;
    let rows: Vec<(String, i64, i64, String)> = sqlx::query_as(
        "SELECT call_type, cost_micros, prompt_tokens, status FROM spend_logs \
         WHERE token_hash = $1 ORDER BY started_at",
    )
    .bind(app::secrets::hash_key(&key))
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            ("aembedding".to_string(), 200, 20, "success".to_string()),
            ("aembedding".to_string(), 0, 0, "failure".to_string()),
        ]
    );
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn azure_deployments_are_called_at_their_urls_with_the_api_key_header(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;

    // The mock answers 404 without `api-version` and 401 without `api-key`, as Azure does.
    let chat = app.chat(&key, &hello("azure")).await;
    assert_eq!(chat.status(), 200);
    let body: Value = chat.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello from the mock upstream."
    );
    assert_eq!(
        mock.record.last_header("api-key").unwrap(),
        "azure-upstream-key"
    );
    assert!(mock.record.last_header("authorization").is_none());

    let image = app
        .http
        .post(format!("{}/v1/images/generations", app.base))
        .bearer_auth(&key)
        .json(&json!({ "model": "azure-dall-e", "prompt": "a lighthouse" }))
        .send()
        .await
        .unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(mock.record.last_request().unwrap()["model"], "dall-e-3");

    // Metered at the catalog prices: gpt-4o-mini tokens, dall-e-3 $0.04 per image.
    let rows = usage_rows(&pool, &key, 2).await;
    assert_eq!(rows[1].0, 40_000);
    assert!(rows[0].0 > 0);
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn gemini_vertex_and_bedrock_embed_in_their_own_formats_and_are_metered(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;
    let inputs = ["a cat", "a dog", "a bird"];
    // Deployment, dimensions asked, upstream calls made, tokens billed: 10 per input where the
    // upstream counts them (Vertex, Titan), the gateway's estimate (2 per input here) where not.
    let cases = [
        ("gemini-embed", 16, 1, 6),
        ("vertex-embed", 16, 1, 30),
        ("vertex-gemini-embed", 16, 3, 30),
        ("titan-embed", 256, 3, 30),
        ("bedrock-cohere-embed", 16, 1, 6),
    ];
    for (model, dimensions, calls, _) in cases {
        let before = mock.record.requests();
        let response = embed(
            &app,
            &key,
            &json!({ "model": model, "input": inputs, "dimensions": dimensions }),
        )
        .await;
        assert_eq!(response.status(), 200, "{model}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["object"], "list");
        let data = body["data"].as_array().unwrap();
        assert_eq!(data.len(), inputs.len(), "{model}");
        for (index, (item, input)) in data.iter().zip(inputs).enumerate() {
            assert_eq!(item["index"], index);
            // Each vector is the one the upstream made for that input, in the client's order.
            assert_eq!(
                item["embedding"],
                json!(mock_upstream::mock_vector(input, dimensions)),
                "{model} input {index}"
            );
        }
        assert_eq!(mock.record.requests() - before, calls, "{model}");
        // What the upstream received (the last of its calls), in its own format.
        let sent = mock.record.last_request().unwrap();
        match model {
            "gemini-embed" => {
                assert_eq!(sent["requests"][2]["model"], "models/gemini-embedding-001");
                assert_eq!(sent["requests"][2]["content"]["parts"][0]["text"], "a bird");
                assert_eq!(sent["requests"][2]["outputDimensionality"], 16);
                assert_eq!(
                    mock.record.last_header("x-goog-api-key").unwrap(),
                    GEMINI_KEY
                );
            }
            "vertex-embed" => {
                assert_eq!(sent["instances"][1], json!({ "content": "a dog" }));
                assert_eq!(sent["parameters"]["outputDimensionality"], 16);
                assert!(mock
                    .record
                    .last_header("authorization")
                    .unwrap()
                    .starts_with("Bearer "));
            }
            "vertex-gemini-embed" => assert_eq!(sent["instances"].as_array().unwrap().len(), 1),
            "titan-embed" => {
                assert!(inputs.contains(&sent["inputText"].as_str().unwrap()));
                assert_eq!(sent["dimensions"], 256);
            }
            _ => {
                assert_eq!(sent["texts"], json!(inputs));
                assert_eq!(sent["input_type"], "search_document");
                assert!(mock
                    .record
                    .last_header("authorization")
                    .unwrap()
                    .starts_with("AWS4-HMAC-SHA256 Credential=AKIDGATEHOUSEMOCK/"));
            }
        }
    }

    // `encoding_format: base64` (the OpenAI SDKs' default) holds for translated replies too:
    // little-endian f32s, as OpenAI encodes them.
    let encoded: Value = embed(
        &app,
        &key,
        &json!({ "model": "gemini-embed", "input": "a cat", "dimensions": 4,
                 "encoding_format": "base64" }),
    )
    .await
    .json()
    .await
    .unwrap();
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let floats: Vec<f32> = bytes
        .chunks(4)
        .map(|chunk| f32::from_le_bytes(chunk.try_into().unwrap()))
        .collect();
    let expected: Vec<f32> = mock_upstream::mock_vector("a cat", 4)
        .into_iter()
        .map(|value| value as f32)
        .collect();
    assert_eq!(floats, expected);

    // Token arrays cannot be embedded as text: a 400 on `input`, no upstream call.
    let before = mock.record.requests();
    let tokens = assert_openai_error(
        embed(
            &app,
            &key,
            &json!({ "model": "titan-embed", "input": [[1, 2, 3]] }),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(tokens["error"]["param"], "input");
    assert_eq!(mock.record.requests(), before);

    // One spend row per request, whatever the number of upstream calls, at $10/M.
    let rows = usage_rows(&pool, &key, cases.len() + 1).await;
    let billed: Vec<(i64, i64)> = rows.iter().map(|row| (row.0, row.1)).collect();
    let mut expected: Vec<(i64, i64)> = cases
        .iter()
        .map(|(_, _, _, tokens)| (tokens * 10, *tokens))
        .collect();
    expected.push((20, 2));
    assert_eq!(billed, expected);
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn cohere_chat_streams_tools_and_embeddings(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;

    let mut request = json!({
        "model": "cohere", "tools": weather_tool(), "tool_choice": "required", "user": "u1",
        "messages": [{ "role": "user", "content": "Weather in Paris?" }],
    });
    let body: Value = app.chat(&key, &request).await.json().await.unwrap();
    let sent = mock.record.last_request().unwrap();
    assert_eq!(sent["tool_choice"], "REQUIRED");
    assert!(sent.get("user").is_none());
    assert_eq!(
        mock.record.last_header("authorization").unwrap(),
        "Bearer co-upstream-key"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
        "{\"city\":\"Paris\"}"
    );

    request["stream"] = json!(true);
    request["stream_options"] = json!({ "include_usage": true });
    let text = app.chat(&key, &request).await.text().await.unwrap();
    let chunks = stream_chunks(&text);
    let arguments = streamed_arguments(&chunks);
    assert_eq!(arguments, "{\"city\":\"Paris\"}");
    assert_eq!(chunks.last().unwrap()["usage"]["prompt_tokens"], 10);

    let embedded: Value = embed(
        &app,
        &key,
        &json!({ "model": "cohere-embed", "input": ["a", "b", "c"] }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(embedded["data"].as_array().unwrap().len(), 3);
    assert_eq!(
        mock.record.last_request().unwrap()["texts"],
        json!(["a", "b", "c"])
    );
    // command-a at $2.50/M in, $10/M out: 10 × 2.5 + 5 × 10 = 75 µ$ a chat; 30 embedded tokens × $10/M.
    let rows = usage_rows(&pool, &key, 3).await;
    assert_eq!(rows[0], (75, 10, 5, 0, 0));
    assert_eq!(rows[2], (300, 30, 0, 0, 0));
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn anthropic_answers_json_schema_through_a_forced_tool_returned_as_content(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;
    let schema = json!({ "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] });
    let request = json!({
        "model": "claude",
        "messages": [{ "role": "user", "content": "Which city is the capital of France?" }],
        "response_format": { "type": "json_schema", "json_schema": { "name": "answer", "schema": schema } },
    });
    let response = app.chat(&key, &request).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let sent = mock.record.last_request().unwrap();
    assert_eq!(sent["tools"][0]["input_schema"], schema);
    assert_eq!(sent["tool_choice"]["type"], "tool");
    assert_eq!(sent["tool_choice"]["name"], sent["tools"][0]["name"]);
    assert!(sent.get("response_format").is_none());
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "stop");
    assert!(choice["message"].get("tool_calls").is_none());
    let content: Value =
        serde_json::from_str(choice["message"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(content, json!({ "city": "Paris" }));

    // Streamed: the tool's argument deltas arrive as content.
    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    let chunks = stream_chunks(&app.chat(&key, &streamed).await.text().await.unwrap());
    let text = streamed_text(&chunks);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({ "city": "Paris" })
    );
    assert!(chunks
        .iter()
        .all(|chunk| chunk["choices"][0]["delta"].get("tool_calls").is_none()));
    let finish = chunks
        .iter()
        .find_map(|chunk| chunk["choices"][0]["finish_reason"].as_str());
    assert_eq!(finish, Some("stop"));

    // With tools as well, it is a clear 400.
    let mut with_tools = request.clone();
    with_tools["tools"] = json!([{ "type": "function", "function": { "name": "f", "parameters": { "type": "object" } } }]);
    let refused = assert_openai_error(app.chat(&key, &with_tools).await, 400).await;
    assert_eq!(refused["error"]["param"], "response_format");
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn vertex_signs_in_with_the_service_account_once_and_speaks_gemini(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;

    let response = app.chat(&key, &hello("vertex")).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello from the mock upstream."
    );
    assert_eq!(
        mock.record.last_header("authorization").unwrap(),
        "Bearer ya29.mock-1"
    );
    assert!(mock.record.last_header("x-goog-api-key").is_none());
    assert!(mock.record.last_request().unwrap()["contents"].is_array());

    // A streamed call with tools reuses the cached token.
    let mut streamed = json!({
        "model": "vertex", "stream": true, "stream_options": { "include_usage": true },
        "messages": [{ "role": "user", "content": "Weather in Paris?" }],
        "tools": weather_tool(),
    });
    let chunks = stream_chunks(&app.chat(&key, &streamed).await.text().await.unwrap());
    let arguments: Value = serde_json::from_str(&streamed_arguments(&chunks)).unwrap();
    assert_eq!(arguments["city"], "Paris");
    assert_eq!(mock.record.tokens_issued(), 1);

    // A token endpoint that refuses the assertion (wrong audience) is a 502, not a leak.
    streamed["model"] = json!("vertex-wrong-audience");
    let refused = app.chat(&key, &hello("vertex-wrong-audience")).await;
    let error = assert_openai_error(refused, 502).await;
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("service account"));
    assert_eq!(mock.record.tokens_issued(), 1);

    // Billed at the catalog's gemini-2.5-flash prices.
    let rows = usage_rows(&pool, &key, 3).await;
    assert!(rows[0].0 > 0);
    app.shutdown().await;
}
