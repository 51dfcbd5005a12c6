//! What is wrong with a routing against the model groups served now: fallbacks to groups no
//! deployment serves, chains that go round in a circle, fallbacks to a group serving another
//! kind of request, context-window fallbacks to no larger context, and request classes routing
//! to missing or incompatible groups. The Routes page refuses a change that adds any of these.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::config::{FallbackKind, Fallbacks, RouterSettings};
use crate::core::capabilities::Mode;
use crate::routing::ModelGroups;

/// Every problem of `settings` against `groups`, each a sentence naming the groups involved.
pub fn problems(settings: &RouterSettings, groups: &ModelGroups) -> Vec<String> {
    let mut problems = Vec::new();
    chain_problems("", &settings.fallbacks, groups, &mut problems);
    for target in &settings.fallbacks.default {
        if !groups.serves(target) {
            problems.push(format!(
                "default_fallbacks: `{target}` is not served by any deployment"
            ));
        }
    }
    for class in settings.classes.iter() {
        for (model, group) in class.model_groups() {
            if !groups.serves(group) {
                problems.push(format!(
                    "request class `{}`: `{model}` goes to `{group}`, which no deployment serves",
                    class.name
                ));
            } else if let Some(problem) = mode_mismatch(groups, model, group) {
                problems.push(format!("request class `{}`: {problem}", class.name));
            }
        }
        let own = &class.settings.fallbacks;
        if own.general != settings.fallbacks.general {
            let only_general = Fallbacks {
                general: own.general.clone(),
                default: own.default.clone(),
                ..Fallbacks::default()
            };
            let prefix = format!("request class `{}`: ", class.name);
            chain_problems(&prefix, &only_general, groups, &mut problems);
        }
    }
    problems
}

const KINDS: [(&str, FallbackKind); 3] = [
    ("fallbacks", FallbackKind::General),
    ("context_window_fallbacks", FallbackKind::ContextWindow),
    ("content_policy_fallbacks", FallbackKind::ContentPolicy),
];

fn chain_problems(
    prefix: &str,
    fallbacks: &Fallbacks,
    groups: &ModelGroups,
    problems: &mut Vec<String>,
) {
    for (name, kind) in KINDS {
        let chains = match kind {
            FallbackKind::General => &fallbacks.general,
            FallbackKind::ContextWindow => &fallbacks.context_window,
            FallbackKind::ContentPolicy => &fallbacks.content_policy,
        };
        for (group, targets) in chains {
            for target in targets {
                if target == group {
                    problems.push(format!("{prefix}{name}: `{group}` falls back to itself"));
                } else if !groups.serves(target) {
                    problems.push(format!(
                        "{prefix}{name}: `{group}` falls back to `{target}`, which no deployment serves"
                    ));
                } else if let Some(problem) = mode_mismatch(groups, group, target) {
                    problems.push(format!("{prefix}{name}: {problem}"));
                } else if kind == FallbackKind::ContextWindow {
                    if let (Some(from), Some(to)) = (
                        context_window(groups, group),
                        context_window(groups, target),
                    ) {
                        if to <= from {
                            problems.push(format!(
                                "{prefix}{name}: `{target}` takes prompts of at most {to} tokens, \
                                 no more than `{group}` ({from})"
                            ));
                        }
                    }
                }
            }
        }
        for circle in circles(chains) {
            problems.push(format!(
                "{prefix}{name} go round in a circle: {}",
                circle.join(" → ")
            ));
        }
    }
}

/// The kind of request a group serves, where its deployments declare one.
fn mode(groups: &ModelGroups, name: &str) -> Option<Mode> {
    let group = groups.get(name)?;
    let mode = group
        .deployments()
        .iter()
        .find_map(|deployment| deployment.capabilities.mode);
    mode
}

/// Why requests for `from` cannot go to `to`, if the kinds of request they serve differ.
fn mode_mismatch(groups: &ModelGroups, from: &str, to: &str) -> Option<String> {
    let (Some(asked), Some(served)) = (mode(groups, from), mode(groups, to)) else {
        return None;
    };
    (!asked.is_served_by(served)).then(|| {
        format!(
            "`{from}` serves {} requests, which `{to}` ({}) cannot serve",
            asked.as_str(),
            served.as_str()
        )
    })
}

/// The longest prompt any of a group's deployments takes, if every one declares it.
fn context_window(groups: &ModelGroups, name: &str) -> Option<u64> {
    let group = groups.get(name)?;
    let windows: Option<Vec<u64>> = group
        .deployments()
        .iter()
        .map(|deployment| deployment.capabilities.max_input_tokens)
        .collect();
    windows?.into_iter().max()
}

/// The circles in the groups' own chains of one kind, each as the groups it passes through
/// from its first group (by name) back to it: one per set of groups that reach each other, so
/// the same circle reads the same whatever else changes. A group's step to itself is reported
/// on its own; `default_fallbacks` are not followed (they are every group's last resort, and
/// two default groups reaching each other is what they are for).
fn circles(chains: &BTreeMap<String, Vec<String>>) -> Vec<Vec<String>> {
    let edges: BTreeMap<&str, Vec<&str>> = chains
        .iter()
        .map(|(group, targets)| {
            let targets = targets
                .iter()
                .map(String::as_str)
                .filter(|target| target != group)
                .collect();
            (group.as_str(), targets)
        })
        .collect();
    let mut in_a_circle: BTreeSet<&str> = BTreeSet::new();
    let mut found = Vec::new();
    for start in edges.keys() {
        if in_a_circle.contains(start) {
            continue;
        }
        let Some(circle) = shortest_circle(start, &edges) else {
            continue;
        };
        let reached = reachable(start, &edges);
        in_a_circle.extend(
            reached
                .iter()
                .filter(|group| reachable(group, &edges).contains(start)),
        );
        found.push(circle);
    }
    found
}

