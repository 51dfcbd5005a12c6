//! The audit log: management changes through the API with who, what, before, after and from
//! where; refused attempts; no secret in any entry; append-only.

use crate::common::*;
use serde_json::{json, Value};
use sqlx::PgPool;

async fn entries(app: &TestApp, query: &str) -> Vec<Value> {
    let response = app.get(&format!("/audit/log?{query}"), MASTER_KEY).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["entries"].as_array().unwrap().clone()
}

#[sqlx::test(migrations = false)]
async fn management_changes_are_recorded_with_before_and_after(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_config(
        pool.clone(),
        TestConfig::new(&mock).models(&["priced", "gpt-4o-mini"]),
    )
    .await;
    let created = app
        .generate_key(json!({ "key_alias": "audited", "models": ["priced"] }))
        .await;
    let secret = created["key"].as_str().unwrap().to_string();
    let token = created["token"].as_str().unwrap().to_string();
    let updated = app
        .manage(
            "/key/update",
            json!({ "key": secret, "models": ["priced", "gpt-4o-mini"] }),
        )
        .await;
    assert_eq!(updated.status(), 200);
    app.manage("/key/block", json!({ "key": secret })).await;
    app.manage("/team/new", json!({ "team_id": "audited-team" }))
        .await;
    app.manage("/team/delete", json!({ "team_ids": ["audited-team"] }))
        .await;

    let of_key = entries(&app, &format!("target_type=key&target_id={token}")).await;
    let actions: Vec<&str> = of_key
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["key.block", "key.update", "key.generate"]);
    for entry in &of_key {
        assert_eq!(entry["actor"], "master_key");
        assert_eq!(entry["outcome"], "allowed");
        assert_eq!(entry["source_ip"], "127.0.0.1");
        assert!(
            !entry.to_string().contains(&secret),
            "an entry holds the secret: {entry}"
        );
    }
    let update = &of_key[1];
    assert_eq!(update["before"]["models"], json!(["priced"]));
    assert_eq!(update["after"]["models"], json!(["priced", "gpt-4o-mini"]));
    assert_eq!(of_key[0]["after"]["blocked"], true);
    let of_team = entries(&app, "target_type=team&target_id=audited-team").await;
    let actions: Vec<&str> = of_team
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["team.delete", "team.new"]);

    // Paging back from an entry finds only older ones.
    let newest = entries(&app, "limit=1").await;
    let older = entries(&app, &format!("before_id={}", newest[0]["id"])).await;
    assert!(older
        .iter()
        .all(|entry| entry["id"].as_i64() < newest[0]["id"].as_i64()));
    assert_openai_error(app.get("/audit/log?limit=0", MASTER_KEY).await, 400).await;
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn refused_attempts_are_recorded_and_entries_cannot_be_changed(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_config(
        pool.clone(),
        TestConfig::new(&mock).models(&["priced", "gpt-4o-mini"]),
    )
    .await;
    let key = app.new_key(json!({ "key_alias": "ordinary" })).await;
    // A virtual key tries to raise its own budget, and to mint a key.
    let raise = json!({ "key": key, "max_budget": 1000 });
    let refused = app.post("/key/update", &key, &raise).await;
    assert_openai_error(refused, 403).await;
    let refused = app.post("/key/generate", &key, &json!({})).await;
    assert_openai_error(refused, 403).await;
    let refused = app
        .post("/team/new", "sk-not-a-key-at-all-0000", &json!({}))
        .await;
    assert_openai_error(refused, 401).await;
    // Reads are not changes.
    assert_openai_error(app.get("/key/list", &key).await, 403).await;

    let denied: Vec<Value> = entries(&app, "limit=50")
        .await
        .into_iter()
        .filter(|entry| entry["outcome"] == "denied")
        .collect();
    let seen: Vec<(String, String)> = denied
        .iter()
        .map(|entry| {
            (
                entry["actor"].as_str().unwrap().to_string(),
                entry["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let hash = app::secrets::hash_key(&key);
    assert_eq!(
        seen,
        [
            (format!("key:{hash}"), "POST /key/generate".to_string()),
            (format!("key:{hash}"), "POST /key/update".to_string()),
        ]
    );
    for entry in &denied {
        assert!(!entry.to_string().contains(&key));
    }
    // A key nobody knows is counted per address, written once a minute (and at shutdown).
    app.shutdown().await;
    let (count, source): (i64, Option<String>) = sqlx::query_as(
        "SELECT (after->>'count')::bigint, source_ip FROM audit_log \
         WHERE actor = 'unknown key' AND action = 'refused.unknown_key'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(count, 1);
    assert_eq!(source.as_deref(), Some("127.0.0.1"));
    let changed = sqlx::query("UPDATE audit_log SET actor = 'someone else'")
        .execute(&pool)
        .await;
    assert!(changed.is_err(), "an audit entry was changed");
    let deleted = sqlx::query("DELETE FROM audit_log").execute(&pool).await;
    assert!(deleted.is_err(), "audit entries were deleted");
    let truncated = sqlx::query("TRUNCATE audit_log").execute(&pool).await;
    assert!(truncated.is_err(), "the audit log was truncated");
}

/// The API and the console change an organization through the same operation: the same actor
/// name, action, target and view in their entries, so the console's `before` is the API's
/// `after`.
#[sqlx::test(migrations = false)]
async fn an_api_change_and_a_console_change_record_the_same_entry(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_config(
        pool,
        TestConfig::new(&mock).models(&["priced", "gpt-4o-mini"]),
    )
    .await;
    let password = "same-entry-password";
    let user = app
        .manage(
            "/user/new",
            json!({ "user_id": "u-same", "user_email": "same@console.test",
                    "user_role": "proxy_admin", "password": password }),
        )
        .await;
    assert_eq!(user.status(), 200);
    let user: Value = user.json().await.unwrap();
    let key = user["key"].as_str().unwrap().to_string();
    let created = app
        .post(
            "/organization/new",
            &key,
            &json!({ "organization_id": "org-same", "organization_alias": "Same" }),
        )
        .await;
    assert_eq!(created.status(), 200);

    let by_api = app
        .post(
            "/organization/update",
            &key,
            &json!({ "organization_id": "org-same", "max_budget": 7.0 }),
        )
        .await;
    assert_eq!(by_api.status(), 200);
    let console =
        crate::common::console::Console::log_in(&app, "same@console.test", password).await;
    let (status, body) = console
        .call(
            "save_organization",
            &[
                ("existing", "true".into()),
                ("organization_id", "org-same".into()),
                ("organization_alias", "Same".into()),
                ("models", "".into()),
                ("max_budget", "9".into()),
                ("soft_budget", "".into()),
                ("budget_duration", "".into()),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let updates = entries(&app, "action=organization.update&target_id=org-same").await;
    assert_eq!(updates.len(), 2, "{updates:?}");
    let (console_entry, api_entry) = (&updates[0], &updates[1]);
    for field in ["actor", "action", "target_type", "target_id", "outcome"] {
        assert_eq!(console_entry[field], api_entry[field], "{field}");
    }
    assert_eq!(api_entry["actor"], "user:u-same");
    assert_eq!(console_entry["before"], api_entry["after"]);
    assert_eq!(api_entry["after"]["max_budget"], 7.0);
    assert_eq!(console_entry["after"]["max_budget"], 9.0);
    let keys = |entry: &Value| {
        let mut keys: Vec<String> = entry["after"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(console_entry), keys(api_entry));
    assert!(console_entry["source_ip"].is_string() && api_entry["source_ip"].is_string());
}

/// A key edited through `/key/update` and through the console's edit form: one operation, so
/// the two entries differ only in the values changed.
#[sqlx::test(migrations = false)]
async fn a_key_changed_by_the_api_and_by_the_console_records_the_same_entry(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_config(
        pool,
        TestConfig::new(&mock).models(&["priced", "gpt-4o-mini"]),
    )
    .await;
    let password = "same-key-password";
    let user = app
        .manage(
            "/user/new",
            json!({ "user_id": "u-keys", "user_email": "keys@console.test",
                    "user_role": "proxy_admin", "password": password }),
        )
        .await;
    assert_eq!(user.status(), 200);
    let user: Value = user.json().await.unwrap();
    let key = user["key"].as_str().unwrap().to_string();
    let created = app
        .post(
            "/key/generate",
            &key,
            &json!({ "key_alias": "edited", "max_budget": 5 }),
        )
        .await;
    assert_eq!(created.status(), 200);
    let token = created.json::<Value>().await.unwrap()["token_id"]
        .as_str()
        .unwrap()
        .to_string();

    let by_api = app
        .post(
            "/key/update",
            &key,
            &json!({ "key": token, "max_budget": 7.0, "rpm_limit": 30 }),
        )
        .await;
    assert_eq!(by_api.status(), 200);
    let console =
        crate::common::console::Console::log_in(&app, "keys@console.test", password).await;
    let form = |name: &'static str, value: &str| (name, value.to_string());
    let (status, body) = console
        .call(
            "update_key",
            &[
                form("token_hash", &token),
                form("key_alias", "edited"),
                form("models", ""),
                form("max_budget", "9"),
                form("soft_budget", ""),
                form("budget_duration", ""),
                form("rpm_limit", "30"),
                form("tpm_limit", ""),
                form("max_parallel_requests", ""),
                form("duration", ""),
                form("metadata", ""),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let updates = entries(&app, &format!("action=key.update&target_id={token}")).await;
    assert_eq!(updates.len(), 2, "{updates:?}");
    let (console_entry, api_entry) = (&updates[0], &updates[1]);
    for field in ["actor", "action", "target_type", "target_id", "outcome"] {
        assert_eq!(console_entry[field], api_entry[field], "{field}");
    }
    assert_eq!(api_entry["actor"], "user:u-keys");
    assert_eq!(console_entry["before"], api_entry["after"]);
    assert_eq!(api_entry["before"]["max_budget"], 5.0);
    assert_eq!(api_entry["after"]["max_budget"], 7.0);
    assert_eq!(console_entry["after"]["max_budget"], 9.0);
    let mut differing: Vec<&String> = console_entry["after"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(field, value)| api_entry["after"][field.as_str()] != **value)
        .map(|(field, _)| field)
        .collect();
    differing.sort();
    assert_eq!(differing, ["max_budget"]);
}

/// A deployment stored through `/model/new` and changed from the console's Models page: one
/// operation, so the console's "before" is the API's "after", under the same actor.
#[sqlx::test(migrations = false)]
async fn a_deployment_changed_by_the_api_and_by_the_console_records_the_same_entries(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_config(pool, TestConfig::new(&mock)).await;
    let password = "same-model-password";
    let user = app
        .manage(
            "/user/new",
            json!({ "user_id": "u-models", "user_email": "models@console.test",
                    "user_role": "proxy_admin", "password": password }),
        )
        .await;
    assert_eq!(user.status(), 200);
    let key = user.json::<Value>().await.unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    let created = app
        .post(
            "/model/new",
            &key,
            &json!({ "model_name": "audited",
                     "litellm_params": { "model": "openai/gpt-4o-mini",
                                         "api_base": mock.api_base() } }),
        )
        .await;
    assert_eq!(created.status(), 200);
    let id = created.json::<Value>().await.unwrap()["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    let console =
        crate::common::console::Console::log_in(&app, "models@console.test", password).await;
    let form = |name: &'static str, value: &str| (name, value.to_string());
    let (status, body) = console
        .call(
            "save_deployment",
            &[
                form("id", &id),
                form("model_name", "audited-renamed"),
                form("model", "openai/gpt-4o-mini"),
                form("api_base", &mock.api_base()),
                form("api_key", ""),
                form("api_version", ""),
                form("input_cost", ""),
                form("output_cost", ""),
                form("cached_input_cost", ""),
                form("extra_params", ""),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let made = entries(&app, &format!("action=model.new&target_id={id}")).await;
    let changed = entries(&app, &format!("action=model.update&target_id={id}")).await;
    assert_eq!((made.len(), changed.len()), (1, 1), "{made:?} {changed:?}");
    assert_eq!(made[0]["actor"], "user:u-models");
    assert_eq!(changed[0]["actor"], made[0]["actor"]);
    assert_eq!(changed[0]["before"], made[0]["after"]);
    assert_eq!(changed[0]["after"]["model_name"], "audited-renamed");
    assert!(!changed[0].to_string().contains("api_key"), "{changed:?}");
}

/// A role that may not change something is refused before its request is read: a malformed
/// body still gets the 403, and the refusal is audited.
#[sqlx::test(migrations = false)]
async fn a_refused_change_is_refused_before_its_body_is_read(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_config(
        pool,
        TestConfig::new(&mock).models(&["priced", "gpt-4o-mini"]),
    )
    .await;
    let viewer = app
        .manage(
            "/user/new",
            json!({ "user_id": "u-viewer", "user_role": "proxy_admin_viewer" }),
        )
        .await;
    assert_eq!(viewer.status(), 200);
    let viewer: Value = viewer.json().await.unwrap();
    let key = viewer["key"].as_str().unwrap().to_string();
    for (path, body) in [
        (
            "/tag/new",
            json!({ "name": "t", "models": ["not-a-tag-field"] }),
        ),
        ("/organization/new", json!({})),
        ("/budget/new", json!({ "rpm_limit": 5 })),
        ("/customer/block", json!({ "user_ids": "not-a-list" })),
    ] {
        let response = app.post(path, &key, &body).await;
        assert_eq!(response.status(), 403, "{path}");
    }
    let actor = format!("key:{}", app::secrets::hash_key(&key));
    let refused = entries(&app, &format!("actor={actor}")).await;
    let denied: Vec<&str> = refused
        .iter()
        .filter(|entry| entry["outcome"] == "denied")
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    for action in [
        "POST /tag/new",
        "POST /organization/new",
        "POST /budget/new",
        "POST /customer/block",
    ] {
        assert!(denied.contains(&action), "{action} in {denied:?}");
    }
}
