//! Reading one stored entity by its text key, in the caller's transaction or from the pool, and
//! locking it for a change: written once (`keyed_record!`) for every entity.

/// Defines an entity module's `find_in` (in the caller's transaction), `find` (from the pool)
/// and `lock` (its row, until the caller's transaction ends, so that a change reads what it
/// changes), given the query that selects the entity whose key is `$1` and the one that locks
/// its row.
macro_rules! keyed_record {
    (row: $row:ty, select: $select:expr, lock: $lock:expr $(,)?) => {
        /// The entity with this key, read in the caller's transaction.
        pub async fn find_in(
            connection: &mut sqlx::PgConnection,
            key: &str,
        ) -> Result<Option<$row>, sqlx::Error> {
            sqlx::query_as($select)
                .bind(key)
                .fetch_optional(connection)
                .await
        }

        /// The entity with this key.
        pub async fn find(pool: &sqlx::PgPool, key: &str) -> Result<Option<$row>, sqlx::Error> {
            sqlx::query_as($select).bind(key).fetch_optional(pool).await
        }

        /// Locks the entity's row until the caller's transaction ends.
        pub async fn lock(
            connection: &mut sqlx::PgConnection,
            key: &str,
        ) -> Result<(), sqlx::Error> {
            sqlx::query($lock)
                .bind(key)
                .fetch_optional(connection)
                .await
                .map(drop)
        }
    };
}

pub(crate) use keyed_record;
