//! OpenAI's chat parameters, which of them each provider's adapter honours, and LiteLLM's
//! `drop_params`, `additional_drop_params` and `allowed_openai_params`: a parameter the
//! deployment's provider lacks is dropped, or refused with a 400 naming it, before the call.

use serde::Deserialize;
use serde_json::Value;

use crate::core::error::ApiError;
use crate::providers::adapter::ChatBody;

/// OpenAI's chat-completions parameters (its API reference).
pub const OPENAI_CHAT_PARAMS: [&str; 35] = [
    "audio",
    "frequency_penalty",
    "function_call",
    "functions",
    "logit_bias",
    "logprobs",
    "max_completion_tokens",
    "max_tokens",
    "messages",
    "metadata",
    "modalities",
    "model",
    "n",
    "parallel_tool_calls",
    "prediction",
    "presence_penalty",
    "prompt_cache_key",
    "prompt_cache_retention",
    "reasoning_effort",
    "response_format",
    "safety_identifier",
    "seed",
    "service_tier",
    "stop",
    "store",
    "stream",
    "stream_options",
    "temperature",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "user",
    "verbosity",
    "web_search_options",
];

/// Parameters every chat deployment honours: the gateway reads them (`stream`, `n`, `user`)
/// or every adapter translates them.
const EVERY_PROVIDER: [&str; 13] = [
    "model",
    "messages",
    "stream",
    "stream_options",
    "n",
    "user",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "tools",
    "tool_choice",
];

/// The OpenAI parameters an adapter honours, given those it adds to `EVERY_PROVIDER` (`None`:
/// an OpenAI-compatible upstream, which honours them all).
pub fn supported(beyond_every: Option<&'static [&'static str]>) -> Vec<&'static str> {
    match beyond_every {
        None => OPENAI_CHAT_PARAMS.to_vec(),
        Some(extra) => EVERY_PROVIDER.iter().chain(extra).copied().collect(),
    }
}

/// What Anthropic's Messages adapter translates beyond `EVERY_PROVIDER`.
pub const ANTHROPIC_PARAMS: &[&str] = &[
    "parallel_tool_calls",
    "response_format",
    "reasoning_effort",
    "metadata",
    "service_tier",
];
/// What Bedrock's Converse adapter translates beyond `EVERY_PROVIDER`.
pub const BEDROCK_PARAMS: &[&str] = &[];
/// What Gemini's (and Vertex AI's) adapter translates beyond `EVERY_PROVIDER`.
pub const GEMINI_PARAMS: &[&str] = &[
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "response_format",
    "reasoning_effort",
];
/// What Cohere's v2 chat adapter translates beyond `EVERY_PROVIDER`.
pub const COHERE_PARAMS: &[&str] = &[
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "response_format",
];

/// Most names `additional_drop_params` or `allowed_openai_params` may list, and the longest.
pub const MAX_LISTED_PARAMS: usize = 64;
const MAX_PARAM_NAME: usize = 128;

/// LiteLLM's rules for parameters a provider lacks, as a request, a deployment
/// (`litellm_params`) or the whole config (`litellm_settings.drop_params`) sets them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ParamRules {
    /// Drop what the provider lacks (`true`) or refuse it (`false`); unset defers to the
    /// next level (request, then deployment, then config; refused when none says).
    #[serde(default)]
    pub drop_params: Option<bool>,
    /// Parameters always taken off before the call.
    #[serde(default)]
    pub additional_drop_params: Vec<String>,
    /// Parameters let through even though the provider is not known to take them.
    #[serde(default)]
    pub allowed_openai_params: Vec<String>,
}

impl ParamRules {
    /// Whether nothing is set (the common case: nothing to do).
    pub fn is_empty(&self) -> bool {
        self.drop_params.is_none()
            && self.additional_drop_params.is_empty()
            && self.allowed_openai_params.is_empty()
    }

    /// Reads a list (`additional_drop_params`, `allowed_openai_params`) from a request body:
    /// at most `MAX_LISTED_PARAMS` names; a 400 naming the field otherwise.
    pub fn read_list(value: Value, field: &'static str) -> Result<Vec<String>, ApiError> {
        let refuse = || {
            ApiError::bad_request(
                format!("`{field}` must be a list of at most {MAX_LISTED_PARAMS} parameter names."),
                Some(field),
            )
        };
        let Value::Array(items) = value else {
            return Err(refuse());
        };
        if items.len() > MAX_LISTED_PARAMS {
            return Err(refuse());
        }
        items
            .into_iter()
            .map(|item| match item {
                Value::String(name) if !name.is_empty() && name.len() <= MAX_PARAM_NAME => Ok(name),
                _ => Err(refuse()),
            })
            .collect()
    }
}

/// The rules in force for one call: the request's over the deployment's over the config's.
pub struct ParamChoice<'a> {
    pub request: &'a ParamRules,
    pub deployment: &'a ParamRules,
    /// `litellm_settings.drop_params`.
    pub config_drops: bool,
}

impl ParamChoice<'_> {
    fn drops(&self) -> bool {
        self.request
            .drop_params
            .or(self.deployment.drop_params)
            .unwrap_or(self.config_drops)
    }

    fn listed(&self, list: fn(&ParamRules) -> &Vec<String>, name: &str) -> bool {
        [self.request, self.deployment]
            .iter()
            .any(|rules| list(rules).iter().any(|listed| listed == name))
    }
}

