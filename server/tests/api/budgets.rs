//! Budgets that never overspend: concurrent requests at the edge of a key's or a team's budget,
//! on one instance and on two sharing the database; the ledger's counters against the spend
//! rows to the micro-dollar; teams that are blocked or deleted; budget edits and windows.

use std::time::{Duration, Instant};

use crate::common::*;
use mock_upstream::MockUpstream;
use serde_json::{json, Value};
use sqlx::PgPool;

/// A request whose largest cost is known: 85 bytes of body (≤ 85 prompt tokens at 10 µ$) and
/// at most 20 output tokens at 30 µ$, so each reserves 1,450 µ$, and is sent when at least
/// 1,330 µ$ (the prompt and 16 output tokens) are left. The mock's reply costs 250 µ$.
fn bounded(model: &str) -> Value {
    json!({ "model": model, "messages": [{ "role": "user", "content": "Say hello" }], "max_tokens": 20 })
}

/// What one `bounded` call to `priced` actually costs.
const CALL_COST: i64 = 250;

/// The ledger row of a budget: (max, spend, leased).
async fn budget_row(pool: &PgPool, subject: &str) -> (Option<i64>, i64, i64) {
    sqlx::query_as(
        "SELECT max_micros, spend_micros, leased_micros FROM budget_counters WHERE subject = $1",
    )
    .bind(subject)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Spend rows of a key: their count and total cost.
async fn rows_of(pool: &PgPool, key: &str) -> (i64, i64) {
    sqlx::query_as(
        "SELECT count(*), COALESCE(sum(cost_micros), 0)::bigint FROM spend_logs \
         WHERE token_hash = $1",
    )
    .bind(app::secrets::hash_key(key))
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Sends `count` requests at once, spread over `apps` in turn and over `keys` in turn; returns
/// how many were answered 200 and how many refused for budget.
async fn burst(apps: &[&TestApp], keys: &[String], count: usize) -> (usize, usize) {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(count));
    let mut tasks = Vec::new();
    for index in 0..count {
        let app_base = apps[index % apps.len()].base.clone();
        let http = apps[index % apps.len()].http.clone();
        let key = keys[index % keys.len()].clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            http.post(format!("{app_base}/v1/chat/completions"))
                .bearer_auth(&key)
                .json(&bounded("priced"))
                .send()
                .await
                .unwrap()
        }));
    }
    let (mut admitted, mut refused) = (0, 0);
    for task in tasks {
        let response = task.await.unwrap();
        match response.status().as_u16() {
            200 => admitted += 1,
            400 => {
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["error"]["type"], "budget_exceeded", "{body}");
                refused += 1;
            }
            other => panic!(
                "unexpected status {other}: {}",
                response.text().await.unwrap()
            ),
        }
    }
    (admitted, refused)
}

