//! Model groups: the `model_list` entries that share a `model_name`, and which deployment
//! serves the next request: only deployments whose declared capabilities cover the request,
//! that are not cooling down, in the best priority tier (`order`), chosen by the strategy.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::config::RoutingStrategy;
use crate::core::access_groups::AccessGroups;
use crate::core::capabilities::{Missing, Needs};
use crate::core::health::Availability;
use crate::core::wildcard;
use crate::providers::Deployment;
use strategy::RequestShape;

pub mod attempts;
pub mod health_checks;
pub mod live;
pub mod overrides;
pub mod policy_check;
pub mod redis_cooldowns;
pub mod redis_usage;
pub mod retry;
pub mod strategy;

/// Why a group has no deployment for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoDeployment {
    /// None of its deployments can serve this kind of request (the first one's gap).
    Missing(Missing),
    /// Every capable deployment is cooling down or at its usage limit; the first recovers in
    /// about this long.
    Unavailable { retry_in: Duration },
}

pub struct ModelGroup {
    deployments: Vec<Arc<Deployment>>,
    turn: AtomicUsize,
}

impl ModelGroup {
    /// The group's deployments, in config order.
    pub fn deployments(&self) -> &[Arc<Deployment>] {
        &self.deployments
    }

    /// The deployment to try next for a request with these needs. Deployments in `tried`
    /// (ids) are passed over while any other is available. A deployment whose cooldown ended
    /// is probed by one request before it takes traffic again.
    pub fn pick(
        &self,
        needs: &Needs,
        strategy: RoutingStrategy,
        tried: &[String],
    ) -> Result<Arc<Deployment>, NoDeployment> {
        // A group of one healthy deployment has nothing to choose (usage-based routing still
        // checks its limits below).
        if let [only] = self.deployments.as_slice() {
            if strategy != RoutingStrategy::UsageBased
                && only.state.availability() == Availability::Healthy
                && only.capabilities.missing(needs).is_none()
            {
                only.state.count_request();
                return Ok(only.clone());
            }
        }
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        let mut first_missing = None;
        let mut capable = Vec::with_capacity(self.deployments.len());
        for deployment in &self.deployments {
            match deployment.capabilities.missing(needs) {
                None => capable.push(deployment),
                Some(missing) => {
                    first_missing.get_or_insert(missing);
                }
            }
        }
        if capable.is_empty() {
            return Err(NoDeployment::Missing(
                first_missing.unwrap_or(Missing::Mode(needs.mode)),
            ));
        }
        let mut soonest = Duration::MAX;
        let mut available = Vec::with_capacity(capable.len());
        for deployment in capable {
            match deployment.state.availability() {
                Availability::CoolingDown(left) => soonest = soonest.min(left),
                Availability::Probing => soonest = soonest.min(Duration::from_secs(1)),
                Availability::Healthy | Availability::HalfOpen => available.push(deployment),
            }
        }
        let untried: Vec<&Arc<Deployment>> = available
            .iter()
            .copied()
            .filter(|deployment| !tried.contains(&deployment.id))
            .collect();
        let mut pool = if untried.is_empty() {
            available
        } else {
            untried
        };
        let shape = RequestShape {
            stream: needs.streaming,
        };
        while !pool.is_empty() {
            let tier = pool
                .iter()
                .map(|deployment| deployment.balance.order.unwrap_or(u32::MAX))
                .min()
                .unwrap_or(u32::MAX);
            let (in_tier, rest): (Vec<_>, Vec<_>) = pool
                .into_iter()
                .partition(|deployment| deployment.balance.order.unwrap_or(u32::MAX) == tier);
            if let Some(chosen) = choose_in_tier(&in_tier, strategy, shape, turn) {
                chosen.state.count_request();
                return Ok(chosen.clone());
            }
            pool = rest;
        }
        if soonest == Duration::MAX {
            // Every available deployment is at its rpm/tpm limit: the next minute resets it.
            soonest = Duration::from_secs(60);
        }
        Err(NoDeployment::Unavailable { retry_in: soonest })
    }
}

