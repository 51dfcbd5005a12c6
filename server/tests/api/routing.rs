//! Routing on live traffic against loopback mocks that fail on demand: which deployments are
//! attempted and in what order, retries (only of retryable failures, honouring Retry-After),
//! fallbacks of each kind, cooldowns that eject and recover (and reach other instances),
//! strategies, and what the response headers and the spend row say about the attempts.

use std::time::{Duration, Instant};

use crate::common::*;
use mock_upstream::{MockUpstream, Scripted};
use serde_json::{json, Value};
use sqlx::PgPool;

/// A `model_list` entry on a mock, with extra `litellm_params`.
pub(crate) fn entry(group: &str, mock: &MockUpstream, id: &str, params: &str) -> String {
    format!(
        "  - model_name: {group}\n    litellm_params: {{ model: openai/gpt-4o-mini, api_base: \"{}\"{params} }}\n    model_info: {{ id: {id} }}\n",
        mock.api_base()
    )
}

/// Usage counts are per Unix minute: waits, when less than ten seconds of this one are left,
/// so that a test stays inside one.
async fn start_early_in_a_minute() {
    let into_minute = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 60;
    if into_minute > 50 {
        tokio::time::sleep(Duration::from_secs(61 - into_minute)).await;
    }
}

pub(crate) async fn app_with(pool: PgPool, model_list: &str, router_settings: &str) -> TestApp {
    let yaml = format!(
        "model_list:\n{model_list}router_settings:\n{router_settings}general_settings:\n  master_key: {MASTER_KEY}\n  proxy_batch_write_at: 0.05\n"
    );
    let config = server::config::Config::parse(&yaml, "routing.yaml", &|_| None).unwrap();
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    spawn_app_from_yaml(pool, &yaml).await
}

/// The request class a response ran in and the deployment that served it.
fn class_and_deployment(response: &reqwest::Response) -> (String, String) {
    (
        header(response, "x-gatehouse-request-class"),
        header(response, "x-litellm-model-id"),
    )
}

/// The attempts recorded on the key's spend rows, oldest row first.
pub(crate) async fn attempts(app: &TestApp, key: &str, rows: usize) -> Vec<Vec<Value>> {
    wait_for_rows(&app.pool, key, rows).await;
    let filter = app::db::spend::SpendFilter {
        token_hash: Some(app::secrets::hash_key(key)),
        limit: 1000,
        ..Default::default()
    };
    let mut recorded = app::db::spend::list(&app.pool, &filter).await.unwrap();
    recorded.sort_by_key(|row| row.started_at);
    recorded
        .into_iter()
        .map(|row| row.attempt_list().as_array().unwrap().clone())
        .collect()
}

