//! The Routes page's shared types: the route policy overrides it stores (what an admin changed
//! over config.yaml's routing) and the views of model groups, health and classes it shows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The routing strategies, by their LiteLLM names, in the order the page offers them.
pub const STRATEGIES: &[&str] = &[
    "simple-shuffle",
    "least-busy",
    "latency-based-routing",
    "cost-based-routing",
    "usage-based-routing",
];

/// Changes to config.yaml's routing made in the console, as stored (one JSON document). Each
/// field left out keeps the file's value. A group's chain set to `None` removes the file's
/// chain for that group; a class set to `None` removes the file's class.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_strategy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_retries: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_fails: Option<u32>,
    /// Seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_fallbacks: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fallbacks: BTreeMap<String, Option<Vec<String>>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context_window_fallbacks: BTreeMap<String, Option<Vec<String>>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub content_policy_fallbacks: BTreeMap<String, Option<Vec<String>>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub request_classes: BTreeMap<String, Option<ClassPolicy>>,
}

/// One request class's route policy, as `request_classes.<name>` in config.yaml.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassPolicy {
    #[serde(default)]
    pub default: bool,
    /// Requested model → the group that serves it in this class (`*`: every other model).
    #[serde(default)]
    pub model_groups: BTreeMap<String, String>,
    #[serde(default)]
    pub routing_strategy: Option<String>,
    #[serde(default)]
    pub num_retries: Option<u32>,
    /// Replaces the general fallback chains for this class (LiteLLM's list of one-key maps).
    #[serde(default)]
    pub fallbacks: Option<Vec<BTreeMap<String, Vec<String>>>>,
    #[serde(default)]
    pub degrade: Option<DegradePolicy>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DegradePolicy {
    /// The share of the budget spent (0 < f ≤ 1) from which the class degrades.
    pub budget_used: f64,
    pub to: String,
}

/// Where a shown value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    ConfigFile,
    Console,
}

impl Source {
    pub fn label(self) -> &'static str {
        match self {
            Source::ConfigFile => "config.yaml",
            Source::Console => "console",
        }
    }
}

