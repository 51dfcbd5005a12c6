//! Budgets that hold exactly, on any number of instances: reserve → settle against leases.
//!
//! A request reserves its largest possible cost against every budget in its chain (key, team)
//! before any upstream call, and settles to its actual cost when it ends. Reservations are
//! taken from a lease this instance holds on the budget in Postgres (`budget_leases`); Postgres
//! grants a lease only while spend + every instance's leases stay within the budget, so no mix
//! of concurrent requests on any number of instances can spend more than the budget. While a
//! budget is roomy an instance leases a share of what is left and admits from memory; near the
//! edge it leases exactly what each request needs and gives back what it did not use at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use app::db::budgets;
use app::db::spend::{BudgetSpend, Charge, SpendRow};
use dashmap::DashMap;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::core::error::ApiError;

/// A roomy budget is leased in shares of 1/16 of what is left.
const LEASE_SHARE: i64 = 16;
/// A budget with less than this many requests' worth left after a lease is tight: its unused
/// lease goes back after every request.
const TIGHT_REQUESTS: i64 = 64;
/// A lease unused this long goes back to its budget.
const IDLE_RETURN: Duration = Duration::from_secs(10);
/// How often leases are renewed, idle ones returned, dead instances' leases reclaimed and
/// ended budget windows reset.
const MAINTAIN_EVERY: Duration = Duration::from_secs(2);
/// A lease not renewed for this long belonged to an instance that stopped without returning it.
const STALE_AFTER_SECONDS: f64 = 30.0;

/// Why a request was refused: the budget it does not fit in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub subject: Arc<str>,
    pub max_micros: i64,
    pub spend_micros: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    #[error("the request does not fit in budget {}", .0.subject)]
    Refused(Refusal),
    #[error("the budget ledger cannot be reached")]
    Unavailable(#[from] sqlx::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    /// Not read from Postgres yet (or changed since).
    Unknown,
    Unlimited,
    Max(i64),
}

/// What this instance holds of one budget.
#[derive(Debug)]
struct Held {
    limit: Limit,
    /// This instance's lease (its row in `budget_leases`).
    leased: i64,
    /// Reserved by requests in flight.
    reserved: i64,
    /// Spent by finished requests whose spend rows have not landed yet.
    drawn: i64,
    /// Less than [`TIGHT_REQUESTS`] requests' worth was left at the last lease.
    tight: bool,
    /// The window's spend in Postgres when last seen.
    spend_seen: i64,
    last_used: Instant,
}

impl Held {
    fn free(&self) -> i64 {
        self.leased - self.reserved - self.drawn
    }
}

/// One budget as this instance sees it.
#[derive(Debug)]
pub struct Budget {
    subject: Arc<str>,
    held: Mutex<Held>,
    /// One lease request in flight per budget on this instance.
    leasing: tokio::sync::Mutex<()>,
}

impl Budget {
    fn new(subject: Arc<str>) -> Self {
        Budget {
            subject,
            held: Mutex::new(Held {
                limit: Limit::Unknown,
                leased: 0,
                reserved: 0,
                drawn: 0,
                tight: false,
                spend_seen: 0,
                last_used: Instant::now(),
            }),
            leasing: tokio::sync::Mutex::new(()),
        }
    }

    pub fn subject(&self) -> &Arc<str> {
        &self.subject
    }

    fn held(&self) -> MutexGuard<'_, Held> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Known to have no limit.
    pub fn is_unlimited(&self) -> bool {
        self.held().limit == Limit::Unlimited
    }

    /// What the budget has left as this instance sees it (its limit less the spend seen,
    /// drawn and reserved here); `None` without a limit or before the limit is known.
    pub fn headroom(&self) -> Option<i64> {
        let held = self.held();
        match held.limit {
            Limit::Max(max) => Some(
                max.saturating_sub(held.spend_seen)
                    .saturating_sub(held.drawn)
                    .saturating_sub(held.reserved),
            ),
            _ => None,
        }
    }

    /// The share of the budget spent or committed (0 upwards); `None` without a limit or before
    /// the limit is known.
    pub fn used_share(&self) -> Option<f64> {
        let held = self.held();
        match held.limit {
            Limit::Max(max) => Some((held.spend_seen + held.drawn) as f64 / max.max(1) as f64),
            _ => None,
        }
    }

