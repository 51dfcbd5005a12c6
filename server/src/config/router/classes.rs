//! Request classes (`request_classes`, Gatehouse's own section): a request's business class —
//! pinned by its key's metadata, or asked for by a header or a tag — chooses its route policy:
//! the group that serves each model, the strategy, retries and fallbacks. A class can degrade to
//! a cheaper one once the key's spend passes a fraction of its budget.

use std::collections::BTreeMap;
use std::sync::Arc;

use app::route_policy::ClassPolicy;

use super::{merged, RouterSettings, RoutingStrategy};
use crate::config::{ConfigError, Resolver};

/// The model key of `model_groups` that stands for every model the class does not name.
const EVERY_OTHER_MODEL: &str = "*";

/// One class's route policy.
#[derive(Debug, PartialEq)]
pub struct RequestClass {
    pub name: String,
    /// The group that serves a requested model in this class (`*`: every model not named).
    model_groups: BTreeMap<String, String>,
    /// The router settings with the class's strategy, retries and fallbacks.
    pub settings: Arc<RouterSettings>,
    pub degrade: Option<Degrade>,
}

/// Where a class's traffic goes once the budget is mostly spent.
#[derive(Debug, Clone, PartialEq)]
pub struct Degrade {
    pub budget_used: f64,
    pub to: String,
}

impl RequestClass {
    /// Requested model → the group that serves it in this class (`*`: every other model).
    pub fn model_groups(&self) -> &BTreeMap<String, String> {
        &self.model_groups
    }

    /// The group that serves `model` in this class.
    pub fn group_for<'a>(&'a self, model: &'a str) -> &'a str {
        self.model_groups
            .get(model)
            .or_else(|| self.model_groups.get(EVERY_OTHER_MODEL))
            .map_or(model, String::as_str)
    }
}

/// Every class, and the one a request gets when nothing chooses one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestClasses {
    classes: BTreeMap<String, Arc<RequestClass>>,
    default: Option<Arc<RequestClass>>,
}

/// What a request says about its class.
#[derive(Debug, Default, Clone, Copy)]
pub struct ClassHints<'a> {
    /// The key's `metadata.request_class`: it pins the class, whatever the request asks.
    pub pinned: Option<&'a str>,
    /// The `x-gatehouse-request-class` header.
    pub asked: Option<&'a str>,
    /// The request's tags (`x-litellm-tags`) and then the key's (`metadata.tags`).
    pub tags: &'a [&'a str],
}

/// The class a request runs in, whether it got there by degrading, and whether its caller (a
/// header, a tag or the key's pinned class, not the config's default) chose it.
#[derive(Debug, Clone)]
pub struct ChosenClass {
    pub class: Arc<RequestClass>,
    pub degraded: bool,
    /// A caller chose it (the request, or the key's pinned class): the key must be allowed
    /// the group it routes to. Only the operator's default and degrading are exempt.
    pub chosen_by_caller: bool,
}

impl RequestClasses {
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&Arc<RequestClass>> {
        self.classes.get(name)
    }

    /// Every class, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<RequestClass>> {
        self.classes.values()
    }

    fn named(&self, name: &str) -> Result<&Arc<RequestClass>, String> {
        self.classes
            .get(name)
            .ok_or_else(|| format!("`{name}` is not a request class"))
    }

    /// The request's class: the key's pinned class, else the one the header asks for, else the
    /// first tag naming a class, else the default class. Then, while the class degrades at a
    /// budget share the key has spent (`budget_used`, 0–1), the class it degrades to. A class
    /// the request asked for cannot escape degrading: once the default class would degrade,
    /// the request runs where the default degrades to. A name that is not a class is the error.
    pub fn choose(
        &self,
        hints: ClassHints<'_>,
        budget_used: Option<f64>,
    ) -> Result<Option<ChosenClass>, String> {
        let (start, asked_by_request) = match hints.pinned {
            Some(name) => (self.named(name)?, false),
            None => {
                let asked = match hints.asked {
                    Some(name) => Some(self.named(name)?),
                    None => hints.tags.iter().find_map(|tag| self.classes.get(*tag)),
                };
                match (asked, &self.default) {
                    (Some(class), _) => (class, true),
                    (None, Some(default)) => (default, false),
                    (None, None) => return Ok(None),
                }
            }
        };
        let mut chosen = self.degraded(start, budget_used);
        if asked_by_request && !chosen.degraded {
            if let Some(default) = &self.default {
                let floor = self.degraded(default, budget_used);
                if floor.degraded {
                    chosen = floor;
                }
            }
        }
        chosen.chosen_by_caller = (asked_by_request || hints.pinned.is_some()) && !chosen.degraded;
        Ok(Some(chosen))
    }

    /// `class`, or the class its degrade chain reaches at this budget share.
    fn degraded(&self, class: &Arc<RequestClass>, budget_used: Option<f64>) -> ChosenClass {
        let mut class = class.clone();
        let mut degraded = false;
        // Degrade chains have no cycles (checked at load), so this ends.
        while let (Some(degrade), Some(used)) = (&class.degrade, budget_used) {
            if used < degrade.budget_used {
                break;
            }
            let Some(next) = self.classes.get(&degrade.to) else {
                break;
            };
            class = next.clone();
            degraded = true;
        }
        ChosenClass {
            class,
            degraded,
            chosen_by_caller: false,
        }
    }
}

