//! Running totals of infrastructure errors (Redis commands, Postgres statements), counted where
//! they happen and read when `/metrics` is scraped.

use std::sync::atomic::{AtomicU64, Ordering};

static REDIS_ERRORS: AtomicU64 = AtomicU64::new(0);
static POSTGRES_ERRORS: AtomicU64 = AtomicU64::new(0);

/// A Redis command failed (or did not answer in time).
pub fn redis_error() {
    REDIS_ERRORS.fetch_add(1, Ordering::Relaxed);
}

/// A database statement failed.
pub fn postgres_error() {
    POSTGRES_ERRORS.fetch_add(1, Ordering::Relaxed);
}

pub fn redis_errors() -> u64 {
    REDIS_ERRORS.load(Ordering::Relaxed)
}

pub fn postgres_errors() -> u64 {
    POSTGRES_ERRORS.load(Ordering::Relaxed)
}
