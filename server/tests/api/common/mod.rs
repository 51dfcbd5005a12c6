//! Test harness: Gatehouse in-process on port 0 against a fresh database and a loopback mock
//! upstream speaking OpenAI's and Anthropic's wire formats.

#![allow(dead_code, clippy::unwrap_used)]

pub mod config;
pub mod console;
pub mod redis;

pub use config::{TestConfig, MODEL_COUNT};

use std::time::{Duration, Instant};

use mock_upstream::MockUpstream;
use serde_json::{json, Value};
use server::config::Config;
use server::startup::{self, Running, Settings};
use sqlx::PgPool;
use tokio::net::TcpListener;

pub const MASTER_KEY: &str = "sk-test-master-key";
/// The key that seals stored provider credentials.
pub const SECRETS_KEY: &str = "test-secrets-key-0123456789abcdef0123456789";
/// The upstream key of the Anthropic deployments.
pub const ANTHROPIC_KEY: &str = "sk-ant-upstream-test";
/// The upstream key of the Gemini deployments.
pub const GEMINI_KEY: &str = "gemini-upstream-test-key";
/// Prices of the `priced` model: $10/M in, $30/M out → 10 µ$ and 30 µ$ a token.
pub const PRICED_INPUT_MICROS: i64 = 10;
pub const PRICED_OUTPUT_MICROS: i64 = 30;

pub struct TestApp {
    pub base: String,
    pub pool: PgPool,
    pub http: reqwest::Client,
    pub running: Running,
}

pub async fn mock() -> MockUpstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    mock_upstream::spawn(listener).unwrap()
}

/// The test service account's key file as JSON text, its token endpoint at `token_uri`.
pub fn vertex_key_json(token_uri: &str) -> String {
    let mut key: Value = serde_json::from_str(include_str!(
        "../../fixtures/vertex/test-service-account.json"
    ))
    .unwrap();
    key["token_uri"] = json!(token_uri);
    key.to_string()
}

/// The whole catalogue, spend written every `batch_seconds`.
pub fn config_yaml(mock: &MockUpstream, batch_seconds: f64) -> String {
    TestConfig::new(mock)
        .all_models()
        .batch_seconds(batch_seconds)
        .yaml()
}

/// Gatehouse serving the config a test built.
pub async fn spawn_config(pool: PgPool, config: TestConfig<'_>) -> TestApp {
    spawn_app_from_yaml(pool, &config.yaml()).await
}

pub async fn spawn_app(pool: PgPool, mock: &MockUpstream) -> TestApp {
    spawn_app_with(pool, mock, 0.05).await
}

pub async fn spawn_app_with(pool: PgPool, mock: &MockUpstream, batch_seconds: f64) -> TestApp {
    spawn_app_from_yaml(pool, &config_yaml(mock, batch_seconds)).await
}

/// Gatehouse serving this config.yaml.
pub async fn spawn_app_from_yaml(pool: PgPool, yaml: &str) -> TestApp {
    let config = Config::parse(yaml, "test.yaml", &|_| None).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = startup::start(
        Settings {
            config,
            site_root: "target/site".into(),
            secure_cookies: false,
            admin: None,
            sealer: Some(app::sealing::Sealer::new(SECRETS_KEY, None).unwrap()),
        },
        pool.clone(),
        listener,
    )
    .await
    .unwrap();
    TestApp {
        base: format!("http://{}", running.local_addr),
        pool,
        http: reqwest::Client::new(),
        running,
    }
}

pub fn hello(model: &str) -> Value {
    json!({ "model": model, "messages": [{ "role": "user", "content": "Say hello" }] })
}

/// A response header's text, empty when absent.
pub fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap().to_string())
        .unwrap_or_default()
}