/// Everything the Routes page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutesView {
    pub settings: RouterSettingsView,
    pub groups: Vec<RouteGroupView>,
    pub classes: Vec<ClassView>,
    /// Problems of the routing in force (a fallback to a group no longer served, say).
    pub problems: Vec<String>,
    /// Who last changed the route policy in the console, and when (UTC).
    pub edited: Option<(String, String)>,
    /// The stored policy's version the page shows (0: none); a form saved from an older one is
    /// refused.
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouterSettingsView {
    pub strategy: String,
    pub num_retries: u32,
    pub allowed_fails: u32,
    pub cooldown_seconds: f64,
    pub cooldowns_enabled: bool,
    pub default_fallbacks: Vec<String>,
    pub max_fallbacks: u32,
    /// The settings the console changed (by field name).
    pub changed_in_console: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteGroupView {
    pub name: String,
    pub mode: Option<String>,
    pub deployments: Vec<RouteDeploymentView>,
    pub fallbacks: ChainView,
    pub context_window_fallbacks: ChainView,
    pub content_policy_fallbacks: ChainView,
}

/// One fallback chain of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainView {
    pub targets: Vec<String>,
    /// The group has no chain of its own and uses `default_fallbacks` (general chains only).
    pub uses_default: bool,
    pub source: Source,
    /// config.yaml has a chain of this kind for the group.
    pub in_file: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteDeploymentView {
    pub id: String,
    pub provider: String,
    pub upstream_model: String,
    /// `order`: lower tiers are used only while higher ones are unavailable.
    pub tier: Option<u32>,
    pub weight: Option<f64>,
    pub health: Health,
    pub in_flight: u64,
    /// Moving average of whole-request latency, in milliseconds.
    pub latency_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Health {
    Healthy,
    /// Cooling down until this time (UTC, `HH:MM:SS`), for this many more seconds.
    CoolingDown {
        until: String,
        seconds_left: u64,
    },
    /// The cooldown ended: the next request probes it.
    HalfOpen,
}

impl Health {
    pub fn label(&self) -> String {
        match self {
            Health::Healthy => "healthy".into(),
            Health::CoolingDown {
                until,
                seconds_left,
            } => format!("cooling down until {until} UTC ({seconds_left} s)"),
            Health::HalfOpen => "half-open: the next request probes it".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassView {
    pub name: String,
    pub policy: ClassPolicy,
    pub source: Source,
    /// config.yaml defines a class of this name.
    pub in_file: bool,
}

/// Parses a comma-separated list of group names (blank items dropped).
pub fn parse_names(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// Parses `model=group` pairs, comma-separated (`gpt-4o=gpt-4o-mini, *=cheap`).
pub fn parse_model_groups(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut pairs = BTreeMap::new();
    for item in text
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let (model, group) = item
            .split_once('=')
            .map(|(model, group)| (model.trim(), group.trim()))
            .filter(|(model, group)| !model.is_empty() && !group.is_empty())
            .ok_or_else(|| format!("`{item}` is not `model=group`"))?;
        if pairs.insert(model.to_string(), group.to_string()).is_some() {
            return Err(format!("`{model}` is mapped twice"));
        }
    }
    Ok(pairs)
}

/// Parses fallback chains, `group: target, target; group: target` (`;` between groups).
pub fn parse_chains(text: &str) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut chains = BTreeMap::new();
    for item in text
        .split(';')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let (group, targets) = item
            .split_once(':')
            .map(|(group, targets)| (group.trim(), parse_names(targets)))
            .filter(|(group, _)| !group.is_empty())
            .ok_or_else(|| format!("`{item}` is not `group: target, target`"))?;
        if chains.insert(group.to_string(), targets).is_some() {
            return Err(format!("`{group}` has two chains"));
        }
    }
    Ok(chains)
}

/// Writes chains back in the form `parse_chains` reads.
pub fn format_chains(chains: &BTreeMap<String, Vec<String>>) -> String {
    chains
        .iter()
        .map(|(group, targets)| format!("{group}: {}", targets.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Writes `model=group` pairs back in the form `parse_model_groups` reads.
pub fn format_model_groups(pairs: &BTreeMap<String, String>) -> String {
    pairs
        .iter()
        .map(|(model, group)| format!("{model}={group}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_the_text_fields() {
        assert_eq!(parse_names(" a, b ,, c"), ["a", "b", "c"]);
        let pairs = parse_model_groups("gpt-4o=gpt-4o-mini, *=cheap").unwrap();
        assert_eq!(pairs["*"], "cheap");
        assert_eq!(
            parse_model_groups(&format_model_groups(&pairs)).unwrap(),
            pairs
        );
        assert!(parse_model_groups("gpt-4o")
            .unwrap_err()
            .contains("model=group"));
        assert!(parse_model_groups("a=b, a=c")
            .unwrap_err()
            .contains("twice"));
        let chains = parse_chains("gpt-4o: claude, mini; claude: gpt-4o").unwrap();
        assert_eq!(chains["gpt-4o"], ["claude", "mini"]);
        assert_eq!(parse_chains(&format_chains(&chains)).unwrap(), chains);
        assert!(parse_chains("gpt-4o claude").is_err());
        assert!(parse_chains("a: b; a: c")
            .unwrap_err()
            .contains("two chains"));
    }

    #[test]
    fn overrides_leave_out_what_was_not_changed() {
        let overrides = RouteOverrides {
            num_retries: Some(2),
            fallbacks: BTreeMap::from([("a".to_string(), None)]),
            ..RouteOverrides::default()
        };
        let json = serde_json::to_value(&overrides).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"num_retries": 2, "fallbacks": {"a": null}})
        );
        let back: RouteOverrides = serde_json::from_value(json).unwrap();
        assert_eq!(back, overrides);
        assert!(
            serde_json::from_value::<RouteOverrides>(serde_json::json!({"timeout": 3})).is_err()
        );
    }
}
