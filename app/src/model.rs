//! Wasm-safe types shared by the console pages and the server: money, durations, key and
//! session views, deployments.

use serde::{Deserialize, Serialize};

pub mod forms;
pub mod identity;
pub mod invalid;
pub mod reports;
pub mod route_groups;
pub mod subject;
pub mod views;

/// Micro-dollars per dollar: all money is an `i64` count of micro-dollars.
pub const MICROS_PER_DOLLAR: i64 = 1_000_000;

/// Formats micro-dollars as dollars with up to six decimals, trimming trailing zeros past cents.
pub fn format_usd(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    let dollars = abs / MICROS_PER_DOLLAR as u64;
    let fraction = format!("{:06}", abs % MICROS_PER_DOLLAR as u64);
    let trimmed = fraction.trim_end_matches('0');
    let shown = if trimmed.len() < 2 {
        &fraction[..2]
    } else {
        trimmed
    };
    format!("{sign}${dollars}.{shown}")
}

/// Converts a dollar amount (as LiteLLM's API and the console accept it) to micro-dollars.
/// Refuses negative, non-finite and absurdly large amounts.
pub fn dollars_to_micros(dollars: f64) -> Result<i64, String> {
    if !dollars.is_finite() || dollars < 0.0 {
        return Err("a budget must be a non-negative number of dollars".into());
    }
    let micros = (dollars * MICROS_PER_DOLLAR as f64).round();
    if micros > 9.0e15 {
        return Err("a budget must be below $9,000,000,000".into());
    }
    Ok(micros as i64)
}

/// Micro-dollars as floating dollars, for LiteLLM-shaped API responses only.
pub fn micros_to_dollars(micros: i64) -> f64 {
    micros as f64 / MICROS_PER_DOLLAR as f64
}

/// Parses a LiteLLM duration (`30s`, `15m`, `1h`, `7d`, `2w`, `1mo`) into seconds.
pub fn parse_duration_seconds(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("duration `{text}` needs a unit: s, m, h, d, w or mo"))?;
    let (number, unit) = text.split_at(split);
    let count: i64 = number
        .parse()
        .map_err(|_| format!("duration `{text}` must start with a whole number"))?;
    let unit_seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "mo" => 30 * 86_400,
        _ => {
            return Err(format!(
                "duration `{text}` has unknown unit `{unit}`; use s, m, h, d, w or mo"
            ))
        }
    };
    if count <= 0 {
        return Err(format!("duration `{text}` must be positive"));
    }
    count
        .checked_mul(unit_seconds)
        .filter(|seconds| *seconds <= MAX_DURATION_SECONDS)
        .ok_or_else(|| format!("duration `{text}` is too long (at most 100 years)"))
}

/// The longest duration accepted anywhere (key lifetimes, budget periods, grace periods): 100
/// years, so that adding it to any date in range stays a date.
pub const MAX_DURATION_SECONDS: i64 = 100 * 365 * 86_400;

/// The years a report or filter date may name: beyond them, date arithmetic (a range's next
/// day, a week's end) would leave the calendar.
pub const REPORT_YEARS: std::ops::RangeInclusive<i32> = 1970..=9000;

/// A report date, refused (with the reason) outside `REPORT_YEARS`.
pub fn check_report_year(year: i32) -> Result<(), String> {
    if REPORT_YEARS.contains(&year) {
        Ok(())
    } else {
        Err(format!(
            "dates must lie between the years {} and {}",
            REPORT_YEARS.start(),
            REPORT_YEARS.end()
        ))
    }
}