pub(crate) fn outcomes(attempts: &[Value]) -> Vec<(String, String)> {
    attempts
        .iter()
        .map(|attempt| {
            (
                attempt["deployment_id"].as_str().unwrap().to_string(),
                attempt["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[sqlx::test(migrations = false)]
async fn retryable_failures_move_to_the_next_deployment_and_client_errors_are_never_retried(
    pool: PgPool,
) {
    let (first, second) = (mock().await, mock().await);
    let models =
        entry("g", &first, "first", ", order: 1") + &entry("g", &second, "second", ", order: 2");
    let app = app_with(pool, &models, "  num_retries: 3\n").await;
    let key = app.new_key(json!({})).await;

    first
        .record
        .script([Scripted::Status(500), Scripted::Reset]);
    let response = app.chat(&key, &hello("g")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-litellm-model-id"), "second");
    assert_eq!(header(&response, "x-litellm-attempted-retries"), "1");
    assert_eq!(header(&response, "x-gatehouse-attempts"), "2");
    assert_eq!(header(&response, "x-litellm-attempted-fallbacks"), "0");
    assert!(header(&response, "x-litellm-overhead-duration-ms")
        .parse::<u64>()
        .is_ok());
    assert_eq!((first.record.requests(), second.record.requests()), (1, 1));

    // The reset is the next failure: the first deployment again fails over to the second.
    let response = app.chat(&key, &hello("g")).await;
    assert_eq!(header(&response, "x-litellm-model-id"), "second");
    assert_eq!((first.record.requests(), second.record.requests()), (2, 2));

    // A 400 and a 401 are answered as they are, after exactly one attempt.
    first.record.script([Scripted::Status(400)]);
    let response = app.chat(&key, &hello("g")).await;
    assert_eq!(response.status(), 400);
    first.record.script([Scripted::Status(401)]);
    let response = app.chat(&key, &hello("g")).await;
    assert_eq!(response.status(), 502);
    assert_eq!((first.record.requests(), second.record.requests()), (4, 2));

    let recorded = attempts(&app, &key, 4).await;
    let expected = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        outcomes(&recorded[0]),
        expected(&[("first", "server_error"), ("second", "success")])
    );
    assert_eq!(recorded[0][0]["status"], 502);
    assert_eq!(
        outcomes(&recorded[1]),
        expected(&[("first", "server_error"), ("second", "success")])
    );
    assert_eq!(outcomes(&recorded[2]), expected(&[("first", "rejected")]));
    assert_eq!(
        outcomes(&recorded[3]),
        expected(&[("first", "upstream_auth_error")])
    );
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn rate_limits_wait_for_retry_after_up_to_the_cap(pool: PgPool) {
    let solo = mock().await;
    let app = app_with(
        pool,
        &entry("solo", &solo, "solo", ""),
        "  num_retries: 1\n",
    )
    .await;
    let key = app.new_key(json!({})).await;

    solo.record.script([Scripted::RateLimited {
        retry_after_seconds: 1,
    }]);
    let started = Instant::now();
    let response = app.chat(&key, &hello("solo")).await;
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(solo.record.requests(), 2);

    // A pause longer than the cap is not waited for: the client hears the 429 at once.
    solo.record.script([Scripted::RateLimited {
        retry_after_seconds: 60,
    }]);
    let started = Instant::now();
    let response = app.chat(&key, &hello("solo")).await;
    assert_eq!(response.status(), 429);
    assert_eq!(header(&response, "retry-after"), "60");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(solo.record.requests(), 3);
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn a_hang_times_out_per_the_request_header_and_fails_over(pool: PgPool) {
    let (first, second) = (mock().await, mock().await);
    let models =
        entry("g", &first, "first", ", order: 1") + &entry("g", &second, "second", ", order: 2");
    let app = app_with(pool, &models, "  num_retries: 1\n").await;
    let key = app.new_key(json!({})).await;
    first.record.script([Scripted::Hang]);
    let started = Instant::now();
    let response = app
        .http
        .post(format!("{}/v1/chat/completions", app.base))
        .bearer_auth(&key)
        .header("x-litellm-timeout", "0.3")
        .json(&hello("g"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-litellm-model-id"), "second");
    assert!(started.elapsed() < Duration::from_secs(3));
    let recorded = attempts(&app, &key, 1).await;
    assert_eq!(recorded[0][0]["outcome"], "timeout");

    let response = app
        .http
        .post(format!("{}/v1/chat/completions", app.base))
        .bearer_auth(&key)
        .header("x-litellm-timeout", "soon")
        .json(&hello("g"))
        .send()
        .await
        .unwrap();
    assert_openai_error(response, 400).await;
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn fallbacks_follow_the_failure_kind_and_skip_groups_that_cannot_serve(pool: PgPool) {
    let (primary, backup, plain, long) = (mock().await, mock().await, mock().await, mock().await);
    let models = entry("primary", &primary, "primary", "")
        + &entry("backup", &backup, "backup", "")
        + "  - model_name: plain\n    litellm_params: { model: openai/gpt-4o-mini, api_base: \""
        + &plain.api_base()
        + "\" }\n    model_info: { id: plain, supports_function_calling: false }\n"
        + &entry("long", &long, "long", "");
    let settings = "  fallbacks: [{primary: [plain, backup]}]\n  context_window_fallbacks: [{primary: [long]}]\n";
    let app = app_with(pool, &models, settings).await;
    let key = app.new_key(json!({})).await;

    primary.record.script([Scripted::Status(503)]);
    let response = app.chat(&key, &hello("primary")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-litellm-model-id"), "plain");
    assert_eq!(header(&response, "x-litellm-attempted-fallbacks"), "1");

    // A request with tools passes over the group without tool support.
    primary.record.script([Scripted::Status(503)]);
    let tools = json!({
        "model": "primary",
        "messages": [{ "role": "user", "content": "weather?" }],
        "tools": [{ "type": "function", "function": { "name": "weather", "parameters": { "type": "object", "properties": {} } } }],
    });
    let response = app.chat(&key, &tools).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-litellm-model-id"), "backup");
    assert_eq!(plain.record.requests(), 1);

    // Too long a prompt goes down the context-window chain, not the general one.
    primary.record.script([Scripted::BadRequest(
        "This model's maximum context length is 128000 tokens (context_length_exceeded)",
    )]);
    let response = app.chat(&key, &hello("primary")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-litellm-model-id"), "long");

    // Any other 400 falls back nowhere.
    primary
        .record
        .script([Scripted::BadRequest("max_tokens is too large")]);
    let response = app.chat(&key, &hello("primary")).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        (
            backup.record.requests(),
            plain.record.requests(),
            long.record.requests()
        ),
        (1, 1, 1)
    );
    let recorded = attempts(&app, &key, 4).await;
    assert_eq!(
        outcomes(&recorded[2]),
        [
            ("primary".to_string(), "context_window_exceeded".to_string()),
            ("long".to_string(), "success".to_string())
        ]
    );
    assert_eq!(recorded[2][1]["model_group"], "long");
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn cooldown_ejects_after_allowed_fails_recovers_after_a_probe_and_ignores_404s(pool: PgPool) {
    let (flaky, steady, missing) = (mock().await, mock().await, mock().await);
    let models = entry("g", &flaky, "flaky", ", order: 1")
        + &entry("g", &steady, "steady", ", order: 2")
        + &entry("gone", &missing, "gone", "");
    let app = app_with(pool, &models, "  allowed_fails: 1\n  cooldown_time: 1\n").await;
    let key = app.new_key(json!({})).await;

    flaky
        .record
        .script([Scripted::Status(500), Scripted::Status(500)]);
    assert_eq!(app.chat(&key, &hello("g")).await.status(), 502);
    assert_eq!(app.chat(&key, &hello("g")).await.status(), 502);
    // Two failures within the minute exceed allowed_fails = 1: the lower tier takes over.
    for _ in 0..3 {
        let response = app.chat(&key, &hello("g")).await;
        assert_eq!(header(&response, "x-litellm-model-id"), "steady");
    }
    assert_eq!(flaky.record.requests(), 2);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // One probe, which succeeds: the deployment is back.
    for _ in 0..2 {
        let response = app.chat(&key, &hello("g")).await;
        assert_eq!(header(&response, "x-litellm-model-id"), "flaky");
    }
    assert_eq!(flaky.record.requests(), 4);

    // A 404 says nothing about health: it never cools a deployment down.
    missing.record.script([Scripted::Status(404); 6]);
    for _ in 0..6 {
        assert_eq!(app.chat(&key, &hello("gone")).await.status(), 404);
    }
    assert_eq!(missing.record.requests(), 6);
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn a_cooldown_reaches_the_other_instances(pool: PgPool) {
    let (flaky, steady) = (mock().await, mock().await);
    let models =
        entry("g", &flaky, "flaky", ", order: 1") + &entry("g", &steady, "steady", ", order: 2");
    let settings = "  allowed_fails: 0\n  cooldown_time: 30\n";
    let one = app_with(pool.clone(), &models, settings).await;
    let two = app_with(pool, &models, settings).await;
    let key = one.new_key(json!({})).await;
    // Instance two has seen the key once, so its next request needs no database read.
    assert_eq!(
        header(&two.chat(&key, &hello("g")).await, "x-litellm-model-id"),
        "flaky"
    );
    flaky.record.script([Scripted::Status(500)]);
    assert_eq!(one.chat(&key, &hello("g")).await.status(), 502);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = two.chat(&key, &hello("g")).await;
        if header(&response, "x-litellm-model-id") == "steady" {
            break;
        }
        assert!(Instant::now() < deadline, "instance two never cooled down");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // From then on instance two keeps away from the deployment instance one cooled down.
    let seen = flaky.record.requests();
    for _ in 0..3 {
        let response = two.chat(&key, &hello("g")).await;
        assert_eq!(header(&response, "x-litellm-model-id"), "steady");
    }
    assert_eq!(flaky.record.requests(), seen);
    one.shutdown().await;
    two.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn latency_routing_moves_traffic_to_the_faster_deployment(pool: PgPool) {
    let (slow, fast) = (mock().await, mock().await);
    slow.record.set_latency(Duration::from_millis(120));
    let models = entry("g", &slow, "slow", "") + &entry("g", &fast, "fast", "");
    let app = app_with(pool, &models, "  routing_strategy: latency-based-routing\n").await;
    let key = app.new_key(json!({})).await;
    for _ in 0..10 {
        assert_eq!(app.chat(&key, &hello("g")).await.status(), 200);
    }
    let before = fast.record.requests();
    for _ in 0..10 {
        assert_eq!(app.chat(&key, &hello("g")).await.status(), 200);
    }
    // Of the last ten, all but the one exploring request went to the faster deployment.
    assert!(
        fast.record.requests() - before >= 9,
        "{}",
        fast.record.requests() - before
    );
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn streams_fail_over_before_the_first_byte_and_never_after_it(pool: PgPool) {
    let (first, second) = (mock().await, mock().await);
    let models = entry("g", &first, "first", ", order: 1")
        + &entry("g", &second, "second", ", order: 2")
        + "  - model_name: cut\n    litellm_params: { model: openai/mock-cut-stream, api_base: \""
        + &first.api_base()
        + "\" }\n    model_info: { id: cut, input_cost_per_token: 0.00001, output_cost_per_token: 0.00003 }\n";
    let app = app_with(
        pool,
        &models,
        "  num_retries: 2\n  fallbacks: [{cut: [g]}]\n",
    )
    .await;
    let key = app.new_key(json!({})).await;
    let streamed = |model: &str| json!({ "model": model, "stream": true, "messages": [{ "role": "user", "content": "hi" }] });

    first.record.script([Scripted::Status(502)]);
    let response = app.chat(&key, &streamed("g")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-litellm-model-id"), "second");
    let chunks = stream_chunks(&response.text().await.unwrap());
    assert_eq!(streamed_text(&chunks), mock_upstream::REPLY_WORDS.concat());

    // Cut after two words: the client gets them and an error event; nothing is retried.
    let before = (first.record.requests(), second.record.requests());
    let response = app.chat(&key, &streamed("cut")).await;
    let body = response.text().await.unwrap();
    let payloads = sse_payloads(&body);
    assert!(
        payloads.iter().any(|payload| payload.contains("\"error\"")),
        "{body}"
    );
    assert_eq!(
        before,
        (first.record.requests() - 1, second.record.requests())
    );
    let recorded = attempts(&app, &key, 2).await;
    assert_eq!(recorded[1].len(), 1);
    let status: String = sqlx::query_scalar(
        "SELECT status FROM spend_logs WHERE token_hash = $1 AND model_group = 'cut'",
    )
    .bind(app::secrets::hash_key(&key))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(status, "failure");
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn wildcard_groups_route_by_the_requested_model(pool: PgPool) {
    let (wild, exact, catch_all) = (mock().await, mock().await, mock().await);
    let models = format!(
        "  - model_name: \"mock/*\"\n    litellm_params: {{ model: \"openai/*\", api_base: \"{}\" }}\n    model_info: {{ id: wild }}\n\
         \x20 - model_name: \"mock/claude-*\"\n    litellm_params: {{ model: \"openai/claude-*\", api_base: \"{}\" }}\n    model_info: {{ id: claude, supports_function_calling: false }}\n",
        wild.api_base(),
        catch_all.api_base(),
    ) + &entry("mock/gpt-4o", &exact, "exact", "");
    let settings = "  fallbacks: [{\"mock/gpt-4o\": [\"mock/gpt-4o-mini\"]}]\n";
    let app = app_with(pool, &models, settings).await;
    let key = app.new_key(json!({ "models": ["mock/*"] })).await;

    // The upstream is asked for what the `*` matched, priced as that model.
    let response = app.chat(&key, &hello("mock/gpt-4o-mini")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-litellm-model-id"), "wild");
    assert_eq!(
        header(&response, "x-litellm-model-group"),
        "mock/gpt-4o-mini"
    );
    assert_eq!(wild.record.last_request().unwrap()["model"], "gpt-4o-mini");
    let body: Value = response.json().await.unwrap();
    let (prompt, completion) = (
        body["usage"]["prompt_tokens"].as_i64().unwrap(),
        body["usage"]["completion_tokens"].as_i64().unwrap(),
    );

    // A name the config lists itself beats any pattern; the most specific pattern beats `mock/*`.
    let response = app.chat(&key, &hello("mock/gpt-4o")).await;
    assert_eq!(header(&response, "x-litellm-model-id"), "exact");
    let response = app.chat(&key, &hello("mock/claude-haiku")).await;
    assert_eq!(header(&response, "x-litellm-model-id"), "claude");
    assert_eq!(
        catch_all.record.last_request().unwrap()["model"],
        "claude-haiku"
    );

    // The pattern's model_info applies to every model it serves.
    let tools = json!({
        "model": "mock/claude-haiku",
        "messages": [{ "role": "user", "content": "weather?" }],
        "tools": [{ "type": "function", "function": { "name": "weather", "parameters": { "type": "object", "properties": {} } } }],
    });
    let refused = assert_openai_error(app.chat(&key, &tools).await, 400).await;
    assert_eq!(refused["error"]["param"], "tools");

    // A fallback may name a model only a pattern serves.
    exact.record.script([Scripted::Status(500)]);
    let response = app.chat(&key, &hello("mock/gpt-4o")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-litellm-model-id"), "wild");
    assert_eq!(header(&response, "x-litellm-attempted-fallbacks"), "1");

    // Nothing matches: the OpenAI-shaped 404 of an unknown model. A pattern is not a model, and
    // a name that would put more than a model id into the upstream URL matches nothing.
    for unknown in [
        "other/gpt-4o",
        "mock/",
        "mock/*",
        "mock/../../admin",
        "mock/a?b",
    ] {
        let response = app.chat(MASTER_KEY, &hello(unknown)).await;
        assert_openai_error(response, 404).await;
    }
    // A key limited to part of the pattern may not leave that part.
    let claude_only = app.new_key(json!({ "models": ["mock/claude-*"] })).await;
    let refused = app.chat(&claude_only, &hello("mock/gpt-4o-mini")).await;
    assert_openai_error(refused, 401).await;
    assert_eq!(wild.record.requests(), 2);

    // The spend row names the model asked for and the upstream model, at the catalog's price
    // of gpt-4o-mini ($0.15 / $0.60 per million tokens).
    // Four rows: the tools request was refused before any call.
    wait_for_rows(&app.pool, &key, 4).await;
    let logs = app.spend_logs(&key).await;
    let first = logs
        .iter()
        .rev()
        .find(|row| row["model_group"] == "mock/gpt-4o-mini")
        .unwrap();
    assert_eq!(first["model"], "gpt-4o-mini");
    // The row of a request its first attempt served stores no attempts list (listed from the
    // row itself); the fallen-back request stores both attempts.
    let stored: Vec<(Option<Value>,)> =
        sqlx::query_as("SELECT attempts FROM spend_logs WHERE token_hash = $1 ORDER BY started_at")
            .bind(app::secrets::hash_key(&key))
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored[0].0, None);
    assert_eq!(stored[3].0.as_ref().unwrap().as_array().unwrap().len(), 2);
    assert_eq!(first["metadata"]["attempts"][0]["deployment_id"], "wild");
    let micros = (prompt * 150_000 + completion * 600_000 + 500_000) / 1_000_000;
    assert!(micros > 0);
    assert!((first["spend"].as_f64().unwrap() - micros as f64 / 1e6).abs() < 1e-12);
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn request_classes_choose_the_route_and_degrade_on_budget_use(pool: PgPool) {
    let (premium, cheap) = (mock().await, mock().await);
    let models = entry("premium", &premium, "premium", "") + &entry("cheap", &cheap, "cheap", "");
    let yaml = format!(
        "model_list:\n{models}request_classes:\n\
         \x20 standard: {{default: true, degrade: {{budget_used: 0.01, to: batch-cheap}}}}\n\
         \x20 batch-cheap: {{model_groups: {{premium: cheap}}, routing_strategy: cost-based-routing}}\n\
         \x20 realtime-critical: {{num_retries: 2}}\n\
         general_settings:\n  master_key: {MASTER_KEY}\n  proxy_batch_write_at: 0.05\n"
    );
    let app = spawn_app_from_yaml(pool, &yaml).await;
    let key = app.new_key(json!({})).await;
    let chat_with = |key: &str, name: &'static str, value: &'static str| {
        app.http
            .post(format!("{}/v1/chat/completions", app.base))
            .bearer_auth(key.to_string())
            .header(name, value)
            .json(&hello("premium"))
            .send()
    };

    // Nothing asked: the default class, on the group asked for.
    let response = app.chat(&key, &hello("premium")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        class_and_deployment(&response),
        ("standard".to_string(), "premium".to_string())
    );
    // The header or a tag asks for a class, whose group serves the model.
    let response = chat_with(&key, "x-gatehouse-request-class", "batch-cheap")
        .await
        .unwrap();
    assert_eq!(
        class_and_deployment(&response),
        ("batch-cheap".to_string(), "cheap".to_string())
    );
    assert_eq!(header(&response, "x-litellm-model-group"), "cheap");
    let response = chat_with(&key, "x-litellm-tags", "team-a, batch-cheap")
        .await
        .unwrap();
    assert_eq!(header(&response, "x-litellm-model-id"), "cheap");
    assert_eq!((premium.record.requests(), cheap.record.requests()), (1, 2));
    let refused = chat_with(&key, "x-gatehouse-request-class", "gold")
        .await
        .unwrap();
    let body = assert_openai_error(refused, 400).await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("`gold` is not a request class"));

    // A key cannot be pinned to a class that does not exist.
    for class in [json!("gold"), json!(3)] {
        let refused = app
            .http
            .post(format!("{}/key/generate", app.base))
            .bearer_auth(MASTER_KEY)
            .json(&json!({ "metadata": { "request_class": class } }))
            .send()
            .await
            .unwrap();
        assert_openai_error(refused, 400).await;
    }

    // A key's class is pinned: the header cannot move it; the class's retries apply.
    let pinned = app
        .new_key(json!({ "metadata": { "request_class": "realtime-critical" } }))
        .await;
    premium.record.script([Scripted::Status(500)]);
    let response = chat_with(&pinned, "x-gatehouse-request-class", "batch-cheap")
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        class_and_deployment(&response),
        ("realtime-critical".to_string(), "premium".to_string())
    );
    assert_eq!(header(&response, "x-litellm-attempted-retries"), "1");

    // A class the request asks for may not take it to a group its key may not use.
    let premium_only = app.new_key(json!({ "models": ["premium"] })).await;
    let refused = chat_with(&premium_only, "x-gatehouse-request-class", "batch-cheap")
        .await
        .unwrap();
    assert_openai_error(refused, 401).await;
    // Nor may a class pinned on the key (a team admin sets a key's metadata).
    let pinned_elsewhere = app
        .new_key(json!({ "models": ["premium"], "metadata": { "request_class": "batch-cheap" } }))
        .await;
    let refused = app.chat(&pinned_elsewhere, &hello("premium")).await;
    assert_openai_error(refused, 401).await;

    // Once a key has spent 1 % of its budget, its default class degrades to the cheap route,
    // an operator's choice that holds even for a key allowed only the group it asked for.
    let budgeted = app
        .new_key(json!({ "max_budget": 0.0001, "models": ["premium"] }))
        .await;
    let response = app.chat(&budgeted, &hello("premium")).await;
    assert_eq!(header(&response, "x-litellm-model-id"), "premium");
    assert_eq!(header(&response, "x-gatehouse-degraded"), "");
    let spent = wait_for_rows(&app.pool, &budgeted, 1).await[0].0;
    assert!((1..100).contains(&spent), "{spent} µ$ of a 100 µ$ budget");
    let response = app.chat(&budgeted, &hello("premium")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        class_and_deployment(&response),
        ("batch-cheap".to_string(), "cheap".to_string())
    );
    assert_eq!(header(&response, "x-gatehouse-degraded"), "true");
    // Asking for a class without a degrade of its own does not escape it.
    let response = chat_with(&budgeted, "x-gatehouse-request-class", "realtime-critical")
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        class_and_deployment(&response),
        ("batch-cheap".to_string(), "cheap".to_string())
    );
    // A team's budget use degrades its keys too, though the key has no budget of its own.
    let team = app
        .http
        .post(format!("{}/team/new", app.base))
        .bearer_auth(MASTER_KEY)
        .json(&json!({ "team_id": "degrading", "max_budget": 0.0001 }))
        .send()
        .await
        .unwrap();
    assert_eq!(team.status(), 200);
    let member = app
        .new_key(json!({ "team_id": "degrading", "models": ["premium"] }))
        .await;
    let response = app.chat(&member, &hello("premium")).await;
    assert_eq!(header(&response, "x-gatehouse-degraded"), "");
    wait_for_rows(&app.pool, &member, 1).await;
    let response = app.chat(&member, &hello("premium")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-gatehouse-degraded"), "true");
    app.shutdown().await;
}

/// Sends chat requests (with an extra header, if given) until `ready` holds for a response,
/// at most `limit`; how long it took.
async fn until_routed(
    app: &TestApp,
    key: &str,
    extra: Option<(&str, &str)>,
    limit: Duration,
    ready: impl Fn(&reqwest::Response) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        let mut request = app
            .http
            .post(format!("{}/v1/chat/completions", app.base))
            .bearer_auth(key)
            .json(&hello("primary"));
        if let Some((name, value)) = extra {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        if ready(&response) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "not routed as expected within {limit:?}: {} {:?}",
            response.status(),
            response.headers()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[sqlx::test(migrations = false)]
async fn a_route_policy_saved_once_applies_on_every_instance_within_a_second(pool: PgPool) {
    use app::route_policy::{ClassPolicy, RouteOverrides};

    let (failing, backup) = (mock().await, mock().await);
    let models = format!(
        "  - model_name: primary\n    litellm_params: {{ model: openai/mock-fail-500, api_base: \"{}\" }}\n    model_info: {{ id: primary, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002 }}\n",
        failing.api_base()
    ) + &entry("backup", &backup, "backup", "");
    let settings = "  disable_cooldowns: true\n";
    let one = app_with(pool.clone(), &models, settings).await;
    let two = app_with(pool.clone(), &models, settings).await;
    let key = one.new_key(json!({})).await;
    assert!(two
        .chat(&key, &hello("primary"))
        .await
        .status()
        .is_server_error());

    // The console's change, through the operation its server functions call.
    let admin = app::ops::Actor {
        name: "admin@test".into(),
        role: Some(app::model::Role::Admin),
        ..app::ops::Actor::default()
    };
    // Nothing changed stores nothing.
    app::ops::route_policy::change(&pool, &admin, 0, "nothing", Ok)
        .await
        .unwrap();
    assert!(app::db::routes::load(&pool).await.unwrap().is_none());
    app::ops::route_policy::change(&pool, &admin, 0, "fallbacks", |mut overrides| {
        overrides
            .fallbacks
            .insert("primary".into(), Some(vec!["backup".into()]));
        overrides.request_classes.insert(
            "cheap".into(),
            Some(ClassPolicy {
                model_groups: [("*".to_string(), "backup".to_string())].into(),
                ..ClassPolicy::default()
            }),
        );
        Ok(overrides)
    })
    .await
    .unwrap();
    for app in [&one, &two] {
        let took = until_routed(app, &key, None, Duration::from_secs(1), |response| {
            header(response, "x-litellm-model-id") == "backup"
        })
        .await;
        assert!(took < Duration::from_secs(1), "{took:?}");
    }
    // The class the console added routes there too, without trying the failing group.
    let seen = failing.record.requests();
    let response = two
        .http
        .post(format!("{}/v1/chat/completions", two.base))
        .bearer_auth(&key)
        .header("x-gatehouse-request-class", "cheap")
        .json(&hello("primary"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        class_and_deployment(&response),
        ("cheap".into(), "backup".into())
    );
    assert_eq!(failing.record.requests(), seen);
    let stored = app::db::routes::load(&pool).await.unwrap().unwrap();
    assert_eq!(stored.updated_by, "admin@test");
    // A change made from the page as it was before that save is refused, not lost in between.
    let mut transaction = pool.begin().await.unwrap();
    let stale = app::db::routes::update(
        &mut transaction,
        "other@test",
        0,
        |mut overrides: RouteOverrides| {
            overrides.num_retries = Some(1);
            Ok::<_, ()>(overrides)
        },
    )
    .await;
    drop(transaction);
    assert!(matches!(
        stale,
        Err(app::db::routes::RoutePolicyError::ChangedMeanwhile { updated_by }) if updated_by == "admin@test"
    ));

    // Reset: config.yaml's routing again, everywhere (no classes: the header means nothing).
    let mut transaction = pool.begin().await.unwrap();
    assert!(app::db::routes::reset(&mut transaction).await.unwrap());
    transaction.commit().await.unwrap();
    for app in [&one, &two] {
        until_routed(
            app,
            &key,
            Some(("x-gatehouse-request-class", "cheap")),
            Duration::from_secs(1),
            |response| response.status().is_server_error(),
        )
        .await;
        assert!(app
            .chat(&key, &hello("primary"))
            .await
            .status()
            .is_server_error());
    }
    one.shutdown().await;
    two.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn with_redis_a_cooldown_reaches_running_instances_and_ones_started_later(pool: PgPool) {
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let (flaky, steady) = (mock().await, mock().await);
    // Redis outlives the test database: ids of this run only.
    let run = uuid::Uuid::new_v4().simple().to_string();
    let (flaky_id, steady_id) = (format!("flaky-{run}"), format!("steady-{run}"));
    let models = entry("g", &flaky, &flaky_id, ", order: 1")
        + &entry("g", &steady, &steady_id, ", order: 2");
    let settings = format!("  allowed_fails: 0\n  cooldown_time: 30\n  redis_url: {redis}\n");
    let one = app_with(pool.clone(), &models, &settings).await;
    let two = app_with(pool.clone(), &models, &settings).await;
    let key = one.new_key(json!({})).await;
    assert_eq!(
        header(&two.chat(&key, &hello("g")).await, "x-litellm-model-id"),
        flaky_id
    );
    flaky.record.script([Scripted::Status(500)]);
    assert_eq!(one.chat(&key, &hello("g")).await.status(), 502);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = two.chat(&key, &hello("g")).await;
        if header(&response, "x-litellm-model-id") == steady_id {
            break;
        }
        assert!(Instant::now() < deadline, "instance two never cooled down");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // An instance started after the cooldown learns it from Redis, before its first request.
    let three = app_with(pool, &models, &settings).await;
    let seen = flaky.record.requests();
    for _ in 0..3 {
        let response = three.chat(&key, &hello("g")).await;
        assert_eq!(header(&response, "x-litellm-model-id"), steady_id);
    }
    assert_eq!(flaky.record.requests(), seen);
    for app in [one, two, three] {
        app.shutdown().await;
    }
}

#[sqlx::test(migrations = false)]
async fn with_redis_usage_based_routing_counts_every_instances_requests(pool: PgPool) {
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let (limited, spill) = (mock().await, mock().await);
    let run = uuid::Uuid::new_v4().simple().to_string();
    let (limited_id, spill_id) = (format!("limited-{run}"), format!("spill-{run}"));
    let models =
        entry("g", &limited, &limited_id, ", rpm: 3") + &entry("spill", &spill, &spill_id, "");
    let settings = format!(
        "  routing_strategy: usage-based-routing\n  fallbacks: [{{g: [spill]}}]\n  redis_url: {redis}\n"
    );
    let one = app_with(pool.clone(), &models, &settings).await;
    let two = app_with(pool, &models, &settings).await;
    let key = one.new_key(json!({})).await;
    start_early_in_a_minute().await;
    for _ in 0..3 {
        let response = one.chat(&key, &hello("g")).await;
        assert_eq!(header(&response, "x-litellm-model-id"), limited_id);
    }
    // Instance two has routed nothing to the deployment, but once the sharing rounds (a
    // quarter second each, on both instances) have passed it sees the 3 of its rpm of 3 that
    // instance one used, and sends the request down the fallback chain.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let response = two.chat(&key, &hello("g")).await;
    assert_eq!(header(&response, "x-litellm-model-id"), spill_id);
    assert_eq!(limited.record.requests(), 3);
    one.shutdown().await;
    two.shutdown().await;
}

/// Cooldowns fail open when Redis is away: an instance cools a failing deployment down by
/// itself at once, and tells the others over Postgres NOTIFY instead.
#[sqlx::test(migrations = false)]
async fn with_redis_stopped_a_cooldown_still_reaches_every_instance_over_notify(pool: PgPool) {
    let mut redis = crate::common::redis::OwnRedis::new();
    redis.start().await;
    let (flaky, steady) = (mock().await, mock().await);
    let run = uuid::Uuid::new_v4().simple().to_string();
    let (flaky_id, steady_id) = (format!("flaky-{run}"), format!("steady-{run}"));
    let models = entry("g", &flaky, &flaky_id, ", order: 1")
        + &entry("g", &steady, &steady_id, ", order: 2");
    let settings = format!(
        "  allowed_fails: 0\n  cooldown_time: 30\n  redis_url: redis://127.0.0.1:{}/\n",
        redis.port
    );
    let one = app_with(pool.clone(), &models, &settings).await;
    let two = app_with(pool.clone(), &models, &settings).await;
    let key = one.new_key(json!({})).await;
    redis.stop();
    flaky.record.script([Scripted::Status(500)]);
    let failed = Instant::now();
    assert_eq!(one.chat(&key, &hello("g")).await.status(), 502);
    assert!(failed.elapsed() < Duration::from_secs(2));
    assert_eq!(
        header(&one.chat(&key, &hello("g")).await, "x-litellm-model-id"),
        steady_id
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = two.chat(&key, &hello("g")).await;
        assert_eq!(response.status(), 200);
        if header(&response, "x-litellm-model-id") == steady_id {
            break;
        }
        assert!(Instant::now() < deadline, "instance two never cooled down");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    one.shutdown().await;
    two.shutdown().await;
}

/// Usage-based routing fails open when Redis is away: each instance routes on its own counts
/// (it keeps serving, and a deployment's rpm holds per instance).
#[sqlx::test(migrations = false)]
async fn with_redis_stopped_usage_based_routing_counts_each_instance_alone(pool: PgPool) {
    let redis = crate::common::redis::OwnRedis::new();
    let (limited, spill) = (mock().await, mock().await);
    let run = uuid::Uuid::new_v4().simple().to_string();
    let (limited_id, spill_id) = (format!("limited-{run}"), format!("spill-{run}"));
    let models =
        entry("g", &limited, &limited_id, ", rpm: 3") + &entry("spill", &spill, &spill_id, "");
    let settings = format!(
        "  routing_strategy: usage-based-routing\n  fallbacks: [{{g: [spill]}}]\n  redis_url: redis://127.0.0.1:{}/\n",
        redis.port
    );
    let one = app_with(pool.clone(), &models, &settings).await;
    let two = app_with(pool, &models, &settings).await;
    let key = one.new_key(json!({})).await;
    start_early_in_a_minute().await;
    for _ in 0..3 {
        let response = one.chat(&key, &hello("g")).await;
        assert_eq!(header(&response, "x-litellm-model-id"), limited_id);
    }
    let response = one.chat(&key, &hello("g")).await;
    assert_eq!(header(&response, "x-litellm-model-id"), spill_id);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let response = two.chat(&key, &hello("g")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-litellm-model-id"), limited_id);
    one.shutdown().await;
    two.shutdown().await;
}
