//! One `model_list` entry (from config.yaml, the console or `/model/new`) into a deployment
//! the gateway can call: provider, credentials, upstream URLs, timeouts, prices and declared
//! capabilities.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{seconds, ConfigError, Origin, Resolver, StoredEnvironment};
use crate::core::capabilities::{Capabilities, CapabilityOverrides};
use crate::core::prices::{dollars_per_token_to_micros, Prices};
use crate::core::secret::Secret;
use crate::providers::bedrock::Bedrock;
use crate::providers::client_auth::{ClientAuthRules, RawClientAuthParam};
use crate::providers::credentials::Credentials;
use crate::providers::openai_params::ParamRules;
use crate::providers::{
    catalog, upstream_for, Balance, Deployment, ProviderModel, Specialize, Upstream, WireFormat,
};
use cloud::{aws_signing, vertex_target};

mod cloud;

/// LiteLLM's default request timeout (seconds).
const DEFAULT_TIMEOUT_SECONDS: f64 = 600.0;

#[derive(Deserialize)]
pub(super) struct RawModel {
    model_name: String,
    litellm_params: RawLitellmParams,
    #[serde(default)]
    model_info: RawModelInfo,
}

#[derive(Deserialize)]
struct RawLitellmParams {
    model: ProviderModel,
    api_base: Option<String>,
    api_key: Option<String>,
    /// Azure's `api-version`.
    api_version: Option<String>,
    /// An Azure Entra ID token, sent as a bearer token instead of the `api-key` header.
    azure_ad_token: Option<String>,
    /// Bedrock: AWS credentials and region (else `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`, `AWS_REGION_NAME`/`AWS_REGION`/`AWS_DEFAULT_REGION`).
    aws_access_key_id: Option<String>,
    aws_secret_access_key: Option<String>,
    aws_session_token: Option<String>,
    aws_region_name: Option<String>,
    aws_bedrock_runtime_endpoint: Option<String>,
    /// Vertex AI: the project, region and service-account key (a key file's path or its JSON;
    /// else `VERTEXAI_PROJECT`, `VERTEXAI_LOCATION`, `GOOGLE_APPLICATION_CREDENTIALS`).
    vertex_project: Option<String>,
    vertex_location: Option<String>,
    vertex_credentials: Option<String>,
    timeout: Option<f64>,
    stream_timeout: Option<f64>,
    mock_response: Option<String>,
    /// LiteLLM's parameter rules for this deployment (`openai_params`).
    drop_params: Option<bool>,
    #[serde(default)]
    additional_drop_params: Vec<String>,
    #[serde(default)]
    allowed_openai_params: Vec<String>,
    /// What clients may set themselves (`api_key`, `api_base`, `{api_base: pattern}`).
    #[serde(default)]
    configurable_clientside_auth_params: Vec<RawClientAuthParam>,
    /// Gemini/Vertex: tenants may name provider-side files (`gs://…`, Files API names) in
    /// their messages, which the provider reads with the deployment's credentials.
    #[serde(default)]
    allow_file_references: bool,
    weight: Option<f64>,
    rpm: Option<u64>,
    tpm: Option<u64>,
    order: Option<u32>,
    #[serde(flatten)]
    prices: RawPrices,
}

/// LiteLLM's price fields (dollars per token, image, second, character or query), in
/// `litellm_params` or `model_info`.
#[derive(Debug, Deserialize, Default)]
struct RawPrices {
    input_cost_per_token: Option<f64>,
    output_cost_per_token: Option<f64>,
    cache_read_input_token_cost: Option<f64>,
    cache_creation_input_token_cost: Option<f64>,
    input_cost_per_image: Option<f64>,
    output_cost_per_image: Option<f64>,
    input_cost_per_second: Option<f64>,
    output_cost_per_second: Option<f64>,
    input_cost_per_character: Option<f64>,
    input_cost_per_query: Option<f64>,
}

impl RawPrices {
    /// The per-image price, whichever side LiteLLM's data puts it on.
    fn per_image(&self) -> Option<f64> {
        self.output_cost_per_image.or(self.input_cost_per_image)
    }

    fn per_second(&self) -> Option<f64> {
        self.input_cost_per_second.or(self.output_cost_per_second)
    }
}

#[derive(Deserialize, Default)]
struct RawModelInfo {
    /// A caller-chosen deployment id (LiteLLM's `model_info.id`).
    id: Option<String>,
    /// The catalog model an Azure deployment name stands for (`azure/gpt-4o`).
    base_model: Option<String>,
    /// LiteLLM's model access groups: a key or team listing a group's name may use its models.
    #[serde(default)]
    access_groups: Vec<String>,
    #[serde(flatten)]
    prices: RawPrices,
    #[serde(flatten)]
    capabilities: CapabilityOverrides,
}

