//! End users (`/customer/*`, named by a request's `user`): their budget binds the requests that
//! name them from every key, on two instances sharing the database; a blocked end user is
//! refused everywhere within a second; unknown end users pass untouched.

use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::{json, Value};
use sqlx::PgPool;

async fn ok(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// A chat request for `priced` of at most 20 output tokens (costs 250 µ$) naming `user`.
fn from(user: &str) -> Value {
    json!({ "model": "priced", "messages": [{ "role": "user", "content": "Say hello" }],
            "max_tokens": 20, "user": user })
}

#[sqlx::test(migrations = false)]
async fn an_end_user_budget_binds_its_requests_from_every_key_on_two_instances(pool: PgPool) {
    let mock = mock().await;
    let first = spawn_config(pool.clone(), TestConfig::new(&mock).models(&["priced"])).await;
    let second = spawn_config(pool.clone(), TestConfig::new(&mock).models(&["priced"])).await;
    let created = ok(first
        .manage(
            "/customer/new",
            json!({ "user_id": "cust-1", "alias": "Customer one", "max_budget": 0.005 }),
        )
        .await)
    .await;
    assert_eq!(created["max_budget"], 0.005);
    let keys = [
        first.new_key(json!({})).await,
        first.new_key(json!({})).await,
    ];
    mock.record.set_latency(Duration::from_millis(100));
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(32));
    let mut tasks = Vec::new();
    for index in 0..32 {
        let app = if index % 2 == 0 { &first } else { &second };
        let (http, url) = (
            app.http.clone(),
            format!("{}/v1/chat/completions", app.base),
        );
        let (key, barrier) = (keys[index % 2].clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let response = http
                .post(url)
                .bearer_auth(key)
                .json(&from("cust-1"))
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
    mock.record.set_latency(Duration::ZERO);
    assert!((3..32).contains(&admitted), "{admitted} admitted");
    let deadline = Instant::now() + Duration::from_secs(10);
    let spent = loop {
        let (rows, spent): (i64, i64) = sqlx::query_as(
            "SELECT count(*), COALESCE(sum(cost_micros), 0)::bigint FROM spend_logs \
             WHERE end_user = 'cust-1'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if rows == admitted as i64 {
            break spent;
        }
        assert!(Instant::now() < deadline, "{rows} rows of {admitted}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(spent <= 5_000, "the end user spent {spent} µ$ of 5,000");
    let info = ok(first
        .get("/customer/info?end_user_id=cust-1", MASTER_KEY)
        .await)
    .await;
    assert_eq!(info["spend_micros"], spent, "the counter equals the rows");
    // Requests naming nobody known, or nobody, are not bound by it.
    assert_eq!(first.chat(&keys[0], &from("stranger")).await.status(), 200);
    assert_eq!(
        first.chat(&keys[0], &bounded_without_user()).await.status(),
        200
    );
    first.shutdown().await;
    second.shutdown().await;
}

fn bounded_without_user() -> Value {
    json!({ "model": "priced", "messages": [{ "role": "user", "content": "Say hello" }], "max_tokens": 20 })
}

/// Waits (up to a second) until a request naming `user` gets `status` from `app`.
async fn until(app: &TestApp, key: &str, user: &str, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let response = app.chat(key, &from(user)).await;
        if response.status() == status {
            if status == 403 {
                let body = assert_openai_error(response, 403).await;
                assert_eq!(body["error"]["code"], "blocked_end_user", "{body}");
            }
            return;
        }
        assert!(Instant::now() < deadline, "{user} never got {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[sqlx::test(migrations = false)]
async fn a_blocked_end_user_is_refused_everywhere_within_a_second(pool: PgPool) {
    let mock = mock().await;
    let first = spawn_config(pool.clone(), TestConfig::new(&mock).models(&["priced"])).await;
    let second = spawn_config(pool.clone(), TestConfig::new(&mock).models(&["priced"])).await;
    let key = first.new_key(json!({})).await;
    // Seen (as unknown) by the other instance before it exists.
    assert_eq!(second.chat(&key, &from("cust-2")).await.status(), 200);
    ok(first
        .manage(
            "/customer/new",
            json!({ "user_id": "cust-2", "blocked": true }),
        )
        .await)
    .await;
    until(&first, &key, "cust-2", 403).await;
    until(&second, &key, "cust-2", 403).await;
    assert_eq!(second.chat(&key, &from("cust-3")).await.status(), 200);
    ok(first
        .manage("/customer/unblock", json!({ "user_ids": ["cust-2"] }))
        .await)
    .await;
    until(&second, &key, "cust-2", 200).await;
    ok(first
        .manage("/customer/block", json!({ "user_ids": ["cust-2"] }))
        .await)
    .await;
    until(&second, &key, "cust-2", 403).await;
    // Deleted, it is unknown again: its requests pass.
    let deleted = ok(first
        .manage("/customer/delete", json!({ "user_ids": ["cust-2"] }))
        .await)
    .await;
    assert_eq!(deleted["deleted_customers"], json!(["cust-2"]));
    until(&second, &key, "cust-2", 200).await;
    let listed = ok(first.get("/customer/list", MASTER_KEY).await).await;
    assert_eq!(listed, json!([]));
    for (path, body) in [
        ("/customer/new", json!({ "user_id": "" })),
        ("/customer/new", json!({ "user_id": "x", "max_budget": -1 })),
        ("/customer/block", json!({ "user_ids": ["nobody"] })),
    ] {
        let status = first.manage(path, body).await.status().as_u16();
        assert!(status == 400 || status == 404, "{path}: {status}");
    }
    first.shutdown().await;
    second.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn a_header_names_the_end_user_before_the_body(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_config(pool.clone(), TestConfig::new(&mock).models(&["priced"])).await;
    let key = app.new_key(json!({})).await;
    ok(app
        .manage(
            "/customer/new",
            json!({ "user_id": "cust-h", "blocked": true }),
        )
        .await)
    .await;
    let with_header = |name: &'static str, value: &'static str, body: Value| {
        let request = app
            .http
            .post(format!("{}/v1/chat/completions", app.base))
            .bearer_auth(&key)
            .header(name, value)
            .json(&body);
        async move { request.send().await.unwrap() }
    };
    for name in ["x-litellm-customer-id", "x-litellm-end-user-id"] {
        let refused = with_header(name, "cust-h", from("someone-else")).await;
        let body = assert_openai_error(refused, 403).await;
        assert_eq!(body["error"]["code"], "blocked_end_user", "{body}");
    }
    // The header outranks the body: the blocked end user in the body is not the one named.
    let served = with_header("x-litellm-end-user-id", "cust-ok", from("cust-h")).await;
    assert_eq!(served.status(), 200);
    let hash = app::secrets::hash_key(&key);
    let deadline = Instant::now() + Duration::from_secs(10);
    let end_user: String = loop {
        let found: Option<String> =
            sqlx::query_scalar("SELECT end_user FROM spend_logs WHERE token_hash = $1")
                .bind(&hash)
                .fetch_optional(&pool)
                .await
                .unwrap();
        if let Some(found) = found {
            break found;
        }
        assert!(Instant::now() < deadline, "no spend row");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(end_user, "cust-ok");
    app.shutdown().await;
}
