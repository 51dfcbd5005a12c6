//! A request's own routing limits (LiteLLM's `fallbacks`, `context_window_fallback_dict`,
//! `num_retries`, `timeout` and the `x-litellm-num-retries`/`x-litellm-timeout` headers),
//! applied within the route policy: they may shorten and narrow, never lengthen what the
//! operator set, and never reach a group the caller may not use.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::config::RouterSettings;
use crate::core::error::ApiError;

/// Most fallback groups one request may name.
pub const MAX_REQUEST_FALLBACKS: usize = 16;
/// The longest model-group name a request may name as a fallback.
const MAX_GROUP_NAME: usize = 256;

/// What a request asks of its route.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteOverrides {
    /// The groups to fall back to after a failure, instead of the configured chain.
    pub fallbacks: Option<Vec<String>>,
    /// Per requested group, the group to fall back to when the prompt is too long.
    pub context_window_fallbacks: BTreeMap<String, String>,
    /// At most this many retries (never more than the policy allows).
    pub num_retries: Option<u32>,
    /// Each attempt's time limit (never longer than the deployment's).
    pub timeout: Option<Duration>,
}

impl RouteOverrides {
    /// Whether the request asks nothing of its route (the common case).
    pub fn is_empty(&self) -> bool {
        self.fallbacks.is_none()
            && self.context_window_fallbacks.is_empty()
            && self.num_retries.is_none()
            && self.timeout.is_none()
    }

    /// Both sets of limits, the tighter of each (a request's body and its headers).
    pub fn tightest(mut self, other: &RouteOverrides) -> RouteOverrides {
        self.num_retries = tighter(self.num_retries, other.num_retries);
        self.timeout = tighter(self.timeout, other.timeout);
        if self.fallbacks.is_none() {
            self.fallbacks.clone_from(&other.fallbacks);
        }
        for (group, fallback) in &other.context_window_fallbacks {
            self.context_window_fallbacks
                .entry(group.clone())
                .or_insert_with(|| fallback.clone());
        }
        self
    }

    /// The router settings for a request to `model` under `settings`: fewer retries, and the
    /// request's fallback groups, each one `may_use` allows (a 401 naming it otherwise, as LiteLLM answers) and
    /// `exists` knows (a 400 otherwise), at most the policy's `max_fallbacks`.
    pub fn narrow(
        &self,
        settings: &RouterSettings,
        model: &str,
        may_use: &dyn Fn(&str) -> bool,
        exists: &dyn Fn(&str) -> bool,
    ) -> Result<RouterSettings, ApiError> {
        let mut narrowed = settings.clone();
        if let Some(retries) = self.num_retries {
            narrowed.num_retries = narrowed.num_retries.min(retries);
            let policy = &mut narrowed.retry_policy;
            for count in [
                &mut policy.timeout,
                &mut policy.rate_limit,
                &mut policy.internal_server,
            ] {
                *count = count.map(|count| count.min(retries));
            }
        }
        let allowed = |group: &String| -> Result<(), ApiError> {
            if !exists(group) {
                return Err(ApiError::bad_request(
                    format!("The fallback model `{group}` does not exist."),
                    Some("fallbacks"),
                ));
            }
            if !may_use(group) {
                return Err(ApiError::ModelNotAllowed(group.clone()));
            }
            Ok(())
        };
        if let Some(fallbacks) = &self.fallbacks {
            fallbacks.iter().try_for_each(allowed)?;
            let chain = fallbacks
                .iter()
                .take(settings.max_fallbacks as usize)
                .cloned()
                .collect();
            narrowed.fallbacks.general.insert(model.to_string(), chain);
        }
        if let Some(fallback) = self.context_window_fallbacks.get(model) {
            allowed(fallback)?;
            narrowed
                .fallbacks
                .context_window
                .insert(model.to_string(), vec![fallback.clone()]);
        }
        Ok(narrowed)
    }

    /// Reads `fallbacks`: a list of model groups (or `{"model": group}` objects, LiteLLM's
    /// other spelling; nothing else may be set in them).
    pub fn read_fallbacks(value: Value) -> Result<Vec<String>, ApiError> {
        let refuse = || {
            ApiError::bad_request(
                format!(
                    "`fallbacks` must be a list of at most {MAX_REQUEST_FALLBACKS} model names \
                     (or `{{\"model\": name}}` objects)."
                ),
                Some("fallbacks"),
            )
        };
        let Value::Array(items) = value else {
            return Err(refuse());
        };
        if items.len() > MAX_REQUEST_FALLBACKS {
            return Err(refuse());
        }
        items
            .into_iter()
            .map(|item| {
                let name = match item {
                    Value::String(name) => name,
                    Value::Object(mut fields) if fields.len() == 1 => {
                        match fields.remove("model") {
                            Some(Value::String(name)) => name,
                            _ => return Err(refuse()),
                        }
                    }
                    _ => return Err(refuse()),
                };
                group_name(name).ok_or_else(refuse)
            })
            .collect()
    }

    /// Reads `context_window_fallback_dict`: `{group: fallback group}`.
    pub fn read_context_window_fallbacks(
        value: Value,
    ) -> Result<BTreeMap<String, String>, ApiError> {
        let refuse = || {
            ApiError::bad_request(
                format!(
                    "`context_window_fallback_dict` must map at most {MAX_REQUEST_FALLBACKS} \
                     model names to model names."
                ),
                Some("context_window_fallback_dict"),
            )
        };
        let Value::Object(fields) = value else {
            return Err(refuse());
        };
        if fields.len() > MAX_REQUEST_FALLBACKS {
            return Err(refuse());
        }
        fields
            .into_iter()
            .map(|(group, fallback)| match fallback {
                Value::String(fallback) => Ok((
                    group_name(group).ok_or_else(refuse)?,
                    group_name(fallback).ok_or_else(refuse)?,
                )),
                _ => Err(refuse()),
            })
            .collect()
    }