    /// Reserves up to `wanted`, at least `minimum`, from this instance's lease, leasing more when
    /// it runs short. `None` when the budget has no limit (nothing reserved).
    async fn reserve(
        &self,
        ledger: &Ledger,
        minimum: i64,
        wanted: i64,
    ) -> Result<Option<i64>, BudgetError> {
        let mut leased_once = false;
        loop {
            {
                let mut held = self.held();
                match held.limit {
                    Limit::Unlimited => return Ok(None),
                    // Take all that is wanted when the lease has it; after a lease, what is there.
                    Limit::Max(_)
                        if held.free() >= wanted || (leased_once && held.free() >= minimum) =>
                    {
                        let amount = held.free().min(wanted);
                        held.reserved += amount;
                        held.last_used = Instant::now();
                        return Ok(Some(amount));
                    }
                    _ => {}
                }
            }
            let _leasing = self.leasing.lock().await;
            let (limit, free) = {
                let held = self.held();
                (held.limit, held.free())
            };
            match limit {
                Limit::Unlimited => return Ok(None),
                Limit::Max(_) if free >= wanted => continue,
                Limit::Unknown => self.reload_limit(&ledger.pool).await?,
                Limit::Max(_) => {
                    let request = budgets::LeaseRequest {
                        need: (minimum - free).max(0),
                        want: wanted - free,
                        share: LEASE_SHARE,
                    };
                    ledger.lease_round_trips.fetch_add(1, Ordering::Relaxed);
                    let outcome =
                        budgets::lease(&ledger.pool, &self.subject, ledger.instance, request)
                            .await
                            .inspect_err(|_| crate::core::faults::postgres_error())?;
                    let mut held = self.held();
                    let Some(outcome) = outcome else {
                        held.limit = Limit::Unlimited;
                        continue;
                    };
                    held.limit = Limit::Max(outcome.max_micros);
                    held.spend_seen = outcome.spend_micros;
                    let Some(granted) = outcome.granted else {
                        return Err(BudgetError::Refused(Refusal {
                            subject: self.subject.clone(),
                            max_micros: outcome.max_micros,
                            spend_micros: outcome.spend_micros,
                        }));
                    };
                    held.leased += granted;
                    held.tight =
                        outcome.available - granted < TIGHT_REQUESTS.saturating_mul(wanted);
                    leased_once = true;
                }
            }
        }
    }

    /// Gives back part of a reservation (another budget of the chain allowed less).
    fn shrink(&self, by: i64) {
        if by > 0 {
            self.held().reserved -= by;
        }
    }

    fn unreserve(&self, amount: i64) {
        self.held().reserved -= amount;
    }

    /// A request reserved `amount` and spent `cost`: what it drew from the lease. Returns the
    /// lease to give back now when the budget is tight.
    fn settle(&self, amount: i64, cost: i64) -> (i64, i64) {
        let mut held = self.held();
        let draw = cost.min(amount);
        held.reserved -= amount;
        held.drawn += draw;
        let give_back = if held.tight { held.free().max(0) } else { 0 };
        held.leased -= give_back;
        (draw, give_back)
    }

    /// A request's spend row landed: what it drew is now spend in Postgres.
    fn flushed(&self, draw: i64) {
        let mut held = self.held();
        held.drawn -= draw;
        held.leased -= draw;
    }

    /// The unused lease, taken back from memory to be returned to Postgres, if it should go:
    /// idle for a while, `force`d, or the budget is tight.
    fn take_returnable(&self, force: bool) -> i64 {
        let mut held = self.held();
        let idle = held.last_used.elapsed() >= IDLE_RETURN;
        let free = held.free();
        if free <= 0 || !(force || idle || held.tight) {
            return 0;
        }
        held.leased -= free;
        free
    }

    fn restore_lease(&self, micros: i64) {
        self.held().leased += micros;
    }

    /// Reads the budget's limit and spend from Postgres.
    async fn reload_limit(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let row = budgets::find(pool, &self.subject).await?;
        let mut held = self.held();
        held.limit = match row.as_ref().and_then(|row| row.max_micros) {
            Some(max) => Limit::Max(max),
            None => Limit::Unlimited,
        };
        held.spend_seen = row.map_or(0, |row| row.spend_micros);
        Ok(())
    }
}

