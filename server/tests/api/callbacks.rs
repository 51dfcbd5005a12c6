//! Request-log callbacks against loopback servers speaking the sinks' real APIs: Langfuse's
//! ingestion API (Basic auth, trace and generation events, 207 answers), a webhook that checks
//! the HMAC signature, and a JSON Lines file; a key's logging turned off; a dead sink that costs
//! requests neither latency nor spend rows.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::PgPool;

const WEBHOOK_SECRET: &str = "whsec-test";
type Seen = Arc<Mutex<Vec<Value>>>;

/// Langfuse's ingestion API on loopback: checks the keys and each event's envelope.
async fn langfuse() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/api/public/ingestion",
        axum::routing::post(move |headers: HeaderMap, Json(body): Json<Value>| {
            let kept = kept.clone();
            async move {
                // Basic pk-lf-test:sk-lf-test
                if headers["authorization"] != "Basic cGstbGYtdGVzdDpzay1sZi10ZXN0" {
                    return (
                        StatusCode::UNAUTHORIZED,
                        Json(json!({"message": "bad keys"})),
                    );
                }
                let mut successes = Vec::new();
                for event in body["batch"].as_array().unwrap() {
                    assert!(event["id"].is_string() && event["timestamp"].is_string());
                    assert!(
                        matches!(
                            event["type"].as_str(),
                            Some("trace-create" | "generation-create")
                        ),
                        "{event}"
                    );
                    successes.push(json!({"id": event["id"], "status": 201}));
                    kept.lock().unwrap().push(event.clone());
                }
                (
                    StatusCode::MULTI_STATUS,
                    Json(json!({"successes": successes, "errors": []})),
                )
            }
        }),
    );
    (serve(app).await, seen)
}

/// A webhook that refuses a body whose signature does not verify.
async fn webhook() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let kept = kept.clone();
            async move {
                let timestamp = headers["x-gatehouse-timestamp"].to_str().unwrap();
                let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
                mac.update(format!("{timestamp}.").as_bytes());
                mac.update(&body);
                let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
                if headers["x-gatehouse-signature"] != expected.as_str()
                    || headers["x-tenant"] != "t1"
                {
                    return StatusCode::UNAUTHORIZED;
                }
                let payloads: Vec<Value> = serde_json::from_slice(&body).unwrap();
                kept.lock().unwrap().extend(payloads);
                StatusCode::OK
            }
        }),
    );
    (format!("{}/hook", serve(app).await), seen)
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

fn config(mock: &mock_upstream::MockUpstream, langfuse: &str, webhook: &str, file: &str) -> String {
    format!(
        "{}environment_variables:\n  LANGFUSE_HOST: \"{langfuse}\"\n  LANGFUSE_PUBLIC_KEY: pk-lf-test\n  LANGFUSE_SECRET_KEY: sk-lf-test\n  GENERIC_LOGGER_ENDPOINT: \"{webhook}\"\n  GENERIC_LOGGER_HEADERS: \"x-tenant=t1\"\n  GATEHOUSE_WEBHOOK_SECRET: {WEBHOOK_SECRET}\nlitellm_settings:\n  callbacks: [\"langfuse\", \"generic_api\"]\n  success_callback: [\"file\"]\n  file_callback_params: {{ path: \"{file}\" }}\n",
        TestConfig::new(mock).models(&["gpt-4o-mini", "fail-500"]).yaml()
    )
}