/// Global roles of console and API users (see docs/GOVERNANCE.md for the matrix); anything not
/// granted to a role is denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    TeamAdmin,
    Finance,
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::TeamAdmin => "team_admin",
            Role::Finance => "finance",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "team_admin" => Some(Role::TeamAdmin),
            "finance" => Some(Role::Finance),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    /// The console page the role lands on after logging in: the first one it can use.
    pub fn home(self) -> &'static str {
        match self {
            Role::Admin => "/keys",
            Role::Finance => "/overview",
            Role::Viewer | Role::TeamAdmin => "/deployments",
        }
    }

    /// How much a role may do: each role's powers include those of every role ranked below it
    /// (admin ⊃ finance ⊃ viewer ⊃ team admin, which has no global power of its own).
    fn rank(self) -> u8 {
        match self {
            Role::Admin => 3,
            Role::Finance => 2,
            Role::Viewer => 1,
            Role::TeamAdmin => 0,
        }
    }

    /// This role may do everything `other` may.
    pub fn covers(self, other: Role) -> bool {
        self.rank() >= other.rank()
    }

    /// This role, capped at `ceiling`: the lesser of the two.
    pub fn capped_at(self, ceiling: Role) -> Role {
        if ceiling.covers(self) {
            self
        } else {
            ceiling
        }
    }
}

/// One user on the Users page. Never carries a password hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountView {
    pub user_id: String,
    pub email: Option<String>,
    pub user_alias: Option<String>,
    pub role: Option<Role>,
    /// `team_id (admin)` / `team_id (user)` for each team the user belongs to.
    pub teams: Vec<String>,
    pub models: Vec<String>,
    pub can_log_in: bool,
    pub budget: views::BudgetSummary,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i64>,
    pub created_at: String,
}

/// An RFC 3339 time as the console shows it: `2026-11-24 18:10 UTC`.
pub fn short_time(rfc3339: &str) -> String {
    match rfc3339.get(..16) {
        Some(minutes) => format!("{} UTC", minutes.replace('T', " ")),
        None => rfc3339.to_string(),
    }
}

/// The shortest password a user may be given.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// A team on the Teams page, with its members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamView {
    pub team_id: String,
    pub team_alias: Option<String>,
    pub models: Vec<String>,
    pub blocked: bool,
    pub budget: views::BudgetSummary,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i64>,
    pub metadata: serde_json::Value,
    pub keys: i64,
    pub members: Vec<MemberView>,
    /// The signed-in user may add and remove this team's members, and rename it.
    pub manageable: bool,
    /// The signed-in user may change the team's budget, limits and models (an admin).
    pub editable: bool,
}

/// A member of a team on the Teams page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    pub user_id: String,
    pub email: Option<String>,
    /// `admin` or `user`.
    pub role: String,
    pub max_budget_micros: Option<i64>,
    pub spend_micros: i64,
}

/// One entry of the audit log on the Audit page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditView {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    /// The state before and after, as compact JSON (empty when not recorded).
    pub before: String,
    pub after: String,
    pub source_ip: String,
}

/// One budget on the Budgets page: whose it is, its limits, and what its window has used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetView {
    pub subject: String,
    /// `key`, `user`, `member`, `team`, …
    pub kind: String,
    /// A readable owner: the key's alias or name, the team's alias, the user's email.
    pub owner: String,
    pub spend_micros: i64,
    /// Held in leases by running instances (admitted from, not yet spent).
    pub leased_micros: i64,
    pub max_micros: Option<i64>,
    pub soft_micros: Option<i64>,
    pub duration: Option<String>,
    pub resets_at: Option<String>,
}

impl BudgetView {
    /// Spend as a share of the hard limit, in percent (0 to 100, capped).
    pub fn used_percent(&self) -> Option<u32> {
        let max = self.max_micros.filter(|max| *max > 0)?;
        let share = (self.spend_micros.max(0) as f64 / max as f64 * 100.0).min(100.0);
        Some(share.round() as u32)
    }

    /// Where the soft limit sits, in percent of the hard one.
    pub fn soft_percent(&self) -> Option<u32> {
        let max = self.max_micros.filter(|max| *max > 0)?;
        let soft = self.soft_micros?;
        Some((soft as f64 / max as f64 * 100.0).min(100.0).round() as u32)
    }
}

/// The logged-in console user as pages see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub email: String,
    pub role: Role,
}

/// What every page needs to know about the visitor: who they are and the CSRF token its
/// forms must carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub user: Option<UserView>,
    pub csrf_token: String,
    pub needs_setup: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyStatus {
    Active,
    Expired,
    Revoked,
}

impl KeyStatus {
    pub fn label(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Expired => "expired",
            KeyStatus::Revoked => "revoked",
        }
    }
}

