//! Role-based access to the management API: every route called with each role is allowed or
//! refused (403; 401 without a key) as the role matrix in docs/GOVERNANCE.md says; team admins
//! stay within their team; escalation attempts are refused and audited.

use std::collections::HashMap;

use crate::common::*;
use serde_json::{json, Value};
use sqlx::PgPool;

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    Admin,
    Finance,
    Viewer,
    /// An `internal_user` who is an admin of team `t1`.
    TeamAdmin,
    /// An `internal_user` who is a `user` member of team `t1`.
    Member,
    /// An `internal_user` in no team.
    Outsider,
    /// A key that belongs to no user.
    PlainKey,
    /// No key at all.
    Anonymous,
}

use Who::*;

const EVERYONE: [Who; 8] = [
    Admin, Finance, Viewer, TeamAdmin, Member, Outsider, PlainKey, Anonymous,
];

impl Who {
    fn tag(self) -> String {
        format!("{self:?}").to_lowercase()
    }
}

/// Gatehouse with teams `t1` (budget $10, rpm 100, models `priced` and `gpt-4o-mini`) and `t2`,
/// a user and key for each role, keys `k1` in t1 and `k2` in t2, and the member's own key in t1.
struct World {
    app: TestApp,
    keys: HashMap<Who, String>,
    k1: String,
    k2: String,
    member_key: String,
}

impl World {
    async fn new(pool: PgPool) -> World {
        let mock = mock().await;
        let app = spawn_config(
            pool,
            TestConfig::new(&mock).models(&["priced", "gpt-4o-mini", "fail-500"]),
        )
        .await;
        for (team_id, extra) in [
            (
                "t1",
                json!({ "max_budget": 10.0, "rpm_limit": 100, "models": ["priced", "gpt-4o-mini"] }),
            ),
            ("t2", json!({})),
        ] {
            let mut body = extra;
            body["team_id"] = json!(team_id);
            ok(app.manage("/team/new", body).await).await;
        }
        ok(app
            .manage(
                "/organization/new",
                json!({ "organization_id": "o1", "organization_alias": "One" }),
            )
            .await)
        .await;
        ok(app
            .manage("/customer/new", json!({ "user_id": "c1" }))
            .await)
        .await;
        ok(app
            .manage(
                "/project/new",
                json!({ "project_id": "pr1", "team_id": "t1" }),
            )
            .await)
        .await;
        ok(app.manage("/tag/new", json!({ "name": "g1" })).await).await;
        ok(app
            .manage("/budget/new", json!({ "budget_id": "b1" }))
            .await)
        .await;
        let mut keys = HashMap::new();
        for (who, user_id, role) in [
            (Admin, "admin-u", "proxy_admin"),
            (Finance, "finance-u", "finance"),
            (Viewer, "viewer-u", "proxy_admin_viewer"),
            (TeamAdmin, "tadmin-u", "internal_user"),
            (Member, "member-u", "internal_user"),
            (Outsider, "outsider-u", "internal_user"),
        ] {
            let user = ok(app
                .manage(
                    "/user/new",
                    json!({ "user_id": user_id, "user_role": role }),
                )
                .await)
            .await;
            keys.insert(who, user["key"].as_str().unwrap().to_string());
        }
        for (user_id, role) in [("tadmin-u", "admin"), ("member-u", "user")] {
            ok(app
                .manage(
                    "/team/member_add",
                    json!({ "team_id": "t1", "member": { "user_id": user_id, "role": role } }),
                )
                .await)
            .await;
        }
        keys.insert(PlainKey, app.new_key(json!({})).await);
        let token = |body: Value| body["token"].as_str().unwrap().to_string();
        let k1 = token(
            app.generate_key(json!({ "team_id": "t1", "key_alias": "k1" }))
                .await,
        );
        let k2 = token(
            app.generate_key(json!({ "team_id": "t2", "key_alias": "k2" }))
                .await,
        );
        let member_key = token(
            app.generate_key(json!({ "team_id": "t1", "user_id": "member-u" }))
                .await,
        );
        World {
            app,
            keys,
            k1,
            k2,
            member_key,
        }
    }