/// A config entry's deployment id: its `model_info.id`, else a digest of its place and target,
/// stable across restarts of the same file.
pub(super) fn config_deployment_id(index: usize, model: &RawModel) -> String {
    if let Some(id) = &model.model_info.id {
        return id.clone();
    }
    let digest = Sha256::new()
        .chain_update(index.to_le_bytes())
        .chain_update(model.model_name.as_bytes())
        .chain_update([0])
        .chain_update(model.litellm_params.model.provider.as_bytes())
        .chain_update([0])
        .chain_update(model.litellm_params.model.model_id.as_bytes())
        .chain_update([0])
        .chain_update(
            model
                .litellm_params
                .api_base
                .as_deref()
                .unwrap_or("")
                .as_bytes(),
        )
        .finalize();
    hex::encode(&digest[..16])
}

/// A stored deployment (the console's or `/model/new`'s), built as a config entry is but for
/// what its tenant may reach: `os.environ/NAME` values only from `env` (the allow-listed
/// variables), no ambient credentials, no key file paths. Unused params are returned as
/// warnings.
pub fn stored_deployment(
    id: &str,
    model_name: &str,
    litellm_params: &Map<String, Value>,
    model_info: &Map<String, Value>,
    env: &StoredEnvironment,
) -> Result<(Deployment, Vec<String>), ConfigError> {
    let path = format!("deployment `{model_name}`");
    let mut warnings = Vec::new();
    let mut document = Map::new();
    document.insert("model_name".into(), Value::String(model_name.to_string()));
    document.insert(
        "litellm_params".into(),
        Value::Object(litellm_params.clone()),
    );
    document.insert("model_info".into(), Value::Object(model_info.clone()));
    let model: RawModel = serde_ignored::deserialize(Value::Object(document), |ignored| {
        warnings.push(format!("{path}: `{ignored}` is not used by Gatehouse"));
    })
    .map_err(|error| ConfigError::Malformed {
        path: path.clone(),
        message: error.to_string(),
    })?;
    let resolver = Resolver {
        path: &path,
        overrides: env.values(),
        env: &|_| None,
        origin: Origin::Stored,
    };
    let provider = model.litellm_params.model.provider.clone();
    match build(
        model,
        TimeoutDefaults::default(),
        &resolver,
        &|name| name.to_string(),
        id.to_string(),
        true,
        &mut warnings,
    )? {
        Some(deployment) => Ok((deployment, warnings)),
        None => Err(resolver.invalid(
            "litellm_params.model".into(),
            &format!("provider `{provider}` is not supported"),
        )),
    }
}

/// Builds one entry; `None` (with a warning) when its provider is not supported.
/// `router_settings`' timeouts, for deployments that set none.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TimeoutDefaults {
    pub timeout: Option<Duration>,
    pub stream_timeout: Option<Duration>,
}

