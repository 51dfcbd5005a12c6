//! The data plane end to end: proxying, streaming, errors, metering.

use crate::common::*;
use futures::StreamExt;
use serde_json::{json, Value};
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn non_streaming_chat_is_proxied_metered_and_reported(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app
        .new_key(json!({ "models": ["priced"], "key_alias": "alpha" }))
        .await;

    let mut body = hello("priced");
    body["x_unknown_field"] = json!({ "kept": true });
    body["temperature"] = json!(0.3);
    let response = app.chat(&key, &body).await;
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let reply: Value = response.json().await.unwrap();
    assert_eq!(
        reply["choices"][0]["message"]["content"],
        "Hello from the mock upstream."
    );

    let upstream = mock.record.last_request().unwrap();
    assert_eq!(
        upstream["model"], "priced-model",
        "model id rewritten for the upstream"
    );
    assert_eq!(
        upstream["x_unknown_field"]["kept"], true,
        "unknown fields passed through"
    );
    assert_eq!(upstream["temperature"], 0.3);

    // 10 prompt tokens × 10 µ$ + 5 completion tokens × 30 µ$ = 250 µ$
    let rows = wait_for_rows(&pool, &key, 1).await;
    assert_eq!(rows[0], (250, 10, 5, "success".to_string(), false));

    let info = app.key_info(&key).await;
    assert_eq!(info["info"]["spend_micros"], 250);
    assert_eq!(info["info"]["key_alias"], "alpha");
    assert_eq!(info["key"], app::secrets::hash_key(&key));

    let logs = app.spend_logs(&key).await;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["request_id"], request_id.as_str());
    assert_eq!(logs[0]["model_group"], "priced");
    assert_eq!(logs[0]["model"], "priced-model");
    assert_eq!(logs[0]["total_tokens"], 15);
    assert_eq!(logs[0]["spend"], 0.00025);
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn n_requests_give_n_rows_whose_costs_sum_to_the_key_spend(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;
    let requests = (0..12).map(|index| {
        let mut body = hello("priced");
        if index % 3 == 0 {
            body["stream"] = json!(true);
        }
        if index % 4 == 0 {
            body["messages"]
                .as_array_mut()
                .unwrap()
                .push(json!({ "role": "user", "content": "and again" }));
        }
        let (app, key) = (&app, &key);
        async move {
            let response = app.chat(key, &body).await;
            assert_eq!(response.status(), 200);
            response.text().await.unwrap();
        }
    });
    futures::future::join_all(requests).await;
    let rows = wait_for_rows(&pool, &key, 12).await;
    let total: i64 = rows.iter().map(|row| row.0).sum();
    // 3 requests carry two messages: 3 × (200 + 150) + 9 × (100 + 150)
    assert_eq!(total, 3 * 350 + 9 * 250);
    let key_spend: i64 =
        sqlx::query_scalar("SELECT spend_micros FROM budget_counters WHERE subject = $1")
            .bind(format!("key:{}", app::secrets::hash_key(&key)))
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(key_spend, total);
    assert_eq!(app.spend_logs(&key).await.len(), 12);
    assert_eq!(app.key_info(&key).await["info"]["spend_micros"], total);
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn streams_relay_chunks_and_strip_the_usage_chunk_nobody_asked_for(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;

    let mut body = hello("priced");
    body["stream"] = json!(true);
    let response = app.chat(&key, &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let chunks = stream_chunks(&response.text().await.unwrap());
    assert!(
        chunks.iter().all(|chunk| chunk.get("usage").is_none()),
        "usage chunk stripped"
    );
    let text = streamed_text(&chunks);
    assert_eq!(text, "Hello from the mock upstream.");
    assert_eq!(
        mock.record.last_request().unwrap()["stream_options"]["include_usage"],
        true,
        "gatehouse asks the upstream for usage"
    );

    body["stream_options"] = json!({ "include_usage": true });
    let payloads = sse_payloads(&app.chat(&key, &body).await.text().await.unwrap());
    let usage: Value = serde_json::from_str(&payloads[payloads.len() - 2]).unwrap();
    assert_eq!(
        usage["usage"]["completion_tokens"], 5,
        "kept when the client asked"
    );

    let rows = wait_for_rows(&pool, &key, 2).await;
    assert!(rows
        .iter()
        .all(|row| *row == (250, 10, 5, "success".into(), false)));
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn a_client_that_leaves_mid_stream_is_billed_for_the_whole_output(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;
    let mut body = hello("slow");
    body["stream"] = json!(true);
    let response = app.chat(&key, &body).await;
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: "));
    drop(stream);

    let rows = wait_for_rows(&pool, &key, 1).await;
    let (cost, prompt, completion, status, estimated) = rows[0].clone();
    assert_eq!(
        (prompt, completion),
        (10, 20),
        "usage read from the upstream after the client left"
    );
    assert_eq!(cost, 10 * 10 + 20 * 30);
    assert_eq!(status, "success");
    assert!(!estimated);
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn a_stream_cut_midway_ends_with_an_error_event_and_is_billed(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;
    let mut body = hello("cut");
    body["stream"] = json!(true);
    let response = app.chat(&key, &body).await;
    assert_eq!(response.status(), 200);
    let payloads = sse_payloads(&response.text().await.unwrap());
    let last: Value = serde_json::from_str(payloads.last().unwrap()).unwrap();
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("mid-stream"),
        "{last}"
    );
    assert!(!payloads.contains(&"[DONE]".to_string()));

    let rows = wait_for_rows(&pool, &key, 1).await;
    let (cost, _prompt, completion, status, estimated) = rows[0].clone();
    assert_eq!(status, "failure");
    assert!(estimated, "no usage from the upstream: estimated");
    assert!(completion > 0, "the partial output is billed");
    assert!(cost > 0);
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn bad_keys_and_bad_bodies_get_openai_errors(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({ "models": ["priced"] })).await;
    let url = format!("{}/v1/chat/completions", app.base);

    let missing = app
        .http
        .post(&url)
        .json(&hello("priced"))
        .send()
        .await
        .unwrap();
    assert_openai_error(missing, 401).await;
    let wrong = app
        .chat("sk-not-a-real-key-0000000000", &hello("priced"))
        .await;
    let body = assert_openai_error(wrong, 401).await;
    assert_eq!(body["error"]["code"], "invalid_api_key");

    let not_json = app
        .http
        .post(&url)
        .bearer_auth(&key)
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_openai_error(not_json, 400).await;
    let no_model = app
        .chat(
            &key,
            &json!({ "messages": [{ "role": "user", "content": "x" }] }),
        )
        .await;
    assert_eq!(
        assert_openai_error(no_model, 400).await["error"]["param"],
        "model"
    );
    let no_messages = app.chat(&key, &json!({ "model": "priced" })).await;
    assert_eq!(
        assert_openai_error(no_messages, 400).await["error"]["param"],
        "messages"
    );

    let unknown = app.chat(&key, &hello("no-such-model")).await;
    assert_eq!(
        assert_openai_error(unknown, 404).await["error"]["code"],
        "model_not_found"
    );
    let forbidden = app.chat(&key, &hello("gpt-4o-mini")).await;
    assert_openai_error(forbidden, 401).await;

    let wrong_method = app.http.get(&url).bearer_auth(&key).send().await.unwrap();
    assert_openai_error(wrong_method, 405).await;
    let unknown_route = app
        .http
        .get(format!("{}/v1/nope", app.base))
        .send()
        .await
        .unwrap();
    assert_openai_error(unknown_route, 404).await;

    assert_eq!(mock.record.requests(), 0, "nothing reached the upstream");
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn upstream_failures_map_to_gateway_statuses_and_are_logged(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;

    let failed = app.chat(&key, &hello("fail-500")).await;
    let body = assert_openai_error(failed, 502).await;
    assert!(
        !body.to_string().contains("hunter2"),
        "upstream 5xx text never reaches clients"
    );

    let limited = app.chat(&key, &hello("fail-429")).await;
    assert_eq!(limited.headers()["retry-after"], "7");
    assert_openai_error(limited, 429).await;

    let rejected = app.chat(&key, &hello("fail-400")).await;
    let body = assert_openai_error(rejected, 400).await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_tokens is too large"));

    let started = std::time::Instant::now();
    let hung = app.chat(&key, &hello("hang")).await;
    assert_openai_error(hung, 504).await;
    let mut stream_body = hello("hang");
    stream_body["stream"] = json!(true);
    let hung_stream = app.chat(&key, &stream_body).await;
    assert_openai_error(hung_stream, 504).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "timeouts honoured"
    );

    let rows = wait_for_rows(&pool, &key, 5).await;
    assert!(rows.iter().all(|row| row.3 == "failure" && row.0 == 0));
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn the_built_in_mock_response_answers_without_a_provider(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;
    let reply: Value = app.chat(&key, &hello("demo")).await.json().await.unwrap();
    assert_eq!(
        reply["choices"][0]["message"]["content"],
        "Hi from the built-in mock"
    );
    let mut body = hello("demo");
    body["stream"] = json!(true);
    let payloads = sse_payloads(&app.chat(&key, &body).await.text().await.unwrap());
    assert_eq!(payloads.last().unwrap(), "[DONE]");
    wait_for_rows(&pool, &key, 2).await;
    assert_eq!(mock.record.requests(), 0);
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn models_lists_what_the_key_may_use(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({ "models": ["priced", "demo"] })).await;
    let list: Value = app.get("/v1/models", &key).await.json().await.unwrap();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["demo", "priced"]);
    assert_eq!(list["object"], "list");
    let all: Value = app.get("/models", MASTER_KEY).await.json().await.unwrap();
    assert_eq!(all["data"].as_array().unwrap().len(), MODEL_COUNT);
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn shutdown_writes_every_queued_spend_row(pool: PgPool) {
    let mock = mock().await;
    // A batch window far longer than the test: only the shutdown drain can write the rows.
    let app = spawn_app_with(pool.clone(), &mock, 60.0).await;
    let key = app.new_key(json!({})).await;
    for _ in 0..3 {
        assert_eq!(app.chat(&key, &hello("priced")).await.status(), 200);
    }
    let hash = app::secrets::hash_key(&key);
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM spend_logs WHERE token_hash = $1")
        .bind(&hash)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(before, 0, "still batched in memory");
    app.shutdown().await;
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM spend_logs WHERE token_hash = $1")
        .bind(&hash)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(after, 3);
}
