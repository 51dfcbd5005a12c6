//! The adversarial suite: each test is an attack from docs/SECURITY.md tried as a hostile tenant
//! would, and must fail. Escalation sequences (make something, then use it to reach further)
//! are tried step by step.

use crate::common::console::Console;
use crate::common::*;
use app::db::spend::{Payload, SpendRow};
use serde_json::{json, Value};
use server::metering::writer::SpendWriter;
use server::policy::budgets::Ledger;
use server::startup::migrate;
use sqlx::PgPool;
use time::OffsetDateTime;
use tokio_util::task::TaskTracker;

async fn ok(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// Makes a user with a global role and returns the key `/user/new` minted for it.
async fn user(app: &TestApp, user_id: &str, role: &str) -> String {
    let body = ok(app
        .manage(
            "/user/new",
            json!({ "user_id": user_id, "user_role": role }),
        )
        .await)
    .await;
    body["key"].as_str().unwrap().to_string()
}

async fn add_member(app: &TestApp, team_id: &str, user_id: &str, role: &str) {
    ok(app
        .manage(
            "/team/member_add",
            json!({ "team_id": team_id, "member": { "user_id": user_id, "role": role } }),
        )
        .await)
    .await;
}

/// A team admin tries to become proxy admin: add an admin to its team, mint a key for it, take
/// over an admin's key in its team, and use a key minted for a member who is promoted later.
/// Every step is refused, and the team admin's role never changes.
#[sqlx::test(migrations = false)]
async fn a_team_admin_never_mints_or_takes_over_more_power_than_it_has(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool, &mock).await;
    for team_id in ["t1", "t2"] {
        ok(app.manage("/team/new", json!({ "team_id": team_id })).await).await;
    }
    user(&app, "boss", "proxy_admin").await;
    let team_admin = user(&app, "tadmin", "internal_user").await;
    user(&app, "member", "internal_user").await;
    add_member(&app, "t1", "tadmin", "admin").await;
    add_member(&app, "t2", "tadmin", "admin").await;
    add_member(&app, "t1", "member", "user").await;

    // 1. An admin is not added to the team by its team admin (nor made a team admin there).
    let response = app
        .post(
            "/team/member_add",
            &team_admin,
            &json!({ "team_id": "t1", "member": { "user_id": "boss", "role": "user" } }),
        )
        .await;
    let error = assert_openai_error(response, 403).await;
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("higher global role"),
        "{error}"
    );

    // 2. Put there by an admin, the admin user still gets no key from the team admin.
    add_member(&app, "t1", "boss", "user").await;
    let response = app
        .post(
            "/key/generate",
            &team_admin,
            &json!({ "team_id": "t1", "user_id": "boss" }),
        )
        .await;
    assert_openai_error(response, 403).await;
    let response = app
        .post(
            "/team/member_update",
            &team_admin,
            &json!({ "team_id": "t1", "user_id": "boss", "role": "admin" }),
        )
        .await;
    assert_openai_error(response, 403).await;

    // 3. The admin's own key in the team is not the team admin's to rotate, change, block or
    // delete.
    let boss_key = app
        .generate_key(json!({ "team_id": "t1", "user_id": "boss" }))
        .await;
    let token = boss_key["token"].as_str().unwrap();
    for (path, body) in [
        (
            "/key/regenerate",
            json!({ "key": token, "new_key": "sk-attacker-chosen-secret-0001" }),
        ),
        ("/key/update", json!({ "key": token, "key_alias": "mine" })),
        ("/key/block", json!({ "key": token })),
        ("/key/delete", json!({ "keys": [token] })),
    ] {
        let response = app.post(path, &team_admin, &body).await;
        assert_openai_error(response, 403).await;
    }
    let response = app
        .post(&format!("/key/{token}/regenerate"), &team_admin, &json!({}))
        .await;
    assert_openai_error(response, 403).await;
    // The admin's key still works with its own secret.
    let response = app
        .get("/user/list", boss_key["key"].as_str().unwrap())
        .await;
    assert_eq!(response.status(), 200);

    // 4. A key the team admin mints for a member never acts above the team admin, even once the
    // member is promoted to proxy admin.
    let minted = app
        .post(
            "/key/generate",
            &team_admin,
            &json!({ "team_id": "t1", "user_id": "member" }),
        )
        .await;
    let minted = ok(minted).await["key"].as_str().unwrap().to_string();
    ok(app
        .manage(
            "/user/update",
            json!({ "user_id": "member", "user_role": "proxy_admin" }),
        )
        .await)
    .await;
    let response = app.get("/user/list", &minted).await;
    assert_openai_error(response, 403).await;
    let response = app
        .post(
            "/user/update",
            &minted,
            &json!({ "user_id": "tadmin", "user_role": "proxy_admin" }),
        )
        .await;
    assert_openai_error(response, 403).await;
    let response = app
        .post("/key/generate", &minted, &json!({ "user_id": "tadmin" }))
        .await;
    assert_openai_error(response, 403).await;

    // 5. A key the team admin mints for itself in t1 acts in t1 only, not in its other team.
    let own = app
        .post(
            "/key/generate",
            &team_admin,
            &json!({ "team_id": "t1", "user_id": "tadmin" }),
        )
        .await;
    let own = ok(own).await["key"].as_str().unwrap().to_string();
    let response = app
        .post("/key/generate", &own, &json!({ "team_id": "t2" }))
        .await;
    assert_openai_error(response, 403).await;
    let response = app
        .post("/key/generate", &own, &json!({ "team_id": "t1" }))
        .await;
    assert_eq!(response.status(), 200);

    // 6. A key an admin minted for a member who administers another team: the team admin may
    // rotate it (its member's key), but the secret it chose acts within this team only.
    ok(app.manage("/team/new", json!({ "team_id": "t3" })).await).await;
    user(&app, "multi", "internal_user").await;
    add_member(&app, "t1", "multi", "user").await;
    add_member(&app, "t3", "multi", "admin").await;
    let multi_key = app
        .generate_key(json!({ "team_id": "t1", "user_id": "multi" }))
        .await;
    let chosen = "sk-team-admin-chosen-secret-0002";
    let response = app
        .post(
            "/key/regenerate",
            &team_admin,
            &json!({ "key": multi_key["token"], "new_key": chosen }),
        )
        .await;
    ok(response).await;
    let response = app
        .post(
            "/key/generate",
            chosen,
            &json!({ "team_id": "t3", "user_id": "multi" }),
        )
        .await;
    assert_openai_error(response, 403).await;

    // The team admin is still what it was.
    let info = app.get("/user/info?user_id=tadmin", MASTER_KEY).await;
    let info = ok(info).await;
    assert_eq!(info["user_info"]["user_role"], "internal_user", "{info}");
}

