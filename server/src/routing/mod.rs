//! Model groups: the `model_list` entries that share a `model_name`, and which deployment
//! serves the next request: only deployments whose declared capabilities cover the request,
//! in turn (round robin until the routing strategies land).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::providers::capabilities::{Missing, Needs};
use crate::providers::Deployment;

pub mod live;
pub mod retry;

pub struct ModelGroup {
    deployments: Vec<Arc<Deployment>>,
    next: AtomicUsize,
}

impl ModelGroup {
    /// The group's deployments, in config order.
    pub fn deployments(&self) -> &[Arc<Deployment>] {
        &self.deployments
    }

    /// The next deployment able to serve a request with these needs, or what the group's
    /// deployments lack (the first one's, when none can).
    pub fn pick(&self, needs: &Needs) -> Result<Arc<Deployment>, Missing> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let count = self.deployments.len();
        let mut first_missing = None;
        for offset in 0..count {
            let deployment = &self.deployments[(start + offset) % count];
            match deployment.capabilities.missing(needs) {
                None => return Ok(deployment.clone()),
                Some(missing) => {
                    first_missing.get_or_insert(missing);
                }
            }
        }
        Err(first_missing.unwrap_or(Missing::Mode(needs.mode)))
    }
}

/// Every public model name, in name order.
#[derive(Default)]
pub struct ModelGroups {
    groups: BTreeMap<String, ModelGroup>,
}

impl ModelGroups {
    pub fn new(deployments: impl IntoIterator<Item = Arc<Deployment>>) -> Self {
        let mut groups: BTreeMap<String, ModelGroup> = BTreeMap::new();
        for deployment in deployments {
            groups
                .entry(deployment.model_group.clone())
                .or_insert_with(|| ModelGroup {
                    deployments: Vec::new(),
                    next: AtomicUsize::new(0),
                })
                .deployments
                .push(deployment);
        }
        ModelGroups { groups }
    }

    pub fn get(&self, model: &str) -> Option<&ModelGroup> {
        self.groups.get(model)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.groups.keys().map(String::as_str)
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
    use crate::providers::capabilities::Mode;

    #[test]
    fn groups_share_a_name_and_alternate() {
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
        let first = group.pick(&chat()).unwrap().api_base.clone();
        let second = group.pick(&chat()).unwrap().api_base.clone();
        assert_ne!(first, second);
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
            let picked = groups.get("a").unwrap().pick(&with_tools).unwrap();
            assert_eq!(picked.api_base, "http://tools");
        }
        assert_eq!(
            groups.get("b").unwrap().pick(&with_tools).unwrap_err(),
            Missing::Tools
        );
    }
}
