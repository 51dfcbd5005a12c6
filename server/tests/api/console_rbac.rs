//! Role-based access to the console's server functions: each one called over HTTP with a real
//! session of each role (and with none) is allowed or refused as docs/GOVERNANCE.md says, before
//! it looks at its arguments.

use crate::common::console::Console;
use crate::common::*;
use serde_json::json;
use sqlx::PgPool;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Admin,
    TeamAdmin,
    Finance,
    Viewer,
    Nobody,
}

use Who::*;

const ALL: &[Who] = &[Admin, TeamAdmin, Finance, Viewer];
const ADMIN: &[Who] = &[Admin];
const MONEY: &[Who] = &[Admin, Finance];
const READERS: &[Who] = &[Admin, Finance, Viewer];

/// A server function, its form fields, and who may call it.
type Case = (&'static str, Vec<(&'static str, String)>, &'static [Who]);

fn fields(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs
        .iter()
        .map(|(name, value)| (*name, value.to_string()))
        .collect()
}

#[sqlx::test(migrations = false)]
async fn every_server_function_answers_each_role_as_the_matrix_says(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_config(pool, TestConfig::new(&mock).models(&["priced"])).await;
    let password = "console-password-1";
    let mut sessions = Vec::new();
    for (who, role) in [
        (Admin, "proxy_admin"),
        (TeamAdmin, "internal_user"),
        (Finance, "finance"),
        (Viewer, "proxy_admin_viewer"),
    ] {
        let email = format!("{who:?}@console.test").to_lowercase();
        let created = app
            .manage(
                "/user/new",
                json!({ "user_email": email, "user_role": role, "password": password,
                        "auto_create_key": false }),
            )
            .await;
        assert_eq!(created.status(), 200);
        sessions.push((who, Console::log_in(&app, &email, password).await));
    }
    sessions.push((Nobody, Console::open(&app).await));

    let deployment = fields(&[
        ("id", ""),
        ("model_name", ""),
        ("model", ""),
        ("api_base", ""),
        ("api_key", ""),
        ("api_version", ""),
        ("input_cost", ""),
        ("output_cost", ""),
        ("cached_input_cost", ""),
        ("extra_params", ""),
    ]);
    let class = fields(&[
        ("seen_version", "0"),
        ("original_name", ""),
        ("name", ""),
        ("routing_strategy", ""),
        ("num_retries", ""),
        ("model_groups", ""),
        ("fallbacks", ""),
        ("degrade_at", ""),
        ("degrade_to", ""),
    ]);
    let cases: Vec<Case> = vec![
        // Each role lists the keys it may read (a team admin of no team: its own).
        ("list_keys", vec![], ALL),
        (
            "create_key",
            fields(&[
                ("key_alias", ""),
                ("models", ""),
                ("max_budget", "x"),
                ("duration", ""),
            ]),
            ADMIN,
        ),
        ("revoke_key", fields(&[("token_hash", "none")]), ADMIN),
        (
            "update_key",
            fields(&[
                ("token_hash", "none"),
                ("key_alias", ""),
                ("models", ""),
                ("max_budget", ""),
                ("soft_budget", ""),
                ("budget_duration", ""),
                ("rpm_limit", ""),
                ("tpm_limit", ""),
                ("max_parallel_requests", ""),
                ("duration", ""),
                ("metadata", ""),
            ]),
            ADMIN,
        ),
        (
            "rotate_key",
            fields(&[("token_hash", "none"), ("grace_period", "")]),
            ADMIN,
        ),
        (
            "set_key_blocked",
            fields(&[("token_hash", "none"), ("blocked", "true")]),
            ADMIN,
        ),
        ("spend_per_day", vec![], MONEY),
        ("spend_overview", vec![], MONEY),
        ("spend_report", fields(&[("query", "group_by=team")]), MONEY),
        ("log_page", fields(&[("query", "status=failure")]), MONEY),
        ("log_detail", fields(&[("request_id", "none")]), MONEY),
        ("reconcile_spend", vec![], MONEY),
        ("list_deployments", vec![], ALL),
        ("save_deployment", deployment, ADMIN),
        ("delete_deployment", fields(&[("id", "not-a-uuid")]), ADMIN),
        ("test_connection", fields(&[("id", "not-a-uuid")]), ADMIN),
        ("list_routes", vec![], ALL),
        (
            "save_router_settings",
            fields(&[
                ("seen_version", "-1"),
                ("routing_strategy", ""),
                ("num_retries", ""),
                ("allowed_fails", ""),
                ("cooldown_time", ""),
                ("default_fallbacks", ""),
            ]),
            ADMIN,
        ),
        (
            "save_group_routes",
            fields(&[
                ("seen_version", "-1"),
                ("group", "none"),
                ("fallbacks", ""),
                ("context_window_fallbacks", ""),
                ("content_policy_fallbacks", ""),
            ]),
            ADMIN,
        ),
        ("save_request_class", class, ADMIN),
        (
            "delete_request_class",
            fields(&[("seen_version", "-1"), ("name", "none")]),
            ADMIN,
        ),
        ("list_users", vec![], READERS),
        (
            "create_user",
            fields(&[
                ("email", "not-an-email"),
                ("role", "admin"),
                ("password", "x"),
            ]),
            ADMIN,
        ),
        (
            "change_role",
            fields(&[("user_id", "nobody"), ("role", "admin")]),
            ADMIN,
        ),
        (
            "reset_password",
            fields(&[("user_id", "nobody"), ("password", "short")]),
            ADMIN,
        ),
        ("delete_user", fields(&[("user_id", "nobody")]), ADMIN),
        (
            "update_user",
            fields(&[
                ("user_id", "nobody"),
                ("user_alias", ""),
                ("models", ""),
                ("max_budget", ""),
                ("soft_budget", ""),
                ("budget_duration", ""),
                ("rpm_limit", ""),
                ("tpm_limit", ""),
                ("max_parallel_requests", ""),
            ]),
            ADMIN,
        ),
        // Each role lists the projects it may read; admins and team admins (of a team) save.
        ("list_projects", vec![], ALL),
        (
            "save_project",
            fields(&[
                ("existing", "false"),
                ("project_id", ""),
                ("project_alias", ""),
                ("description", ""),
                ("team_id", ""),
                ("models", ""),
                ("max_budget", "x"),
                ("soft_budget", ""),
                ("budget_duration", ""),
            ]),
            ADMIN,
        ),
        ("delete_project", fields(&[("project_id", "none")]), ADMIN),
        (
            "list_audit",
            fields(&[("actor", ""), ("action", ""), ("target_type", "")]),
            MONEY,
        ),
        ("list_budgets", vec![], MONEY),
        ("list_teams", vec![], ALL),
        (
            "save_team",
            fields(&[
                ("existing", "false"),
                ("team_id", ""),
                ("team_alias", ""),
                ("models", ""),
                ("max_budget", "x"),
                ("budget_duration", ""),
                ("rpm_limit", ""),
            ]),
            ADMIN,
        ),
        (
            "save_team",
            fields(&[
                ("existing", "true"),
                ("team_id", "none"),
                ("team_alias", ""),
                ("metadata", ""),
            ]),
            ADMIN,
        ),
        (
            "set_team_blocked",
            fields(&[("team_id", "none"), ("blocked", "true")]),
            ADMIN,
        ),
        // The team admin here administers no team, so it may not touch this one's members.
        (
            "add_member",
            fields(&[
                ("team_id", "none"),
                ("email", "nobody@console.test"),
                ("role", "user"),
                ("max_budget_in_team", ""),
            ]),
            ADMIN,
        ),
        (
            "remove_member",
            fields(&[("team_id", "none"), ("user_id", "nobody")]),
            ADMIN,
        ),
        ("list_organizations", vec![], READERS),
        (
            "save_organization",
            fields(&[
                ("existing", "false"),
                ("organization_id", ""),
                ("organization_alias", ""),
                ("models", ""),
                ("max_budget", "x"),
                ("soft_budget", ""),
                ("budget_duration", ""),
            ]),
            ADMIN,
        ),
        (
            "delete_organization",
            fields(&[("organization_id", "none")]),
            ADMIN,
        ),
        ("list_end_users", vec![], READERS),
        (
            "save_end_user",
            fields(&[
                ("existing", "false"),
                ("user_id", ""),
                ("alias", ""),
                ("max_budget", "x"),
                ("soft_budget", ""),
                ("budget_duration", ""),
            ]),
            ADMIN,
        ),
        ("delete_end_user", fields(&[("user_id", "none")]), ADMIN),
        ("list_tags", vec![], READERS),
        (
            "save_tag",
            fields(&[
                ("existing", "false"),
                ("name", ""),
                ("description", ""),
                ("max_budget", "x"),
                ("soft_budget", ""),
                ("budget_duration", ""),
            ]),
            ADMIN,
        ),
        ("delete_tag", fields(&[("name", "none")]), ADMIN),
        ("list_named_budgets", vec![], READERS),
        (
            "save_named_budget",
            fields(&[
                ("existing", "false"),
                ("budget_id", ""),
                ("max_budget", "x"),
                ("soft_budget", ""),
                ("budget_duration", ""),
            ]),
            ADMIN,
        ),
        (
            "delete_named_budget",
            fields(&[("budget_id", "none")]),
            ADMIN,
        ),
    ];
    for (endpoint, form, allowed) in &cases {
        for (who, console) in &sessions {
            let (status, body) = console.call(endpoint, form).await;
            let context = format!("{endpoint} as {who:?}: {status} {body}");
            if *who == Nobody {
                assert!(body.contains("NotLoggedIn"), "{context}");
                assert_eq!(status, 401, "{context}");
            } else if allowed.contains(who) {
                assert!(
                    !body.contains("Forbidden") && !body.contains("NotLoggedIn"),
                    "{context}"
                );
                // A 404 is the function's own answer (nothing by that id), never a missing
                // function.
                assert!(status != 404 || body.contains("NotFound"), "{context}");
            } else {
                assert!(body.contains("Forbidden"), "{context}");
                assert_eq!(status, 403, "{context}");
            }
        }
    }
    // A refused change left nothing behind: no user was created by anyone.
    let (_, listed) = sessions[0].1.call("list_users", &[]).await;
    assert!(!listed.contains("not-an-email"), "{listed}");
    app.shutdown().await;
}