/// Builds the classes over the router settings and checks them: degrade targets exist, degrade
/// chains end, at most one default.
pub(in crate::config) fn classes(
    raw: &BTreeMap<String, ClassPolicy>,
    router: &RouterSettings,
    resolver: &Resolver<'_>,
) -> Result<RequestClasses, ConfigError> {
    let field = |name: &str, key: &str| format!("request_classes.{name}.{key}");
    let mut classes = BTreeMap::new();
    let mut default = None;
    for (name, class) in raw {
        if let Some(degrade) = &class.degrade {
            if !(degrade.budget_used > 0.0 && degrade.budget_used <= 1.0) {
                return Err(resolver.invalid(
                    field(name, "degrade.budget_used"),
                    "must be a fraction of the budget above 0 and at most 1",
                ));
            }
            if !raw.contains_key(&degrade.to) {
                return Err(resolver.invalid(
                    field(name, "degrade.to"),
                    &format!("`{}` is not a request class", degrade.to),
                ));
            }
        }
        if class.default {
            if let Some(other) = &default {
                return Err(resolver.invalid(
                    field(name, "default"),
                    &format!("`{other}` is already the default class"),
                ));
            }
            default = Some(name.clone());
        }
        let mut settings = router.clone();
        if let Some(strategy) = &class.routing_strategy {
            settings.strategy = RoutingStrategy::parse(strategy)
                .map_err(|message| resolver.invalid(field(name, "routing_strategy"), &message))?;
        }
        if let Some(retries) = class.num_retries {
            settings.num_retries = retries;
        }
        if let Some(fallbacks) = &class.fallbacks {
            settings.fallbacks.general = merged(Some(fallbacks.clone()));
        }
        classes.insert(
            name.clone(),
            Arc::new(RequestClass {
                name: name.clone(),
                model_groups: class.model_groups.clone(),
                settings: Arc::new(settings),
                degrade: class.degrade.as_ref().map(|degrade| Degrade {
                    budget_used: degrade.budget_used,
                    to: degrade.to.clone(),
                }),
            }),
        );
    }
    for name in raw.keys() {
        let mut seen = vec![name.as_str()];
        let mut at = name.as_str();
        while let Some(next) = raw[at].degrade.as_ref().map(|degrade| degrade.to.as_str()) {
            if seen.contains(&next) {
                return Err(resolver.invalid(
                    field(name, "degrade.to"),
                    &format!(
                        "degrading goes round in a circle: {} → {next}",
                        seen.join(" → ")
                    ),
                ));
            }
            seen.push(next);
            at = next;
        }
    }
    Ok(RequestClasses {
        default: default.and_then(|name| classes.get(&name).cloned()),
        classes,
    })
}