/// A half-open deployment of the tier takes its probe first; otherwise the strategy chooses
/// among the healthy ones.
fn choose_in_tier<'a>(
    tier: &[&'a Arc<Deployment>],
    strategy: RoutingStrategy,
    shape: RequestShape,
    turn: usize,
) -> Option<&'a Arc<Deployment>> {
    for deployment in tier {
        if deployment.state.availability() == Availability::HalfOpen
            && deployment.state.take_probe()
        {
            return Some(deployment);
        }
    }
    let healthy: Vec<&Arc<Deployment>> = tier
        .iter()
        .copied()
        .filter(|deployment| deployment.state.availability() == Availability::Healthy)
        .collect();
    if healthy.is_empty() {
        return None;
    }
    strategy::choose(strategy, &healthy, shape, turn).map(|index| healthy[index])
}

/// Most distinct models a generation of groups keeps resolved through wildcards; beyond it,
/// the least used are built again when next asked for.
const RESOLVED_WILDCARD_MODELS: u64 = 1024;
/// The longest model name a wildcard pattern serves.
const MAX_WILDCARD_MODEL_LEN: usize = 256;

/// Every public model name, in name order, and the wildcard patterns among them.
pub struct ModelGroups {
    groups: BTreeMap<String, ModelGroup>,
    /// The model names of each access group (`model_info.access_groups`).
    access: AccessGroups,
    /// Names with a `*` (`anthropic/*`), most specific first.
    patterns: Vec<String>,
    /// Models asked for that matched a pattern, each with its group.
    resolved: moka::sync::Cache<String, Arc<ModelGroup>>,
}

impl Default for ModelGroups {
    fn default() -> Self {
        ModelGroups::new([])
    }
}

/// A model group as a request sees it: named in the config, or made for a model a wildcard
/// pattern matched.
pub enum GroupRef<'a> {
    Named(&'a ModelGroup),
    Resolved(Arc<ModelGroup>),
}

impl std::ops::Deref for GroupRef<'_> {
    type Target = ModelGroup;

    fn deref(&self) -> &ModelGroup {
        match self {
            GroupRef::Named(group) => group,
            GroupRef::Resolved(group) => group,
        }
    }
}

impl ModelGroups {
    pub fn new(deployments: impl IntoIterator<Item = Arc<Deployment>>) -> Self {
        let mut groups: BTreeMap<String, ModelGroup> = BTreeMap::new();
        let mut access = AccessGroups::default();
        for deployment in deployments {
            for access_group in &deployment.access_groups {
                access.add(access_group, &deployment.model_group);
            }
            groups
                .entry(deployment.model_group.clone())
                .or_insert_with(|| ModelGroup {
                    deployments: Vec::new(),
                    turn: AtomicUsize::new(0),
                })
                .deployments
                .push(deployment);
        }
        let mut patterns: Vec<String> = groups
            .keys()
            .filter(|name| name.contains('*'))
            .cloned()
            .collect();
        patterns.sort_by_key(|pattern| std::cmp::Reverse(wildcard::specificity(pattern)));
        ModelGroups {
            groups,
            access,
            patterns,
            resolved: moka::sync::Cache::new(RESOLVED_WILDCARD_MODELS),
        }
    }

    /// Which models each access group holds.
    pub fn access(&self) -> &AccessGroups {
        &self.access
    }

