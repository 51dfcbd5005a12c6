//! LiteLLM's model access groups: which models each group name stands for.

use std::collections::{BTreeSet, HashMap};

/// LiteLLM's model access groups: a group's name in a key's or team's `models` allows every
/// model whose deployments list the group in `model_info.access_groups`.
#[derive(Debug, Default)]
pub struct AccessGroups(HashMap<String, BTreeSet<String>>);

impl AccessGroups {
    /// Puts `model` in access group `name`.
    pub fn add(&mut self, name: &str, model: &str) {
        self.0
            .entry(name.to_string())
            .or_default()
            .insert(model.to_string());
    }

    /// Whether access group `name` holds `model`.
    pub fn holds(&self, name: &str, model: &str) -> bool {
        self.0
            .get(name)
            .is_some_and(|models| models.contains(model))
    }
}
