//! Reading one stored entity by its text key, from the pool or in the caller's transaction,
//! locking it for a change, and (for a budgeted entity) setting its budget as it is written and
//! forgetting it when it goes: written once (`keyed_record!`) for every entity.

/// Defines an entity module's `find` (from the pool or in the caller's transaction) and `lock`
/// (its row, until the caller's transaction ends, so that a change reads what it changes),
/// given the query that selects the entity whose key is `$1` and the one that locks its row. A budgeted entity names its subject (`budget: BudgetSubject::tag`) and also gets
/// `write_with_budget`, and with the statement that deletes it
/// (`delete: "DELETE … WHERE key = ANY($1) RETURNING key"`), `delete_with_budgets`.
macro_rules! keyed_record {
    (row: $row:ty, select: $select:expr, lock: $lock:expr $(,)?) => {
        /// The entity with this key, from the pool or in the caller's transaction.
        pub async fn find(
            executor: impl sqlx::PgExecutor<'_>,
            key: &str,
        ) -> Result<Option<$row>, sqlx::Error> {
            sqlx::query_as($select)
                .bind(key)
                .fetch_optional(executor)
                .await
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
    (
        row: $row:ty,
        select: $select:expr,
        lock: $lock:expr,
        budget: $subject:path
        $(, delete: $delete:expr)? $(,)?
    ) => {
        keyed_record!(row: $row, select: $select, lock: $lock);

        /// Runs `statement` (an insert or update of the entity keyed `key`) in the caller's
        /// transaction and, when it wrote a row, sets the entity's budget (the named budget
        /// `budget_id`'s limits when it links one, else `own` when given) and reads it back;
        /// `None` when it wrote nothing. `UnknownReference`: no such named budget.
        async fn write_with_budget(
            connection: &mut sqlx::PgConnection,
            key: &str,
            statement: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
            budget_id: Option<&str>,
            own: Option<&crate::db::budgets::BudgetLimits>,
        ) -> Result<Option<$row>, crate::db::error::DbError> {
            if statement.execute(&mut *connection).await?.rows_affected() == 0 {
                return Ok(None);
            }
            let subject = $subject(key).to_string();
            crate::db::budget_links::set_budget(&mut *connection, &subject, budget_id, own)
                .await?;
            Ok(find(connection, key).await?)
        }

        $(
            /// Deletes the entities with these keys (`delete` returns each key it deleted)
            /// with their budgets; returns the keys deleted.
            async fn delete_with_budgets(
                connection: &mut sqlx::PgConnection,
                keys: &[String],
            ) -> Result<Vec<String>, crate::db::error::DbError> {
                let deleted: Vec<String> = sqlx::query_scalar($delete)
                    .bind(keys)
                    .fetch_all(&mut *connection)
                    .await?;
                let subjects: Vec<String> = deleted
                    .iter()
                    .map(|key| $subject(key).to_string())
                    .collect();
                crate::db::budgets::forget(connection, &subjects).await?;
                Ok(deleted)
            }
        )?
    };
}

pub(crate) use keyed_record;

/// What still belongs to an entity being deleted (an organization's teams, a project's keys):
/// the statements that lock the entities keyed `$1`, count what is live in them, and let go of
/// what is not (deleted teams, revoked keys).
pub struct Dependents {
    pub lock: &'static str,
    pub count_live: &'static str,
    pub release: &'static str,
}

/// Readies entities for deletion in the caller's transaction: locks them (one being joined
/// meanwhile waits, then finds it gone), refuses with `InUse` while something live belongs to
/// one, and lets go of what does not live.
pub async fn release_dependents(
    connection: &mut sqlx::PgConnection,
    keys: &[String],
    dependents: &Dependents,
) -> Result<(), crate::db::error::DbError> {
    sqlx::query(dependents.lock)
        .bind(keys)
        .execute(&mut *connection)
        .await?;
    let live: i64 = sqlx::query_scalar(dependents.count_live)
        .bind(keys)
        .fetch_one(&mut *connection)
        .await?;
    if live > 0 {
        return Err(crate::db::error::DbError::InUse);
    }
    sqlx::query(dependents.release)
        .bind(keys)
        .execute(connection)
        .await?;
    Ok(())
}

/// The row an insert wrote (`RowNotFound` were there none, which an insert that did not fail
/// always has).
pub fn inserted<T>(row: Option<T>) -> Result<T, crate::db::error::DbError> {
    row.ok_or(crate::db::error::DbError::Database(
        sqlx::Error::RowNotFound,
    ))
}
