//! The views of managed entities, as the management API answers with them (LiteLLM's field
//! names, dollars and micro-dollars, RFC 3339 times) and the console shows them: one shape
//! for both, and for the audit entries of their changes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A managed entity's budget: its spend and limits in dollars (the spend in micro-dollars
/// too) and its window, flattened into the entity's view.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BudgetSummary {
    pub spend: f64,
    pub spend_micros: i64,
    pub max_budget: Option<f64>,
    pub soft_budget: Option<f64>,
    pub budget_duration: Option<String>,
    pub budget_reset_at: Option<String>,
}

/// An organization: its teams' budget and model bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationView {
    pub organization_id: String,
    pub organization_alias: String,
    pub models: Vec<String>,
    pub metadata: Value,
    #[serde(flatten)]
    pub budget: BudgetSummary,
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
    #[serde(flatten)]
    pub budget: BudgetSummary,
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
    #[serde(flatten)]
    pub budget: BudgetSummary,
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

/// A virtual key, as `/key/info` answers (never its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyDetails {
    /// The key's hash: how the API names it.
    pub token: String,
    /// `sk-…abcd`: how people recognise it.
    pub key_name: String,
    pub key_alias: Option<String>,
    pub models: Vec<String>,
    #[serde(flatten)]
    pub budget: BudgetSummary,
    pub expires: Option<String>,
    pub metadata: Value,
    pub created_by: String,
    pub created_at: String,
    /// `active`, `expired` or `revoked`.
    pub status: String,
    /// Refused: blocked, expired or revoked.
    pub blocked: bool,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i64>,
    pub model_rpm_limit: Value,
    pub model_tpm_limit: Value,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub project_id: Option<String>,
    pub model_max_budget: Value,
    pub allowed_routes: Vec<String>,
}

/// A member of a team (LiteLLM's `members_with_roles` entry), with its budget in the team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberDetails {
    pub user_id: String,
    pub user_email: Option<String>,
    /// `admin` or `user`.
    pub role: String,
    pub max_budget_in_team: Option<f64>,
    pub budget_duration: Option<String>,
    pub spend: f64,
    pub spend_micros: i64,
}

/// A team, as `/team/info` answers (with its members where the answer lists them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamDetails {
    pub team_id: String,
    pub team_alias: Option<String>,
    pub organization_id: Option<String>,
    pub models: Vec<String>,
    pub blocked: bool,
    #[serde(flatten)]
    pub budget: BudgetSummary,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i64>,
    pub metadata: Value,
    pub created_by: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members_with_roles: Option<Vec<MemberDetails>>,
}

/// A user, as `/user/info` answers (never its password hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserDetails {
    pub user_id: String,
    pub user_email: Option<String>,
    pub user_alias: Option<String>,
    /// LiteLLM's name of the role (`proxy_admin`, `proxy_admin_viewer`, `internal_user`,
    /// `finance`).
    pub user_role: String,
    /// Gatehouse's name of the role.
    pub role: String,
    pub models: Vec<String>,
    pub metadata: Value,
    #[serde(flatten)]
    pub budget: BudgetSummary,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i64>,
    pub can_log_in: bool,
    pub created_by: String,
    pub created_at: String,
}

/// A project: a cost-attribution unit keys belong to, with a budget and a model bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectView {
    pub project_id: String,
    pub project_alias: Option<String>,
    pub description: Option<String>,
    pub team_id: Option<String>,
    pub models: Vec<String>,
    pub metadata: Value,
    #[serde(flatten)]
    pub budget: BudgetSummary,
    /// Live keys in it.
    pub keys: i64,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

/// One page of the keys a console user may read, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyListing {
    pub keys: Vec<KeyDetails>,
    /// From 1.
    pub page: i64,
    pub pages: i64,
}
