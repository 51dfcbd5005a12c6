//! A cache of named policy objects (end users, tags) read from Postgres on first use. Names
//! not found are remembered as unknown too, so a name costs one query per `ENTRY_TTL` at most;
//! a change anywhere reaches every instance within a second by NOTIFY (`forget`), and at worst
//! (a notification lost, or crossing a read) when the entry expires.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How long an entry (known or not) is trusted without a notification (a change reaches every
/// instance by NOTIFY well before; this bounds a lost notification).
const ENTRY_TTL: Duration = Duration::from_secs(60);
const CAPACITY: u64 = 100_000;

pub struct NamedCache<T> {
    /// `None`: no such name.
    entries: moka::sync::Cache<Arc<str>, Option<Arc<T>>>,
}

impl<T: Send + Sync + 'static> NamedCache<T> {
    pub fn new() -> Self {
        NamedCache {
            entries: moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ENTRY_TTL)
                .build(),
        }
    }

    /// The object named `name`: from memory, or (once) from `load`.
    pub async fn get_or_load<Load, Loading>(
        &self,
        name: &str,
        load: Load,
    ) -> Result<Option<Arc<T>>, sqlx::Error>
    where
        Load: FnOnce() -> Loading,
        Loading: Future<Output = Result<Option<Arc<T>>, sqlx::Error>>,
    {
        if let Some(entry) = self.entries.get(name) {
            return Ok(entry);
        }
        let entry = load().await?;
        self.entries.insert(Arc::from(name), entry.clone());
        Ok(entry)
    }

    /// The name is in memory (known or known to be unknown): looking it up costs nothing.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// Forgets every name (notifications may have been missed).
    pub fn forget_all(&self) {
        self.entries.invalidate_all();
    }

    /// Forgets a name after a change notification; the next request reads it again.
    pub fn forget(&self, name: &str) {
        self.entries.invalidate(name);
    }
}

impl<T: Send + Sync + 'static> Default for NamedCache<T> {
    fn default() -> Self {
        Self::new()
    }
}