pub(super) fn build(
    model: RawModel,
    defaults: TimeoutDefaults,
    resolver: &Resolver<'_>,
    field: &dyn Fn(&str) -> String,
    id: String,
    stored: bool,
    warnings: &mut Vec<String>,
) -> Result<Option<Deployment>, ConfigError> {
    if model.model_name.trim().is_empty() {
        return Err(resolver.invalid(field("model_name"), "must not be empty"));
    }
    let params = model.litellm_params;
    let Some(provider) = params.model.known_provider() else {
        warnings.push(format!(
            "{}: {}: provider `{}` is not supported yet; deployment `{}` skipped",
            resolver.path,
            field("litellm_params.model"),
            params.model.provider,
            model.model_name
        ));
        return Ok(None);
    };
    let api_key = params
        .api_key
        .as_deref()
        .map(|value| resolver.resolve(&field("litellm_params.api_key"), value))
        .transpose()?;
    let aws = match provider.wire {
        WireFormat::Bedrock if params.mock_response.is_none() => {
            Some(aws_signing(resolver, field, &params)?)
        }
        _ => None,
    };
    let vertex = match provider.wire {
        WireFormat::Vertex if params.mock_response.is_none() => {
            Some(vertex_target(resolver, field, &params)?)
        }
        _ => None,
    };
    let given_api_base = params
        .api_base
        .as_deref()
        .or(params.aws_bedrock_runtime_endpoint.as_deref());
    let api_base = match (&vertex, given_api_base) {
        (Some(vertex), _) => vertex.publisher_base.clone(),
        (None, Some(value)) => resolver.resolve(&field("litellm_params.api_base"), value)?,
        (None, None) => match (provider.default_api_base, &aws) {
            (Some(base), _) => base.to_string(),
            (None, Some(aws)) => Bedrock::default_api_base(&aws.region),
            (None, None) if params.mock_response.is_some() => String::new(),
            (None, None) => {
                return Err(resolver.invalid(
                    field("litellm_params.api_base"),
                    &format!("provider `{}` needs an api_base", params.model.provider),
                ))
            }
        },
    };
    let timeout = match params.timeout {
        Some(value) => seconds(resolver, &field("litellm_params.timeout"), value)?,
        None => defaults
            .timeout
            .unwrap_or(Duration::from_secs_f64(DEFAULT_TIMEOUT_SECONDS)),
    };
    let stream_timeout = match params.stream_timeout {
        Some(value) => seconds(resolver, &field("litellm_params.stream_timeout"), value)?,
        None => defaults.stream_timeout.unwrap_or(timeout),
    };
    let entry = catalog::lookup(
        &params.model.provider,
        &params.model.model_id,
        model.model_info.base_model.as_deref(),
    );
    let prices = deployment_prices(
        entry.and_then(|entry| entry.prices().ok()),
        &model.model_info.prices,
        &params.prices,
    )
    .map_err(|message| resolver.invalid(field("model_info"), &message))?;
    let wildcard = model.model_name.contains('*');
    if prices.is_none() && params.mock_response.is_none() && !wildcard {
        warnings.push(format!(
            "{}: {}: no price known for `{}`; its requests will be metered at $0 \
             (set model_info.input_cost_per_token / output_cost_per_token)",
            resolver.path,
            field("model_info"),
            params.model.model_id
        ));
    }
    let mut capabilities = entry.map_or_else(
        Capabilities::unknown_model,
        catalog::CatalogEntry::capabilities,
    );
    capabilities.override_with(&model.model_info.capabilities);
    let resolve_optional = |name: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|value| resolver.resolve(&field(name), value))
            .transpose()
    };
    let azure_ad_token = resolve_optional("litellm_params.azure_ad_token", &params.azure_ad_token)?;
    let api_version = resolve_optional("litellm_params.api_version", &params.api_version)?;
    let credentials = match (vertex, aws, azure_ad_token, api_key) {
        (Some(vertex), _, _, _) => Credentials::GoogleServiceAccount(vertex.token_source),
        (None, Some(aws), _, _) => Credentials::SigV4(aws),
        (None, None, Some(token), _) => Credentials::Bearer(Secret::new(token)),
        (None, None, None, Some(key)) => match provider.key_header() {
            Some(name) => Credentials::Header {
                name,
                secret: Secret::new(key),
            },
            None => Credentials::Bearer(Secret::new(key)),
        },
        (None, None, None, None) => Credentials::None,
    };
    let upstream = if params.mock_response.is_some() {
        Upstream::Mock
    } else {
        upstream_for(
            provider.wire,
            &api_base,
            &params.model.model_id,
            api_version.as_deref(),
            params.allow_file_references,
        )
        .map_err(|message| resolver.invalid(field("litellm_params.api_base"), &message))?
    };
    let client_auth = ClientAuthRules::from_config(
        params.configurable_clientside_auth_params,
        api_version.clone(),
        params.allow_file_references,
    )
    .map_err(|message| {
        resolver.invalid(
            field("litellm_params.configurable_clientside_auth_params"),
            &message,
        )
    })?;
    let wildcard = wildcard.then(|| -> Arc<dyn Specialize> {
        Arc::new(WildcardRecipe {
            api_version: api_version.clone(),
            allow_file_references: params.allow_file_references,
            info_prices: model.model_info.prices,
            params_prices: params.prices,
            capabilities: model.model_info.capabilities,
        })
    });
    Ok(Some(Deployment {
        id,
        stored,
        access_groups: model.model_info.access_groups,
        model_group: model.model_name,
        provider: params.model.provider,
        upstream_model: params.model.model_id,
        api_base,
        credentials,
        upstream,
        timeout,
        stream_timeout,
        prices: prices.unwrap_or_default(),
        capabilities,
        mock_response: params.mock_response,
        params: ParamRules {
            drop_params: params.drop_params,
            additional_drop_params: params.additional_drop_params,
            allowed_openai_params: params.allowed_openai_params,
        },
        balance: Balance {
            weight: params.weight,
            rpm: params.rpm,
            tpm: params.tpm,
            order: params.order,
        },
        client_auth,
        forward_client_headers: false,
        state: Arc::default(),
        wildcard,
        identity_headers: std::sync::OnceLock::new(),
        span_attributes: std::sync::OnceLock::new(),
    }))
}

