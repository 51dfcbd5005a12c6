//! What the console's Models page asks of the gateway: the deployments this instance serves
//! (with capabilities and prices), validation of a new one, a reload, and "test connection":
//! one request of one token to a deployment, outside any key's budget and spend log.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::providers::probe::{probe, Probed};
use crate::providers::Deployment;
use crate::routing::live::LiveModels;
use app::model::{ConnectionTest, DeploymentView};
use app::state::{BoxFuture, ModelRuntime};

/// Longest a connection test waits for the upstream.
const TEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct ConsoleModels {
    pub models: Arc<LiveModels>,
    pub http: reqwest::Client,
}

impl ModelRuntime for ConsoleModels {
    fn deployments(&self) -> Vec<DeploymentView> {
        let groups = self.models.groups();
        let mut views: Vec<DeploymentView> = groups
            .deployments()
            .map(|deployment| view_of(deployment))
            .collect();
        views.extend(self.models.problems().into_iter().map(|problem| {
            let (provider, upstream_model) = problem
                .model
                .split_once('/')
                .map(|(provider, model)| (provider.to_string(), model.to_string()))
                .unwrap_or_default();
            DeploymentView {
                id: problem.id.to_string(),
                model_name: problem.model_name,
                provider,
                upstream_model,
                api_base: String::new(),
                stored: true,
                mode: None,
                capabilities: Vec::new(),
                max_input_tokens: None,
                max_output_tokens: None,
                input_micros_per_mtok: 0,
                output_micros_per_mtok: 0,
                cached_input_micros_per_mtok: None,
                problem: Some(problem.message),
                form: None,
            }
        }));
        views.sort_by(|a, b| a.model_name.cmp(&b.model_name));
        views
    }

    fn reload(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Err(error) = self.models.reload().await {
                tracing::warn!(%error, "stored deployments reload failed; the next reload retries");
            }
        })
    }

    fn test_connection(&self, id: String) -> BoxFuture<'_, ConnectionTest> {
        Box::pin(async move {
            let deployment = self
                .models
                .groups()
                .deployments()
                .find(|deployment| deployment.id == id)
                .cloned();
            let started = Instant::now();
            let outcome = match deployment {
                None => Err(
                    "This instance does not serve that deployment (deleted, or not loadable)."
                        .to_string(),
                ),
                Some(deployment) => {
                    match tokio::time::timeout(TEST_TIMEOUT, probe(&self.http, &deployment)).await {
                        Ok(Ok(Probed::Answered(summary))) => Ok(summary),
                        Ok(Ok(Probed::NotProbed(reason))) => Err(format!("400 {reason}")),
                        Ok(Err(error)) => Err(format!("{} {error}", error.status().as_u16())),
                        Err(_) => Err(format!(
                            "no answer within {} seconds",
                            TEST_TIMEOUT.as_secs()
                        )),
                    }
                }
            };
            let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            tracing::info!(deployment = %id, ok = outcome.is_ok(), latency_ms, "connection tested");
            let ok = outcome.is_ok();
            ConnectionTest {
                deployment_id: id,
                ok,
                latency_ms,
                message: outcome.unwrap_or_else(|error| error),
            }
        })
    }
}

fn view_of(deployment: &Deployment) -> DeploymentView {
    let capabilities = &deployment.capabilities;
    let labels = [
        (capabilities.streaming, "streaming"),
        (capabilities.tools, "tools"),
        (capabilities.parallel_tool_calls, "parallel tools"),
        (capabilities.vision, "vision"),
        (capabilities.json_schema, "JSON schema"),
        (capabilities.reasoning, "reasoning"),
    ];
    let prices = &deployment.prices;
    DeploymentView {
        id: deployment.id.clone(),
        model_name: deployment.model_group.clone(),
        provider: deployment.provider.clone(),
        upstream_model: deployment.upstream_model.clone(),
        api_base: deployment.api_base.clone(),
        stored: deployment.stored,
        mode: capabilities.mode.map(|mode| mode.as_str().to_string()),
        capabilities: labels
            .into_iter()
            .filter(|(declared, _)| *declared)
            .map(|(_, label)| label.to_string())
            .collect(),
        max_input_tokens: capabilities.max_input_tokens,
        max_output_tokens: capabilities.max_output_tokens,
        input_micros_per_mtok: prices.input_micros_per_mtok,
        output_micros_per_mtok: prices.output_micros_per_mtok,
        cached_input_micros_per_mtok: prices.cached_input_micros_per_mtok,
        problem: None,
        form: None,
    }
}