    async fn call(&self, who: Who, method: &str, path: &str, body: &Value) -> reqwest::Response {
        let url = format!("{}{path}", self.app.base);
        let request = match method {
            "GET" => self.app.http.get(url),
            _ => self.app.http.post(url).json(body),
        };
        match self.keys.get(&who) {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
        .send()
        .await
        .unwrap()
    }
}

async fn ok(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// One management call: what it sends for a caller, and who may make it.
struct Case {
    method: &'static str,
    path: String,
    body: fn(Who) -> Value,
    allowed: &'static [Who],
    /// The status an allowed call gets.
    ok_status: u16,
}

fn case(method: &'static str, path: &str, body: fn(Who) -> Value, allowed: &'static [Who]) -> Case {
    Case {
        method,
        path: path.to_string(),
        body,
        allowed,
        ok_status: 200,
    }
}

fn none(_: Who) -> Value {
    json!({})
}

const ADMIN: &[Who] = &[Admin];
const READERS: &[Who] = &[Admin, Finance, Viewer];
const SPEND_READERS: &[Who] = &[Admin, Finance];
const T1_MANAGERS: &[Who] = &[Admin, TeamAdmin];
const T1_KEY_READERS: &[Who] = &[Admin, Finance, Viewer, TeamAdmin];
const T1_READERS: &[Who] = &[Admin, Finance, Viewer, TeamAdmin, Member];
const USERS: &[Who] = &[Admin, Finance, Viewer, TeamAdmin, Member, Outsider];
const MEMBER_READERS: &[Who] = &[Admin, Finance, Viewer, Member];
const T1_SPEND_READERS: &[Who] = &[Admin, Finance, TeamAdmin, Member];
const KEY_HOLDERS: &[Who] = &[
    Admin, Finance, Viewer, TeamAdmin, Member, Outsider, PlainKey,
];

#[sqlx::test(migrations = false)]
async fn every_management_route_answers_each_role_as_the_matrix_says(pool: PgPool) {
    let world = World::new(pool).await;
    let app = &world.app;
    // Targets each caller changes on its own, so every allowed call can succeed.
    for who in EVERYONE {
        let tag = who.tag();
        ok(app
            .manage("/team/new", json!({ "team_id": format!("del-{tag}") }))
            .await)
        .await;
        ok(app
            .manage(
                "/organization/new",
                json!({ "organization_id": format!("odel-{tag}"), "organization_alias": tag }),
            )
            .await)
        .await;
        ok(app
            .manage("/customer/new", json!({ "user_id": format!("cdel-{tag}") }))
            .await)
        .await;
        ok(app
            .manage(
                "/project/new",
                json!({ "project_id": format!("pdel-{tag}") }),
            )
            .await)
        .await;
        ok(app
            .manage("/tag/new", json!({ "name": format!("gdel-{tag}") }))
            .await)
        .await;
        ok(app
            .manage("/budget/new", json!({ "budget_id": format!("bdel-{tag}") }))
            .await)
        .await;
        app.generate_key(json!({ "team_id": "t1", "key_alias": format!("del-{tag}") }))
            .await;
        for prefix in ["udel", "madd", "mdel"] {
            ok(app
                .manage(
                    "/user/new",
                    json!({ "user_id": format!("{prefix}-{tag}"), "auto_create_key": false }),
                )
                .await)
            .await;
        }
        ok(app
            .manage(
                "/team/member_add",
                json!({ "team_id": "t1", "member": { "user_id": format!("mdel-{tag}") } }),
            )
            .await)
        .await;
    }
    let k1 = world.k1.clone();
    let mut cases = vec![
        case(
            "POST",
            "/key/generate",
            |_| json!({ "team_id": "t1" }),
            T1_MANAGERS,
        ),
        case("GET", &format!("/key/info?key={k1}"), none, T1_KEY_READERS),
        case("GET", "/key/list", none, USERS),
        case(
            "POST",
            "/key/block",
            |_| json!({ "key": "k1-token" }),
            T1_MANAGERS,
        ),
        case(
            "POST",
            "/key/unblock",
            |_| json!({ "key": "k1-token" }),
            T1_MANAGERS,
        ),
        case(
            "POST",
            "/key/update",
            |_| json!({ "key": "k1-token", "metadata": { "note": "x" } }),
            T1_MANAGERS,
        ),
        case(
            "POST",
            "/key/regenerate",
            |_| json!({ "key": "k1-token" }),
            T1_MANAGERS,
        ),
        case(
            "POST",
            "/key/delete",
            |who| json!({ "key_aliases": [format!("del-{}", who.tag())] }),
            T1_MANAGERS,
        ),
        case(
            "POST",
            "/team/new",
            |who| json!({ "team_id": format!("new-{}", who.tag()) }),
            ADMIN,
        ),
        case("GET", "/team/info?team_id=t1", none, T1_READERS),
        case("GET", "/team/list", none, USERS),
        case(
            "POST",
            "/team/update",
            |_| json!({ "team_id": "t1", "metadata": { "note": "x" } }),
            T1_MANAGERS,
        ),
        case(
            "POST",
            "/team/update",
            |_| json!({ "team_id": "t1", "max_budget": 10.0 }),
            ADMIN,
        ),
        case("POST", "/team/block", |_| json!({ "team_id": "t2" }), ADMIN),
        case(
            "POST",
            "/team/unblock",
            |_| json!({ "team_id": "t2" }),
            ADMIN,
        ),
        case(
            "POST",
            "/team/delete",
            |who| json!({ "team_ids": [format!("del-{}", who.tag())] }),
            ADMIN,
        ),
        case(
            "POST",
            "/team/member_add",
            |who| json!({ "team_id": "t1", "member": { "user_id": format!("madd-{}", who.tag()) } }),
            T1_MANAGERS,
        ),
        case(
            "POST",
            "/team/member_update",
            |_| json!({ "team_id": "t1", "user_id": "member-u", "role": "user" }),
            T1_MANAGERS,
        ),
        case(
            "POST",
            "/team/member_delete",
            |who| json!({ "team_id": "t1", "user_id": format!("mdel-{}", who.tag()) }),
            T1_MANAGERS,
        ),
        case(
            "POST",
            "/user/new",
            |who| json!({ "user_id": format!("new-{}", who.tag()), "auto_create_key": false }),
            ADMIN,
        ),
        case("GET", "/user/info?user_id=member-u", none, MEMBER_READERS),
        case("GET", "/user/list", none, READERS),
        case(
            "POST",
            "/user/update",
            |_| json!({ "user_id": "member-u", "user_alias": "m" }),
            ADMIN,
        ),
        case(
            "POST",
            "/user/delete",
            |who| json!({ "user_ids": [format!("udel-{}", who.tag())] }),
            ADMIN,
        ),
        case(
            "POST",
            "/organization/new",
            |who| json!({ "organization_id": format!("new-{}", who.tag()), "organization_alias": "n" }),
            ADMIN,
        ),
        case(
            "GET",
            "/organization/info?organization_id=o1",
            none,
            READERS,
        ),
        case("GET", "/organization/list", none, READERS),
        case(
            "POST",
            "/organization/update",
            |_| json!({ "organization_id": "o1", "metadata": { "note": "x" } }),
            ADMIN,
        ),
        case(
            "POST",
            "/organization/delete",
            |who| json!({ "organization_ids": [format!("odel-{}", who.tag())] }),
            ADMIN,
        ),
        case(
            "POST",
            "/customer/new",
            |who| json!({ "user_id": format!("new-{}", who.tag()) }),
            ADMIN,
        ),
        case("GET", "/customer/info?end_user_id=c1", none, READERS),
        case("GET", "/customer/list", none, READERS),
        case(
            "POST",
            "/customer/update",
            |_| json!({ "user_id": "c1", "alias": "x" }),
            ADMIN,
        ),
        case(
            "POST",
            "/customer/block",
            |_| json!({ "user_ids": ["c1"] }),
            ADMIN,
        ),
        case(
            "POST",
            "/customer/unblock",
            |_| json!({ "user_ids": ["c1"] }),
            ADMIN,
        ),
        case(
            "POST",
            "/customer/delete",
            |who| json!({ "user_ids": [format!("cdel-{}", who.tag())] }),
            ADMIN,
        ),
        case(
            "POST",
            "/project/new",
            |who| json!({ "project_id": format!("new-{}", who.tag()), "team_id": "t1" }),
            T1_MANAGERS,
        ),
        case("GET", "/project/info?project_id=pr1", none, T1_READERS),
        case("GET", "/project/list", none, USERS),
        case(
            "POST",
            "/project/update",
            |_| json!({ "project_id": "pr1", "description": "x" }),
            T1_MANAGERS,
        ),
        case(
            "POST",
            "/project/delete",
            |who| json!({ "project_ids": [format!("pdel-{}", who.tag())] }),
            ADMIN,
        ),
        case(
            "POST",
            "/tag/new",
            |who| json!({ "name": format!("new-{}", who.tag()) }),
            ADMIN,
        ),
        case("POST", "/tag/info", |_| json!({ "names": ["g1"] }), READERS),
        case("GET", "/tag/list", none, READERS),
        case(
            "POST",
            "/tag/update",
            |_| json!({ "name": "g1", "description": "x" }),
            ADMIN,
        ),
        case(
            "POST",
            "/tag/delete",
            |who| json!({ "name": format!("gdel-{}", who.tag()) }),
            ADMIN,
        ),
        case(
            "POST",
            "/budget/new",
            |who| json!({ "budget_id": format!("new-{}", who.tag()), "max_budget": 1.0 }),
            ADMIN,
        ),
        case(
            "POST",
            "/budget/info",
            |_| json!({ "budgets": ["b1"] }),
            READERS,
        ),
        case("GET", "/budget/list", none, READERS),
        case("GET", "/budget/settings?budget_id=b1", none, READERS),
        case(
            "POST",
            "/budget/update",
            |_| json!({ "budget_id": "b1", "max_budget": 2.0 }),
            ADMIN,
        ),
        case(
            "POST",
            "/budget/delete",
            |who| json!({ "id": format!("bdel-{}", who.tag()) }),
            ADMIN,
        ),
        case(
            "GET",
            &format!("/spend/logs?api_key={k1}"),
            none,
            SPEND_READERS,
        ),
        case(
            "GET",
            &format!("/spend/logs/page?api_key={k1}"),
            none,
            SPEND_READERS,
        ),
        case("GET", "/spend/report?group_by=team", none, SPEND_READERS),
        case("GET", "/spend/tags", none, SPEND_READERS),
        case("GET", "/spend/reconcile", none, SPEND_READERS),
        case("GET", "/global/spend/tags", none, SPEND_READERS),
        case(
            "GET",
            "/global/spend/report?start_date=2026-11-01&end_date=2026-11-30",
            none,
            SPEND_READERS,
        ),
        case(
            "GET",
            "/user/daily/activity?start_date=2026-11-01&end_date=2026-11-30",
            none,
            KEY_HOLDERS,
        ),
        case(
            "GET",
            "/team/daily/activity?team_ids=t1&start_date=2026-11-01&end_date=2026-11-30",
            none,
            T1_SPEND_READERS,
        ),
        case("GET", "/audit/log", none, SPEND_READERS),
    ];
    cases.push(Case {
        ok_status: 404,
        ..case(
            "POST",
            "/model/delete",
            |_| json!({ "id": "00000000-0000-4000-8000-000000000000" }),
            ADMIN,
        )
    });

    let mut checked = 0;
    for case in &cases {
        for who in EVERYONE {
            let mut body = (case.body)(who);
            if body.get("key").is_some_and(|key| key == "k1-token") {
                body["key"] = json!(k1);
            }
            let response = world.call(who, case.method, &case.path, &body).await;
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            let expected = if who == Anonymous {
                401
            } else if case.allowed.contains(&who) {
                case.ok_status
            } else {
                403
            };
            assert_eq!(
                status, expected,
                "{} {} as {who:?}: {text}",
                case.method, case.path
            );
            if expected == 403 {
                let body: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(body["error"]["type"], "permission_error", "{body}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, cases.len() * EVERYONE.len());
    eprintln!(
        "{checked} calls: {} routes × {} callers",
        cases.len(),
        EVERYONE.len()
    );
    world.app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn lists_show_each_role_only_what_it_may_read(pool: PgPool) {
    let world = World::new(pool).await;
    let listed = |body: &Value| -> Vec<String> {
        body["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|key| key.as_str().unwrap().to_string())
            .collect()
    };
    let list_as = |who: Who| {
        let world = &world;
        async move {
            ok(world
                .call(who, "GET", "/key/list?size=100", &json!({}))
                .await)
            .await
        }
    };
    let admin_sees = listed(&list_as(Admin).await);
    assert!(admin_sees.contains(&world.k1) && admin_sees.contains(&world.k2));
    let team_admin_sees = listed(&list_as(TeamAdmin).await);
    assert!(team_admin_sees.contains(&world.k1), "its team's keys");
    assert!(team_admin_sees.contains(&world.member_key));
    assert!(!team_admin_sees.contains(&world.k2), "not another team's");
    let member_sees = listed(&list_as(Member).await);
    assert!(member_sees.contains(&world.member_key), "its own key");
    assert!(
        !member_sees.contains(&world.k1),
        "not the team's other keys"
    );
    assert_eq!(
        member_sees.len(),
        2,
        "its key in t1 and the one /user/new made"
    );
    let outsider_sees = listed(&list_as(Outsider).await);
    assert_eq!(outsider_sees.len(), 1, "only the key /user/new made");

    let teams_of = |body: Value| -> Vec<String> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|team| team["team_id"].as_str().unwrap().to_string())
            .collect()
    };
    let all: Vec<String> =
        teams_of(ok(world.call(Viewer, "GET", "/team/list", &json!({})).await).await);
    assert_eq!(all, vec!["t1", "t2"]);
    let own = teams_of(ok(world.call(Member, "GET", "/team/list", &json!({})).await).await);
    assert_eq!(own, vec!["t1"]);
    let nothing = teams_of(ok(world.call(Outsider, "GET", "/team/list", &json!({})).await).await);
    assert!(nothing.is_empty());

    let info = ok(world
        .call(Member, "GET", "/team/info?team_id=t1", &json!({}))
        .await)
    .await;
    let members = info["team_info"]["members_with_roles"].as_array().unwrap();
    assert!(members
        .iter()
        .any(|member| member["user_id"] == "tadmin-u" && member["role"] == "admin"));
    world.app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn a_team_admin_stays_within_its_team_and_escalation_is_refused_and_audited(pool: PgPool) {
    let world = World::new(pool).await;
    let as_team_admin = |path: &'static str, body: Value| {
        let world = &world;
        async move { world.call(TeamAdmin, "POST", path, &body).await }
    };
    let refused = [
        (
            "/team/update",
            json!({ "team_id": "t1", "max_budget": 1000.0 }),
        ),
        (
            "/team/update",
            json!({ "team_id": "t1", "rpm_limit": 100_000 }),
        ),
        ("/team/update", json!({ "team_id": "t1", "models": ["*"] })),
        (
            "/user/update",
            json!({ "user_id": "tadmin-u", "user_role": "proxy_admin" }),
        ),
        (
            "/team/member_update",
            json!({ "team_id": "t1", "user_id": "tadmin-u", "role": "admin" }),
        ),
        (
            "/key/generate",
            json!({ "team_id": "t1", "max_budget": 1000.0 }),
        ),
        (
            "/key/generate",
            json!({ "team_id": "t1", "rpm_limit": 1000 }),
        ),
        (
            "/key/generate",
            json!({ "team_id": "t1", "models": ["fail-500"] }),
        ),
        ("/key/generate", json!({ "team_id": "t2" })),
        ("/key/generate", json!({})),
        (
            "/key/generate",
            json!({ "team_id": "t1", "user_id": "outsider-u" }),
        ),
        (
            "/key/update",
            json!({ "key": world.k1, "max_budget": 1000.0 }),
        ),
        ("/key/update", json!({ "key": world.k2, "metadata": {} })),
        (
            "/team/member_add",
            json!({ "team_id": "t1", "member": { "user_id": "outsider-u" }, "max_budget_in_team": 1000.0 }),
        ),
        (
            "/team/member_add",
            json!({ "team_id": "t2", "member": { "user_id": "outsider-u" } }),
        ),
    ];
    for (path, body) in &refused {
        let response = as_team_admin(path, body.clone()).await;
        let error = assert_openai_error(response, 403).await;
        assert_eq!(error["error"]["type"], "permission_error", "{path} {body}");
    }
    // Within the team's limits the same calls work.
    let within = ok(as_team_admin(
        "/key/generate",
        json!({ "team_id": "t1", "max_budget": 5.0, "rpm_limit": 50, "models": ["priced"], "user_id": "member-u" }),
    )
    .await)
    .await;
    assert_eq!(within["team_id"], "t1");
    assert_eq!(within["created_by"], "user:tadmin-u");
    ok(as_team_admin(
        "/team/member_add",
        json!({ "team_id": "t1", "member": { "user_id": "outsider-u" }, "max_budget_in_team": 2.0 }),
    )
    .await)
    .await;
    // A member cannot make keys, even in its own team.
    let member_try = world
        .call(Member, "POST", "/key/generate", &json!({ "team_id": "t1" }))
        .await;
    assert_openai_error(member_try, 403).await;

    // Nothing the refusals asked for happened.
    let team = ok(world.app.get("/team/info?team_id=t1", MASTER_KEY).await).await;
    assert_eq!(team["team_info"]["max_budget"], 10.0);
    assert_eq!(team["team_info"]["rpm_limit"], 100);
    let user = ok(world
        .app
        .get("/user/info?user_id=tadmin-u", MASTER_KEY)
        .await)
    .await;
    assert_eq!(user["user_info"]["user_role"], "internal_user");

    // Every refusal is in the audit log under the caller's key, as denied.
    let team_admin_hash = app::secrets::hash_key(&world.keys[&TeamAdmin]);
    let log = ok(world
        .app
        .get(
            &format!("/audit/log?actor=key:{team_admin_hash}&limit=100"),
            MASTER_KEY,
        )
        .await)
    .await;
    let denied: Vec<&Value> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["outcome"] == "denied")
        .collect();
    assert_eq!(denied.len(), refused.len(), "{log}");
    assert!(denied
        .iter()
        .any(|entry| entry["action"] == "POST /user/update"));
    // And the allowed changes name the user who made them.
    let allowed = ok(world
        .app
        .get("/audit/log?actor=user:tadmin-u", MASTER_KEY)
        .await)
    .await;
    let actions: Vec<&str> = allowed["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"key.generate") && actions.contains(&"team.member_add"));
    world.app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn deleting_a_user_or_a_membership_revokes_the_keys_it_held(pool: PgPool) {
    let world = World::new(pool).await;
    let app = &world.app;
    let member_secret = app
        .new_key(json!({ "team_id": "t1", "user_id": "member-u" }))
        .await;
    assert_eq!(
        app.chat(&member_secret, &hello("priced")).await.status(),
        200
    );
    ok(app
        .manage(
            "/team/member_delete",
            json!({ "team_id": "t1", "user_id": "member-u" }),
        )
        .await)
    .await;
    assert_eq!(
        app.chat(&member_secret, &hello("priced")).await.status(),
        401
    );
    // The member's key outside the team still works, until the user is deleted.
    let own = world.keys[&Member].clone();
    assert_eq!(app.chat(&own, &hello("priced")).await.status(), 200);
    ok(app
        .manage("/user/delete", json!({ "user_ids": ["member-u"] }))
        .await)
    .await;
    assert_eq!(app.chat(&own, &hello("priced")).await.status(), 401);
    let gone = app.get("/user/info?user_id=member-u", MASTER_KEY).await;
    assert_openai_error(gone, 404).await;
    world.app.shutdown().await;
}