impl RequestClasses {
    /// Every group a class routes a model to, with where it is named.
    pub fn named_groups(&self) -> Vec<(String, &str)> {
        let mut named = Vec::new();
        for class in self.classes.values() {
            for group in class.model_groups.values() {
                named.push((
                    format!("request_classes.{}.model_groups", class.name),
                    group.as_str(),
                ));
            }
        }
        named
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const GROUPS: &str = "model_list:\n\
        - {model_name: gpt-4o, litellm_params: {model: openai/gpt-4o, api_base: 'http://a'}}\n\
        - {model_name: gpt-4o-mini, litellm_params: {model: openai/gpt-4o-mini, api_base: 'http://b'}}\n\
        router_settings: {num_retries: 1, fallbacks: [{gpt-4o: [gpt-4o-mini]}]}\n";

    fn parse(classes: &str) -> Result<Config, ConfigError> {
        Config::parse(
            &format!("{GROUPS}request_classes:\n{classes}"),
            "test.yaml",
            &|_| None,
        )
    }

    const CLASSES: &str = "  realtime-critical:\n    routing_strategy: latency-based-routing\n    num_retries: 3\n    degrade: {budget_used: 0.8, to: standard}\n\
        \x20 standard:\n    default: true\n    degrade: {budget_used: 0.95, to: batch-cheap}\n\
        \x20 batch-cheap:\n    model_groups: {gpt-4o: gpt-4o-mini}\n    routing_strategy: cost-based-routing\n    fallbacks: []\n\
        \x20 high-quality: {}\n";

    fn chosen(
        classes: &RequestClasses,
        hints: ClassHints<'_>,
        used: Option<f64>,
    ) -> (String, bool) {
        let chosen = classes.choose(hints, used).unwrap().unwrap();
        (chosen.class.name.clone(), chosen.degraded)
    }

    #[test]
    fn classes_override_the_router_settings_they_name() {
        let config = parse(CLASSES).unwrap();
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        let classes = &config.router.classes;
        let realtime = classes.get("realtime-critical").unwrap();
        assert_eq!(realtime.settings.strategy, RoutingStrategy::LatencyBased);
        assert_eq!(realtime.settings.num_retries, 3);
        assert_eq!(realtime.settings.fallbacks, config.router.fallbacks);
        assert_eq!(realtime.group_for("gpt-4o"), "gpt-4o");
        let cheap = classes.get("batch-cheap").unwrap();
        assert_eq!(cheap.group_for("gpt-4o"), "gpt-4o-mini");
        assert_eq!(cheap.group_for("other"), "other");
        assert_eq!(cheap.settings.num_retries, 1);
        assert!(cheap.settings.fallbacks.general.is_empty());
    }

    #[test]
    fn the_key_pins_then_the_header_then_a_tag_then_the_default_chooses() {
        let config = parse(CLASSES).unwrap();
        let classes = &config.router.classes;
        let hints = |pinned, asked, tags| ClassHints {
            pinned,
            asked,
            tags,
        };
        assert_eq!(
            chosen(
                classes,
                hints(Some("batch-cheap"), Some("realtime-critical"), &[]),
                None
            ),
            ("batch-cheap".into(), false)
        );
        assert_eq!(
            chosen(
                classes,
                hints(None, Some("realtime-critical"), &["batch-cheap"]),
                None
            ),
            ("realtime-critical".into(), false)
        );
        assert_eq!(
            chosen(classes, hints(None, None, &["team-x", "batch-cheap"]), None),
            ("batch-cheap".into(), false)
        );
        assert_eq!(
            chosen(classes, hints(None, None, &["team-x"]), None),
            ("standard".into(), false)
        );
        assert_eq!(
            classes
                .choose(hints(None, Some("gold"), &[]), None)
                .unwrap_err(),
            "`gold` is not a request class"
        );
    }

    #[test]
    fn a_spent_budget_degrades_along_the_chain() {
        let config = parse(CLASSES).unwrap();
        let classes = &config.router.classes;
        let asked = ClassHints {
            asked: Some("realtime-critical"),
            ..ClassHints::default()
        };
        assert_eq!(
            chosen(classes, asked, Some(0.79)),
            ("realtime-critical".into(), false)
        );
        assert_eq!(chosen(classes, asked, Some(0.8)), ("standard".into(), true));
        assert_eq!(
            chosen(classes, asked, Some(0.97)),
            ("batch-cheap".into(), true)
        );
        // No budget, nothing to degrade on.
        assert_eq!(
            chosen(classes, asked, None),
            ("realtime-critical".into(), false)
        );
    }

    #[test]
    fn bad_classes_are_refused_with_the_field() {
        let refused = |classes: &str| parse(classes).unwrap_err().to_string();
        assert!(refused("  a: {degrade: {budget_used: 0.5, to: b}}\n")
            .contains("request_classes.a.degrade.to: `b` is not a request class"));
        assert!(refused("  a: {degrade: {budget_used: 1.5, to: a}}\n")
            .contains("request_classes.a.degrade.budget_used"));
        assert!(refused(
            "  a: {degrade: {budget_used: 0.5, to: b}}\n  b: {degrade: {budget_used: 0.9, to: a}}\n"
        )
        .contains("round in a circle: a → b → a"));
        assert!(refused("  a: {default: true}\n  b: {default: true}\n")
            .contains("`a` is already the default class"));
        assert!(refused("  a: {strategy: x}\n").contains("unknown field `strategy`"));
        let unknown_group = parse("  a: {model_groups: {gpt-4o: gpt-5}}\n").unwrap();
        assert_eq!(
            unknown_group.warnings,
            ["test.yaml: request_classes.a.model_groups: `gpt-5` is not served by any model_list entry"]
        );
    }
}