/// A spend row for `token_hash`, with no identity fields.
fn spend_row(request_id: &str, token_hash: &str) -> SpendRow {
    let at = OffsetDateTime::now_utc();
    SpendRow {
        request_id: request_id.into(),
        token_hash: token_hash.into(),
        call_type: "acompletion".into(),
        model_group: "priced".into(),
        upstream_model: "priced-model".into(),
        provider: "openai".into(),
        api_base: "http://127.0.0.1:1".into(),
        prompt_tokens: 10,
        completion_tokens: 5,
        cached_tokens: 0,
        cache_write_tokens: 0,
        reasoning_tokens: 0,
        cost_micros: 250,
        latency_ms: 12,
        http_status: 200,
        status: "success".into(),
        is_stream: false,
        usage_estimated: false,
        end_user: None,
        started_at: at,
        ended_at: at,
        model_id: "deployment-1".into(),
        attempts: None,
        team_id: None,
        user_id: None,
        project_id: None,
        request_tags: None,
        session_id: None,
        metadata: None,
        charges: Vec::new(),
        payload: None,
    }
}

/// Text that PostgreSQL cannot compress (random hex), so that an index on it overflows.
fn incompressible(chars: usize) -> String {
    let mut text = String::with_capacity(chars + 32);
    while text.len() < chars {
        text.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    text.truncate(chars);
    text
}

/// One tenant poisons a spend batch four ways (an end user and a tag too large for their
/// indexes, NUL characters in a payload and in an end user). Another tenant's rows in the same
/// batch all land; each poisoned row is repaired and landed, or set aside, and recorded.
#[sqlx::test(migrations = false)]
async fn a_poisoned_spend_batch_never_holds_up_other_tenants_rows(pool: PgPool) {
    migrate(&pool).await.unwrap();
    let ledger = Ledger::new(pool.clone(), TaskTracker::new());
    let (queue, writer) = SpendWriter::spawn(
        pool.clone(),
        ledger,
        None,
        std::time::Duration::from_millis(200),
        Default::default(),
    );
    let mut poisoned = Vec::new();
    let mut row = spend_row("bad-end-user-size", "hash-bad");
    row.end_user = Some(incompressible(4_000));
    poisoned.push(row);
    let mut row = spend_row("bad-tag-size", "hash-bad");
    row.request_tags = Some(vec![incompressible(3_000)]);
    poisoned.push(row);
    let mut row = spend_row("bad-payload-nul", "hash-bad");
    row.payload = Some(Box::new(Payload {
        request: Some(json!({ "messages": [{ "content": "a\u{0}b" }] })),
        response: None,
    }));
    poisoned.push(row);
    let mut row = spend_row("bad-end-user-nul", "hash-bad");
    row.end_user = Some("eve\u{0}".into());
    poisoned.push(row);
    for index in 0..50 {
        queue
            .push(spend_row(&format!("good-{index}"), "hash-good"))
            .await;
        if index % 12 == 0 {
            if let Some(row) = poisoned.pop() {
                queue.push(row).await;
            }
        }
    }
    let drained = tokio::time::timeout(std::time::Duration::from_secs(60), writer.finish()).await;
    assert!(drained.is_ok(), "the writer did not drain");

    let good: i64 =
        sqlx::query_scalar("SELECT count(*) FROM spend_logs WHERE token_hash = 'hash-good'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(good, 50, "another tenant's rows must all land");
    let rollup: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(cost_micros), 0)::bigint FROM spend_daily WHERE token_hash = 'hash-good'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(rollup, 50 * 250);
    let faults: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT request_id, outcome, sqlstate FROM spend_row_faults ORDER BY request_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let ids: Vec<&str> = faults.iter().map(|fault| fault.0.as_str()).collect();
    assert_eq!(
        ids,
        [
            "bad-end-user-nul",
            "bad-end-user-size",
            "bad-payload-nul",
            "bad-tag-size"
        ],
        "{faults:?}"
    );
    for (request_id, outcome, _) in &faults {
        let landed: Option<Option<String>> =
            sqlx::query_scalar("SELECT end_user FROM spend_logs WHERE request_id = $1")
                .bind(request_id)
                .fetch_optional(&pool)
                .await
                .unwrap();
        match outcome.as_str() {
            "repaired" => {
                let end_user = landed.expect("a repaired row lands").unwrap_or_default();
                assert!(end_user.chars().count() <= 200 && !end_user.contains('\0'));
            }
            other => assert_eq!(other, "set_aside", "{request_id}"),
        }
    }
}

/// Identity fields past their bounds are refused with a 400 naming the field, on every path
/// that takes them, before any upstream call; the bounds themselves pass.
#[sqlx::test(migrations = false)]
async fn oversized_identity_fields_are_refused_naming_the_field(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool, &mock).await;
    let key = app.new_key(json!({})).await;
    let long = "u".repeat(201);
    let fine = "u".repeat(200);
    let bad_field = |error: &Value, field: &str| {
        assert_eq!(error["error"]["param"], field, "{error}");
    };
    // Headers, on chat.
    for (header, value, field) in [
        (
            "x-litellm-customer-id",
            long.as_str(),
            "x-litellm-customer-id",
        ),
        (
            "x-litellm-end-user-id",
            "eve\tmallory",
            "x-litellm-end-user-id",
        ),
        ("x-litellm-tags", &format!("ok,{long}"), "x-litellm-tags"),
    ] {
        let response = app
            .http
            .post(format!("{}/v1/chat/completions", app.base))
            .bearer_auth(&key)
            .header(header, value)
            .json(&hello("priced"))
            .send()
            .await
            .unwrap();
        let error = assert_openai_error(response, 400).await;
        bad_field(&error, field);
    }
    // Body fields, on every kind of endpoint.
    let big_metadata = json!({ "blob": "m".repeat(17 * 1024) });
    for (path, body, field) in [
        (
            "/v1/chat/completions",
            json!({ "model": "priced", "messages": [{"role": "user", "content": "hi"}], "user": long }),
            "user",
        ),
        (
            "/v1/chat/completions",
            json!({ "model": "priced", "messages": [{"role": "user", "content": "hi"}], "metadata": big_metadata }),
            "metadata",
        ),
        (
            "/v1/chat/completions",
            json!({ "model": "priced", "messages": [{"role": "user", "content": "hi"}], "tags": [long] }),
            "tags",
        ),
        (
            "/v1/embeddings",
            json!({ "model": "embed", "input": "hi", "user": long }),
            "user",
        ),
        (
            "/v1/completions",
            json!({ "model": "instruct", "prompt": "hi", "user": long }),
            "user",
        ),
        (
            "/v1/completions",
            json!({ "model": "instruct", "prompt": "hi", "user": 42 }),
            "user",
        ),
        (
            "/v1/moderations",
            json!({ "input": "hi", "user": long }),
            "user",
        ),
    ] {
        let response = app.post(path, &key, &body).await;
        let error = assert_openai_error(response, 400).await;
        bad_field(&error, field);
    }
    let response = app
        .post(
            "/v1/messages",
            &key,
            &json!({ "model": "claude", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}], "metadata": { "user_id": long } }),
        )
        .await;
    assert_eq!(response.status(), 400);
    // A key's own tags are bounded when it is made.
    let response = app
        .manage("/key/generate", json!({ "metadata": { "tags": [long] } }))
        .await;
    let error = assert_openai_error(response, 400).await;
    bad_field(&error, "metadata.tags");
    // At the bound, the request is served and metered with its end user.
    let response = app
        .http
        .post(format!("{}/v1/chat/completions", app.base))
        .bearer_auth(&key)
        .header("x-litellm-customer-id", &fine)
        .json(&hello("priced"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    wait_for_rows(&app.pool, &key, 1).await;
}

/// Values that would overflow a date or a sum get a 400, never a panic or a 5xx.
#[sqlx::test(migrations = false)]
async fn values_past_the_calendar_or_a_sum_are_refused(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool, &mock).await;
    for body in [
        json!({ "duration": "1000000000000s" }),
        json!({ "duration": "9223372036854775807s" }),
        json!({ "budget_duration": "999999999999d", "max_budget": 1.0 }),
    ] {
        let response = app.manage("/key/generate", body.clone()).await;
        assert_openai_error(response, 400).await;
    }
    let key = app.generate_key(json!({})).await;
    let token = key["token"].as_str().unwrap();
    let response = app
        .manage(
            "/key/regenerate",
            json!({ "key": token, "grace_period": "99999999999999d" }),
        )
        .await;
    assert_openai_error(response, 400).await;
    let response = app
        .manage(
            "/key/update",
            json!({ "key": token, "duration": "1000000000000s" }),
        )
        .await;
    assert_openai_error(response, 400).await;
    for path in [
        "/spend/logs?start_date=9999-12-30&end_date=9999-12-31",
        "/spend/logs?start_date=2026-01-01&end_date=9999-12-31T23:59:59Z",
        "/global/spend/report?start_date=9999-12-01&end_date=9999-12-31",
        "/spend/report?start_date=0001-01-01&end_date=9999-12-31&group_by=team",
        "/user/daily/activity?start_date=9999-12-25&end_date=9999-12-31",
        "/spend/tags?start_date=9999-12-25&end_date=9999-12-31",
    ] {
        let response = app.get(path, MASTER_KEY).await;
        assert_openai_error(response, 400).await;
    }
    // The gateway still answers.
    let response = app
        .chat(key["key"].as_str().unwrap(), &hello("priced"))
        .await;
    assert_eq!(response.status(), 200);
}