/// What a wildcard entry (`model_name: anthropic/*`) keeps to serve each model it matches: the
/// prices and capabilities it was given, laid over the catalog's entry for that model.
#[derive(Debug)]
pub struct WildcardRecipe {
    api_version: Option<String>,
    allow_file_references: bool,
    info_prices: RawPrices,
    params_prices: RawPrices,
    capabilities: CapabilityOverrides,
}

impl Specialize for WildcardRecipe {
    /// The deployment a wildcard entry becomes for one requested model: `upstream_model` is
    /// the entry's model with its `*` replaced by what the requested name's `*` matched, and
    /// prices and capabilities are that model's. It shares the entry's id and health.
    fn specialize(
        &self,
        template: &Deployment,
        requested: &str,
        captured: &[&str],
    ) -> Result<Deployment, String> {
        specialize(template, self, requested, captured)
    }
}

fn specialize(
    template: &Deployment,
    recipe: &WildcardRecipe,
    requested: &str,
    captured: &[&str],
) -> Result<Deployment, String> {
    let upstream_model = crate::core::wildcard::substitute(&template.upstream_model, captured);
    let upstream = match &template.upstream {
        Upstream::Mock => Upstream::Mock,
        Upstream::Http(_) => {
            let model = ProviderModel {
                provider: template.provider.clone(),
                model_id: upstream_model.clone(),
            };
            let provider = model
                .known_provider()
                .ok_or_else(|| format!("provider `{}` is not supported", template.provider))?;
            upstream_for(
                provider.wire,
                &template.api_base,
                &upstream_model,
                recipe.api_version.as_deref(),
                recipe.allow_file_references,
            )?
        }
    };
    let entry = catalog::lookup(&template.provider, &upstream_model, None);
    let prices = deployment_prices(
        entry.and_then(|entry| entry.prices().ok()),
        &recipe.info_prices,
        &recipe.params_prices,
    )?;
    if prices.is_none() && template.mock_response.is_none() {
        tracing::warn!(
            model = %requested,
            "no price known for `{upstream_model}`; its requests will be metered at $0"
        );
    }
    let mut capabilities = entry.map_or_else(
        Capabilities::unknown_model,
        catalog::CatalogEntry::capabilities,
    );
    capabilities.override_with(&recipe.capabilities);
    Ok(Deployment {
        model_group: requested.to_string(),
        upstream_model,
        upstream,
        prices: prices.unwrap_or_default(),
        capabilities,
        wildcard: None,
        identity_headers: std::sync::OnceLock::new(),
        span_attributes: std::sync::OnceLock::new(),
        ..template.clone()
    })
}

/// A deployment's prices: the catalog's, with each price `model_info` or `litellm_params` sets
/// replacing the catalog's figure (`None` when nothing at all is known).
fn deployment_prices(
    catalog: Option<Prices>,
    info: &RawPrices,
    params: &RawPrices,
) -> Result<Option<Prices>, String> {
    let pick = |info: Option<f64>, params: Option<f64>| {
        info.or(params).map(dollars_per_token_to_micros).transpose()
    };
    let input = pick(info.input_cost_per_token, params.input_cost_per_token)?;
    let output = pick(info.output_cost_per_token, params.output_cost_per_token)?;
    let cached = pick(
        info.cache_read_input_token_cost,
        params.cache_read_input_token_cost,
    )?;
    let written = pick(
        info.cache_creation_input_token_cost,
        params.cache_creation_input_token_cost,
    )?;
    let image = pick(info.per_image(), params.per_image())?;
    let second = pick(info.per_second(), params.per_second())?;
    let character = pick(
        info.input_cost_per_character,
        params.input_cost_per_character,
    )?;
    let query = pick(info.input_cost_per_query, params.input_cost_per_query)?;
    let overrides = [
        input, output, cached, written, image, second, character, query,
    ];
    if catalog.is_none() && overrides.iter().all(Option::is_none) {
        return Ok(None);
    }
    let base = catalog.unwrap_or_default();
    Ok(Some(Prices {
        input_micros_per_mtok: input.unwrap_or(base.input_micros_per_mtok),
        output_micros_per_mtok: output.unwrap_or(base.output_micros_per_mtok),
        cached_input_micros_per_mtok: cached.or(base.cached_input_micros_per_mtok),
        cache_write_micros_per_mtok: written.or(base.cache_write_micros_per_mtok),
        image_micros_per_m: image.unwrap_or(base.image_micros_per_m),
        audio_second_micros_per_m: second.unwrap_or(base.audio_second_micros_per_m),
        character_micros_per_m: character.unwrap_or(base.character_micros_per_m),
        request_micros_per_m: query.unwrap_or(base.request_micros_per_m),
    }))
}
