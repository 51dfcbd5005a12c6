//! Tests of `config`.

use super::*;
use crate::providers::catalog;
use crate::providers::credentials::Credentials;
use serde_json::Map;

fn parse(text: &str) -> Result<Config, ConfigError> {
    let env = |name: &str| (name == "UPSTREAM_KEY").then(|| "secret-from-env".to_string());
    Config::parse(text, "config.yaml", &env)
}

#[test]
fn spend_log_retention_and_payload_logging() {
    let defaults = parse("model_list: []\n").unwrap().spend_log;
    assert_eq!(defaults, SpendLogSettings::default());
    assert!(!defaults.store_payloads);
    assert_eq!(defaults.retention, None);
    let set = parse(
        "general_settings:\n  maximum_spend_logs_retention_period: 30d\n  \
             maximum_spend_logs_retention_interval: 6h\n  store_prompts_in_spend_logs: true\n  \
             spend_logs_payload_retention_period: 2d\n",
    )
    .unwrap()
    .spend_log;
    assert_eq!(set.retention, Some(Duration::from_secs(30 * 86_400)));
    assert_eq!(set.prune_every, Duration::from_secs(6 * 3_600));
    assert!(set.store_payloads);
    assert_eq!(set.payload_retention, Duration::from_secs(2 * 86_400));
    let error = parse("general_settings:\n  maximum_spend_logs_retention_period: forever\n")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("maximum_spend_logs_retention_period"),
        "{error}"
    );
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
        "model_list: []\ngeneral_settings:\n  master_key: sk-x\n  alert_types: [spend]\nfoo: 1\n",
    )
    .unwrap();
    let joined = config.warnings.join("\n");
    assert!(joined.contains("general_settings.alert_types"), "{joined}");
    assert!(joined.contains("`foo`"), "{joined}");
}

#[test]
fn budget_alerts_go_to_slack_or_a_named_webhook() {
    let slack = "model_list: []\ngeneral_settings:\n  alerting: [slack]\n";
    let error = parse(slack).unwrap_err().to_string();
    assert!(
        error.contains("general_settings.alerting") && error.contains("SLACK_WEBHOOK_URL"),
        "{error}"
    );
    let with_env = Config::parse(slack, "t.yaml", &|name| {
        (name == "SLACK_WEBHOOK_URL").then(|| "https://hooks.example/T/B/x".to_string())
    })
    .unwrap();
    assert_eq!(
        with_env.alert_webhook.unwrap().expose(),
        "https://hooks.example/T/B/x"
    );
    let named =
        parse("general_settings:\n  alerting_webhook_url: http://127.0.0.1:9/hook\n").unwrap();
    assert_eq!(
        named.alert_webhook.unwrap().expose(),
        "http://127.0.0.1:9/hook"
    );
    assert!(parse("model_list: []\n").unwrap().alert_webhook.is_none());
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
    let error = parse("model_list:\n  - model_name: a\n    litellm_params:\n      model: gpt-4o\n")
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
    assert!(matches!(&azure.credentials, Credentials::Header { name, .. } if name == "api-key"));
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
    let error =
        parse("model_list:\n  - model_name: a\n    litellm_params:\n      model: hosted_vllm/x\n")
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

#[test]
fn config_deployments_get_stable_ids_or_their_own() {
    let text = "model_list:\n\
             - {model_name: a, litellm_params: {model: openai/a, api_base: 'http://one'}}\n\
             - {model_name: a, litellm_params: {model: openai/a, api_base: 'http://one'}}\n\
             - {model_name: b, litellm_params: {model: openai/b, api_base: 'http://two'}, model_info: {id: chosen}}\n";
    let first = parse(text).unwrap().deployments;
    let again = parse(text).unwrap().deployments;
    let ids: Vec<&str> = first.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, again.iter().map(|d| d.id.as_str()).collect::<Vec<_>>());
    assert_ne!(ids[0], ids[1], "identical entries still differ by place");
    assert_eq!(ids[0].len(), 32);
    assert_eq!(ids[2], "chosen");
    assert!(first.iter().all(|d| !d.stored));
}

