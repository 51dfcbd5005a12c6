//! Soft-budget alerts: after each spend batch lands, every budget it moved past its soft limit
//! raises one Slack-compatible webhook message per budget window — one across all instances,
//! since claiming the crossing is a single Postgres statement.

use std::collections::BTreeSet;
use std::time::Duration;

use app::db::budgets::{self, SoftCrossing};
use app::db::spend::SpendRow;
use app::model::format_usd;
use app::model::subject::BudgetSubject;
use sqlx::PgPool;
use tokio_util::task::TaskTracker;

use crate::core::secret::Secret;

/// How long a webhook may take to answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Alerts {
    webhook: Secret,
    http: reqwest::Client,
    pool: PgPool,
    tasks: TaskTracker,
}

impl Alerts {
    pub fn new(webhook: Secret, http: reqwest::Client, pool: PgPool, tasks: TaskTracker) -> Self {
        Alerts {
            webhook,
            http,
            pool,
            tasks,
        }
    }

    /// Checks the budgets a landed batch counted against, off the writer's path.
    pub fn after_batch(&self, rows: &[SpendRow]) {
        let subjects: BTreeSet<String> = rows
            .iter()
            .flat_map(|row| &row.charges)
            .map(|charge| charge.subject.to_string())
            .collect();
        if subjects.is_empty() {
            return;
        }
        let (pool, http) = (self.pool.clone(), self.http.clone());
        let webhook = self.webhook.expose().to_string();
        self.tasks.spawn(async move {
            let subjects: Vec<&str> = subjects.iter().map(String::as_str).collect();
            let crossings = match budgets::claim_soft_crossings(&pool, &subjects).await {
                Ok(crossings) => crossings,
                Err(error) => {
                    tracing::warn!(%error, "soft budgets not checked for this batch");
                    return;
                }
            };
            for crossing in crossings {
                let body = serde_json::json!({ "text": message(&crossing) });
                let sent = http
                    .post(&webhook)
                    .timeout(WEBHOOK_TIMEOUT)
                    .json(&body)
                    .send()
                    .await
                    .and_then(reqwest::Response::error_for_status);
                if let Err(error) = sent {
                    // The error names the URL, which can hold the webhook's secret: not logged.
                    tracing::warn!(status = ?error.status(), subject = %crossing.subject,
                        "soft budget alert not delivered");
                }
            }
        });
    }
}

/// `Gatehouse: team `research` has spent $4.20 of its $4.00 soft budget (budget $5.00).`
fn message(crossing: &SoftCrossing) -> String {
    let owner = match BudgetSubject::parse(&crossing.subject) {
        Some(BudgetSubject::Key(hash)) => format!("key `{}…`", hash.get(..12).unwrap_or(&hash)),
        Some(other) => format!("{} `{}`", other.kind(), other.id()),
        None => crossing.subject.clone(),
    };
    let budget = crossing
        .max_micros
        .map(|max| format!(" (budget {})", format_usd(max)))
        .unwrap_or_default();
    format!(
        "Gatehouse: {owner} has spent {} of its {} soft budget{budget}.",
        format_usd(crossing.spend_micros),
        format_usd(crossing.soft_micros)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_budget_and_never_a_whole_key_hash() {
        let crossing = SoftCrossing {
            subject: format!("key:{}", "a".repeat(64)),
            spend_micros: 4_200_000,
            soft_micros: 4_000_000,
            max_micros: Some(5_000_000),
        };
        let text = message(&crossing);
        assert!(text.contains("key `aaaaaaaaaaaa…`"), "{text}");
        assert!(!text.contains(&"a".repeat(13)), "{text}");
        assert!(
            text.contains("$4.20") && text.contains("$4.00") && text.contains("$5.00"),
            "{text}"
        );
        let team = SoftCrossing {
            subject: "team:research".into(),
            max_micros: None,
            ..crossing
        };
        assert_eq!(
            message(&team),
            "Gatehouse: team `research` has spent $4.20 of its $4.00 soft budget."
        );
    }
}