/// The answer to creating a key: the secret, shown exactly once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedKey {
    pub key: String,
    pub key_name: String,
}

/// Spend of one UTC day across all keys, for the console's charts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct DailySpend {
    /// `YYYY-MM-DD`
    pub day: String,
    pub spend_micros: i64,
    pub requests: i64,
}

/// One deployment on the console's Models page: what it serves, what it can do and what it
/// costs. Never carries a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentView {
    pub id: String,
    pub model_name: String,
    pub provider: String,
    pub upstream_model: String,
    pub api_base: String,
    /// Stored in the database (editable in the console) rather than read from config.yaml.
    pub stored: bool,
    pub mode: Option<String>,
    /// Declared capabilities, as short labels (`streaming`, `tools`, `vision`, …).
    pub capabilities: Vec<String>,
    pub max_input_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
    pub input_micros_per_mtok: i64,
    pub output_micros_per_mtok: i64,
    pub cached_input_micros_per_mtok: Option<i64>,
    /// Why a stored deployment is not being served.
    pub problem: Option<String>,
    /// A stored deployment's current values for its edit form.
    pub form: Option<DeploymentForm>,
}

/// The fields of the add/edit deployment form, as text. Credentials are write-only: the form
/// only says whether some are stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentForm {
    pub model_name: String,
    /// `provider/model-id`, as LiteLLM's `litellm_params.model`.
    pub model: String,
    pub api_base: String,
    pub api_version: String,
    /// Dollars per million tokens; empty means the built-in price.
    pub input_cost: String,
    pub output_cost: String,
    pub cached_input_cost: String,
    pub has_credentials: bool,
    /// Any other `litellm_params` as a JSON object (empty when there are none).
    pub extra_params: String,
}

/// The outcome of the Models page's "Test connection": a one-token request to the deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionTest {
    pub deployment_id: String,
    pub ok: bool,
    pub latency_ms: u64,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(spend: i64, max: Option<i64>, soft: Option<i64>) -> BudgetView {
        BudgetView {
            subject: "key:x".into(),
            kind: "key".into(),
            owner: "x".into(),
            spend_micros: spend,
            leased_micros: 0,
            max_micros: max,
            soft_micros: soft,
            duration: None,
            resets_at: None,
        }
    }

    #[test]
    fn budget_use_is_a_capped_percentage_of_the_hard_limit() {
        assert_eq!(budget(250, Some(1_000), None).used_percent(), Some(25));
        assert_eq!(budget(5_000, Some(1_000), None).used_percent(), Some(100));
        assert_eq!(budget(10, None, Some(5)).used_percent(), None);
        assert_eq!(budget(10, Some(0), None).used_percent(), None);
        assert_eq!(
            budget(0, Some(5_000_000), Some(4_000_000)).soft_percent(),
            Some(80)
        );
        assert_eq!(budget(0, None, Some(4)).soft_percent(), None);
    }

    #[test]
    fn formats_micro_dollars() {
        assert_eq!(format_usd(0), "$0.00");
        assert_eq!(format_usd(1_500_000), "$1.50");
        assert_eq!(format_usd(1_234_567), "$1.234567");
        assert_eq!(format_usd(10), "$0.00001");
        assert_eq!(format_usd(-2_000_000), "-$2.00");
    }

    #[test]
    fn converts_dollars_exactly() {
        assert_eq!(dollars_to_micros(10.5), Ok(10_500_000));
        assert_eq!(dollars_to_micros(0.000001), Ok(1));
        assert!(dollars_to_micros(-1.0).is_err());
        assert!(dollars_to_micros(f64::NAN).is_err());
    }

    #[test]
    fn parses_litellm_durations() {
        assert_eq!(parse_duration_seconds("30s"), Ok(30));
        assert_eq!(parse_duration_seconds("1h"), Ok(3_600));
        assert_eq!(parse_duration_seconds("7d"), Ok(604_800));
        assert_eq!(parse_duration_seconds("1mo"), Ok(2_592_000));
        assert!(parse_duration_seconds("5").is_err());
        assert!(parse_duration_seconds("5y").is_err());
        assert!(parse_duration_seconds("0d").is_err());
        assert!(parse_duration_seconds("h").is_err());
    }
}