/// A request's reservations: settled when it ends, released if it never calls upstream.
#[derive(Debug)]
pub struct Reservation {
    amount: i64,
    budgets: Vec<Arc<Budget>>,
    ledger: Arc<Ledger>,
    settled: bool,
}

impl Reservation {
    /// What was reserved: the most the request may cost.
    pub fn amount(&self) -> i64 {
        self.amount
    }

    /// Whether any budget limits the request (an unlimited chain reserves nothing).
    pub fn is_limited(&self) -> bool {
        !self.budgets.is_empty()
    }

    /// Settles to the actual cost; returns the charge each budget of `chain` gets on the spend
    /// row (what its lease paid, 0 for a budget without a limit). Near a budget's edge the
    /// unused lease is given back before this returns, so the caller's next request finds it.
    pub async fn settle(mut self, chain: &[Arc<Budget>], cost_micros: i64) -> Vec<Charge> {
        self.settled = true;
        let limited = std::mem::take(&mut self.budgets);
        let mut charges = Vec::with_capacity(chain.len());
        for budget in chain {
            let mut drawn_micros = 0;
            if limited.iter().any(|held| Arc::ptr_eq(held, budget)) {
                let (draw, give_back) = budget.settle(self.amount, cost_micros);
                if give_back > 0 {
                    self.ledger.give_back_now(budget, give_back).await;
                }
                drawn_micros = draw;
            }
            charges.push(Charge {
                subject: budget.subject.clone(),
                drawn_micros,
            });
        }
        charges
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.settled {
            for budget in &self.budgets {
                budget.unreserve(self.amount);
            }
        }
    }
}

/// Every budget this instance has touched, and its identity in `budget_leases`.
#[derive(Debug)]
pub struct Ledger {
    pool: PgPool,
    instance: Uuid,
    budgets: DashMap<Arc<str>, Arc<Budget>>,
    tasks: tokio_util::task::TaskTracker,
    /// Leases asked of the database so far.
    lease_round_trips: AtomicU64,
}

impl Ledger {
    pub fn new(pool: PgPool, tasks: tokio_util::task::TaskTracker) -> Arc<Self> {
        Arc::new(Ledger {
            pool,
            instance: Uuid::new_v4(),
            budgets: DashMap::new(),
            tasks,
            lease_round_trips: AtomicU64::new(0),
        })
    }

    /// Leases asked of the database so far.
    pub fn lease_round_trips(&self) -> u64 {
        self.lease_round_trips.load(Ordering::Relaxed)
    }

    /// The budget of a subject (`key:…`, `team:…`).
    pub fn budget(&self, subject: &str) -> Arc<Budget> {
        if let Some(budget) = self.budgets.get(subject) {
            return budget.clone();
        }
        let subject: Arc<str> = Arc::from(subject);
        self.budgets
            .entry(subject.clone())
            .or_insert_with(|| Arc::new(Budget::new(subject)))
            .clone()
    }

    /// Reserves the same amount against every budget of `chain`, all or none: `wanted` when
    /// every budget has it, else the most they all have, at least `minimum`.
    pub async fn reserve(
        self: &Arc<Self>,
        chain: &[Arc<Budget>],
        minimum: i64,
        wanted: i64,
    ) -> Result<Reservation, BudgetError> {
        let mut reservation = Reservation {
            amount: wanted,
            budgets: Vec::with_capacity(chain.len()),
            ledger: self.clone(),
            settled: false,
        };
        for budget in chain {
            // Every budget in the list holds exactly `reservation.amount`; on error the
            // reservation is dropped, releasing that.
            if let Some(amount) = budget.reserve(self, minimum, reservation.amount).await? {
                for earlier in &reservation.budgets {
                    earlier.shrink(reservation.amount - amount);
                }
                reservation.amount = amount;
                reservation.budgets.push(budget.clone());
            }
        }
        Ok(reservation)
    }

    /// Spend rows landed: what each drew from a lease became spend (`spends`: the budgets'
    /// spend after).
    pub fn flushed(&self, rows: &[SpendRow], spends: &[BudgetSpend]) {
        for charge in rows.iter().flat_map(|row| &row.charges) {
            if charge.drawn_micros > 0 {
                if let Some(budget) = self.budgets.get(charge.subject.as_ref()) {
                    budget.flushed(charge.drawn_micros);
                }
            }
        }
        for spend in spends {
            if let Some(budget) = self.budgets.get(spend.subject.as_str()) {
                budget.held().spend_seen = spend.spend_micros;
            }
        }
    }

