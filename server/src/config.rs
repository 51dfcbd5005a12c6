//! LiteLLM-compatible `config.yaml`: `model_list`, `general_settings`, `environment_variables`,
//! with `os.environ/NAME` values. Unknown keys are warned about; malformed ones are refused
//! with the line they are on.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::metering::prices::{dollars_per_token_to_micros, Prices};
use crate::providers::bedrock::{self, Bedrock};
use crate::providers::capabilities::{Capabilities, CapabilityOverrides};
use crate::providers::credentials::{AwsSigning, Credentials};
use crate::providers::google_auth::GoogleTokenSource;
use crate::providers::{
    catalog, upstream_for, Deployment, ProviderModel, Secret, Upstream, WireFormat,
};

/// LiteLLM's default request timeout (seconds).
const DEFAULT_TIMEOUT_SECONDS: f64 = 600.0;
/// Default spend batch window when `proxy_batch_write_at` is not set (seconds).
const DEFAULT_BATCH_WRITE_SECONDS: f64 = 0.5;

/// The parsed configuration the process runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub deployments: Vec<Deployment>,
    pub master_key: Option<Secret>,
    pub database_url: Option<Secret>,
    pub spend_batch_window: Duration,
    /// Things the file contains that Gatehouse does not use (logged at start-up).
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Malformed { path: String, message: String },
    #[error("{path}: {field}: {message}")]
    Invalid {
        path: String,
        field: String,
        message: String,
    },
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    model_list: Vec<RawModel>,
    #[serde(default)]
    general_settings: RawGeneralSettings,
    #[serde(default)]
    environment_variables: BTreeMap<String, String>,
    #[serde(default)]
    litellm_settings: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    router_settings: Option<serde_yaml_ng::Value>,
}

#[derive(Deserialize)]
struct RawModel {
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
    #[serde(flatten)]
    prices: RawPrices,
}

/// LiteLLM's price fields (dollars per token, image, second, character or query), in
/// `litellm_params` or `model_info`.
#[derive(Deserialize, Default)]
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
    /// The catalog model an Azure deployment name stands for (`azure/gpt-4o`).
    base_model: Option<String>,
    #[serde(flatten)]
    prices: RawPrices,
    #[serde(flatten)]
    capabilities: CapabilityOverrides,
}