    /// The group serving `model`: the one of that name, else one made from the most specific
    /// wildcard pattern it matches (kept for the next request). A pattern itself is not a
    /// model: asking for `anthropic/*` finds nothing.
    pub fn get(&self, model: &str) -> Option<GroupRef<'_>> {
        if self.patterns.is_empty() || !model.contains('*') {
            if let Some(group) = self.groups.get(model) {
                return Some(GroupRef::Named(group));
            }
        }
        if self.patterns.is_empty() {
            return None;
        }
        if let Some(group) = self.resolved.get(model) {
            return Some(GroupRef::Resolved(group));
        }
        let (pattern, captured) = self.matching_pattern(model)?;
        let deployments: Vec<Arc<Deployment>> = self.groups[pattern]
            .deployments
            .iter()
            .filter_map(|template| {
                let recipe = template.wildcard.as_ref()?;
                recipe.specialize(template, model, &captured)
                    .map_err(|error| {
                        tracing::warn!(deployment = %template.id, model, "wildcard cannot serve the model: {error}");
                    })
                    .ok()
                    .map(Arc::new)
            })
            .collect();
        if deployments.is_empty() {
            return None;
        }
        let group = Arc::new(ModelGroup {
            deployments,
            turn: AtomicUsize::new(0),
        });
        self.resolved.insert(model.to_string(), group.clone());
        Some(GroupRef::Resolved(group))
    }

    /// The most specific pattern `model` matches, with what its `*`s matched. Only names of
    /// model-id characters (letters, digits, `.`, `_`, `-`, `:`, `@`, `/`, no `..`) up to
    /// 256 long are matched: what a `*` matched becomes part of an upstream URL.
    fn matching_pattern<'m>(&self, model: &'m str) -> Option<(&String, Vec<&'m str>)> {
        let safe = model.len() <= MAX_WILDCARD_MODEL_LEN
            && !model.contains("..")
            && model
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "._-:@/".contains(ch));
        if !safe {
            return None;
        }
        self.patterns.iter().find_map(|pattern| {
            wildcard::captures(pattern, model).map(|captured| (pattern, captured))
        })
    }

    /// Whether `model` is served: by name, or through a wildcard pattern.
    pub fn serves(&self, model: &str) -> bool {
        (!model.contains('*') && self.groups.contains_key(model))
            || self.matching_pattern(model).is_some()
    }

    /// The names in the config (wildcard patterns as written), in name order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.groups.keys().map(String::as_str)
    }

    /// The deployments of the group named `name` in the config.
    pub fn named(&self, name: &str) -> Option<&ModelGroup> {
        self.groups.get(name)
    }

    /// The deployment with this id, in whichever group.
    pub fn deployment(&self, id: &str) -> Option<&Arc<Deployment>> {
        self.deployments().find(|deployment| deployment.id == id)
    }

    /// Every deployment, group by group.
    pub fn deployments(&self) -> impl Iterator<Item = &Arc<Deployment>> {
        self.groups
            .values()
            .flat_map(|group| group.deployments.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::core::capabilities::Mode;

    #[test]
    fn groups_share_a_name_and_a_retry_prefers_an_untried_deployment() {
        let config = Config::parse(
            "model_list:\n\
             - {model_name: a, litellm_params: {model: openai/a, api_base: 'http://one'}}\n\
             - {model_name: a, litellm_params: {model: openai/a, api_base: 'http://two'}}\n\
             - {model_name: b, litellm_params: {model: openai/b, api_base: 'http://three'}}\n",
            "test",
            &|_| None,
        )
        .unwrap();
        let groups = ModelGroups::new(config.deployments.into_iter().map(Arc::new));
        assert_eq!(groups.names().collect::<Vec<_>>(), ["a", "b"]);
        let group = groups.get("a").unwrap();
        for _ in 0..10 {
            let first = group
                .pick(&chat(), RoutingStrategy::SimpleShuffle, &[])
                .unwrap();
            let second = group
                .pick(
                    &chat(),
                    RoutingStrategy::SimpleShuffle,
                    std::slice::from_ref(&first.id),
                )
                .unwrap();
            assert_ne!(first.api_base, second.api_base);
            let both = [first.id.clone(), second.id.clone()];
            // With every deployment tried, a retry may go back to one of them.
            assert!(group
                .pick(&chat(), RoutingStrategy::SimpleShuffle, &both)
                .is_ok());
        }
        assert!(groups.get("c").is_none());
    }

    fn chat() -> Needs {
        Needs {
            mode: Mode::Chat,
            streaming: false,
            tools: false,
            parallel_tool_calls: false,
            vision: false,
            json_schema: false,
            prompt_tokens: 1,
        }
    }

    #[test]
    fn only_capable_deployments_are_picked() {
        let config = Config::parse(
            "model_list:\n\
             - {model_name: a, litellm_params: {model: openai/x, api_base: 'http://plain'}, model_info: {supports_function_calling: false}}\n\
             - {model_name: a, litellm_params: {model: openai/y, api_base: 'http://tools'}}\n\
             - {model_name: b, litellm_params: {model: openai/z, api_base: 'http://none'}, model_info: {supports_function_calling: false}}\n",
            "test",
            &|_| None,
        )
        .unwrap();
        let groups = ModelGroups::new(config.deployments.into_iter().map(Arc::new));
        let with_tools = Needs {
            tools: true,
            ..chat()
        };
        for _ in 0..4 {
            let picked = groups
                .get("a")
                .unwrap()
                .pick(&with_tools, RoutingStrategy::SimpleShuffle, &[])
                .unwrap();
            assert_eq!(picked.api_base, "http://tools");
        }
        assert_eq!(
            groups
                .get("b")
                .unwrap()
                .pick(&with_tools, RoutingStrategy::SimpleShuffle, &[])
                .unwrap_err(),
            NoDeployment::Missing(Missing::Tools)
        );
    }
}