    /// A budget's limits changed (on any instance): the unused lease goes back, so a lowered
    /// budget binds at once, and the new limit is read.
    pub async fn limits_changed(self: &Arc<Self>, subject: &str) {
        let Some(budget) = self.budgets.get(subject).map(|entry| entry.clone()) else {
            return;
        };
        let unused = budget.take_returnable(true);
        if unused > 0 {
            self.give_back(budget.clone(), unused);
        }
        if let Err(error) = budget.reload_limit(&self.pool).await {
            tracing::warn!(%error, %subject, "budget limit not reloaded; read before its next lease");
            budget.held().limit = Limit::Unknown;
        }
    }

    /// Returns part of this instance's lease to its budget; kept if Postgres cannot take it.
    async fn give_back_now(&self, budget: &Budget, micros: i64) {
        if let Err(error) = release_lease(&self.pool, self.instance, budget, micros).await {
            tracing::warn!(%error, subject = %budget.subject, "budget lease could not be returned; kept");
        }
    }

    /// `give_back_now` off the caller's path.
    fn give_back(self: &Arc<Self>, budget: Arc<Budget>, micros: i64) {
        let ledger = self.clone();
        self.tasks
            .spawn(async move { ledger.give_back_now(&budget, micros).await });
    }

    /// Renews this instance's leases, returns idle ones, reclaims those of instances that
    /// stopped without returning theirs, and starts new windows for budgets whose window ended.
    pub async fn maintain(&self) -> Result<(), sqlx::Error> {
        let idle: Vec<(Arc<Budget>, i64)> = self
            .budgets
            .iter()
            .filter_map(|entry| {
                let micros = entry.value().take_returnable(false);
                (micros > 0).then(|| (entry.value().clone(), micros))
            })
            .collect();
        for (budget, micros) in idle {
            release_lease(&self.pool, self.instance, &budget, micros).await?;
        }
        budgets::renew(&self.pool, self.instance).await?;
        budgets::reclaim_stale(&self.pool, STALE_AFTER_SECONDS).await?;
        for subject in budgets::reset_due(&self.pool).await? {
            if let Some(budget) = self.budgets.get(subject.as_str()) {
                budget.held().spend_seen = 0;
            }
        }
        Ok(())
    }

    /// Returns every lease (the instance is stopping, after its last spend rows landed).
    pub async fn release_all(&self) -> Result<(), sqlx::Error> {
        budgets::release_all(&self.pool, self.instance).await
    }

    pub fn instance(&self) -> Uuid {
        self.instance
    }
}

/// Returns `micros` of an instance's lease on `budget` to Postgres; if Postgres cannot take
/// them, the instance keeps them (they were taken out of its lease in memory before).
async fn release_lease(
    pool: &PgPool,
    instance: Uuid,
    budget: &Budget,
    micros: i64,
) -> Result<(), sqlx::Error> {
    let released = budgets::release(pool, &budget.subject, instance, micros).await;
    if released.is_err() {
        budget.restore_lease(micros);
    }
    released
}

/// Maintains the ledger every [`MAINTAIN_EVERY`] until `stop`.
pub async fn maintain_until(ledger: Arc<Ledger>, stop: CancellationToken) {
    let mut timer = tokio::time::interval(MAINTAIN_EVERY);
    loop {
        tokio::select! {
            _ = timer.tick() => {
                if let Err(error) = ledger.maintain().await {
                    tracing::warn!(%error, "budget ledger maintenance failed; retrying");
                }
            }
            () = stop.cancelled() => return,
        }
    }
}
impl BudgetError {
    /// What the client is told.
    pub fn into_api_error(self) -> ApiError {
        let error = self;
        match error {
            BudgetError::Refused(refusal) => ApiError::BudgetExceeded {
                subject: refusal.subject,
                spend_micros: refusal.spend_micros,
                budget_micros: refusal.max_micros,
            },
            BudgetError::Unavailable(error) => {
                tracing::error!(%error, "budget ledger unavailable; refusing");
                ApiError::BudgetsUnavailable
            }
        }
    }
}
