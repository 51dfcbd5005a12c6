//! Model groups: the `model_list` entries that share a `model_name`, and which deployment
//! serves the next request (round robin until the routing strategies land).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::providers::Deployment;

pub struct ModelGroup {
    deployments: Vec<Arc<Deployment>>,
    next: AtomicUsize,
}

impl ModelGroup {
    /// The deployment for the next request.
    pub fn pick(&self) -> Arc<Deployment> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.deployments.len();
        self.deployments[index].clone()
    }
}

/// Every public model name, in name order.
#[derive(Default)]
pub struct ModelGroups {
    groups: BTreeMap<String, ModelGroup>,
}

impl ModelGroups {
    pub fn new(deployments: Vec<Deployment>) -> Self {
        let mut groups: BTreeMap<String, ModelGroup> = BTreeMap::new();
        for deployment in deployments {
            groups
                .entry(deployment.model_group.clone())
                .or_insert_with(|| ModelGroup {
                    deployments: Vec::new(),
                    next: AtomicUsize::new(0),
                })
                .deployments
                .push(Arc::new(deployment));
        }
        ModelGroups { groups }
    }

    pub fn get(&self, model: &str) -> Option<&ModelGroup> {
        self.groups.get(model)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.groups.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

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
        let groups = ModelGroups::new(config.deployments);
        assert_eq!(groups.names().collect::<Vec<_>>(), ["a", "b"]);
        let group = groups.get("a").unwrap();
        let first = group.pick().api_base.clone();
        let second = group.pick().api_base.clone();
        assert_ne!(first, second);
        assert!(groups.get("c").is_none());
    }
}
