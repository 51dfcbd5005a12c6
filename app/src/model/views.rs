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

/// An end user (LiteLLM's customer): named by requests' `user`, with a budget and a block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndUserView {
    pub user_id: String,
    pub alias: Option<String>,
    pub blocked: bool,
    pub metadata: Value,
    pub spend: f64,
    pub spend_micros: i64,
    pub max_budget: Option<f64>,
    pub soft_budget: Option<f64>,
    pub budget_duration: Option<String>,
    pub budget_reset_at: Option<String>,
    pub budget_id: Option<String>,
    pub created_by: String,
    pub created_at: String,
}

/// A tag made with `/tag/new`: a budget every request carrying it counts against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagView {
    pub name: String,
    pub description: Option<String>,
    pub metadata: Value,
    pub spend: f64,
    pub spend_micros: i64,
    pub max_budget: Option<f64>,
    pub soft_budget: Option<f64>,
    pub budget_duration: Option<String>,
    pub budget_reset_at: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A named budget (`/budget/*`): limits end users and organizations take by its `budget_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedBudgetView {
    pub budget_id: String,
    pub max_budget: Option<f64>,
    pub soft_budget: Option<f64>,
    pub budget_duration: Option<String>,
    /// LiteLLM's fields a named budget has that are not enforced here: always `null`.
    pub max_parallel_requests: Option<u64>,
    pub tpm_limit: Option<u64>,
    pub rpm_limit: Option<u64>,
    pub model_max_budget: Option<Value>,
    /// End users and organizations that take its limits.
    pub linked: i64,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}
