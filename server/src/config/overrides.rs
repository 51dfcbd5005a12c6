//! The console's route policy applied over config.yaml's routing: a changed setting replaces
//! the file's, a changed chain replaces the file's chain for that group only, a changed class
//! replaces (or removes) the file's class of that name.

use std::collections::BTreeMap;
use std::time::Duration;

use app::route_policy::{ClassPolicy, RouteOverrides};

use super::router::classes;
use super::router::{RouterSettings, RoutingStrategy};
use super::{ConfigError, Origin, Resolver};

/// What errors in the console's route policy are prefixed with.
const POLICY_PATH: &str = "route policy";

/// config.yaml's routing, before any class is built.
#[derive(Debug, Clone)]
pub struct RoutingBase {
    router: RouterSettings,
    classes: BTreeMap<String, ClassPolicy>,
}

impl RoutingBase {
    pub fn new(router: RouterSettings, classes: BTreeMap<String, ClassPolicy>) -> Self {
        RoutingBase { router, classes }
    }

    /// The request classes config.yaml defines.
    pub fn file_classes(&self) -> &BTreeMap<String, ClassPolicy> {
        &self.classes
    }

    /// config.yaml's router settings (without classes).
    pub fn file_router(&self) -> &RouterSettings {
        &self.router
    }

    /// The routing with the console's changes, or what is wrong with them.
    pub fn apply(&self, overrides: &RouteOverrides) -> Result<RouterSettings, ConfigError> {
        let resolver = Resolver {
            path: POLICY_PATH,
            overrides: &BTreeMap::new(),
            env: &|_| None,
            origin: Origin::Stored,
        };
        let mut router = self.router.clone();
        if let Some(name) = &overrides.routing_strategy {
            router.strategy = RoutingStrategy::parse(name)
                .map_err(|message| resolver.invalid("routing_strategy".into(), &message))?;
        }
        if let Some(retries) = overrides.num_retries {
            router.num_retries = retries;
        }
        if let Some(fails) = overrides.allowed_fails {
            router.allowed_fails = fails;
        }
        if let Some(seconds) = overrides.cooldown_time {
            router.cooldown = Duration::try_from_secs_f64(seconds).map_err(|_| {
                resolver.invalid(
                    "cooldown_time".into(),
                    "must be a number of seconds, zero or more",
                )
            })?;
        }
        if let Some(targets) = &overrides.default_fallbacks {
            router.fallbacks.default = targets.clone();
        }
        let chains = [
            (&mut router.fallbacks.general, &overrides.fallbacks),
            (
                &mut router.fallbacks.context_window,
                &overrides.context_window_fallbacks,
            ),
            (
                &mut router.fallbacks.content_policy,
                &overrides.content_policy_fallbacks,
            ),
        ];
        for (chains, changed) in chains {
            for (group, chain) in changed {
                match chain {
                    Some(targets) => chains.insert(group.clone(), targets.clone()),
                    None => chains.remove(group),
                };
            }
        }
        let classes = self.classes_with(overrides);
        router.classes = classes::classes(&classes, &router, &resolver)?;
        Ok(router)
    }

    /// The class policies in force: the file's, with the console's changes.
    pub fn classes_with(&self, overrides: &RouteOverrides) -> BTreeMap<String, ClassPolicy> {
        let mut classes = self.classes.clone();
        for (name, class) in &overrides.request_classes {
            match class {
                Some(class) => classes.insert(name.clone(), class.clone()),
                None => classes.remove(name),
            };
        }
        classes
    }
}

#[cfg(test)]
mod tests {
    use app::route_policy::DegradePolicy;

    use super::*;
    use crate::config::Config;

    fn base() -> RoutingBase {
        let config = Config::parse(
            "model_list:\n\
             - {model_name: a, litellm_params: {model: openai/a, api_base: 'http://a'}}\n\
             - {model_name: b, litellm_params: {model: openai/b, api_base: 'http://b'}}\n\
             router_settings:\n  num_retries: 2\n  fallbacks: [{a: [b]}, {b: [a]}]\n\
             request_classes:\n  cheap: {model_groups: {a: b}}\n  gold: {num_retries: 4}\n",
            "test.yaml",
            &|_| None,
        )
        .unwrap();
        config.routing_base
    }

    #[test]
    fn changes_replace_only_what_they_name() {
        let base = base();
        let unchanged = base.apply(&RouteOverrides::default()).unwrap();
        assert_eq!(unchanged.num_retries, 2);
        assert_eq!(unchanged.fallbacks.general["b"], ["a"]);
        assert!(unchanged.classes.get("cheap").is_some());

        let overrides = RouteOverrides {
            routing_strategy: Some("least-busy".into()),
            cooldown_time: Some(12.5),
            fallbacks: BTreeMap::from([("a".into(), None), ("c".into(), Some(vec!["b".into()]))]),
            request_classes: BTreeMap::from([
                ("cheap".into(), None),
                (
                    "fast".into(),
                    Some(ClassPolicy {
                        routing_strategy: Some("latency-based-routing".into()),
                        degrade: Some(DegradePolicy {
                            budget_used: 0.9,
                            to: "gold".into(),
                        }),
                        ..ClassPolicy::default()
                    }),
                ),
            ]),
            ..RouteOverrides::default()
        };
        let changed = base.apply(&overrides).unwrap();
        assert_eq!(changed.strategy, RoutingStrategy::LeastBusy);
        assert_eq!(changed.num_retries, 2);
        assert_eq!(changed.cooldown, Duration::from_millis(12_500));
        assert!(!changed.fallbacks.general.contains_key("a"));
        assert_eq!(changed.fallbacks.general["b"], ["a"]);
        assert_eq!(changed.fallbacks.general["c"], ["b"]);
        assert!(changed.classes.get("cheap").is_none());
        let fast = changed.classes.get("fast").unwrap();
        // A class is built over the changed router settings.
        assert_eq!(fast.settings.strategy, RoutingStrategy::LatencyBased);
        assert_eq!(fast.settings.cooldown, Duration::from_millis(12_500));
        assert_eq!(changed.classes.get("gold").unwrap().settings.num_retries, 4);
    }

    #[test]
    fn bad_changes_are_refused_with_the_field() {
        let base = base();
        let refused = |overrides: RouteOverrides| base.apply(&overrides).unwrap_err().to_string();
        assert!(refused(RouteOverrides {
            routing_strategy: Some("fastest".into()),
            ..RouteOverrides::default()
        })
        .contains("`fastest` is not a routing strategy"));
        assert!(refused(RouteOverrides {
            cooldown_time: Some(-1.0),
            ..RouteOverrides::default()
        })
        .contains("route policy: cooldown_time"));
        let degrade_to_nothing = RouteOverrides {
            request_classes: BTreeMap::from([(
                "gold".into(),
                Some(ClassPolicy {
                    degrade: Some(DegradePolicy {
                        budget_used: 0.5,
                        to: "cheap".into(),
                    }),
                    ..ClassPolicy::default()
                }),
            )]),
            ..RouteOverrides::default()
        };
        let mut removed = degrade_to_nothing.clone();
        removed.request_classes.insert("cheap".into(), None);
        assert!(base.apply(&degrade_to_nothing).is_ok());
        assert!(refused(removed).contains(
            "route policy: request_classes.gold.degrade.to: `cheap` is not a request class"
        ));
    }
}