/// First-run setup is not a race a visitor can win: without the master key or the setup token
/// printed in the log, no admin is made.
#[sqlx::test(migrations = false)]
async fn first_run_setup_needs_the_master_key_or_the_setup_token(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool, &mock).await;
    let console = Console::open(&app).await;
    let form = |secret: &str| {
        vec![
            ("setup_secret", secret.to_string()),
            ("email", "intruder@example.com".to_string()),
            ("password", "a-long-enough-password".to_string()),
            (
                "password_confirmation",
                "a-long-enough-password".to_string(),
            ),
        ]
    };
    for secret in ["", "sk-guessed-master-key", "0123456789abcdef"] {
        let (status, body) = console.call("setup_admin", &form(secret)).await;
        assert_eq!(status, 403, "{body}");
    }
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM console_users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(users, 0);
    let (status, body) = console.call("setup_admin", &form(MASTER_KEY)).await;
    assert!(status < 400, "{status} {body}");
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM console_users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(users, 1);
    // Once done, setup is closed even to the master key.
    let other = Console::open(&app).await;
    let (status, _) = other.call("setup_admin", &form(MASTER_KEY)).await;
    assert!(status >= 400);
}

/// Makes a console user who can log in; returns its email.
async fn console_user(app: &TestApp, name: &str, role: &str, password: &str) -> String {
    let email = format!("{name}@console.test");
    ok(app
        .manage(
            "/user/new",
            json!({ "user_id": name, "user_email": email, "user_role": role,
                    "password": password, "auto_create_key": false }),
        )
        .await)
    .await;
    email
}

