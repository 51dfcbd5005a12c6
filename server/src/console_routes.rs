//! What the console's Routes page asks of the gateway: the routing in force on this instance
//! (model groups with their deployments' health, the router settings, fallback chains and
//! request classes), whether a changed route policy may be saved, and applying it now.

use std::collections::HashSet;
use std::sync::Arc;

use app::route_policy::{
    ChainView, ClassView, Health, RouteDeploymentView, RouteGroupView, RouteOverrides,
    RouterSettingsView, RoutesView, Source,
};
use app::state::{BoxFuture, RouteRuntime};
use time::OffsetDateTime;

use crate::config::{FallbackKind, RouterSettings, RoutingStrategy};
use crate::core::health::Availability;
use crate::providers::Deployment;
use crate::routing::live::LiveModels;
use crate::routing::policy_check;

pub struct ConsoleRoutes {
    pub models: Arc<LiveModels>,
}

impl RouteRuntime for ConsoleRoutes {
    fn routes(&self) -> RoutesView {
        let groups = self.models.groups();
        let settings = self.models.router();
        let (policy, not_applied) = self.models.route_policy();
        let overrides = policy
            .as_ref()
            .map(|policy| policy.overrides.clone())
            .unwrap_or_default();
        let base = self.models.routing_base();
        let mut problems = policy_check::problems(&settings, &groups);
        if let Some(problem) = not_applied {
            problems.insert(
                0,
                format!("The console's route policy is not applied (config.yaml's routing is): {problem}"),
            );
        }
        let group_views = groups
            .names()
            .filter_map(|name| {
                let group = groups.named(name)?;
                Some(RouteGroupView {
                    name: name.to_string(),
                    mode: group
                        .deployments()
                        .iter()
                        .find_map(|deployment| deployment.capabilities.mode)
                        .map(|mode| mode.as_str().to_string()),
                    deployments: group
                        .deployments()
                        .iter()
                        .map(|d| deployment_view(d))
                        .collect(),
                    fallbacks: chain_view(
                        &settings,
                        &overrides,
                        base.file_router(),
                        name,
                        FallbackKind::General,
                    ),
                    context_window_fallbacks: chain_view(
                        &settings,
                        &overrides,
                        base.file_router(),
                        name,
                        FallbackKind::ContextWindow,
                    ),
                    content_policy_fallbacks: chain_view(
                        &settings,
                        &overrides,
                        base.file_router(),
                        name,
                        FallbackKind::ContentPolicy,
                    ),
                })
            })
            .collect();
        let classes = base
            .classes_with(&overrides)
            .into_iter()
            .map(|(name, mut policy)| {
                // The name the page offers, for an alias such as usage-based-routing-v2.
                policy.routing_strategy = policy.routing_strategy.map(|strategy| {
                    RoutingStrategy::parse(&strategy)
                        .map_or(strategy, |parsed| parsed.as_str().to_string())
                });
                ClassView {
                    source: if overrides.request_classes.contains_key(&name) {
                        Source::Console
                    } else {
                        Source::ConfigFile
                    },
                    in_file: base.file_classes().contains_key(&name),
                    name,
                    policy,
                }
            })
            .collect();
        RoutesView {
            settings: settings_view(&settings, &overrides),
            groups: group_views,
            classes,
            problems,
            version: policy.as_ref().map_or(0, |policy| policy.version),
            edited: policy.map(|policy| (policy.updated_by, minute_of(policy.updated_at))),
        }
    }

    fn check(&self, current: &RouteOverrides, proposed: &RouteOverrides) -> Result<(), String> {
        let base = self.models.routing_base();
        let settings = base.apply(proposed).map_err(|error| error.to_string())?;
        let groups = self.models.groups();
        let before: HashSet<String> = base
            .apply(current)
            .map(|current| policy_check::problems(&current, &groups))
            .unwrap_or_default()
            .into_iter()
            .collect();
        let added: Vec<String> = policy_check::problems(&settings, &groups)
            .into_iter()
            .filter(|problem| !before.contains(problem))
            .collect();
        if added.is_empty() {
            Ok(())
        } else {
            Err(added.join("; "))
        }
    }

    fn reload(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Err(error) = self.models.reload().await {
                tracing::warn!(%error, "route policy reload failed; the next reload retries");
            }
        })
    }
}

fn settings_view(settings: &RouterSettings, overrides: &RouteOverrides) -> RouterSettingsView {
    let changed = [
        ("routing_strategy", overrides.routing_strategy.is_some()),
        ("num_retries", overrides.num_retries.is_some()),
        ("allowed_fails", overrides.allowed_fails.is_some()),
        ("cooldown_time", overrides.cooldown_time.is_some()),
        ("default_fallbacks", overrides.default_fallbacks.is_some()),
    ];
    RouterSettingsView {
        strategy: settings.strategy.as_str().to_string(),
        num_retries: settings.num_retries,
        allowed_fails: settings.allowed_fails,
        cooldown_seconds: settings.cooldown.as_secs_f64(),
        cooldowns_enabled: settings.cooldowns_enabled,
        default_fallbacks: settings.fallbacks.default.clone(),
        max_fallbacks: settings.max_fallbacks,
        changed_in_console: changed
            .into_iter()
            .filter(|(_, changed)| *changed)
            .map(|(name, _)| name.to_string())
            .collect(),
    }
}

fn chain_view(
    settings: &RouterSettings,
    overrides: &RouteOverrides,
    file: &RouterSettings,
    group: &str,
    kind: FallbackKind,
) -> ChainView {
    let (own, changed, in_file) = match kind {
        FallbackKind::General => (
            &settings.fallbacks.general,
            &overrides.fallbacks,
            &file.fallbacks.general,
        ),
        FallbackKind::ContextWindow => (
            &settings.fallbacks.context_window,
            &overrides.context_window_fallbacks,
            &file.fallbacks.context_window,
        ),
        FallbackKind::ContentPolicy => (
            &settings.fallbacks.content_policy,
            &overrides.content_policy_fallbacks,
            &file.fallbacks.content_policy,
        ),
    };
    ChainView {
        targets: settings.fallbacks.chain(group, kind).to_vec(),
        uses_default: kind == FallbackKind::General
            && !own.contains_key(group)
            && !settings.fallbacks.default.is_empty(),
        source: if changed.contains_key(group) {
            Source::Console
        } else {
            Source::ConfigFile
        },
        in_file: in_file.contains_key(group),
    }
}

fn deployment_view(deployment: &Deployment) -> RouteDeploymentView {
    let state = &deployment.state;
    let health = match state.availability() {
        Availability::Healthy => Health::Healthy,
        Availability::CoolingDown(left) => {
            let until = OffsetDateTime::now_utc() + left;
            Health::CoolingDown {
                until: format!(
                    "{:02}:{:02}:{:02}",
                    until.hour(),
                    until.minute(),
                    until.second()
                ),
                seconds_left: left.as_secs_f64().ceil() as u64,
            }
        }
        Availability::HalfOpen | Availability::Probing => Health::HalfOpen,
    };
    RouteDeploymentView {
        id: deployment.id.clone(),
        provider: deployment.provider.clone(),
        upstream_model: deployment.upstream_model.clone(),
        tier: deployment.balance.order,
        weight: deployment.balance.weight,
        health,
        in_flight: state.in_flight(),
        latency_ms: state
            .latency(false)
            .map(|latency| latency.as_secs_f64() * 1000.0),
    }
}

/// `2026-11-30 11:32 UTC`
fn minute_of(time: OffsetDateTime) -> String {
    format!(
        "{}-{:02}-{:02} {:02}:{:02} UTC",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute()
    )
}