/// Every group `start` reaches through the chains.
fn reachable<'a>(start: &'a str, edges: &BTreeMap<&'a str, Vec<&'a str>>) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([start]);
    while let Some(group) = queue.pop_front() {
        for next in edges.get(group).into_iter().flatten() {
            if seen.insert(*next) {
                queue.push_back(next);
            }
        }
    }
    seen
}

/// The shortest way from `start` back to itself, if there is one.
fn shortest_circle(start: &str, edges: &BTreeMap<&str, Vec<&str>>) -> Option<Vec<String>> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(group) = queue.pop_front() {
        for next in edges.get(group).into_iter().flatten() {
            if *next == start {
                let mut back = vec![start.to_string()];
                let mut at = group;
                while at != start {
                    back.push(at.to_string());
                    at = came_from[at];
                }
                back.push(start.to_string());
                back.reverse();
                return Some(back);
            }
            if !came_from.contains_key(next) {
                came_from.insert(next, group);
                queue.push_back(next);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::Config;

    const MODELS: &str = "model_list:\n\
        - {model_name: big, litellm_params: {model: openai/gpt-4o, api_base: 'http://a'}}\n\
        - {model_name: small, litellm_params: {model: openai/gpt-4o-mini, api_base: 'http://a'}, model_info: {max_input_tokens: 8000}}\n\
        - {model_name: huge, litellm_params: {model: openai/gpt-4.1, api_base: 'http://a'}}\n\
        - {model_name: embed, litellm_params: {model: openai/text-embedding-3-small, api_base: 'http://a'}}\n\
        - {model_name: 'anthropic/*', litellm_params: {model: 'anthropic/*', api_key: k}}\n";

    fn problems_of(routing: &str) -> Vec<String> {
        let config = Config::parse(&format!("{MODELS}{routing}"), "test.yaml", &|_| None).unwrap();
        let groups = ModelGroups::new(config.deployments.into_iter().map(Arc::new));
        problems(&config.router, &groups)
    }

    #[test]
    fn sound_chains_have_no_problems() {
        let problems = problems_of(
            "router_settings:\n  fallbacks: [{big: [anthropic/claude-sonnet-4-5, small]}]\n  \
             context_window_fallbacks: [{small: [huge]}]\n  default_fallbacks: [small]\n  \
             content_policy_fallbacks: [{big: [anthropic/claude-haiku-4-5]}]\n",
        );
        assert_eq!(problems, Vec::<String>::new());
    }

    #[test]
    fn names_each_kind_of_problem() {
        let problems = problems_of(
            "router_settings:\n  fallbacks: [{big: [small, gone, embed]}, {small: [big]}, {huge: [huge]}]\n  \
             context_window_fallbacks: [{huge: [small]}]\n  default_fallbacks: [nowhere]\n\
             request_classes:\n  cheap: {model_groups: {big: missing, embed: small}, fallbacks: [{small: [huge]}, {huge: [small]}]}\n",
        );
        let expected = [
            "fallbacks: `big` falls back to `gone`, which no deployment serves",
            "fallbacks: `big` serves chat requests, which `embed` (embedding) cannot serve",
            "fallbacks: `huge` falls back to itself",
            "fallbacks go round in a circle: big → small → big",
            "context_window_fallbacks: `small` takes prompts of at most 8000 tokens, no more than `huge` (1047576)",
            "default_fallbacks: `nowhere` is not served by any deployment",
            "request class `cheap`: `big` goes to `missing`, which no deployment serves",
            "request class `cheap`: `embed` serves embedding requests, which `small` (chat) cannot serve",
            "request class `cheap`: fallbacks go round in a circle: huge → small → huge",
        ];
        for problem in expected {
            assert!(
                problems.iter().any(|found| found == problem),
                "{problem}\nin {problems:#?}"
            );
        }
        assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    }

    #[test]
    fn default_fallbacks_make_no_circle() {
        let problems = problems_of(
            "router_settings:\n  fallbacks: [{big: [small]}]\n  default_fallbacks: [big, huge]\n",
        );
        assert_eq!(problems, Vec::<String>::new());
    }

    #[test]
    fn every_circle_is_named_once_from_its_first_group() {
        let problems = problems_of(
            "router_settings:\n  fallbacks: [{small: [huge]}, {huge: [big]}, {big: [small]}]\n  \
             content_policy_fallbacks: [{big: [small]}, {small: [big]}, {huge: [anthropic/claude-x]}, {anthropic/claude-x: [huge]}]\n",
        );
        let circles: Vec<&String> = problems.iter().filter(|p| p.contains("circle")).collect();
        assert_eq!(
            circles,
            [
                "fallbacks go round in a circle: big → small → huge → big",
                "content_policy_fallbacks go round in a circle: anthropic/claude-x → huge → anthropic/claude-x",
                "content_policy_fallbacks go round in a circle: big → small → big",
            ],
            "{problems:#?}"
        );
    }
}
