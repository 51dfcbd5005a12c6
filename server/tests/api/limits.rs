//! Rate limits of keys, teams and models: requests and tokens per minute and requests in
//! flight, 429 with Retry-After, `x-ratelimit-*` headers, and exactness across two instances
//! with Redis.

use std::time::Duration;

use crate::common::*;
use serde_json::json;
use sqlx::PgPool;

/// Sends `count` chat requests at once over `apps` in turn; returns how many got 200 and how
/// many 429 (anything else fails the test).
async fn burst(apps: &[&TestApp], key: &str, model: &str, count: usize) -> (usize, usize) {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(count));
    let mut tasks = Vec::new();
    for index in 0..count {
        let app = apps[index % apps.len()];
        let (http, url) = (
            app.http.clone(),
            format!("{}/v1/chat/completions", app.base),
        );
        let (key, body, barrier) = (key.to_string(), hello(model), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            http.post(url)
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .unwrap()
        }));
    }
    let (mut admitted, mut limited) = (0, 0);
    for task in tasks {
        let response = task.await.unwrap();
        match response.status().as_u16() {
            200 => admitted += 1,
            429 => limited += 1,
            other => panic!("status {other}: {}", response.text().await.unwrap()),
        }
    }
    (admitted, limited)
}

#[sqlx::test(migrations = false)]
async fn a_key_rpm_limit_refuses_with_retry_after_and_reports_what_is_left(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let created = app.generate_key(json!({ "rpm_limit": 3 })).await;
    assert_eq!(created["rpm_limit"], 3);
    let key = created["key"].as_str().unwrap().to_string();
    for left in ["2", "1", "0"] {
        let response = app.chat(&key, &hello("priced")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-ratelimit-limit-requests"), "3");
        assert_eq!(header(&response, "x-ratelimit-remaining-requests"), left);
        assert!(header(&response, "x-ratelimit-reset-requests").ends_with('s'));
    }
    let refused = app.chat(&key, &hello("priced")).await;
    let retry_after: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    let body = assert_openai_error(refused, 429).await;
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("this key allows 3 requests per minute"),
        "{body}"
    );
    assert_eq!(
        mock.record.requests(),
        3,
        "a refused request never reaches the upstream"
    );
    wait_for_rows(&pool, &key, 3).await;
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn with_redis_an_rpm_limit_holds_exactly_across_two_instances(pool: PgPool) {
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let mock = mock().await;
    let yaml = format!(
        "{}router_settings:\n  redis_url: {redis}\n",
        config_yaml(&mock, 0.05)
    );
    let first = spawn_app_from_yaml(pool.clone(), &yaml).await;
    let second = spawn_app_from_yaml(pool.clone(), &yaml).await;
    // Both instances and every client run on the test's one thread: a burst much larger than
    // this keeps a Redis reply waiting for the thread past the limiter's 80 ms deadline, and
    // the request is refused as if Redis were down (503).
    let key = first.new_key(json!({ "rpm_limit": 30 })).await;
    let (admitted, limited) = burst(&[&first, &second], &key, "priced", 90).await;
    assert_eq!((admitted, limited), (30, 60));
    assert_eq!(mock.record.requests(), 30);
    first.shutdown().await;
    second.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn without_redis_each_instance_counts_its_own_requests(pool: PgPool) {
    let mock = mock().await;
    let first = spawn_app(pool.clone(), &mock).await;
    let second = spawn_app(pool.clone(), &mock).await;
    let key = first.new_key(json!({ "rpm_limit": 5 })).await;
    let (admitted, _) = burst(&[&first, &second], &key, "priced", 20).await;
    assert_eq!(
        admitted, 10,
        "five on each instance, as docs/GOVERNANCE.md says"
    );
    first.shutdown().await;
    second.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn max_parallel_requests_limits_requests_in_flight(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({ "max_parallel_requests": 2 })).await;
    mock.record.set_latency(Duration::from_millis(300));
    let (admitted, limited) = burst(&[&app], &key, "priced", 6).await;
    mock.record.set_latency(Duration::ZERO);
    assert_eq!((admitted, limited), (2, 4));
    // Once they ended, their places are free again.
    assert_eq!(app.chat(&key, &hello("priced")).await.status(), 200);
    assert_eq!(app.chat(&key, &hello("priced")).await.status(), 200);
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn a_tpm_limit_counts_the_tokens_of_requests_that_ended(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    // A `priced` call uses 15 tokens (10 prompt, 5 completion).
    let key = app.new_key(json!({ "tpm_limit": 20 })).await;
    let first = app.chat(&key, &hello("priced")).await;
    assert_eq!(header(&first, "x-ratelimit-remaining-tokens"), "20");
    let second = app.chat(&key, &hello("priced")).await;
    assert_eq!(second.status(), 200);
    assert_eq!(header(&second, "x-ratelimit-remaining-tokens"), "5");
    let body = assert_openai_error(app.chat(&key, &hello("priced")).await, 429).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("20 tokens per minute"),
        "{body}"
    );
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn team_and_per_model_limits_bind_too(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let team = app
        .manage("/team/new", json!({ "team_id": "small", "rpm_limit": 2 }))
        .await;
    assert_eq!(team.status(), 200);
    let (a, b) = (
        app.new_key(json!({ "team_id": "small" })).await,
        app.new_key(json!({ "team_id": "small" })).await,
    );
    assert_eq!(app.chat(&a, &hello("priced")).await.status(), 200);
    assert_eq!(app.chat(&b, &hello("priced")).await.status(), 200);
    let body = assert_openai_error(app.chat(&a, &hello("priced")).await, 429).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("team `small`"),
        "{body}"
    );

    let key = app
        .new_key(json!({ "model_rpm_limit": { "priced": 1 } }))
        .await;
    assert_eq!(app.chat(&key, &hello("priced")).await.status(), 200);
    let body = assert_openai_error(app.chat(&key, &hello("priced")).await, 429).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("this key for `priced` allows 1 requests per minute"),
        "{body}"
    );
    assert_eq!(app.chat(&key, &hello("gpt-4o-mini")).await.status(), 200);

    // A limit raised on a running key binds at once.
    let raised = app
        .manage(
            "/key/update",
            json!({ "key": key, "model_rpm_limit": { "priced": 5 } }),
        )
        .await;
    assert_eq!(raised.status(), 200);
    assert_eq!(app.chat(&key, &hello("priced")).await.status(), 200);
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn limit_fields_are_validated(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    for (path, body, param) in [
        ("/key/generate", json!({ "rpm_limit": -1 }), "rpm_limit"),
        (
            "/key/generate",
            json!({ "model_tpm_limit": { "priced": "lots" } }),
            "model_tpm_limit",
        ),
        (
            "/team/new",
            json!({ "max_parallel_requests": -3 }),
            "max_parallel_requests",
        ),
        (
            "/team/new",
            json!({ "model_rpm_limit": { "priced": 1 } }),
            "model_rpm_limit",
        ),
    ] {
        let error = assert_openai_error(app.manage(path, body.clone()).await, 400).await;
        assert_eq!(error["error"]["param"], param, "{path} {body}");
    }
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn a_user_rpm_limit_is_shared_by_all_its_keys(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let created = app
        .manage(
            "/user/new",
            json!({ "user_id": "u-limited", "rpm_limit": 3, "auto_create_key": false }),
        )
        .await;
    assert_eq!(created.status(), 200);
    let first = app.new_key(json!({ "user_id": "u-limited" })).await;
    let second = app.new_key(json!({ "user_id": "u-limited" })).await;
    for key in [&first, &second, &first] {
        assert_eq!(app.chat(key, &hello("priced")).await.status(), 200);
    }
    let refused = app.chat(&second, &hello("priced")).await;
    let body = assert_openai_error(refused, 429).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("user `u-limited` allows 3 requests per minute"),
        "{body}"
    );
    // Raising the user's limit reaches its keys without a restart.
    let raised = app
        .manage(
            "/user/update",
            json!({ "user_id": "u-limited", "rpm_limit": 10 }),
        )
        .await;
    assert_eq!(raised.status(), 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while app.chat(&second, &hello("priced")).await.status() != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the raised limit did not apply"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.shutdown().await;
}
