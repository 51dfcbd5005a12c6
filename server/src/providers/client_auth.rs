//! LiteLLM's `configurable_clientside_auth_params`: the models whose clients may send their own
//! `api_key` and `api_base`, and the deployment such a request is served by. The deployment's
//! own credentials go only to an `api_base` matching the operator's pattern; a request naming
//! any other address must bring its own key (LiteLLM's CVE-2024-6587 was our credentials sent
//! wherever a client pointed them).

use std::collections::BTreeMap;
use std::sync::Arc;

use regex::Regex;
use serde::Deserialize;

use crate::core::secret::Secret;
use crate::providers::credentials::Credentials;
use crate::providers::{upstream_for, Deployment, ProviderModel, Upstream};

/// One entry of `configurable_clientside_auth_params`: a name (`api_key`, `api_base`), or
/// `{api_base: pattern}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawClientAuthParam {
    Name(String),
    Pattern(BTreeMap<String, String>),
}

/// Where a client may point a deployment's requests.
#[derive(Debug, Clone)]
enum ApiBaseRule {
    /// Nowhere: `api_base` is refused.
    Refused,
    /// Anywhere, with the client's own key only.
    OwnKeyOnly,
    /// Addresses matching the operator's pattern (whole), with the deployment's key or the
    /// client's.
    Matching(Regex),
}

/// What the clients of one deployment may set, and what rebuilding its upstream needs.
#[derive(Debug, Clone)]
pub struct ClientAuthRules {
    api_key: bool,
    api_base: ApiBaseRule,
    api_version: Option<String>,
    allow_file_references: bool,
}

impl ClientAuthRules {
    /// The rules a deployment's `configurable_clientside_auth_params` set; `None` when it sets
    /// none. An unknown name or a malformed pattern is the config's error.
    pub fn from_config(
        raw: Vec<RawClientAuthParam>,
        api_version: Option<String>,
        allow_file_references: bool,
    ) -> Result<Option<Arc<ClientAuthRules>>, String> {
        if raw.is_empty() {
            return Ok(None);
        }
        let mut rules = ClientAuthRules {
            api_key: false,
            api_base: ApiBaseRule::Refused,
            api_version,
            allow_file_references,
        };
        for entry in raw {
            match entry {
                RawClientAuthParam::Name(name) => match name.as_str() {
                    "api_key" => rules.api_key = true,
                    "api_base" | "base_url" => {
                        if matches!(rules.api_base, ApiBaseRule::Refused) {
                            rules.api_base = ApiBaseRule::OwnKeyOnly;
                        }
                    }
                    other => {
                        return Err(format!(
                            "`{other}` cannot be set by clients (only api_key and api_base)"
                        ))
                    }
                },
                RawClientAuthParam::Pattern(patterns) => {
                    for (name, pattern) in patterns {
                        if name != "api_base" && name != "base_url" {
                            return Err(format!("`{name}` takes no pattern (only api_base)"));
                        }
                        let whole = Regex::new(&format!("^(?:{pattern})$"))
                            .map_err(|error| format!("api_base pattern: {error}"))?;
                        rules.api_base = ApiBaseRule::Matching(whole);
                    }
                }
            }
        }
        Ok(Some(Arc::new(rules)))
    }
}

/// The deployment a request naming its own `api_base` or `api_key` is served by: `template`
/// pointed there, with the client's key where it sent one. `Err` says why it may not (the
/// message a 400 carries).
pub fn client_deployment(
    template: &Deployment,
    api_base: Option<&str>,
    api_key: Option<&Secret>,
) -> Result<Deployment, String> {
    let refused = |field: &str| {
        format!(
            "`{field}` may not be set by clients of the model `{}` (the operator lists the \
             models that allow it in `configurable_clientside_auth_params`).",
            template.model_group
        )
    };
    let Some(rules) = &template.client_auth else {
        let field = if api_base.is_some() {
            "api_base"
        } else {
            "api_key"
        };
        return Err(refused(field));
    };
    if api_key.is_some() && !rules.api_key {
        return Err(refused("api_key"));
    }
    let upstream_base = match (api_base, &rules.api_base) {
        (None, _) => template.api_base.clone(),
        (Some(_), ApiBaseRule::Refused) => return Err(refused("api_base")),
        (Some(_), ApiBaseRule::OwnKeyOnly) if api_key.is_none() => {
            return Err(format!(
                "A request to the model `{}` that sets `api_base` must send its own `api_key`.",
                template.model_group
            ))
        }
        (Some(base), ApiBaseRule::Matching(pattern)) if !pattern.is_match(base) => {
            return Err(format!(
                "`api_base` `{base}` is not one the model `{}` allows.",
                template.model_group
            ))
        }
        (Some(base), _) => base.to_string(),
    };
    let provider = ProviderModel {
        provider: template.provider.clone(),
        model_id: template.upstream_model.clone(),
    };
    let known = provider
        .known_provider()
        .ok_or_else(|| format!("provider `{}` is not supported", template.provider))?;
    let upstream = match template.upstream {
        Upstream::Mock => Upstream::Mock,
        Upstream::Http(_) => upstream_for(
            known.wire,
            &upstream_base,
            &template.upstream_model,
            rules.api_version.as_deref(),
            rules.allow_file_references,
        )?,
    };
    let credentials = match api_key {
        Some(key) => match known.key_header() {
            Some(name) => Credentials::Header {
                name,
                secret: key.clone(),
            },
            None => Credentials::Bearer(key.clone()),
        },
        None => template.credentials.clone(),
    };
    Ok(Deployment {
        api_base: upstream_base,
        upstream,
        credentials,
        // Its failures say nothing about the operator's deployment.
        state: Arc::default(),
        wildcard: None,
        identity_headers: std::sync::OnceLock::new(),
        span_attributes: std::sync::OnceLock::new(),
        ..template.clone()
    })
}
