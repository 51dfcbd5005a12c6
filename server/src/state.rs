//! The gateway's shared state: everything a data-plane or management request reads.

use std::sync::Arc;

use sqlx::PgPool;
use tokio_util::task::TaskTracker;

use crate::core::redis_link::RedisLink;
use crate::metering::Meter;
use crate::policy::auth::{Authenticator, MasterKey};
use crate::policy::budgets::Ledger;
use crate::policy::end_users::EndUserCache;
use crate::policy::keys::KeyCache;
use crate::policy::limits::Limiter;
use crate::policy::tags::TagCache;
use crate::policy::teams::TeamCache;
use crate::routing::health_checks::HealthChecks;
use crate::routing::live::LiveModels;
use crate::routing::retry::RetryBudget;

pub struct Gateway {
    /// config.yaml's deployments and the stored ones, kept current.
    pub models: Arc<LiveModels>,
    pub keys: Arc<KeyCache>,
    pub teams: Arc<TeamCache>,
    /// End users named by requests: blocked or not, and their budgets.
    pub end_users: Arc<EndUserCache>,
    /// Tags made with `/tag/new`, with their budgets.
    pub tags: Arc<TagCache>,
    /// Every budget's reservations and this instance's leases on them.
    pub budgets: Arc<Ledger>,
    /// Rate limits: in Redis when `router_settings` names one, else in this instance.
    pub limiter: Arc<Limiter>,
    pub master_key: Option<MasterKey>,
    pub http: reqwest::Client,
    pub meter: Meter,
    /// Upstream calls run here so a client disconnect cannot cancel their metering; shutdown
    /// waits for them.
    pub tasks: TaskTracker,
    pub pool: PgPool,
    /// Unix time the process started (the `created` of `/v1/models`).
    pub started_unix: i64,
    /// Keeps retries to a share of the requests in flight.
    pub retry_budget: RetryBudget,
    /// `store_prompts_in_spend_logs`: spend rows carry the redacted request and reply.
    pub store_payloads: bool,
    /// Addresses that presented too many unknown keys this minute.
    pub auth_failures: crate::policy::auth_failures::AuthFailures,
    /// New end users and tags each key introduced this minute.
    pub new_names: crate::policy::new_names::NewNames,
    /// Refusals of unknown callers, audited per address per minute.
    pub refusals: Arc<crate::policy::refusals::RefusalTally>,
    /// `general_settings.return_model_api_base_header`: responses name the upstream's address
    /// in `x-litellm-model-api-base` (off unless the operator turns it on).
    pub api_base_header: bool,
    /// `general_settings.allow_client_mock_response`: any key's `mock_response` is honoured
    /// (else only the master key's).
    pub client_mock_responses: bool,
    /// The deployments' health checks (`/health`, `background_health_checks`).
    pub health: Arc<HealthChecks>,
    /// Redis, when `router_settings` names one (readiness reports it).
    pub redis: Option<Arc<RedisLink>>,
}

pub type SharedGateway = Arc<Gateway>;

impl Gateway {
    /// What authentication reads.
    pub fn authenticator(&self) -> Authenticator<'_> {
        Authenticator {
            master_key: self.master_key.as_ref(),
            keys: &self.keys,
            teams: &self.teams,
            auth_failures: &self.auth_failures,
        }
    }
}

/// What management operations ask of the live configuration.
impl app::state::Catalog for LiveModels {
    fn model_allowed(&self, allowed: &[String], model: &str) -> bool {
        crate::policy::keys::model_allowed(allowed, model, self.groups().access())
    }

    fn is_request_class(&self, name: &str) -> bool {
        self.router().classes.get(name).is_some()
    }

    fn check_deployment(&self, spec: &app::db::deployments::DeploymentSpec) -> Result<(), String> {
        self.build_stored("new", spec).map(|_| ())
    }
}