async fn session_rows(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM tower_sessions.session")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The console before a login: anonymous pages store nothing, carry CSP and framing headers,
/// bodies are bounded, logins are throttled per account, malformed calls are 400s, the typed
/// email is never logged, and each role lands on a page it can use.
#[sqlx::test(migrations = false)]
async fn the_console_bounds_what_anonymous_visitors_can_cause(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool, &mock).await;
    let password = "console-password-1";
    let victim = console_user(&app, "victim", "proxy_admin", password).await;
    let finance = console_user(&app, "money", "finance", password).await;

    // Anonymous visits write no session row, and pages are not frameable.
    let before = session_rows(&app.pool).await;
    for _ in 0..3 {
        let page = reqwest::get(format!("{}/login", app.base)).await.unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()["x-frame-options"], "DENY");
        let policy = page.headers()["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(policy.contains("object-src 'none'"), "{policy}");
    }
    let anonymous = Console::open(&app).await;
    assert_eq!(session_rows(&app.pool).await, before);

    // A server-function body past 64 KB is refused before it is read.
    let (status, _) = anonymous
        .call(
            "login",
            &[("email", "x".repeat(70 * 1024)), ("password", "p".into())],
        )
        .await;
    assert_eq!(status, 413);
    // A missing field is a 400, a wrong password a 401.
    let (status, body) = anonymous.call("login", &[("email", victim.clone())]).await;
    assert_eq!(status, 400, "{body}");

    // Ten wrong passwords lock the account for a while, even from a new session and with the
    // right password; the account's owner is told to wait (429), not let in.
    for attempt in 0..10 {
        let (status, body) = anonymous
            .call(
                "login",
                &[
                    ("email", victim.clone()),
                    ("password", format!("wrong-{attempt}")),
                ],
            )
            .await;
        assert_eq!(status, 401, "{body}");
    }
    let other = Console::open(&app).await;
    let (status, body) = other
        .call(
            "login",
            &[("email", victim.clone()), ("password", password.into())],
        )
        .await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("TooManyAttempts"), "{body}");
    // Another account is not locked by it.
    let session = Console::open(&app).await;
    let response = session
        .http
        .post(format!("{}/api/login", app.base))
        .form(&[
            ("csrf", session.csrf.clone()),
            ("email", finance.clone()),
            ("password", password.into()),
        ])
        .send()
        .await
        .unwrap();
    // Finance lands on the Overview, not on the Keys page it cannot use.
    assert!(response.status().as_u16() < 400, "{}", response.status());
    assert_eq!(
        response.headers()["location"],
        "/overview",
        "{:?}",
        response.headers()
    );
    // Now logged in, the session is stored.
    assert!(session_rows(&app.pool).await > before);
}