async fn until(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[sqlx::test(migrations = false)]
async fn request_logs_reach_langfuse_a_signed_webhook_and_a_file(pool: PgPool) {
    let mock = mock().await;
    let (langfuse_url, langfuse_events) = langfuse().await;
    let (webhook_url, webhook_logs) = webhook().await;
    let file = std::env::temp_dir().join(format!("gatehouse-logs-{}.jsonl", uuid::Uuid::new_v4()));
    let yaml = config(&mock, &langfuse_url, &webhook_url, file.to_str().unwrap());
    let app = spawn_app_from_yaml(pool.clone(), &yaml).await;
    let key = app.new_key(json!({ "key_alias": "logged" })).await;
    let quiet = app
        .new_key(json!({ "key_alias": "quiet", "metadata": { "disable_logging": true } }))
        .await;
    for _ in 0..2 {
        assert_eq!(app.chat(&key, &hello("gpt-4o-mini")).await.status(), 200);
    }
    assert_eq!(app.chat(&key, &hello("fail-500")).await.status(), 502);
    assert_eq!(app.chat(&quiet, &hello("gpt-4o-mini")).await.status(), 200);
    wait_for_rows(&pool, &quiet, 1).await;

    until("three logs at the webhook", || {
        webhook_logs.lock().unwrap().len() == 3
    })
    .await;
    until("six Langfuse events", || {
        langfuse_events.lock().unwrap().len() == 6
    })
    .await;
    let logs = webhook_logs.lock().unwrap().clone();
    let failed: Vec<&Value> = logs
        .iter()
        .filter(|log| log["status"] == "failure")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["error_information"]["error_code"], "502");
    assert_eq!(failed[0]["model_group"], "fail-500");
    let answered = logs.iter().find(|log| log["status"] == "success").unwrap();
    assert_eq!(answered["metadata"]["user_api_key_alias"], "logged");
    assert_eq!(
        answered["metadata"]["user_api_key_hash"],
        app::secrets::hash_key(&key)
    );
    assert_eq!(
        (
            answered["prompt_tokens"].clone(),
            answered["completion_tokens"].clone()
        ),
        (json!(10), json!(5))
    );
    assert_eq!(answered["call_type"], "acompletion");
    // No payloads are kept by default: the logs carry no prompt.
    assert_eq!(answered["messages"], Value::Null);

    let events = langfuse_events.lock().unwrap().clone();
    let generations: Vec<&Value> = events
        .iter()
        .filter(|event| event["type"] == "generation-create")
        .collect();
    assert_eq!(generations.len(), 3);
    let generation = generations
        .iter()
        .find(|event| event["body"]["level"] == "DEFAULT")
        .unwrap();
    assert_eq!(generation["body"]["model"], "gpt-4o-mini");
    assert_eq!(
        generation["body"]["usageDetails"],
        json!({"input": 10, "output": 5, "total": 15})
    );
    let trace = events
        .iter()
        .find(|event| {
            event["type"] == "trace-create" && event["body"]["id"] == generation["body"]["traceId"]
        })
        .unwrap();
    assert_eq!(trace["body"]["metadata"]["user_api_key_alias"], "logged");
    assert!(generations
        .iter()
        .any(|event| event["body"]["level"] == "ERROR"));

    // The file takes successes only (`success_callback`).
    until("two lines in the file", || {
        std::fs::read_to_string(&file).is_ok_and(|text| text.lines().count() == 2)
    })
    .await;
    let text = std::fs::read_to_string(&file).unwrap();
    for line in text.lines() {
        let log: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            (
                log["status"].as_str(),
                log["metadata"]["user_api_key_alias"].as_str()
            ),
            (Some("success"), Some("logged"))
        );
    }
    // Nothing of the key whose logging is off, anywhere.
    let quiet_hash = app::secrets::hash_key(&quiet);
    assert!(!serde_json::to_string(&logs).unwrap().contains(&quiet_hash));
    assert!(!serde_json::to_string(&events).unwrap().contains("quiet"));
    let metrics_off = app.get("/metrics", MASTER_KEY).await.status();
    assert_eq!(metrics_off, 404);
    app.shutdown().await;
    std::fs::remove_file(&file).ok();
}

#[sqlx::test(migrations = false)]
async fn a_dead_sink_costs_requests_neither_latency_nor_spend_rows(pool: PgPool) {
    let mock = mock().await;
    // Langfuse refuses connections; the webhook takes them and never answers.
    let refused = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}/hook", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let file = std::env::temp_dir().join("no-such-directory-for-gatehouse/logs.jsonl");
    let yaml = format!(
        "{}  callbacks: [\"prometheus\"]\n",
        config(&mock, &refused, &silent_url, file.to_str().unwrap())
    )
    .replace("  callbacks: [\"langfuse\", \"generic_api\"]\n", "")
    .replace(
        "  callbacks: [\"prometheus\"]\n",
        "  callbacks: [\"langfuse\", \"generic_api\", \"prometheus\"]\n",
    );
    let app = spawn_app_from_yaml(pool.clone(), &yaml).await;
    let key = app.new_key(json!({})).await;
    let mut slowest = Duration::ZERO;
    for _ in 0..40 {
        let asked = Instant::now();
        assert_eq!(app.chat(&key, &hello("gpt-4o-mini")).await.status(), 200);
        slowest = slowest.max(asked.elapsed());
    }
    assert!(
        slowest < Duration::from_millis(500),
        "a request took {slowest:?}"
    );
    wait_for_rows(&pool, &key, 40).await;
    // Langfuse's deliveries failed after their retries, and are counted.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = app.get("/metrics", MASTER_KEY).await.text().await.unwrap();
        let failed = text
            .lines()
            .find(|line| {
                line.starts_with(
                    "gatehouse_callback_logs_total{callback=\"langfuse\",outcome=\"failed\"}",
                )
            })
            .and_then(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0);
        if failed >= 40.0 {
            assert!(
                text.contains(
                    "gatehouse_callback_logs_total{callback=\"webhook\",outcome=\"sent\"} 0"
                ),
                "{text}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.shutdown().await;
}
