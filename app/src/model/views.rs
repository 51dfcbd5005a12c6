//! The views of managed entities, as the management API answers with them (LiteLLM's field
//! names, dollars and micro-dollars, RFC 3339 times) and the console shows them: one shape
//! for both, and for the audit entries of their changes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An organization: its teams' budget and model bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationView {
    pub organization_id: String,
    pub organization_alias: String,
    pub models: Vec<String>,
    pub metadata: Value,
    pub spend: f64,
    pub spend_micros: i64,
    pub max_budget: Option<f64>,
    pub soft_budget: Option<f64>,
    pub budget_duration: Option<String>,
    pub budget_reset_at: Option<String>,
    pub budget_id: Option<String>,
    /// Live teams in it.
    pub teams: i64,
    pub created_by: String,
    pub created_at: String,
}