/// A password reset ends every session of that user at once.
#[sqlx::test(migrations = false)]
async fn a_password_reset_ends_that_users_sessions(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool, &mock).await;
    let password = "console-password-1";
    let email = console_user(&app, "reset-me", "finance", password).await;
    let first = Console::log_in(&app, &email, password).await;
    let second = Console::log_in(&app, &email, password).await;
    let (status, body) = first.call("list_budgets", &[]).await;
    assert_eq!(status, 200, "{body}");
    ok(app
        .manage(
            "/user/update",
            json!({ "user_id": "reset-me", "password": "a-brand-new-password" }),
        )
        .await)
    .await;
    for console in [&first, &second] {
        let (status, body) = console.call("list_budgets", &[]).await;
        assert_eq!(status, 401, "{body}");
    }
    // The new password opens a new session.
    let third = Console::log_in(&app, &email, "a-brand-new-password").await;
    let (status, _) = third.call("list_budgets", &[]).await;
    assert_eq!(status, 200);
}

/// Gatehouse whose config allows stored deployments one variable, and holds others (as the
/// process environment would) that they must not reach.
async fn app_with_environment(pool: PgPool, mock: &mock_upstream::MockUpstream) -> TestApp {
    let yaml = config_yaml(mock, 0.05)
        + "  allowed_environment_references: [STORED_REF]\n"
        + "environment_variables:\n"
        + "  STORED_REF: sk-allowed-upstream\n"
        + "  HOST_SECRET: sk-host-secret\n"
        + "  AWS_ACCESS_KEY_ID: AKIAHOSTCREDENTIAL\n"
        + "  AWS_SECRET_ACCESS_KEY: host-aws-secret\n"
        + "  AWS_REGION_NAME: us-east-1\n";
    spawn_app_from_yaml(pool, &yaml).await
}

/// Stored deployments (the API's, the console's) reach only allow-listed variables: never the
/// host's other variables, ambient cloud credentials or files; the config may not allow
/// Gatehouse's own secrets either.
#[sqlx::test(migrations = false)]
async fn stored_deployments_never_read_the_hosts_environment_or_files(pool: PgPool) {
    let mock = mock().await;
    let app = app_with_environment(pool, &mock).await;
    let base = mock.api_base();
    for (name, params) in [
        (
            "host-secret",
            json!({ "model": "openai/x", "api_base": base, "api_key": "os.environ/HOST_SECRET" }),
        ),
        (
            "database",
            json!({ "model": "openai/x", "api_base": base, "api_key": "os.environ/DATABASE_URL" }),
        ),
        (
            "ambient-aws",
            json!({ "model": "bedrock/anthropic.claude-3-haiku", "api_base": mock.root() }),
        ),
        (
            "key-file",
            json!({ "model": "vertex_ai/gemini-2.5-flash", "vertex_project": "p",
                              "api_base": mock.root(), "vertex_credentials": "/etc/passwd" }),
        ),
        (
            "ambient-vertex",
            json!({ "model": "vertex_ai/gemini-2.5-flash", "vertex_project": "p", "api_base": mock.root() }),
        ),
    ] {
        let response = app
            .manage(
                "/model/new",
                json!({ "model_name": name, "litellm_params": params }),
            )
            .await;
        let error = assert_openai_error(response, 400).await;
        let message = error["error"]["message"].as_str().unwrap();
        assert!(!message.contains("sk-host-secret"), "{message}");
    }
    let response = app
        .manage(
            "/model/new",
            json!({ "model_name": "host-secret", "litellm_params":
                    { "model": "openai/x", "api_base": base, "api_key": "os.environ/HOST_SECRET" } }),
        )
        .await;
    let error = assert_openai_error(response, 400).await;
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("allowed_environment_references"),
        "{error}"
    );
    // The allow-listed variable is read.
    ok(app
        .manage(
            "/model/new",
            json!({ "model_name": "allowed", "litellm_params":
                    { "model": "openai/allowed-model", "api_base": base, "api_key": "os.environ/STORED_REF" } }),
        )
        .await)
    .await;
    let key = app.new_key(json!({})).await;
    let response = app.chat(&key, &hello("allowed")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        mock.record.last_header("authorization").unwrap(),
        "Bearer sk-allowed-upstream"
    );
    // The config itself may not hand Gatehouse's own secrets to stored deployments.
    let yaml = config_yaml(&mock, 0.05) + "  allowed_environment_references: [DATABASE_URL]\n";
    assert!(server::config::Config::parse(&yaml, "t.yaml", &|_| None).is_err());
}

