//! The in-memory tag cache: the budget of each tag made with `/tag/new` (see `named` for how it
//! stays current). Tags nobody made carry no budget.

use std::sync::Arc;

use app::db::tags::{self};
use app::model::subject::BudgetSubject;
use sqlx::PgPool;

use crate::policy::budgets::{Budget, Ledger};
use crate::policy::named::NamedCache;

pub struct TagCache {
    pool: PgPool,
    ledger: Arc<Ledger>,
    entries: NamedCache<Budget>,
}

impl TagCache {
    pub fn new(pool: PgPool, ledger: Arc<Ledger>) -> Self {
        TagCache {
            pool,
            ledger,
            entries: NamedCache::new(),
        }
    }

    /// The budget of tag `name`, if the tag was made.
    pub async fn budget(&self, name: &str) -> Result<Option<Arc<Budget>>, sqlx::Error> {
        self.entries
            .get_or_load(name, || async {
                let row = tags::find(&self.pool, name).await?;
                Ok(row.map(|row| {
                    self.ledger
                        .budget(&BudgetSubject::tag(&row.name).to_string())
                }))
            })
            .await
    }

    /// The tag was looked up lately: naming it costs no query.
    pub fn is_cached(&self, name: &str) -> bool {
        self.entries.contains(name)
    }

    /// Forgets every tag (notifications may have been missed).
    pub fn forget_all(&self) {
        self.entries.forget_all();
    }

    /// Forgets a tag after a change notification.
    pub fn forget(&self, name: &str) {
        self.entries.forget(name);
    }
}
