//! The Routes page's forms read into route policy changes: only what the admin changed from
//! the routing shown becomes an override, so config.yaml keeps deciding the rest.

use crate::route_policy::{
    parse_chains, parse_model_groups, parse_names, ClassPolicy, DegradePolicy, RouteGroupView,
    RouteOverrides, RouterSettingsView, STRATEGIES,
};

/// Most retries the page accepts for one request.
const MAX_RETRIES: u32 = 10;
/// Longest request class name.
const MAX_CLASS_NAME: usize = 64;

pub struct SettingsForm {
    pub routing_strategy: String,
    pub num_retries: String,
    pub allowed_fails: String,
    pub cooldown_time: String,
    pub default_fallbacks: String,
}

/// Records the router settings the form changes from those `shown`.
pub fn apply_settings(
    form: &SettingsForm,
    shown: &RouterSettingsView,
    overrides: &mut RouteOverrides,
) -> Result<(), String> {
    let strategy = form.routing_strategy.trim();
    if !STRATEGIES.contains(&strategy) {
        return Err(format!("`{strategy}` is not a routing strategy."));
    }
    let retries = whole_number("Retries", &form.num_retries)?;
    // config.yaml may say more; the page only refuses raising it past the cap.
    if retries > MAX_RETRIES && retries != shown.num_retries {
        return Err(format!("Retries: at most {MAX_RETRIES}."));
    }
    let fails = whole_number("Allowed fails", &form.allowed_fails)?;
    let cooldown: f64 = form
        .cooldown_time
        .trim()
        .parse()
        .ok()
        .filter(|seconds: &f64| seconds.is_finite() && *seconds >= 0.0)
        .ok_or("Cooldown: a number of seconds, zero or more.")?;
    let defaults = parse_names(&form.default_fallbacks);
    let changed = |name: &str, differs: bool| {
        differs || shown.changed_in_console.iter().any(|field| field == name)
    };
    if changed("routing_strategy", strategy != shown.strategy) {
        overrides.routing_strategy = Some(strategy.to_string());
    }
    if changed("num_retries", retries != shown.num_retries) {
        overrides.num_retries = Some(retries);
    }
    if changed("allowed_fails", fails != shown.allowed_fails) {
        overrides.allowed_fails = Some(fails);
    }
    if changed("cooldown_time", cooldown != shown.cooldown_seconds) {
        overrides.cooldown_time = Some(cooldown);
    }
    if changed("default_fallbacks", defaults != shown.default_fallbacks) {
        overrides.default_fallbacks = Some(defaults);
    }
    Ok(())
}

fn whole_number(field: &str, text: &str) -> Result<u32, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{field}: a whole number, zero or more."))
}

pub struct GroupForm {
    pub fallbacks: String,
    /// Not even `default_fallbacks`.
    pub no_fallbacks: bool,
    pub context_window_fallbacks: String,
    pub content_policy_fallbacks: String,
}

/// Records the group's chains the form changes from those `shown` (`default_set`: whether
/// `default_fallbacks` names any group). An empty general chain means the group uses
/// `default_fallbacks`; `no_fallbacks` gives it an empty chain of its own.
pub fn apply_group(
    form: &GroupForm,
    shown: &RouteGroupView,
    default_set: bool,
    overrides: &mut RouteOverrides,
) -> Result<(), String> {
    let group = &shown.name;
    let general = parse_names(&form.fallbacks);
    if form.no_fallbacks && !general.is_empty() {
        return Err("Either list fallbacks or tick \"No fallbacks\", not both.".into());
    }
    let wanted = if form.no_fallbacks {
        Some(Vec::new())
    } else if general.is_empty() {
        None
    } else {
        Some(general)
    };
    let current = (!shown.fallbacks.uses_default).then(|| shown.fallbacks.targets.clone());
    // Without default_fallbacks, no chain and an empty chain route alike.
    let routes_nowhere =
        |own: &Option<Vec<String>>| own.as_ref().map_or(!default_set, Vec::is_empty);
    if wanted != current && !(routes_nowhere(&wanted) && routes_nowhere(&current)) {
        set_chain(
            &mut overrides.fallbacks,
            group,
            wanted,
            shown.fallbacks.in_file,
        );
    }
    for (text, shown, chains) in [
        (
            &form.context_window_fallbacks,
            &shown.context_window_fallbacks,
            &mut overrides.context_window_fallbacks,
        ),
        (
            &form.content_policy_fallbacks,
            &shown.content_policy_fallbacks,
            &mut overrides.content_policy_fallbacks,
        ),
    ] {
        let targets = parse_names(text);
        if targets != shown.targets {
            let wanted = (!targets.is_empty()).then_some(targets);
            set_chain(chains, group, wanted, shown.in_file);
        }
    }
    Ok(())
}

