//! The in-memory end-user cache: whether the end user a request names (its `user` field) is
//! blocked, and its budget (see `named` for how it stays current).

use std::sync::Arc;

use app::db::end_users::{self};
use app::model::subject::BudgetSubject;
use sqlx::PgPool;

use crate::policy::budgets::{Budget, Ledger};
use crate::policy::named::NamedCache;

/// What the data plane knows about a known end user.
#[derive(Debug)]
pub struct CachedEndUser {
    pub blocked: bool,
    pub budget: Arc<Budget>,
}

pub struct EndUserCache {
    pool: PgPool,
    ledger: Arc<Ledger>,
    entries: NamedCache<CachedEndUser>,
}

impl EndUserCache {
    pub fn new(pool: PgPool, ledger: Arc<Ledger>) -> Self {
        EndUserCache {
            pool,
            ledger,
            entries: NamedCache::new(),
        }
    }

    /// The end user named `user_id`, if it is known.
    pub async fn lookup(&self, user_id: &str) -> Result<Option<Arc<CachedEndUser>>, sqlx::Error> {
        self.entries
            .get_or_load(user_id, || async {
                let row = end_users::find(&self.pool, user_id).await?;
                Ok(row.map(|row| {
                    Arc::new(CachedEndUser {
                        blocked: row.blocked,
                        budget: self
                            .ledger
                            .budget(&BudgetSubject::end_user(&row.user_id).to_string()),
                    })
                }))
            })
            .await
    }

    /// The end user was looked up lately: naming it costs no query.
    pub fn is_cached(&self, user_id: &str) -> bool {
        self.entries.contains(user_id)
    }

    /// Forgets every end user (notifications may have been missed).
    pub fn forget_all(&self) {
        self.entries.forget_all();
    }

    /// Forgets an end user after a change notification.
    pub fn forget(&self, user_id: &str) {
        self.entries.forget(user_id);
    }
}
