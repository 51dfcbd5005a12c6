//! Field groups the console's forms post to more than one server function, as they arrive:
//! text, each empty when not given (`api::form` reads them).

use serde::{Deserialize, Serialize};

/// A budget's fields: dollars and a window (`30d`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BudgetForm {
    pub max_budget: String,
    pub soft_budget: String,
    pub budget_duration: String,
}

/// Rate limits: requests and tokens a minute, requests in flight.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitsForm {
    pub rpm_limit: String,
    pub tpm_limit: String,
    pub max_parallel_requests: String,
}