/// A stored deployment's sealed key never follows it to a new address: changing `api_base`
/// (or the model) drops the credentials unless they are given again; and where a deployment
/// sends them is shown only to admins.
#[sqlx::test(migrations = false)]
async fn sealed_credentials_never_follow_a_changed_destination(pool: PgPool) {
    let mock = mock().await;
    let elsewhere = crate::common::mock().await;
    let app = spawn_app(pool, &mock).await;
    let created = ok(app
        .manage(
            "/model/new",
            json!({ "model_name": "sealed", "litellm_params":
                    { "model": "openai/sealed-model", "api_base": mock.api_base(), "api_key": "sk-sealed-upstream" } }),
        )
        .await)
    .await;
    let id = created["model_id"].as_str().unwrap().to_string();
    let key = app.new_key(json!({})).await;
    assert_eq!(app.chat(&key, &hello("sealed")).await.status(), 200);
    assert_eq!(
        mock.record.last_header("authorization").unwrap(),
        "Bearer sk-sealed-upstream"
    );
    // Where it sends them: admins see it, a key holder does not, nor do responses.
    let info = ok(app.get("/model/info", MASTER_KEY).await).await;
    assert!(info.to_string().contains(&mock.api_base()), "{info}");
    let info = ok(app.get("/model/info", &key).await).await;
    assert!(!info.to_string().contains("127.0.0.1"), "{info}");
    let response = app.chat(&key, &hello("sealed")).await;
    assert!(response.headers().get("x-litellm-model-api-base").is_none());

    // Moved elsewhere without the key: nothing is sent there.
    ok(app
        .manage(
            "/model/update",
            json!({ "model_info": { "id": id }, "litellm_params": { "api_base": elsewhere.api_base() } }),
        )
        .await)
    .await;
    for _ in 0..50 {
        let _ = app.chat(&key, &hello("sealed")).await;
        if elsewhere.record.requests() > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        elsewhere.record.requests() > 0,
        "the moved deployment is not served"
    );
    assert_eq!(elsewhere.record.last_header("authorization"), None);
    // Given again with the move, the key goes along.
    ok(app
        .manage(
            "/model/update",
            json!({ "model_info": { "id": id }, "litellm_params": { "api_key": "sk-given-again" } }),
        )
        .await)
    .await;
    let mut sent = None;
    for _ in 0..50 {
        let _ = app.chat(&key, &hello("sealed")).await;
        sent = elsewhere.record.last_header("authorization");
        if sent.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(sent.as_deref(), Some("Bearer sk-given-again"));
}

/// Random bearer tokens: each costs a lookup, so an address that sends too many is refused
/// without one for the rest of its minute (a live key from the same address still works), and
/// the refusals are audited as one row per address, not one each.
#[sqlx::test(migrations = false)]
async fn random_keys_are_throttled_per_address_and_audited_in_aggregate(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;
    let limit = server::policy::auth_failures::MAX_FAILURES_PER_MINUTE as usize;
    for attempt in 0..limit {
        let random = format!("sk-random-{attempt}-{}", uuid::Uuid::new_v4().simple());
        let response = app.post("/team/new", &random, &json!({})).await;
        assert_openai_error(response, 401).await;
    }
    let response = app
        .chat(
            &format!("sk-random-{}", uuid::Uuid::new_v4()),
            &hello("priced"),
        )
        .await;
    let error = assert_openai_error(response, 429).await;
    assert_eq!(error["error"]["type"], "rate_limit_error");
    assert_eq!(app.chat(&key, &hello("priced")).await.status(), 200);
    app.shutdown().await;
    let rows: Vec<(i64, Option<String>)> = sqlx::query_as(
        "SELECT (after->>'count')::bigint, source_ip FROM audit_log WHERE actor = 'unknown key'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows, [(limit as i64, Some("127.0.0.1".to_string()))]);
}

/// A key naming ever new tags or end users costs a query and rollup rows for each: it may
/// introduce only so many a minute.
#[sqlx::test(migrations = false)]
async fn a_key_may_introduce_only_so_many_new_names_a_minute(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool, &mock).await;
    let key = app.new_key(json!({})).await;
    let other = app.new_key(json!({})).await;
    let limit = server::policy::new_names::MAX_NEW_NAMES_PER_MINUTE as usize;
    let per_request = 30;
    let requests = limit / per_request;
    let tagged = |request: usize| {
        (0..per_request)
            .map(|tag| format!("new-{request}-{tag}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let send = |bearer: String, tags: String| {
        let app = &app;
        async move {
            app.http
                .post(format!("{}/v1/chat/completions", app.base))
                .bearer_auth(bearer)
                .header("x-litellm-tags", tags)
                .json(&hello("priced"))
                .send()
                .await
                .unwrap()
        }
    };
    for request in 0..requests {
        assert_eq!(send(key.clone(), tagged(request)).await.status(), 200);
    }
    let response = send(key.clone(), tagged(requests)).await;
    assert_openai_error(response, 429).await;
    // Names already seen cost nothing, and other keys are not held back.
    assert_eq!(send(key.clone(), tagged(0)).await.status(), 200);
    assert_eq!(send(other, tagged(requests + 1)).await.status(), 200);
}

/// Redis faults cost a request milliseconds, never minutes: Gatehouse starts while its Redis is
/// down; rate-limited keys are refused (fail closed, 503) at once while it is away, keys without
/// limits are served; when Redis comes back, limits are enforced through it again; stopped
/// mid-run, it fails the same way.
#[sqlx::test(migrations = false)]
async fn a_redis_fault_fails_limited_keys_closed_in_milliseconds(pool: PgPool) {
    let mut redis = crate::common::redis::OwnRedis::new();
    let mock = mock().await;
    let yaml = format!(
        "{}router_settings:\n  redis_url: redis://127.0.0.1:{}/\n",
        config_yaml(&mock, 0.05),
        redis.port
    );
    let started = std::time::Instant::now();
    let app = spawn_app_from_yaml(pool, &yaml).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "start-up waited for Redis"
    );
    let limited = app.new_key(json!({ "rpm_limit": 1000 })).await;
    let free = app.new_key(json!({})).await;
    let quickly_refused = |what: &'static str| {
        let app = &app;
        let limited = limited.clone();
        async move {
            for _ in 0..5 {
                let asked = std::time::Instant::now();
                let response = app.chat(&limited, &hello("priced")).await;
                assert_eq!(response.status(), 503, "{what}");
                assert!(
                    asked.elapsed() < std::time::Duration::from_secs(1),
                    "{what}: refused after {:?}",
                    asked.elapsed()
                );
            }
        }
    };
    quickly_refused("Redis never started").await;
    assert_eq!(app.chat(&free, &hello("priced")).await.status(), 200);

    let served_again = |what: &'static str| {
        let app = &app;
        let limited = limited.clone();
        async move {
            for _ in 0..100 {
                if app.chat(&limited, &hello("priced")).await.status() == 200 {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("{what}: the limited key is not served again");
        }
    };
    redis.start().await;
    served_again("Redis started").await;
    redis.stop();
    quickly_refused("Redis stopped mid-run").await;
    assert_eq!(app.chat(&free, &hello("priced")).await.status(), 200);
    redis.start().await;
    served_again("Redis restarted").await;
}

/// Every endpoint reserves its worst case before it calls the upstream, so calls at a budget's
/// edge are refused rather than overspend: images by `n` × the image price, completions by
/// their output limit, embeddings by their input; chat's `n` multiplies the output it reserves;
/// an embedding request's fan-out is bounded.
#[sqlx::test(migrations = false)]
async fn every_endpoint_reserves_its_worst_case(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool, &mock).await;
    // $0.05: one $0.04 image, not two.
    let key = app.new_key(json!({ "max_budget": 0.05 })).await;
    let calls = mock.record.requests();
    let response = app
        .post(
            "/v1/images/generations",
            &key,
            &json!({ "model": "dall-e", "prompt": "a cat", "n": 2 }),
        )
        .await;
    let error = assert_openai_error(response, 400).await;
    assert_eq!(error["error"]["code"], "budget_exceeded", "{error}");
    let response = app
        .post(
            "/v1/images/generations",
            &key,
            &json!({ "model": "dall-e", "prompt": "a cat", "n": 11 }),
        )
        .await;
    assert_openai_error(response, 400).await;
    // A legacy completion that may write 100,000 tokens at $2/M ($0.20) is not sent either.
    let response = app
        .post(
            "/v1/completions",
            &key,
            &json!({ "model": "instruct", "prompt": "hi", "max_tokens": 100_000 }),
        )
        .await;
    let error = assert_openai_error(response, 400).await;
    assert_eq!(error["error"]["code"], "budget_exceeded", "{error}");
    // Embeddings: 20,000 bytes of input may be 20,000 tokens at $10/M ($0.20).
    let response = app
        .post(
            "/v1/embeddings",
            &key,
            &json!({ "model": "embed", "input": "word ".repeat(4_000) }),
        )
        .await;
    let error = assert_openai_error(response, 400).await;
    assert_eq!(error["error"]["code"], "budget_exceeded", "{error}");
    let many: Vec<String> = (0..2_049).map(|index| format!("text {index}")).collect();
    let response = app
        .post(
            "/v1/embeddings",
            &key,
            &json!({ "model": "embed", "input": many }),
        )
        .await;
    let error = assert_openai_error(response, 400).await;
    assert_eq!(error["error"]["param"], "input");
    assert_eq!(
        mock.record.requests(),
        calls,
        "nothing reached the upstream"
    );
    // What the budget can pay for is served.
    let response = app
        .post(
            "/v1/images/generations",
            &key,
            &json!({ "model": "dall-e", "prompt": "a cat", "n": 1 }),
        )
        .await;
    assert_eq!(response.status(), 200);

    // Chat: four choices of up to 100 tokens at $30/M is 12,000 µ$ of output; a $0.01 budget
    // gets each choice's limit lowered to what it can pay for, never four full outputs.
    let key = app.new_key(json!({ "max_budget": 0.01 })).await;
    let response = app
        .post(
            "/v1/chat/completions",
            &key,
            &json!({ "model": "priced", "n": 4, "max_tokens": 100,
                     "messages": [{ "role": "user", "content": "hi" }] }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let sent = mock.record.last_request().unwrap();
    let lowered = sent["max_tokens"].as_u64().unwrap();
    assert!(lowered < 100 && lowered * 4 * 30 <= 10_000, "{sent}");
    // Neither the request nor the deployment (not in the catalog) limits the output: the
    // request is held to the 4,096 tokens reserved for it.
    let key = app.new_key(json!({ "max_budget": 1.0 })).await;
    let response = app.chat(&key, &hello("priced")).await;
    assert_eq!(response.status(), 200);
    let sent = mock.record.last_request().unwrap();
    assert_eq!(sent["max_tokens"], 4_096, "{sent}");
    // Without a budget nothing is imposed.
    let free = app.new_key(json!({})).await;
    assert_eq!(app.chat(&free, &hello("priced")).await.status(), 200);
    let sent = mock.record.last_request().unwrap();
    assert!(sent.get("max_tokens").is_none(), "{sent}");
    for n in [json!(0), json!(129), json!("4")] {
        let response = app
            .post(
                "/v1/chat/completions",
                &key,
                &json!({ "model": "priced", "n": n, "messages": [{ "role": "user", "content": "hi" }] }),
            )
            .await;
        let error = assert_openai_error(response, 400).await;
        assert_eq!(error["error"]["param"], "n");
    }
}

/// A tenant cannot make a provider read files stored with it (which it reads with the
/// deployment's credentials): `gs://` and Files API references are refused.
#[sqlx::test(migrations = false)]
async fn provider_side_file_references_are_refused(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool, &mock).await;
    let key = app.new_key(json!({})).await;
    let calls = mock.record.requests();
    let response = app
        .post(
            "/v1/chat/completions",
            &key,
            &json!({ "model": "gemini", "messages": [{ "role": "user", "content": [
                { "type": "text", "text": "describe" },
                { "type": "image_url", "image_url": { "url": "gs://another-tenant/private.png" } }
            ] }] }),
        )
        .await;
    let error = assert_openai_error(response, 400).await;
    assert_eq!(error["error"]["param"], "messages");
    assert_eq!(mock.record.requests(), calls);
}

/// Where the operator's credentials go (a deployment's `api_base`) and its other params are on
/// the Models page for admins only.
#[sqlx::test(migrations = false)]
async fn only_admins_see_where_deployments_send_credentials(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool, &mock).await;
    ok(app
        .manage(
            "/model/new",
            json!({ "model_name": "stored", "litellm_params":
                    { "model": "openai/stored-model", "api_base": mock.api_base(), "api_key": "sk-up",
                      "organization": "org-secret-name" } }),
        )
        .await)
    .await;
    let password = "console-password-1";
    for (name, role, sees) in [
        ("boss", "proxy_admin", true),
        ("watcher", "proxy_admin_viewer", false),
        ("money", "finance", false),
        ("worker", "internal_user", false),
    ] {
        let email = console_user(&app, name, role, password).await;
        let console = Console::log_in(&app, &email, password).await;
        let (status, body) = console.call("list_deployments", &[]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body.contains("127.0.0.1"), sees, "{role}: {body}");
        assert_eq!(body.contains("org-secret-name"), sees, "{role}: {body}");
        assert!(!body.contains("sk-up"), "{role}: {body}");
    }
}

/// A buffer the test's log lines go to.
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A failed login is logged with where it came from, never with the email typed (it may be a
/// password typed in the wrong box).
#[sqlx::test(migrations = false)]
async fn a_failed_login_never_logs_what_was_typed(pool: PgPool) {
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    // The test's runtime runs the server on this thread: its lines come here.
    let _guard = tracing::subscriber::set_default(subscriber);
    let mock = mock().await;
    let app = spawn_app(pool, &mock).await;
    console_user(&app, "logger", "finance", "console-password-1").await;
    let console = Console::open(&app).await;
    let typed = "my-secret-password-typed-as-email@console.test";
    let (status, _) = console
        .call(
            "login",
            &[("email", typed.to_string()), ("password", "wrong".into())],
        )
        .await;
    assert_eq!(status, 401);
    let logged = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("console login refused"), "{logged}");
    assert!(logged.contains("127.0.0.1"), "{logged}");
    assert!(!logged.contains("my-secret-password"), "{logged}");
}