/// Records a group's chain; no chain where config.yaml has none needs no override at all.
fn set_chain(
    chains: &mut std::collections::BTreeMap<String, Option<Vec<String>>>,
    group: &str,
    wanted: Option<Vec<String>>,
    in_file: bool,
) {
    if wanted.is_none() && !in_file {
        chains.remove(group);
    } else {
        chains.insert(group.to_string(), wanted);
    }
}

pub struct ClassForm {
    pub name: String,
    pub is_default: bool,
    pub routing_strategy: String,
    pub num_retries: String,
    pub model_groups: String,
    pub fallbacks: String,
    /// Percent of the budget.
    pub degrade_at: String,
    pub degrade_to: String,
}

/// The class the form describes, with its name.
pub fn class_policy(form: &ClassForm) -> Result<(String, ClassPolicy), String> {
    let name = form.name.trim();
    let valid_name = !name.is_empty()
        && name.len() <= MAX_CLASS_NAME
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "._-".contains(ch));
    if !valid_name {
        return Err(format!(
            "Class name: letters, digits, `.`, `_` and `-`, at most {MAX_CLASS_NAME} characters."
        ));
    }
    let routing_strategy = match form.routing_strategy.trim() {
        "" => None,
        strategy if STRATEGIES.contains(&strategy) => Some(strategy.to_string()),
        strategy => return Err(format!("`{strategy}` is not a routing strategy.")),
    };
    let num_retries = match form.num_retries.trim() {
        "" => None,
        text => Some(whole_number("Retries", text)?).filter(|retries| *retries <= MAX_RETRIES),
    };
    if num_retries.is_none() && !form.num_retries.trim().is_empty() {
        return Err(format!("Retries: at most {MAX_RETRIES}."));
    }
    let model_groups = parse_model_groups(&form.model_groups)?;
    let fallbacks = match form.fallbacks.trim() {
        "" => None,
        text => Some(
            parse_chains(text)?
                .into_iter()
                .map(|(group, targets)| [(group, targets)].into_iter().collect())
                .collect(),
        ),
    };
    let degrade = match (form.degrade_at.trim(), form.degrade_to.trim()) {
        ("", "") => None,
        ("", _) | (_, "") => {
            return Err(
                "Degrade: give both the share of the budget and the class to move to.".into(),
            )
        }
        (percent, to) => {
            let percent: f64 = percent
                .trim_end_matches('%')
                .trim()
                .parse()
                .ok()
                .filter(|percent: &f64| *percent > 0.0 && *percent <= 100.0)
                .ok_or("Degrade at: a percentage of the budget above 0 and at most 100.")?;
            Some(DegradePolicy {
                budget_used: percent / 100.0,
                to: to.to_string(),
            })
        }
    };
    Ok((
        name.to_string(),
        ClassPolicy {
            default: form.is_default,
            model_groups,
            routing_strategy,
            num_retries,
            fallbacks,
            degrade,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route_policy::{ChainView, Source};

    fn settings() -> RouterSettingsView {
        RouterSettingsView {
            strategy: "simple-shuffle".into(),
            num_retries: 2,
            allowed_fails: 3,
            cooldown_seconds: 5.0,
            cooldowns_enabled: true,
            default_fallbacks: vec![],
            max_fallbacks: 5,
            changed_in_console: vec!["allowed_fails".into()],
        }
    }

    fn form(strategy: &str, retries: &str) -> SettingsForm {
        SettingsForm {
            routing_strategy: strategy.into(),
            num_retries: retries.into(),
            allowed_fails: "3".into(),
            cooldown_time: "5".into(),
            default_fallbacks: String::new(),
        }
    }

    #[test]
    fn only_changed_settings_become_overrides() {
        let mut overrides = RouteOverrides::default();
        apply_settings(&form("least-busy", "2"), &settings(), &mut overrides).unwrap();
        assert_eq!(overrides.routing_strategy.as_deref(), Some("least-busy"));
        assert_eq!(overrides.num_retries, None);
        // Changed in the console before: kept as an override.
        assert_eq!(overrides.allowed_fails, Some(3));
        assert_eq!(overrides.cooldown_time, None);
        let refused = |form: SettingsForm| {
            apply_settings(&form, &settings(), &mut RouteOverrides::default()).unwrap_err()
        };
        assert!(refused(form("fastest", "1")).contains("not a routing strategy"));
        assert!(refused(form("least-busy", "-1")).contains("Retries"));
        assert!(refused(form("least-busy", "11")).contains("at most 10"));
    }

    fn group(targets: &[&str], uses_default: bool) -> RouteGroupView {
        let chain = |targets: &[&str]| ChainView {
            targets: targets.iter().map(|t| t.to_string()).collect(),
            uses_default: false,
            source: Source::ConfigFile,
            in_file: !targets.is_empty(),
        };
        RouteGroupView {
            name: "g".into(),
            mode: Some("chat".into()),
            deployments: vec![],
            fallbacks: ChainView {
                uses_default,
                ..chain(targets)
            },
            context_window_fallbacks: chain(&["big"]),
            content_policy_fallbacks: chain(&[]),
        }
    }

    fn group_form(fallbacks: &str, no_fallbacks: bool, context: &str) -> GroupForm {
        GroupForm {
            fallbacks: fallbacks.into(),
            no_fallbacks,
            context_window_fallbacks: context.into(),
            content_policy_fallbacks: String::new(),
        }
    }

    #[test]
    fn a_groups_changed_chains_become_overrides() {
        let applied = |form: GroupForm, shown: RouteGroupView, default_fallbacks: bool| {
            let mut overrides = RouteOverrides::default();
            apply_group(&form, &shown, default_fallbacks, &mut overrides).unwrap();
            overrides
        };
        let same = applied(
            group_form("a, b", false, "big"),
            group(&["a", "b"], false),
            true,
        );
        assert_eq!(same, RouteOverrides::default());
        // No chain and an empty one route alike without default_fallbacks.
        let empty = applied(group_form("", true, "big"), group(&[], false), false);
        assert_eq!(empty, RouteOverrides::default());

        let changed = applied(group_form("b", false, ""), group(&["a", "b"], false), true);
        assert_eq!(changed.fallbacks["g"], Some(vec!["b".to_string()]));
        assert_eq!(changed.context_window_fallbacks["g"], None);

        // Blank: the default chain; with "no fallbacks", an empty chain of its own.
        let to_default = applied(group_form("", false, "big"), group(&["a"], false), true);
        assert_eq!(to_default.fallbacks["g"], None);
        let none = applied(group_form("", true, "big"), group(&["d"], true), true);
        assert_eq!(none.fallbacks["g"], Some(vec![]));
        let unchanged = applied(group_form("", false, "big"), group(&["d"], true), true);
        assert!(unchanged.fallbacks.is_empty());

        // Removing a chain config.yaml never had leaves no override behind.
        let mut console_only = RouteOverrides::default();
        console_only
            .context_window_fallbacks
            .insert("g".into(), Some(vec!["big".into()]));
        let mut shown = group(&["a"], false);
        shown.context_window_fallbacks.in_file = false;
        apply_group(&group_form("a", false, ""), &shown, true, &mut console_only).unwrap();
        assert!(console_only.context_window_fallbacks.is_empty());
        // Targets and "no fallbacks" together are refused.
        assert!(apply_group(
            &group_form("a", true, "big"),
            &group(&["a"], false),
            true,
            &mut RouteOverrides::default()
        )
        .unwrap_err()
        .contains("not both"));
    }

    #[test]
    fn reads_a_class() {
        let (name, class) = class_policy(&ClassForm {
            name: "batch-cheap".into(),
            is_default: false,
            routing_strategy: "cost-based-routing".into(),
            num_retries: String::new(),
            model_groups: "*=mini".into(),
            fallbacks: "mini: claude".into(),
            degrade_at: "80%".into(),
            degrade_to: "standard".into(),
        })
        .unwrap();
        assert_eq!(name, "batch-cheap");
        assert_eq!(class.model_groups["*"], "mini");
        assert_eq!(class.num_retries, None);
        assert_eq!(
            class.fallbacks,
            Some(vec![[("mini".to_string(), vec!["claude".to_string()])]
                .into_iter()
                .collect()])
        );
        assert_eq!(
            class.degrade,
            Some(DegradePolicy {
                budget_used: 0.8,
                to: "standard".into()
            })
        );
        let refused = |name: &str, degrade_at: &str| {
            class_policy(&ClassForm {
                name: name.into(),
                is_default: false,
                routing_strategy: String::new(),
                num_retries: String::new(),
                model_groups: String::new(),
                fallbacks: String::new(),
                degrade_at: degrade_at.into(),
                degrade_to: "x".into(),
            })
            .unwrap_err()
        };
        assert!(refused("bad name", "50").contains("Class name"));
        assert!(refused("ok", "150").contains("percentage"));
        assert!(refused("ok", "").contains("both"));
    }
}
