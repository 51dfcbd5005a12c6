//! The handles of one label combination's metrics, found again without a lock or an
//! allocation: sharded copy-on-write maps read through `ArcSwap`, keyed by a hash of the label
//! values and checked against them. A new combination (rare: a new key, deployment or status)
//! copies one shard.
//!
//! Bounded: past its bound the cache makes no new series and says so (`Found::Full`); the
//! caller then counts the call under an overflow series, so no client can grow the registry
//! without limit.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;

/// Label combinations kept per instance.
pub const MAX_SERIES: usize = 20_000;
const SHARDS: usize = 16;

/// One label combination and its series.
struct Entry<V> {
    values: Box<[Box<str>]>,
    series: Arc<V>,
}

/// One shard: hash → the combinations with that hash (almost always one). Copying it copies
/// pointers, not label values.
type Shard<V> = HashMap<u64, Vec<Arc<Entry<V>>>>;

pub struct SeriesCache<V> {
    shards: [ArcSwap<Shard<V>>; SHARDS],
    writers: Mutex<()>,
    count: AtomicUsize,
    bound: usize,
    hasher: foldhash::fast::RandomState,
}

/// What the cache answered.
pub enum Found<V> {
    Series(Arc<V>),
    /// The cache is full: the caller records under the overflow series.
    Full,
}

impl<V> Default for SeriesCache<V> {
    fn default() -> Self {
        SeriesCache::with_bound(MAX_SERIES)
    }
}

impl<V> SeriesCache<V> {
    /// A cache of at most `bound` combinations.
    pub fn with_bound(bound: usize) -> Self {
        SeriesCache {
            bound,
            shards: std::array::from_fn(|_| ArcSwap::from_pointee(HashMap::new())),
            writers: Mutex::new(()),
            count: AtomicUsize::new(0),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    fn hash(&self, values: &[&str]) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        for value in values {
            hasher.write(value.as_bytes());
            // A separator no label value contains, so ("ab", "c") and ("a", "bc") differ.
            hasher.write_u8(0xff);
        }
        hasher.finish()
    }

    /// The series for `values`, made with `make` the first time.
    pub fn get_or_make(&self, values: &[&str], make: impl FnOnce() -> V) -> Found<V> {
        let hash = self.hash(values);
        let shard = &self.shards[(hash as usize) % SHARDS];
        if let Some(series) = find(&shard.load(), hash, values) {
            return Found::Series(series);
        }
        let _writer = self.writers.lock().unwrap_or_else(PoisonError::into_inner);
        let current = shard.load_full();
        if let Some(series) = find(&current, hash, values) {
            return Found::Series(series);
        }
        if self.count.load(Ordering::Relaxed) >= self.bound {
            return Found::Full;
        }
        let series = Arc::new(make());
        let mut next: Shard<V> = (*current).clone();
        next.entry(hash).or_default().push(Arc::new(Entry {
            values: values.iter().map(|value| Box::from(*value)).collect(),
            series: series.clone(),
        }));
        shard.store(Arc::new(next));
        self.count.fetch_add(1, Ordering::Relaxed);
        Found::Series(series)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}

fn find<V>(shard: &Shard<V>, hash: u64, values: &[&str]) -> Option<Arc<V>> {
    shard.get(&hash)?.iter().find_map(|entry| {
        let same = entry.values.len() == values.len()
            && entry
                .values
                .iter()
                .zip(values)
                .all(|(kept, value)| **kept == **value);
        same.then(|| entry.series.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_combination_is_made_once_and_found_again() {
        let cache: SeriesCache<String> = SeriesCache::default();
        let mut made = 0;
        for _ in 0..3 {
            let Found::Series(series) = cache.get_or_make(&["key", "gpt"], || {
                made += 1;
                "series".to_string()
            }) else {
                panic!("the cache is not full");
            };
            assert_eq!(*series, "series");
        }
        assert_eq!(made, 1);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn values_that_concatenate_alike_are_different_series() {
        let cache: SeriesCache<&str> = SeriesCache::default();
        let Found::Series(first) = cache.get_or_make(&["ab", "c"], || "first") else {
            panic!("room");
        };
        let Found::Series(second) = cache.get_or_make(&["a", "bc"], || "second") else {
            panic!("room");
        };
        assert_eq!((*first, *second), ("first", "second"));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn past_the_bound_new_combinations_overflow() {
        let cache: SeriesCache<usize> = SeriesCache::with_bound(40);
        for index in 0..40 {
            let value = index.to_string();
            assert!(matches!(
                cache.get_or_make(&[&value], || index),
                Found::Series(_)
            ));
        }
        assert!(matches!(
            cache.get_or_make(&["one more"], || 0),
            Found::Full
        ));
        // Known combinations are still found.
        let Found::Series(known) = cache.get_or_make(&["7"], || 0) else {
            panic!("a known combination is found when the cache is full");
        };
        assert_eq!(*known, 7);
    }
}