/// Waits until the spend rows of `keys` number `count`.
async fn wait_for_count(pool: &PgPool, keys: &[String], count: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut total = 0;
        for key in keys {
            total += rows_of(pool, key).await.0;
        }
        if total == count {
            return;
        }
        assert!(Instant::now() < deadline, "{total} rows, expected {count}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// 64 requests released together against a budget that fits only a few reservations at a
/// time, on `apps`: spend never passes the budget, and once everything landed the ledger's
/// spend equals the spend rows to the micro-dollar with no lease left outstanding.
async fn edge_of_a_key_budget(pool: &PgPool, mock: &MockUpstream, apps: &[&TestApp]) {
    // 5,000 µ$: three reservations of 1,450 fit at once, a fourth does not.
    let key = apps[0].new_key(json!({ "max_budget": 0.005 })).await;
    mock.record.set_latency(Duration::from_millis(100));
    let (admitted, refused) = burst(apps, std::slice::from_ref(&key), 64).await;
    mock.record.set_latency(Duration::ZERO);
    assert_eq!(admitted + refused, 64);
    assert!(
        admitted >= 3,
        "at least the first reservations fit: {admitted}"
    );
    assert!(refused > 0, "the budget refused the rest");
    wait_for_count(pool, std::slice::from_ref(&key), admitted as i64).await;
    let (rows, spent) = rows_of(pool, &key).await;
    assert_eq!(spent, rows * CALL_COST);
    assert!(spent <= 5_000, "spent {spent} µ$ of a 5,000 µ$ budget");
    let subject = format!("key:{}", app::secrets::hash_key(&key));
    let (max, counter, _) = budget_row(pool, &subject).await;
    assert_eq!(max, Some(5_000));
    assert_eq!(counter, spent, "the ledger's spend equals the spend rows");
    eprintln!("{admitted} admitted, {refused} refused, {spent} µ$ spent of 5,000");
}

#[sqlx::test(migrations = false)]
async fn concurrent_requests_never_overspend_a_key_budget(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    edge_of_a_key_budget(&pool, &mock, &[&app]).await;
    app.shutdown().await;
    let leased: i64 =
        sqlx::query_scalar("SELECT COALESCE(sum(leased_micros), 0)::bigint FROM budget_counters")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(leased, 0, "every lease went back at shutdown");
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM budget_leases")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(held, 0);
}

#[sqlx::test(migrations = false)]
async fn two_instances_never_overspend_a_key_budget_together(pool: PgPool) {
    let mock = mock().await;
    let first = spawn_app(pool.clone(), &mock).await;
    let second = spawn_app(pool.clone(), &mock).await;
    edge_of_a_key_budget(&pool, &mock, &[&first, &second]).await;
    first.shutdown().await;
    second.shutdown().await;
    let leased: i64 =
        sqlx::query_scalar("SELECT COALESCE(sum(leased_micros), 0)::bigint FROM budget_counters")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(leased, 0, "both instances returned their leases");
}

#[sqlx::test(migrations = false)]
async fn with_redis_two_instances_never_overspend_a_key_budget_together(pool: PgPool) {
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let mock = mock().await;
    let yaml = format!(
        "{}router_settings:\n  redis_url: {redis}\n",
        config_yaml(&mock, 0.05)
    );
    let first = spawn_app_from_yaml(pool.clone(), &yaml).await;
    let second = spawn_app_from_yaml(pool.clone(), &yaml).await;
    edge_of_a_key_budget(&pool, &mock, &[&first, &second]).await;
    first.shutdown().await;
    second.shutdown().await;
}

/// A new team, as `/team/new` answers it.
async fn new_team(app: &TestApp, body: Value) -> Value {
    let response = app.manage("/team/new", body).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_team_budget_binds_all_its_keys_on_two_instances(pool: PgPool) {
    let mock = mock().await;
    let first = spawn_app(pool.clone(), &mock).await;
    let second = spawn_app(pool.clone(), &mock).await;
    let team = new_team(
        &first,
        json!({ "team_alias": "research", "max_budget": 0.005 }),
    )
    .await;
    let team_id = team["team_id"].as_str().unwrap().to_string();
    assert_eq!(team["max_budget"], 0.005);
    // Each key alone could pay for everything; the team cannot.
    let mut keys = Vec::new();
    for _ in 0..4 {
        keys.push(
            first
                .new_key(json!({ "team_id": team_id, "max_budget": 1.0 }))
                .await,
        );
    }
    mock.record.set_latency(Duration::from_millis(100));
    let (admitted, refused) = burst(&[&first, &second], &keys, 64).await;
    mock.record.set_latency(Duration::ZERO);
    assert!(
        admitted >= 3 && refused > 0,
        "{admitted} admitted, {refused} refused"
    );
    wait_for_count(&pool, &keys, admitted as i64).await;
    let mut spent = 0;
    for key in &keys {
        spent += rows_of(&pool, key).await.1;
    }
    assert!(spent <= 5_000, "the team spent {spent} µ$ of 5,000");
    let (_, team_spend, _) = budget_row(&pool, &format!("team:{team_id}")).await;
    assert_eq!(
        team_spend, spent,
        "the team's counter equals its keys' rows"
    );
    let rows_with_team: i64 =
        sqlx::query_scalar("SELECT count(*) FROM spend_logs WHERE team_id = $1")
            .bind(&team_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(rows_with_team, admitted as i64, "every row names the team");
    let info: Value = first
        .http
        .get(format!("{}/team/info?team_id={team_id}", first.base))
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["team_info"]["spend_micros"], spent);

    // Raising the team's budget on one instance lets the other admit again within a second.
    let raised = first
        .manage(
            "/team/update",
            json!({ "team_id": team_id, "max_budget": 1.0 }),
        )
        .await;
    assert_eq!(raised.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(1);
    while second.chat(&keys[0], &bounded("priced")).await.status() != 200 {
        assert!(
            Instant::now() < deadline,
            "the raised budget did not reach the other instance"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.shutdown().await;
    second.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn blocked_and_deleted_teams_refuse_their_keys_everywhere(pool: PgPool) {
    let mock = mock().await;
    let first = spawn_app(pool.clone(), &mock).await;
    let second = spawn_app(pool.clone(), &mock).await;
    let team = new_team(&first, json!({ "team_id": "ops" })).await;
    assert_eq!(team["team_id"], "ops");
    let key = first.new_key(json!({ "team_id": "ops" })).await;
    assert_eq!(second.chat(&key, &hello("priced")).await.status(), 200);

    let blocked = first
        .manage("/team/block", json!({ "team_id": "ops" }))
        .await;
    assert_eq!(blocked.status(), 200);
    let body = assert_openai_error(first.chat(&key, &hello("priced")).await, 401).await;
    assert_eq!(body["error"]["code"], "blocked_team");
    let deadline = Instant::now() + Duration::from_secs(1);
    while second.chat(&key, &hello("priced")).await.status() != 401 {
        assert!(
            Instant::now() < deadline,
            "still admitted on the other instance"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first
        .manage("/team/unblock", json!({ "team_id": "ops" }))
        .await;
    let deadline = Instant::now() + Duration::from_secs(1);
    while second.chat(&key, &hello("priced")).await.status() != 200 {
        assert!(
            Instant::now() < deadline,
            "not admitted again after unblocking"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let deleted: Value = first
        .manage("/team/delete", json!({ "team_ids": ["ops"] }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(deleted["deleted_teams"], json!(["ops"]));
    assert_openai_error(first.chat(&key, &hello("priced")).await, 401).await;
    let deadline = Instant::now() + Duration::from_secs(1);
    while second.chat(&key, &hello("priced")).await.status() != 401 {
        assert!(
            Instant::now() < deadline,
            "a deleted team's key still works elsewhere"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A key cannot be made for a team that is gone, nor for one that never was.
    for team_id in ["ops", "nobody"] {
        let refused = first
            .manage("/key/generate", json!({ "team_id": team_id }))
            .await;
        let body = assert_openai_error(refused, 400).await;
        assert_eq!(body["error"]["param"], "team_id");
    }
    first.shutdown().await;
    second.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn a_budget_window_resets_and_admits_again(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app
        .new_key(json!({ "max_budget": 0.0015, "budget_duration": "3s" }))
        .await;
    assert_eq!(app.chat(&key, &bounded("priced")).await.status(), 200);
    // 1,250 µ$ are left, less than the least a request may be sent with (1,330 µ$): refused
    // until the window ends.
    let body = assert_openai_error(app.chat(&key, &bounded("priced")).await, 400).await;
    assert_eq!(body["error"]["type"], "budget_exceeded");
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if app.chat(&key, &bounded("priced")).await.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the window never reset");
    }
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn a_stream_is_ended_when_its_output_passes_what_the_budget_can_pay(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    // The 81-byte request may cost 810 µ$ of prompt; 1,290 µ$ leave 480 µ$ for output, 16
    // tokens at 30 µ$. The output limit is lowered to that, but `mock-slow-stream` ignores it
    // and streams 20 words (about 18 tokens).
    let key = app.new_key(json!({ "max_budget": 0.00129 })).await;
    let body = json!({ "model": "slow", "messages": [{ "role": "user", "content": "Say hello" }], "stream": true });
    let response = app.chat(&key, &body).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let payloads = sse_payloads(&text);
    let error: Value = payloads
        .iter()
        .filter_map(|payload| serde_json::from_str::<Value>(payload).ok())
        .find(|event| event.get("error").is_some())
        .unwrap_or_else(|| panic!("no error event in {text}"));
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Budget exhausted mid-stream"),
        "{error}"
    );
    let delivered: String = payloads
        .iter()
        .filter_map(|payload| serde_json::from_str::<Value>(payload).ok())
        .filter_map(|chunk| {
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    let words = delivered.split_whitespace().count();
    assert!(
        (10..20).contains(&words),
        "delivered {words} words: {delivered:?}"
    );
    let rows = wait_for_rows(&pool, &key, 1).await;
    let (cost, _, completion_tokens, status, estimated) = rows[0].clone();
    assert_eq!((status.as_str(), estimated), ("failure", true));
    // Billed for what was delivered: its bytes / 4 as tokens.
    assert_eq!(completion_tokens, (delivered.len() as i64 + 3) / 4);
    assert!(cost <= 1_290, "billed {cost} µ$ of a 1,290 µ$ budget");
    let subject = format!("key:{}", app::secrets::hash_key(&key));
    app.shutdown().await;
    assert_eq!(budget_row(&pool, &subject).await, (Some(1_290), cost, 0));
}

#[sqlx::test(migrations = false)]
async fn a_messages_request_relayed_to_anthropic_is_held_to_what_the_budget_can_pay(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({ "max_budget": 0.01 })).await;
    // 87 bytes (≤ 87 prompt tokens at up to 3.75 µ$, the cache-write price) leave 9,673 µ$ of
    // 10,000 for output at 15 µ$ a token: 644 tokens, not the 4,096 asked for.
    let body = json!({ "model": "claude", "max_tokens": 4096, "messages": [{ "role": "user", "content": "Say hello" }] });
    let response = app
        .http
        .post(format!("{}/v1/messages", app.base))
        .bearer_auth(&key)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let sent = mock.record.last_request().unwrap();
    assert_eq!(sent["max_tokens"], 644, "{sent}");
    let rows = wait_for_rows(&pool, &key, 1).await;
    assert!(rows[0].0 <= 10_000);
    app.shutdown().await;
}

/// A loopback webhook that keeps the JSON bodies posted to it.
async fn webhook() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

#[sqlx::test(migrations = false)]
async fn a_soft_budget_alerts_once_per_window_across_instances(pool: PgPool) {
    let (url, received) = webhook().await;
    let mock = mock().await;
    let yaml = format!(
        "{}  alerting: [slack]\n  alerting_webhook_url: \"{url}\"\n",
        config_yaml(&mock, 0.05)
    );
    let first = spawn_app_from_yaml(pool.clone(), &yaml).await;
    let second = spawn_app_from_yaml(pool.clone(), &yaml).await;
    let created = first
        .generate_key(json!({ "max_budget": 1.0, "soft_budget": 0.0004 }))
        .await;
    assert_eq!(created["soft_budget"], 0.0004);
    let key = created["key"].as_str().unwrap().to_string();
    // 250 µ$ a call: the second crosses 400 µ$; the rest, on either instance, stay quiet.
    for (index, app) in [&first, &second, &first, &second, &first]
        .iter()
        .enumerate()
    {
        assert_eq!(app.chat(&key, &hello("priced")).await.status(), 200);
        wait_for_rows(&pool, &key, index + 1).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let alerts = received.lock().unwrap().clone();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let text = alerts[0]["text"].as_str().unwrap();
    assert!(
        text.contains("soft budget") && text.contains("$0.0004"),
        "{text}"
    );
    assert!(!text.contains(&key), "{text}");
    first.shutdown().await;
    second.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn budget_fields_are_validated(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    for (body, param) in [
        (json!({ "max_budget": -1 }), "max_budget"),
        (json!({ "budget_duration": "soon" }), "budget_duration"),
    ] {
        let refused = app.manage("/key/generate", body.clone()).await;
        let error = assert_openai_error(refused, 400).await;
        assert_eq!(error["error"]["param"], param, "{body}");
        let refused = app.manage("/team/new", body.clone()).await;
        let error = assert_openai_error(refused, 400).await;
        assert_eq!(error["error"]["param"], param, "{body}");
    }
    let unknown = app
        .manage(
            "/team/update",
            json!({ "team_id": "ghost", "blocked": true }),
        )
        .await;
    assert_openai_error(unknown, 404).await;
    app.shutdown().await;
}

/// Spend rows naming a user: their count and total cost.
async fn rows_of_user(pool: &PgPool, user_id: &str) -> (i64, i64) {
    sqlx::query_as(
        "SELECT count(*), COALESCE(sum(cost_micros), 0)::bigint FROM spend_logs \
         WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_user_budget_binds_all_its_keys_and_a_member_budget_its_keys_in_the_team(pool: PgPool) {
    let mock = mock().await;
    let first = spawn_app(pool.clone(), &mock).await;
    let second = spawn_app(pool.clone(), &mock).await;
    let created = first
        .manage(
            "/user/new",
            json!({ "user_id": "u-budget", "max_budget": 0.005, "auto_create_key": false }),
        )
        .await;
    assert_eq!(created.status(), 200);
    // Each key alone could pay for everything; the user cannot.
    let mut keys = Vec::new();
    for _ in 0..2 {
        keys.push(
            first
                .new_key(json!({ "user_id": "u-budget", "max_budget": 1.0 }))
                .await,
        );
    }
    mock.record.set_latency(Duration::from_millis(100));
    let (admitted, refused) = burst(&[&first, &second], &keys, 64).await;
    mock.record.set_latency(Duration::ZERO);
    assert!(
        admitted >= 3 && refused > 0,
        "{admitted} admitted, {refused} refused"
    );
    wait_for_count(&pool, &keys, admitted as i64).await;
    let (rows, spent) = rows_of_user(&pool, "u-budget").await;
    assert_eq!(rows, admitted as i64, "every row names the user");
    assert!(spent <= 5_000, "the user spent {spent} µ$ of 5,000");
    let (_, user_spend, _) = budget_row(&pool, "user:u-budget").await;
    assert_eq!(user_spend, spent, "the user's counter equals its rows");

    // A member's budget within a team binds its keys in that team, not the team's others.
    new_team(&first, json!({ "team_id": "tm" })).await;
    for (user_id, budget) in [("u-member", Some(0.005)), ("u-other", None)] {
        let created = first
            .manage(
                "/user/new",
                json!({ "user_id": user_id, "auto_create_key": false }),
            )
            .await;
        assert_eq!(created.status(), 200);
        let added = first
            .manage(
                "/team/member_add",
                json!({ "team_id": "tm", "member": { "user_id": user_id },
                        "max_budget_in_team": budget }),
            )
            .await;
        assert_eq!(added.status(), 200, "{}", added.text().await.unwrap());
    }
    let mut member_keys = Vec::new();
    for _ in 0..2 {
        member_keys.push(
            first
                .new_key(json!({ "team_id": "tm", "user_id": "u-member" }))
                .await,
        );
    }
    mock.record.set_latency(Duration::from_millis(100));
    let (admitted, refused) = burst(&[&first, &second], &member_keys, 64).await;
    mock.record.set_latency(Duration::ZERO);
    assert!(
        admitted >= 3 && refused > 0,
        "{admitted} admitted, {refused} refused"
    );
    wait_for_count(&pool, &member_keys, admitted as i64).await;
    let (_, spent) = rows_of_user(&pool, "u-member").await;
    assert!(spent <= 5_000, "the member spent {spent} µ$ of 5,000");
    let (max, member_spend, _) = budget_row(&pool, "member:tm:u-member").await;
    assert_eq!(max, Some(5_000));
    assert_eq!(member_spend, spent);
    let other = first
        .new_key(json!({ "team_id": "tm", "user_id": "u-other" }))
        .await;
    assert_eq!(first.chat(&other, &bounded("priced")).await.status(), 200);
    // Spent to the edge one request at a time, the member's budget names itself when it refuses.
    let mut refused = None;
    for _ in 0..40 {
        let response = first.chat(&member_keys[0], &bounded("priced")).await;
        if response.status() != 200 {
            refused = Some(response);
            break;
        }
    }
    let body = assert_openai_error(refused.expect("the member budget ran out"), 400).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("user `u-member` in team `tm`"),
        "{body}"
    );
    first.shutdown().await;
    second.shutdown().await;
}