#[test]
fn stored_deployments_are_built_like_config_entries() {
    let params = serde_json::json!({
        "model": "openai/gpt-4o-mini",
        "api_key": "os.environ/UPSTREAM_KEY",
        "surprise": 1,
    });
    let info = serde_json::json!({"input_cost_per_token": 0.000002});
    let env = StoredEnvironment {
        values: BTreeMap::from([("UPSTREAM_KEY".to_string(), "from-env".to_string())]),
    };
    let (deployment, warnings) = stored_deployment(
        "6a1f",
        "fast",
        params.as_object().unwrap(),
        info.as_object().unwrap(),
        &env,
    )
    .unwrap();
    assert!(deployment.stored);
    assert_eq!(deployment.id, "6a1f");
    assert_eq!(deployment.model_group, "fast");
    assert_eq!(deployment.api_base, "https://api.openai.com/v1");
    assert_eq!(deployment.prices.input_micros_per_mtok, 2_000_000);
    assert!(
        matches!(&deployment.credentials, Credentials::Bearer(secret) if secret.expose() == "from-env")
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let unpriced = serde_json::json!({"model": "openai/house-model", "api_base": "http://h"});
    let (_, warnings) = stored_deployment(
        "2",
        "house",
        unpriced.as_object().unwrap(),
        &Map::new(),
        &env,
    )
    .unwrap();
    assert!(
        warnings[0].starts_with("deployment `house`: model_info: no price known"),
        "{warnings:?}"
    );

    let unknown = serde_json::json!({"model": "nowhere/x"});
    let error = stored_deployment("1", "x", unknown.as_object().unwrap(), &Map::new(), &env)
        .unwrap_err()
        .to_string();
    assert!(error.contains("litellm_params.model"), "{error}");
    let bad_base = serde_json::json!({"model": "openai/x", "api_base": "ftp://host"});
    let error = stored_deployment("1", "x", bad_base.as_object().unwrap(), &Map::new(), &env)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("deployment `x`: litellm_params.api_base"),
        "{error}"
    );
    let no_model = serde_json::json!({"api_base": "http://h"});
    assert!(stored_deployment("1", "x", no_model.as_object().unwrap(), &Map::new(), &env).is_err());
    // A variable not allowed is not read, whatever the process holds.
    let other = serde_json::json!({"model": "openai/x", "api_key": "os.environ/OTHER"});
    let error = stored_deployment("1", "x", other.as_object().unwrap(), &Map::new(), &env)
        .unwrap_err()
        .to_string();
    assert!(error.contains("allowed_environment_references"), "{error}");
}

#[test]
fn telemetry_keys_are_read_and_unknown_callbacks_warned_about() {
    let config = parse(
        "model_list: []\nlitellm_settings:\n  callbacks: [prometheus, langfuse_typo]\n  prometheus_latency_buckets: [0.1, 1]\n  unknown_setting: 1\nrouter_settings:\n  callbacks: [prometheus]\ngeneral_settings:\n  metrics_token: os.environ/METRICS\n  background_health_checks: true\n  health_check_interval: 30\n",
    );
    let error = config
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default();
    assert!(error.contains("METRICS"), "{error}");
    let config = Config::parse(
        "model_list: []\nlitellm_settings:\n  callbacks: [prometheus, langfuse_typo]\n  prometheus_latency_buckets: [0.1, 1]\n  unknown_setting: 1\nrouter_settings:\n  callbacks: [prometheus]\ngeneral_settings:\n  metrics_token: os.environ/METRICS\n  background_health_checks: true\n  health_check_interval: 30\n",
        "t.yaml",
        &|name| (name == "METRICS").then(|| "scrape-token".to_string()),
    )
    .unwrap();
    let prometheus = config.observability.prometheus.unwrap();
    assert_eq!(prometheus.latency_buckets, Some(vec![0.1, 1.0]));
    assert!(prometheus.require_auth);
    assert_eq!(prometheus.token.unwrap().expose(), "scrape-token");
    assert!(config.observability.health.background);
    assert_eq!(
        config.observability.health.interval,
        Duration::from_secs(30)
    );
    let joined = config.warnings.join("\n");
    assert!(joined.contains("`langfuse_typo`"), "{joined}");
    assert!(
        joined.contains("litellm_settings.unknown_setting"),
        "{joined}"
    );
    assert!(joined.contains("router_settings: callbacks"), "{joined}");
    let without =
        parse("model_list: []\nlitellm_settings:\n  prometheus_latency_buckets: [1]\n").unwrap();
    assert!(without.observability.prometheus.is_none());
    assert!(without.warnings.join("\n").contains("/metrics is off"));
    let error = parse("model_list: []\ngeneral_settings:\n  health_check_interval: 0.5\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("health_check_interval"), "{error}");
}
