//! The in-memory team cache: what a key's team allows (models, blocked, deleted), kept current
//! by NOTIFY like the key cache.

use std::sync::Arc;

use app::db::teams::{self, TeamRow};
use app::model::subject::BudgetSubject;
use dashmap::DashMap;
use sqlx::PgPool;

use crate::core::access_groups::AccessGroups;
use crate::policy::keys::{limit_of, model_allowed};
use crate::policy::limits::ScopeLimits;

/// What the data plane knows about a team.
#[derive(Debug)]
pub struct CachedTeam {
    pub team_id: Arc<str>,
    /// Its `team_alias` (a label of its metrics).
    pub team_alias: Option<Arc<str>>,
    /// Its metadata turns its keys' request logs off.
    pub logging_off: bool,
    pub models: Vec<String>,
    /// Blocked or deleted: its keys are refused.
    pub refused: bool,
    /// The team's rate limits, shared by all its keys (scope `team:<id>`).
    pub limits: ScopeLimits,
}

impl CachedTeam {
    pub fn may_use(&self, model: &str, access: &AccessGroups) -> bool {
        model_allowed(&self.models, model, access)
    }
}

pub struct TeamCache {
    pool: PgPool,
    entries: DashMap<Arc<str>, Arc<CachedTeam>>,
}

impl TeamCache {
    pub fn new(pool: PgPool) -> Self {
        TeamCache {
            pool,
            entries: DashMap::new(),
        }
    }

    /// The team with this id: from memory, or (once) from Postgres. A team that does not exist
    /// comes back refused.
    /// The team as held in memory, if it is.
    pub fn held(&self, team_id: &str) -> Option<Arc<CachedTeam>> {
        self.entries.get(team_id).map(|entry| entry.clone())
    }

    pub async fn lookup(&self, team_id: &Arc<str>) -> Result<Arc<CachedTeam>, sqlx::Error> {
        if let Some(entry) = self.entries.get(team_id) {
            return Ok(entry.clone());
        }
        let row = teams::find(&self.pool, team_id).await?;
        Ok(self.apply(team_id.clone(), row.as_ref()))
    }

    /// Reloads one team after a change notification.
    pub async fn refresh(&self, team_id: &str) -> Result<(), sqlx::Error> {
        let row = teams::find(&self.pool, team_id).await?;
        self.apply(Arc::from(team_id), row.as_ref());
        Ok(())
    }

    /// Replaces the cache's view of every team it holds.
    pub async fn reload_all(&self) -> Result<usize, sqlx::Error> {
        let rows = teams::list_live(&self.pool).await?;
        let known: Vec<Arc<str>> = self
            .entries
            .iter()
            .map(|entry| entry.key().clone())
            .collect();
        for team_id in known {
            let row = rows.iter().find(|row| row.team_id == team_id.as_ref());
            self.apply(team_id, row);
        }
        Ok(rows.len())
    }

    fn apply(&self, team_id: Arc<str>, row: Option<&TeamRow>) -> Arc<CachedTeam> {
        let team = Arc::new(match row {
            Some(row) => CachedTeam {
                team_id: team_id.clone(),
                team_alias: row.team_alias.as_deref().map(Arc::from),
                logging_off: crate::core::logging_off::requested_by(&row.metadata),
                models: row.models.clone(),
                refused: row.blocked || row.deleted_at.is_some(),
                limits: ScopeLimits {
                    scope: Arc::from(BudgetSubject::team(&team_id).to_string()),
                    rpm: limit_of(row.rpm_limit),
                    tpm: limit_of(row.tpm_limit),
                    parallel: limit_of(row.max_parallel_requests),
                },
            },
            None => CachedTeam {
                team_id: team_id.clone(),
                team_alias: None,
                logging_off: false,
                models: Vec::new(),
                refused: true,
                limits: ScopeLimits {
                    scope: Arc::from(BudgetSubject::team(&team_id).to_string()),
                    rpm: None,
                    tpm: None,
                    parallel: None,
                },
            },
        });
        self.entries.insert(team_id, team.clone());
        team
    }
}
