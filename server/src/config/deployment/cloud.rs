//! The cloud providers' own credentials of a deployment: Vertex AI's project, location and
//! service account, and Bedrock's AWS signing keys, from `litellm_params` or the environment.

use std::sync::Arc;

use super::RawLitellmParams;
use crate::config::{ConfigError, Origin, Resolver};
use crate::core::secret::Secret;
use crate::providers::bedrock;
use crate::providers::credentials::AwsSigning;
use crate::providers::google_auth::GoogleTokenSource;

/// Where a Vertex AI deployment's requests go and who signs them in.
pub(super) struct VertexTarget {
    /// `{host}/v1/projects/{project}/locations/{location}/publishers/google`.
    pub(super) publisher_base: String,
    pub(super) token_source: Arc<GoogleTokenSource>,
}

/// Vertex AI's project, location and service account, from `litellm_params` or the
/// environment; `api_base` replaces the regional host.
pub(super) fn vertex_target(
    resolver: &Resolver<'_>,
    field: &dyn Fn(&str) -> String,
    params: &RawLitellmParams,
) -> Result<VertexTarget, ConfigError> {
    let value = |name: &str, given: &Option<String>, env: &str| match given {
        Some(value) => resolver.resolve(&field(name), value).map(Some),
        None => Ok(resolver.ambient(env)),
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
    } else if resolver.origin == Origin::Stored {
        return Err(resolver.invalid(
            credentials_field,
            "a deployment stored through the API or the console takes the service-account key's JSON, not a file path",
        ));
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

/// A Bedrock deployment's signing credentials: `litellm_params` first, then the usual AWS
/// environment variables.
pub(super) fn aws_signing(
    resolver: &Resolver<'_>,
    field: &dyn Fn(&str) -> String,
    params: &RawLitellmParams,
) -> Result<AwsSigning, ConfigError> {
    let value = |name: &str, given: &Option<String>, env_names: &[&str]| match given {
        Some(value) => resolver.resolve(&field(name), value).map(Some),
        None => Ok(env_names.iter().find_map(|env| resolver.ambient(env))),
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