#[derive(Deserialize, Default)]
struct RawGeneralSettings {
    master_key: Option<String>,
    database_url: Option<String>,
    proxy_batch_write_at: Option<f64>,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&text, &path.display().to_string(), &|name| {
            std::env::var(name).ok()
        })
    }

    /// Parses config text; `env` resolves `os.environ/NAME` after `environment_variables`.
    pub fn parse(
        text: &str,
        path: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut warnings = Vec::new();
        let deserializer = serde_yaml_ng::Deserializer::from_str(text);
        let raw: RawConfig = serde_ignored::deserialize(deserializer, |ignored| {
            warnings.push(format!(
                "{path}: `{ignored}` is not used by Gatehouse and was ignored"
            ));
        })
        .map_err(|error| ConfigError::Malformed {
            path: path.to_string(),
            message: describe_yaml_error(&error),
        })?;

        for (section, value) in [
            ("litellm_settings", &raw.litellm_settings),
            ("router_settings", &raw.router_settings),
        ] {
            if value.as_ref().is_some_and(|v| !v.is_null()) {
                warnings.push(format!(
                    "{path}: `{section}` is not supported in this version and was ignored"
                ));
            }
        }

        let resolver = Resolver {
            path,
            overrides: &raw.environment_variables,
            env,
        };
        let mut deployments = Vec::with_capacity(raw.model_list.len());
        for (index, model) in raw.model_list.into_iter().enumerate() {
            let field = |name: &str| format!("model_list[{index}].{name}");
            if model.model_name.trim().is_empty() {
                return Err(resolver.invalid(field("model_name"), "must not be empty"));
            }
            let params = model.litellm_params;
            let Some(provider) = params.model.known_provider() else {
                warnings.push(format!(
                    "{path}: {}: provider `{}` is not supported yet; deployment `{}` skipped",
                    field("litellm_params.model"),
                    params.model.provider,
                    model.model_name
                ));
                continue;
            };
            let api_key = params
                .api_key
                .as_deref()
                .map(|value| resolver.resolve(&field("litellm_params.api_key"), value))
                .transpose()?;
            let aws = match provider.wire {
                WireFormat::Bedrock if params.mock_response.is_none() => {
                    Some(aws_signing(&resolver, &field, &params)?)
                }
                _ => None,
            };
            let vertex = match provider.wire {
                WireFormat::Vertex if params.mock_response.is_none() => {
                    Some(vertex_target(&resolver, &field, &params)?)
                }
                _ => None,
            };
            let given_api_base = params
                .api_base
                .as_deref()
                .or(params.aws_bedrock_runtime_endpoint.as_deref());
            let api_base = match (&vertex, given_api_base) {
                (Some(vertex), _) => vertex.publisher_base.clone(),
                (None, Some(value)) => {
                    resolver.resolve(&field("litellm_params.api_base"), value)?
                }
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
            let timeout = seconds(
                &resolver,
                &field("litellm_params.timeout"),
                params.timeout.unwrap_or(DEFAULT_TIMEOUT_SECONDS),
            )?;
            let stream_timeout = match params.stream_timeout {
                Some(value) => seconds(&resolver, &field("litellm_params.stream_timeout"), value)?,
                None => timeout,
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
            if prices.is_none() && params.mock_response.is_none() {
                warnings.push(format!(
                    "{path}: {}: no price known for `{}`; its requests will be metered at $0 \
                     (set model_info.input_cost_per_token / output_cost_per_token)",
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
            let azure_ad_token =
                resolve_optional("litellm_params.azure_ad_token", &params.azure_ad_token)?;
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
                )
                .map_err(|message| resolver.invalid(field("litellm_params.api_base"), &message))?
            };
            deployments.push(Deployment {
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
            });
        }

        let master_key = raw
            .general_settings
            .master_key
            .as_deref()
            .map(|value| resolver.resolve("general_settings.master_key", value))
            .transpose()?;
        if let Some(key) = &master_key {
            if !key.starts_with("sk-") {
                return Err(resolver.invalid(
                    "general_settings.master_key".into(),
                    "must start with `sk-` (LiteLLM's rule)",
                ));
            }
        }
        let database_url = raw
            .general_settings
            .database_url
            .as_deref()
            .map(|value| resolver.resolve("general_settings.database_url", value))
            .transpose()?;
        let spend_batch_window = seconds(
            &resolver,
            "general_settings.proxy_batch_write_at",
            raw.general_settings
                .proxy_batch_write_at
                .unwrap_or(DEFAULT_BATCH_WRITE_SECONDS),
        )?;

        Ok(Config {
            deployments,
            master_key: master_key.map(Secret::new),
            database_url: database_url.map(Secret::new),
            spend_batch_window,
            warnings,
        })
    }
}

/// A Bedrock deployment's signing credentials: `litellm_params` first, then the usual AWS
/// environment variables.
/// Where a Vertex AI deployment's requests go and who signs them in.
struct VertexTarget {
    /// `{host}/v1/projects/{project}/locations/{location}/publishers/google`.
    publisher_base: String,
    token_source: Arc<GoogleTokenSource>,
}

/// Vertex AI's project, location and service account, from `litellm_params` or the
/// environment; `api_base` replaces the regional host.
fn vertex_target(
    resolver: &Resolver<'_>,
    field: &dyn Fn(&str) -> String,
    params: &RawLitellmParams,
) -> Result<VertexTarget, ConfigError> {
    let value = |name: &str, given: &Option<String>, env: &str| match given {
        Some(value) => resolver.resolve(&field(name), value).map(Some),
        None => Ok(resolver.variable(env)),
    };
    let credentials_field = field("litellm_params.vertex_credentials");
    let key = value(
        "litellm_params.vertex_credentials",
        &params.vertex_credentials,
        "GOOGLE_APPLICATION_CREDENTIALS",
    )?
    .ok_or_else(|| {
        resolver.invalid(
            credentials_field.clone(),
            "vertex_ai/ models need a service-account key: vertex_credentials (a key file's path or its JSON) or GOOGLE_APPLICATION_CREDENTIALS",
        )
    })?;
    let key_json = if key.trim_start().starts_with('{') {
        key
    } else {
        std::fs::read_to_string(&key).map_err(|error| {
            resolver.invalid(
                credentials_field.clone(),
                &format!("cannot read the key file {key}: {error}"),
            )
        })?
    };
    let token_source = GoogleTokenSource::from_key_json(&key_json)
        .map_err(|message| resolver.invalid(credentials_field.clone(), &message))?;
    let project = value(
        "litellm_params.vertex_project",
        &params.vertex_project,
        "VERTEXAI_PROJECT",
    )?
    .or_else(|| token_source.project_id().map(str::to_string))
    .ok_or_else(|| {
        resolver.invalid(
            field("litellm_params.vertex_project"),
            "is required for vertex_ai/ models (or VERTEXAI_PROJECT, or a key file with project_id)",
        )
    })?;
    let location = value(
        "litellm_params.vertex_location",
        &params.vertex_location,
        "VERTEXAI_LOCATION",
    )?
    .unwrap_or_else(|| "us-central1".into());
    let is_name = |text: &str| {
        !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if !is_name(&project) || !is_name(&location) {
        return Err(resolver.invalid(
            field("litellm_params.vertex_project"),
            "vertex_project and vertex_location take lowercase letters, digits and dashes",
        ));
    }
    let host = match params.api_base.as_deref() {
        Some(value) => resolver.resolve(&field("litellm_params.api_base"), value)?,
        None if location == "global" => "https://aiplatform.googleapis.com".into(),
        None => format!("https://{location}-aiplatform.googleapis.com"),
    };
    Ok(VertexTarget {
        publisher_base: format!(
            "{}/v1/projects/{project}/locations/{location}/publishers/google",
            host.trim_end_matches('/')
        ),
        token_source: Arc::new(token_source),
    })
}

fn aws_signing(
    resolver: &Resolver<'_>,
    field: &dyn Fn(&str) -> String,
    params: &RawLitellmParams,
) -> Result<AwsSigning, ConfigError> {
    let value = |name: &str, given: &Option<String>, env_names: &[&str]| match given {
        Some(value) => resolver.resolve(&field(name), value).map(Some),
        None => Ok(env_names.iter().find_map(|env| resolver.variable(env))),
    };
    let required = |name: &str, found: Option<String>| {
        found.ok_or_else(|| {
            resolver.invalid(
                field(name),
                "is required for bedrock/ models (or set the AWS environment variable)",
            )
        })
    };
    let access_key_id = value(
        "litellm_params.aws_access_key_id",
        &params.aws_access_key_id,
        &["AWS_ACCESS_KEY_ID"],
    )?;
    let secret = value(
        "litellm_params.aws_secret_access_key",
        &params.aws_secret_access_key,
        &["AWS_SECRET_ACCESS_KEY"],
    )?;
    let session_token = value(
        "litellm_params.aws_session_token",
        &params.aws_session_token,
        &["AWS_SESSION_TOKEN"],
    )?;
    let region = value(
        "litellm_params.aws_region_name",
        &params.aws_region_name,
        &["AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION"],
    )?;
    Ok(AwsSigning {
        access_key_id: required("litellm_params.aws_access_key_id", access_key_id)?,
        secret_access_key: Secret::new(required("litellm_params.aws_secret_access_key", secret)?),
        session_token: session_token.map(Secret::new),
        region: required("litellm_params.aws_region_name", region)?,
        service: bedrock::SIGNING_NAME,
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

/// Resolves `os.environ/NAME` values: `environment_variables` first, then the process.
struct Resolver<'a> {
    path: &'a str,
    overrides: &'a BTreeMap<String, String>,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Resolver<'_> {
    /// An environment variable: `environment_variables` first, then the process.
    fn variable(&self, name: &str) -> Option<String> {
        self.overrides
            .get(name)
            .cloned()
            .or_else(|| (self.env)(name))
    }

    fn resolve(&self, field: &str, value: &str) -> Result<String, ConfigError> {
        let Some(name) = value.strip_prefix("os.environ/") else {
            return Ok(value.to_string());
        };
        self.variable(name).ok_or_else(|| {
            self.invalid(
                field.to_string(),
                &format!("environment variable `{name}` is not set"),
            )
        })
    }

    fn invalid(&self, field: String, message: &str) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_string(),
            field,
            message: message.to_string(),
        }
    }
}

fn seconds(resolver: &Resolver<'_>, field: &str, value: f64) -> Result<Duration, ConfigError> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|duration| !duration.is_zero())
        .ok_or_else(|| resolver.invalid(field.to_string(), "must be a positive number of seconds"))
}

/// `line 7, column 5: invalid type …` — serde_yaml's message with its location first.
fn describe_yaml_error(error: &serde_yaml_ng::Error) -> String {
    let message = error.to_string();
    match error.location() {
        Some(location) => {
            let detail = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_string();
            format!(
                "line {}, column {}: {detail}",
                location.line(),
                location.column()
            )
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        let env = |name: &str| (name == "UPSTREAM_KEY").then(|| "secret-from-env".to_string());
        Config::parse(text, "config.yaml", &env)
    }

    #[test]
    fn reads_a_litellm_config() {
        let config = parse(
            r#"
model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_key: os.environ/UPSTREAM_KEY
  - model_name: local
    litellm_params:
      model: hosted_vllm/meta-llama/Llama-3.1-8B
      api_base: http://127.0.0.1:8000/v1
      timeout: 5
    model_info:
      input_cost_per_token: 0.0000001
      output_cost_per_token: 0.0000002
general_settings:
  master_key: sk-master
  proxy_batch_write_at: 0.1
"#,
        )
        .unwrap();
        assert_eq!(config.deployments.len(), 2);
        let first = &config.deployments[0];
        assert_eq!(first.model_group, "gpt-4o-mini");
        assert_eq!(first.upstream_model, "gpt-4o-mini");
        assert_eq!(first.api_base, "https://api.openai.com/v1");
        match &first.credentials {
            Credentials::Bearer(secret) => assert_eq!(secret.expose(), "secret-from-env"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            first.prices,
            catalog::lookup("openai", "gpt-4o-mini", None)
                .unwrap()
                .prices()
                .unwrap()
        );
        assert!(first.capabilities.tools && first.capabilities.vision);
        let second = &config.deployments[1];
        assert_eq!(second.upstream_model, "meta-llama/Llama-3.1-8B");
        assert_eq!(second.provider, "hosted_vllm");
        assert_eq!(second.timeout, Duration::from_secs(5));
        assert_eq!(second.prices.input_micros_per_mtok, 100_000);
        assert_eq!(config.master_key.unwrap().expose(), "sk-master");
        assert_eq!(config.spend_batch_window, Duration::from_millis(100));
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    }

    #[test]
    fn warns_about_unknown_keys() {
        let config = parse(
            "model_list: []\ngeneral_settings:\n  master_key: sk-x\n  alerting: [slack]\nfoo: 1\n",
        )
        .unwrap();
        let joined = config.warnings.join("\n");
        assert!(joined.contains("general_settings.alerting"), "{joined}");
        assert!(joined.contains("`foo`"), "{joined}");
    }

    #[test]
    fn names_the_line_of_a_malformed_value() {
        let error = parse(
            "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/a\n      timeout: [1, 2]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("line 5"), "{error}");
    }

    #[test]
    fn names_the_line_of_a_model_without_provider() {
        let error =
            parse("model_list:\n  - model_name: a\n    litellm_params:\n      model: gpt-4o\n")
                .unwrap_err()
                .to_string();
        assert!(error.contains("line 4"), "{error}");
        assert!(error.contains("provider"), "{error}");
    }

    #[test]
    fn refuses_a_missing_environment_variable() {
        let error = parse(
            "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/a\n      api_key: os.environ/NOPE\n",
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("NOPE"), "{error}");
        assert!(
            error.contains("model_list[0].litellm_params.api_key"),
            "{error}"
        );
    }

    #[test]
    fn skips_unsupported_providers_with_a_warning() {
        let config = parse(
            "model_list:\n  - model_name: sm\n    litellm_params:\n      model: sagemaker/some-endpoint\n",
        )
        .unwrap();
        assert!(config.deployments.is_empty());
        assert!(config.warnings[0].contains("sagemaker"));
    }

    #[test]
    fn native_providers_get_their_credentials_prices_and_overrides() {
        let config = parse(
            r#"
model_list:
  - model_name: claude
    litellm_params: { model: anthropic/claude-sonnet-4-5-20250929, api_key: os.environ/UPSTREAM_KEY }
  - model_name: azure-gpt
    litellm_params:
      model: azure/prod-gpt4o
      api_base: https://example.openai.azure.com
      api_version: "2025-01-01-preview"
      api_key: os.environ/UPSTREAM_KEY
    model_info:
      base_model: azure/gpt-4o
      supports_vision: false
      cache_read_input_token_cost: 0.000001
  - model_name: entra
    litellm_params: { model: azure/prod, api_base: "https://e.openai.azure.com", azure_ad_token: os.environ/UPSTREAM_KEY }
    model_info: { base_model: gpt-4o-mini }
"#,
        )
        .unwrap();
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        let [claude, azure, entra] = &config.deployments[..] else {
            panic!("three deployments");
        };
        match &claude.credentials {
            Credentials::Header { name, secret } => {
                assert_eq!(name, "x-api-key");
                assert_eq!(secret.expose(), "secret-from-env");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(claude.api_base, "https://api.anthropic.com");
        assert_eq!(claude.prices.cache_write_micros_per_mtok, Some(3_750_000));
        assert!(
            matches!(&azure.credentials, Credentials::Header { name, .. } if name == "api-key")
        );
        assert_eq!(azure.prices.input_micros_per_mtok, 2_500_000);
        assert_eq!(azure.prices.cached_input_micros_per_mtok, Some(1_000_000));
        assert!(!azure.capabilities.vision && azure.capabilities.tools);
        assert!(matches!(&entra.credentials, Credentials::Bearer(_)));
    }

    #[test]
    fn bedrock_signs_with_params_or_the_aws_environment() {
        let env = |name: &str| match name {
            "AWS_ACCESS_KEY_ID" => Some("AKIDFROMENV".to_string()),
            "AWS_SECRET_ACCESS_KEY" => Some("secret-from-env".to_string()),
            "AWS_REGION" => Some("eu-central-1".to_string()),
            _ => None,
        };
        let config = Config::parse(
            "model_list:\n  - model_name: nova\n    litellm_params:\n      model: bedrock/amazon.nova-pro-v1:0\n",
            "config.yaml",
            &env,
        )
        .unwrap();
        let nova = &config.deployments[0];
        assert_eq!(
            nova.api_base,
            "https://bedrock-runtime.eu-central-1.amazonaws.com"
        );
        match &nova.credentials {
            Credentials::SigV4(signing) => {
                assert_eq!(signing.access_key_id, "AKIDFROMENV");
                assert_eq!(signing.region, "eu-central-1");
                assert!(signing.session_token.is_none());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(nova.prices.input_micros_per_mtok, 800_000);

        let error = Config::parse(
            "model_list:\n  - model_name: nova\n    litellm_params:\n      model: bedrock/amazon.nova-pro-v1:0\n      aws_access_key_id: AKID\n      aws_secret_access_key: s\n",
            "config.yaml",
            &|_| None,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("aws_region_name"), "{error}");
    }

    #[test]
    fn vllm_needs_an_api_base() {
        let error = parse(
            "model_list:\n  - model_name: a\n    litellm_params:\n      model: hosted_vllm/x\n",
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("api_base"), "{error}");
    }

    #[test]
    fn refuses_an_api_base_that_is_not_a_url() {
        for api_base in ["localhost:8000/v1", "not a url", "file:///tmp/v1"] {
            let error = parse(&format!(
                "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      api_base: \"{api_base}\"\n"
            ))
            .unwrap_err()
            .to_string();
            assert!(
                error.contains("model_list[0].litellm_params.api_base"),
                "{error}"
            );
        }
    }

    #[test]
    fn vertex_reads_its_key_project_and_region() {
        let key_file = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/vertex/test-service-account.json"
        );
        let config = parse(&format!(
            "model_list:\n  - model_name: v\n    litellm_params:\n      model: vertex_ai/gemini-2.5-flash\n      vertex_credentials: {key_file}\n      vertex_location: global\n"
        ))
        .unwrap();
        let vertex = &config.deployments[0];
        assert_eq!(
            vertex.api_base,
            "https://aiplatform.googleapis.com/v1/projects/gatehouse-test/locations/global/publishers/google"
        );
        assert!(matches!(
            vertex.credentials,
            Credentials::GoogleServiceAccount(_)
        ));
        assert!(!format!("{:?}", vertex.credentials).contains("PRIVATE KEY"));
        // Catalog prices of gemini-2.5-flash.
        assert_eq!(vertex.prices.input_micros_per_mtok, 300_000);

        let missing = parse(
            "model_list:\n  - model_name: v\n    litellm_params:\n      model: vertex_ai/gemini-2.5-flash\n",
        )
        .unwrap_err()
        .to_string();
        assert!(missing.contains("vertex_credentials"), "{missing}");
        let injected = parse(&format!(
            "model_list:\n  - model_name: v\n    litellm_params:\n      model: vertex_ai/g\n      vertex_credentials: {key_file}\n      vertex_project: a/../b\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(injected.contains("vertex_project"), "{injected}");
    }
}
