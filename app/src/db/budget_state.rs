//! An entity's budget as its row carries it (the ledger's limits, window and spend, joined into
//! the entity's select), written once for every budgeted entity.

use time::OffsetDateTime;

/// The columns of an entity's budget, from the ledger row aliased `b` (a macro so that queries
/// stay static strings); a select joins `budget_counters AS b` on the entity's subject.
macro_rules! budget_columns {
    () => {
        "b.max_micros AS max_budget_micros, b.soft_micros AS soft_budget_micros, \
         b.duration AS budget_duration, b.resets_at AS budget_reset_at, \
         COALESCE(b.spend_micros, 0) AS spend_micros"
    };
}

pub(crate) use budget_columns;

/// An entity's budget: no limits and no spend when it has no ledger row.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct BudgetState {
    pub max_budget_micros: Option<i64>,
    pub soft_budget_micros: Option<i64>,
    pub budget_duration: Option<String>,
    pub budget_reset_at: Option<OffsetDateTime>,
    pub spend_micros: i64,
}
