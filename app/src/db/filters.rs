//! What a filtered query adds to its `WHERE`: `AND column = value` for each value given.

use sqlx::{Postgres, QueryBuilder};

/// Adds `AND column = $n` for each column whose value is given; the values are bound.
pub fn push_equal<'a>(
    query: &mut QueryBuilder<'_, Postgres>,
    columns: impl IntoIterator<Item = (&'static str, &'a Option<String>)>,
) {
    for (column, value) in columns {
        if let Some(value) = value {
            query.push(" AND ");
            query.push(column);
            query.push(" = ");
            query.push_bind(value.clone());
        }
    }
}