impl TestApp {
    /// `POST path` with a JSON body, as `bearer`.
    pub async fn post(&self, path: &str, bearer: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(bearer)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `POST path` on a management route, with the master key.
    pub async fn manage(&self, path: &str, body: Value) -> reqwest::Response {
        self.post(path, MASTER_KEY, &body).await
    }

    /// Waits (up to a second) until `key`'s chat call to `priced` answers `status`.
    pub async fn until_status(&self, key: &str, status: u16, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            if self.chat(key, &hello("priced")).await.status() == status {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not {status} within a second"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn generate_key(&self, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/key/generate", self.base))
            .bearer_auth(MASTER_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        response.json().await.unwrap()
    }

    /// A new key's secret.
    pub async fn new_key(&self, body: Value) -> String {
        self.generate_key(body).await["key"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn chat(&self, key: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/chat/completions", self.base))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `GET path` (query included) with a bearer key.
    pub async fn get(&self, path_and_query: &str, bearer: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path_and_query}", self.base))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap()
    }

    pub async fn key_info(&self, key: &str) -> Value {
        let response = self.get(&format!("/key/info?key={key}"), MASTER_KEY).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub async fn spend_logs(&self, key: &str) -> Vec<Value> {
        let response = self
            .get(&format!("/spend/logs?api_key={key}"), MASTER_KEY)
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub async fn shutdown(self) {
        self.running.shutdown();
        self.running.wait().await.unwrap();
    }
}

/// Waits until the spend log holds `count` rows for a key (hash), then returns them.
pub async fn wait_for_rows(
    pool: &PgPool,
    key_secret: &str,
    count: usize,
) -> Vec<(i64, i64, i64, String, bool)> {
    let hash = app::secrets::hash_key(key_secret);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows: Vec<(i64, i64, i64, String, bool)> = sqlx::query_as(
            "SELECT cost_micros, prompt_tokens, completion_tokens, status, usage_estimated \
             FROM spend_logs WHERE token_hash = $1 ORDER BY started_at",
        )
        .bind(&hash)
        .fetch_all(pool)
        .await
        .unwrap();
        if rows.len() >= count || Instant::now() > deadline {
            assert_eq!(rows.len(), count, "spend rows for the key");
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `data:` payloads of an SSE body.
pub fn sse_payloads(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|event| event.trim().strip_prefix("data: ").map(str::to_string))
        .collect()
}

/// The chunks of a whole OpenAI stream body, which must end with `data: [DONE]`.
pub fn stream_chunks(body: &str) -> Vec<Value> {
    let payloads = sse_payloads(body);
    assert_eq!(
        payloads.last().map(String::as_str),
        Some("[DONE]"),
        "{body}"
    );
    payloads[..payloads.len() - 1]
        .iter()
        .map(|payload| serde_json::from_str(payload).unwrap())
        .collect()
}

/// The text streamed in chunks' `delta.content`.
pub fn streamed_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str())
        .collect()
}

/// The first tool call's arguments, joined from the chunks' deltas.
pub fn streamed_arguments(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|chunk| {
            chunk["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
        })
        .collect()
}

/// `POST path` with a bearer key and a JSON body.
pub async fn post_json(app: &TestApp, path: &str, key: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(format!("{}{path}", app.base))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Call type, cost, prompt and completion tokens of a key's spend rows.
pub async fn call_rows(pool: &PgPool, key: &str, count: usize) -> Vec<(String, i64, i64, i64)> {
    wait_for_rows(pool, key, count).await;
    sqlx::query_as(
        "SELECT call_type, cost_micros, prompt_tokens, completion_tokens \
         FROM spend_logs WHERE token_hash = $1 ORDER BY started_at",
    )
    .bind(app::secrets::hash_key(key))
    .fetch_all(pool)
    .await
    .unwrap()
}

pub async fn assert_openai_error(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    let error = &body["error"];
    assert!(error["message"].is_string(), "{body}");
    assert!(error["type"].is_string(), "{body}");
    assert!(error.get("param").is_some(), "{body}");
    assert!(error.get("code").is_some(), "{body}");
    body
}

/// Sends `count` chat requests released together, alternating over `apps` and `keys`, with
/// `body(i)` as the i-th body; every refusal must be a `budget_exceeded` 400. Returns how many
/// were admitted.
pub async fn burst(
    apps: &[&TestApp],
    keys: &[String],
    count: usize,
    body: impl Fn(usize) -> Value,
) -> usize {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(count));
    let mut tasks = Vec::new();
    for index in 0..count {
        let app = apps[index % apps.len()];
        let (http, url) = (
            app.http.clone(),
            format!("{}/v1/chat/completions", app.base),
        );
        let (key, barrier, body) = (
            keys[index % keys.len()].clone(),
            barrier.clone(),
            body(index),
        );
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let response = http
                .post(url)
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (status, body)
        }));
    }
    let mut admitted = 0;
    for task in tasks {
        match task.await.unwrap() {
            (200, _) => admitted += 1,
            (400, body) => assert_eq!(body["error"]["type"], "budget_exceeded", "{body}"),
            (status, body) => panic!("{status} {body}"),
        }
    }
    admitted
}

/// Waits until `query` (one text parameter, `bound`; it returns the row count and the cost sum)
/// counts `rows` spend rows, then returns their cost.
pub async fn settled_cost(pool: &PgPool, query: &str, bound: &str, rows: usize) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (count, cost): (i64, i64) = sqlx::query_as(query)
            .bind(bound)
            .fetch_one(pool)
            .await
            .unwrap();
        if count == rows as i64 {
            return cost;
        }
        assert!(Instant::now() < deadline, "{count} rows of {rows}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
