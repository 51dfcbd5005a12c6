//! The in-memory end-user cache: whether the end user a request names (its `user` field) is
//! blocked, and its budget. Unknown end users are remembered as unknown too, so a name costs
//! one query per `ENTRY_TTL` at most; a change anywhere reaches every instance within a second
//! by NOTIFY, and at worst (a notification lost, or crossing a read) when the entry expires.

use std::sync::Arc;
use std::time::Duration;

use app::db::end_users::{self, end_user_subject};
use sqlx::PgPool;

use crate::policy::budgets::{Budget, Ledger};

/// How long an end user (known or not) is trusted without a notification.
const ENTRY_TTL: Duration = Duration::from_secs(5);
const CAPACITY: u64 = 100_000;

/// What the data plane knows about a known end user.
#[derive(Debug)]
pub struct CachedEndUser {
    pub blocked: bool,
    pub budget: Arc<Budget>,
}

pub struct EndUserCache {
    pool: PgPool,
    ledger: Arc<Ledger>,
    /// `None`: no such end user (it has no budget and is not blocked).
    entries: moka::sync::Cache<Arc<str>, Option<Arc<CachedEndUser>>>,
}

impl EndUserCache {
    pub fn new(pool: PgPool, ledger: Arc<Ledger>) -> Self {
        EndUserCache {
            pool,
            ledger,
            entries: moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ENTRY_TTL)
                .build(),
        }
    }

    /// The end user named `user_id`, if it is known: from memory, or (once) from Postgres.
    pub async fn lookup(&self, user_id: &str) -> Result<Option<Arc<CachedEndUser>>, sqlx::Error> {
        if let Some(entry) = self.entries.get(user_id) {
            return Ok(entry);
        }
        let row = end_users::find(&self.pool, user_id).await?;
        let entry = row.map(|row| {
            Arc::new(CachedEndUser {
                blocked: row.blocked,
                budget: self.ledger.budget(&end_user_subject(&row.user_id)),
            })
        });
        self.entries.insert(Arc::from(user_id), entry.clone());
        Ok(entry)
    }

    /// Forgets an end user after a change notification; the next request reads it again.
    pub fn forget(&self, user_id: &str) {
        self.entries.invalidate(user_id);
    }
}