/// Fits a chat body to a provider that honours `EVERY_PROVIDER` and `extra` (`None`: every
/// parameter, an OpenAI-compatible upstream): `additional_drop_params` are taken off; an OpenAI
/// parameter the provider lacks is dropped when `drop_params` is on, else refused with
/// LiteLLM's `UnsupportedParamsError` text, unless `allowed_openai_params` lists it.
pub fn fit(
    body: &mut ChatBody,
    extra: Option<&[&str]>,
    provider: &str,
    model: &str,
    choice: &ParamChoice<'_>,
) -> Result<(), ApiError> {
    for rules in [choice.request, choice.deployment] {
        for name in &rules.additional_drop_params {
            body.remove(name);
        }
    }
    let Some(extra) = extra else {
        return Ok(());
    };
    let unsupported: Vec<&'static str> = OPENAI_CHAT_PARAMS
        .into_iter()
        .filter(|name| body.get(*name).is_some_and(|value| !value.is_null()))
        .filter(|name| !EVERY_PROVIDER.contains(name) && !extra.contains(name))
        .filter(|name| !choice.listed(|rules| &rules.allowed_openai_params, name))
        .collect();
    if unsupported.is_empty() {
        return Ok(());
    }
    if choice.drops() {
        for name in unsupported {
            body.remove(name);
        }
        return Ok(());
    }
    let names: Vec<String> = unsupported.iter().map(|name| format!("'{name}'")).collect();
    Err(ApiError::bad_request(
        format!(
            "litellm.UnsupportedParamsError: {provider} does not support parameters: [{}], for \
             model={model}. To drop these, set `drop_params: true` in `litellm_settings` or the \
             model's `litellm_params`, or send `drop_params: true` with the request. To send \
             them anyway, send `allowed_openai_params: [{}]`.",
            names.join(", "),
            names.join(", ")
        ),
        unsupported.first().copied(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: Value) -> ChatBody {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn rules(drop_params: Option<bool>) -> ParamRules {
        ParamRules {
            drop_params,
            ..ParamRules::default()
        }
    }

    fn fit_anthropic(
        request: &ParamRules,
        deployment: &ParamRules,
        config_drops: bool,
    ) -> (ChatBody, Result<(), ApiError>) {
        let mut chat = body(json!({
            "model": "claude", "messages": [], "temperature": 0.2,
            "logit_bias": {"50256": -100}, "seed": null, "top_k": 3
        }));
        let choice = ParamChoice {
            request,
            deployment,
            config_drops,
        };
        let result = fit(
            &mut chat,
            Some(ANTHROPIC_PARAMS),
            "anthropic",
            "claude",
            &choice,
        );
        (chat, result)
    }

    #[test]
    fn refuses_what_the_provider_lacks_naming_it() {
        let (_, result) = fit_anthropic(&rules(None), &rules(None), false);
        let error = result.unwrap_err();
        assert_eq!(error.status().as_u16(), 400);
        assert_eq!(error.param(), Some("logit_bias"));
        let message = error.to_string();
        assert!(
            message.contains(
                "anthropic does not support parameters: ['logit_bias'], for model=claude"
            ),
            "{message}"
        );
    }

    #[test]
    fn the_request_outranks_the_deployment_which_outranks_the_config() {
        for (request, deployment, config, drops) in [
            (None, None, true, true),
            (None, Some(false), true, false),
            (Some(true), Some(false), false, true),
            (Some(false), Some(true), true, false),
        ] {
            let (chat, result) = fit_anthropic(&rules(request), &rules(deployment), config);
            assert_eq!(result.is_ok(), drops, "{request:?} {deployment:?} {config}");
            if drops {
                assert!(chat.get("logit_bias").is_none());
                assert_eq!(chat["temperature"], 0.2);
                // Not an OpenAI parameter: the adapter decides.
                assert_eq!(chat["top_k"], 3);
            }
        }
    }

    #[test]
    fn allowed_params_pass_and_additional_ones_always_go() {
        let request = ParamRules {
            allowed_openai_params: vec!["logit_bias".into()],
            additional_drop_params: vec!["temperature".into()],
            ..ParamRules::default()
        };
        let (chat, result) = fit_anthropic(&request, &rules(None), false);
        result.unwrap();
        assert!(chat.contains_key("logit_bias") && !chat.contains_key("temperature"));
        let mut open = body(json!({"model": "m", "logit_bias": {}, "seed": 1}));
        let choice = ParamChoice {
            request: &rules(Some(false)),
            deployment: &rules(None),
            config_drops: false,
        };
        fit(&mut open, None, "openai", "m", &choice).unwrap();
        assert_eq!(open.len(), 3);
    }

    #[test]
    fn lists_are_bounded() {
        assert!(ParamRules::read_list(json!(["seed"]), "allowed_openai_params").is_ok());
        for bad in [
            json!("seed"),
            json!([1]),
            json!([""]),
            Value::Array(vec![json!("x"); MAX_LISTED_PARAMS + 1]),
        ] {
            let error = ParamRules::read_list(bad, "allowed_openai_params").unwrap_err();
            assert_eq!(error.param(), Some("allowed_openai_params"));
        }
    }
}