    /// Reads a retry count (`num_retries`, `max_retries`, `x-litellm-num-retries`).
    pub fn read_retries(value: &Value, field: &'static str) -> Result<u32, ApiError> {
        value
            .as_u64()
            .and_then(|count| u32::try_from(count).ok())
            .ok_or_else(|| {
                ApiError::bad_request(
                    format!("`{field}` must be a whole number of retries."),
                    Some(field),
                )
            })
    }

    /// Reads a time limit in seconds (`timeout`, `request_timeout`).
    pub fn read_timeout(value: &Value, field: &'static str) -> Result<Duration, ApiError> {
        value
            .as_f64()
            .filter(|seconds| *seconds > 0.0)
            .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
            .ok_or_else(|| {
                ApiError::bad_request(
                    format!("`{field}` must be a positive number of seconds."),
                    Some(field),
                )
            })
    }
}

fn group_name(name: String) -> Option<String> {
    (!name.trim().is_empty() && name.len() <= MAX_GROUP_NAME).then_some(name)
}

fn tighter<T: Ord>(one: Option<T>, other: Option<T>) -> Option<T> {
    match (one, other) {
        (Some(one), Some(other)) => Some(one.min(other)),
        (one, other) => one.or(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RetryPolicy;
    use serde_json::json;

    fn policy() -> RouterSettings {
        let mut settings = RouterSettings {
            num_retries: 2,
            retry_policy: RetryPolicy {
                rate_limit: Some(4),
                ..RetryPolicy::default()
            },
            max_fallbacks: 2,
            ..RouterSettings::default()
        };
        settings
            .fallbacks
            .general
            .insert("fast".into(), vec!["slow".into()]);
        settings
    }

    fn narrow(overrides: &RouteOverrides) -> Result<RouterSettings, ApiError> {
        let groups = ["fast", "slow", "cheap", "secret"];
        overrides.narrow(&policy(), "fast", &|group| group != "secret", &|group| {
            groups.contains(&group)
        })
    }

    #[test]
    fn retries_only_shorten() {
        let fewer = narrow(&RouteOverrides {
            num_retries: Some(1),
            ..RouteOverrides::default()
        })
        .unwrap();
        assert_eq!(fewer.num_retries, 1);
        assert_eq!(fewer.retry_policy.rate_limit, Some(1));
        let more = narrow(&RouteOverrides {
            num_retries: Some(9),
            ..RouteOverrides::default()
        })
        .unwrap();
        assert_eq!(more.num_retries, 2);
        assert_eq!(more.retry_policy.rate_limit, Some(4));
    }

    #[test]
    fn fallbacks_stay_within_what_the_caller_may_use() {
        let chosen = narrow(&RouteOverrides {
            fallbacks: Some(vec!["cheap".into(), "slow".into(), "fast".into()]),
            context_window_fallbacks: BTreeMap::from([("fast".into(), "slow".into())]),
            ..RouteOverrides::default()
        })
        .unwrap();
        assert_eq!(chosen.fallbacks.general["fast"], ["cheap", "slow"]);
        assert_eq!(chosen.fallbacks.context_window["fast"], ["slow"]);
        let forbidden = narrow(&RouteOverrides {
            fallbacks: Some(vec!["secret".into()]),
            ..RouteOverrides::default()
        })
        .unwrap_err();
        assert_eq!(
            forbidden.status().as_u16(),
            401,
            "LiteLLM's status for a model the key may not use"
        );
        let unknown = narrow(&RouteOverrides {
            context_window_fallbacks: BTreeMap::from([("fast".into(), "nowhere".into())]),
            ..RouteOverrides::default()
        })
        .unwrap_err();
        assert_eq!(unknown.param(), Some("fallbacks"));
    }

    #[test]
    fn reads_litellms_spellings_within_bounds() {
        assert_eq!(
            RouteOverrides::read_fallbacks(json!(["a", {"model": "b"}])).unwrap(),
            ["a", "b"]
        );
        for bad in [
            json!("a"),
            json!([{"model": "b", "api_key": "sk"}]),
            json!([""]),
            json!([1]),
            Value::Array(vec![json!("a"); MAX_REQUEST_FALLBACKS + 1]),
        ] {
            assert!(RouteOverrides::read_fallbacks(bad).is_err());
        }
        assert_eq!(
            RouteOverrides::read_timeout(&json!(1.5), "timeout").unwrap(),
            Duration::from_millis(1500)
        );
        assert!(RouteOverrides::read_timeout(&json!(-1), "timeout").is_err());
        assert!(RouteOverrides::read_retries(&json!(-1), "num_retries").is_err());
        let both = RouteOverrides {
            num_retries: Some(3),
            ..RouteOverrides::default()
        }
        .tightest(&RouteOverrides {
            num_retries: Some(1),
            timeout: Some(Duration::from_secs(5)),
            ..RouteOverrides::default()
        });
        assert_eq!(both.num_retries, Some(1));
        assert_eq!(both.timeout, Some(Duration::from_secs(5)));
    }
}
