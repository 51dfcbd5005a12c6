//! Names a key introduces (end users, tags) that this instance has not looked up lately: each
//! costs a database lookup and may start rollup rows, so a key may introduce at most
//! `MAX_NEW_NAMES_PER_MINUTE` a minute (generous: a service naming each of its customers as the
//! end user stays well within it); past that, a request naming another new one is refused
//! (429) until the minute ends. Names already looked up cost nothing.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// New names one key may introduce within its minute.
pub const MAX_NEW_NAMES_PER_MINUTE: u32 = 600;
/// The window: a key's count starts with its first new name and ends a minute later.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Keys remembered at most.
const CAPACITY: u64 = 100_000;

pub struct NewNames {
    counts: moka::sync::Cache<Arc<str>, Arc<AtomicU32>>,
}

impl Default for NewNames {
    fn default() -> Self {
        NewNames {
            counts: moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(WINDOW)
                .build(),
        }
    }
}

impl NewNames {
    /// Counts one new name for the key; `false` when the key has introduced its minute's
    /// share already.
    pub fn admit(&self, token_hash: &Arc<str>) -> bool {
        let count = self
            .counts
            .get_with_by_ref(token_hash, || Arc::new(AtomicU32::new(0)));
        count.fetch_add(1, Ordering::Relaxed) < MAX_NEW_NAMES_PER_MINUTE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_introduces_a_bounded_number_of_names_a_minute() {
        let names = NewNames::default();
        let key: Arc<str> = Arc::from("key-a");
        for _ in 0..MAX_NEW_NAMES_PER_MINUTE {
            assert!(names.admit(&key));
        }
        assert!(!names.admit(&key));
        assert!(names.admit(&Arc::from("key-b")));
    }
}
