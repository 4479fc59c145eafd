//! The background task: runs effects, syncs Hetzner, writes the store.
//!
//! [`spawn`] starts one tokio task that owns the Hetzner [`Client`] and the [`Store`] (only the
//! worker writes the store: docs/ARCHITECTURE.md). The dashboard talks to it over two unbounded channels
//! ([`protocol`]): [`Effect`]s in, [`WorkerEvent`]s out. The UI never waits on it.
//!
//! What it does:
//! - at start, a [`Snapshot`] from the store alone, marked `stale` (docs/ARCHITECTURE.md "Data"), then a
//!   sync at once;
//! - a sync lists servers and firewalls with the label selector `crabglamp/vm-id` (in a
//!   separate task, so effects are still handled while a slow API answers), reconciles them with the store ([`reconcile`]) and sends a fresh snapshot;
//! - syncs repeat every `sync_interval` (default 30 s, floor 5 s: issue 3 item 4) and on
//!   [`Effect::Refresh`]; refreshes arriving while a sync runs collapse into one queued sync;
//! - the API budget (`RateLimit-*` headers, docs/hetzner-api.md §4) stretches the interval
//!   four-fold below 10 % remaining and holds syncs while it is empty until one sync's requests have refilled;
//! - when the API cannot be reached, [`WorkerEvent::SyncFailed`] with `offline: true`, the last
//!   data stays, and syncs retry after 2, 4, 8 … s (capped at the interval) until it answers;
//! - effects are authorised in one place ([`Worker::authorise`]): read-only mode refuses every
//!   mutating effect.

pub mod firewall;
pub mod lifecycle;
pub mod reconcile;
pub mod usage;
pub mod vault;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::domain::{Account, AuditKind, VmStatus, labels};
use crate::hetzner::{ApiError, Client, ListParams, RateLimit};
use crate::protocol::{Budget, Effect, Mode, Snapshot, WorkerEvent};
use crate::store::{AuditDraft, Store, StoreError};
use lifecycle::{Ctx, LifecycleError, LifecycleSettings, Report};
use reconcile::{HetznerView, Reconciliation};
use uuid::Uuid;

/// Shortest allowed interval between scheduled syncs: 5 s (issue 3 item 4; at 2 requests per
/// sync that is 1440 of Hetzner's default 3600 requests per hour).
pub const MIN_SYNC_INTERVAL: Duration = Duration::from_secs(5);

/// Default interval between scheduled syncs: 30 s (issue 3 item 4).
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(30);

/// First retry delay after a network failure; doubles per failure up to the sync interval.
pub const OFFLINE_RETRY_START: Duration = Duration::from_secs(2);

/// Store `meta` key holding the time of the last successful sync (RFC 3339, UTC).
pub const LAST_SYNC_META_KEY: &str = "sync.last_ok";

pub use crate::protocol::USAGE_WINDOW_DAYS;

/// Below this share of the hourly limit left (1/10 = 10 %), the sync interval is stretched.
const LOW_BUDGET_DIVISOR: u64 = 10;

/// Factor applied to the sync interval while the budget is low.
const LOW_BUDGET_STRETCH: u32 = 4;

/// What the worker needs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Hetzner client (live endpoint or the in-process sim).
    pub client: Client,
    /// The opened store; the worker is its only writer.
    pub store: Store,
    /// Live or demo (for the log only; the UI shows the badge).
    pub mode: Mode,
    /// Refuse every mutating effect (`--read-only`).
    pub read_only: bool,
    /// Interval between scheduled syncs; values below [`MIN_SYNC_INTERVAL`] are raised to it.
    pub sync_interval: Duration,
    /// The operator, recorded as the actor of audit events.
    pub actor: String,
    /// Rate table and currency for usage accrual ([`usage`]).
    pub usage: usage::UsageSettings,
}

/// The running worker: send effects, receive events, await `join` after [`Effect::Shutdown`].
#[derive(Debug)]
pub struct WorkerHandle {
    /// Effects for the worker. Dropping every sender stops the worker like [`Effect::Shutdown`].
    pub effects: UnboundedSender<Effect>,
    /// Events from the worker, in the order they happened.
    pub events: UnboundedReceiver<WorkerEvent>,
    /// The worker task; ends after [`Effect::Shutdown`] or when the effect channel closes.
    pub join: JoinHandle<()>,
}

/// Starts the worker on the current tokio runtime. The first event is a stale
/// [`WorkerEvent::Snapshot`] built from the store alone; a sync starts right after.
/// Lifecycle operations use [`LifecycleSettings::default`] (see [`spawn_with`]).
pub fn spawn(cfg: WorkerConfig) -> WorkerHandle {
    spawn_with(cfg, LifecycleSettings::default())
}

/// [`spawn`] with the settings of the lifecycle operations (server types from the config,
/// polling).
pub fn spawn_with(cfg: WorkerConfig, lifecycle: LifecycleSettings) -> WorkerHandle {
    let (effects_tx, effects_rx) = mpsc::unbounded_channel();
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let (tasks_tx, tasks_rx) = mpsc::unbounded_channel();
    let worker = Worker {
        interval: cfg.sync_interval.max(MIN_SYNC_INTERVAL),
        client: cfg.client,
        store: cfg.store,
        mode: cfg.mode,
        read_only: cfg.read_only,
        actor: cfg.actor,
        usage: cfg.usage,
        events: events_tx,
        view: None,
        synced: false,
        last_budget: None,
        offline_failures: 0,
        lifecycle: Arc::new(lifecycle),
        tasks: tasks_tx,
        busy: HashSet::new(),
        firewall_jobs: firewall::Jobs::default(),
    };
    let join = tokio::spawn(worker.run(effects_rx, tasks_rx));
    WorkerHandle {
        effects: effects_tx,
        events: events_rx,
        join,
    }
}

/// Result of the fetch task of one sync.
type FetchResult = Result<HetznerView, ApiError>;

struct Worker {
    client: Client,
    store: Store,
    mode: Mode,
    read_only: bool,
    interval: Duration,
    actor: String,
    usage: usage::UsageSettings,
    events: UnboundedSender<WorkerEvent>,
    /// What Hetzner held at the last successful sync (kept while offline).
    view: Option<HetznerView>,
    /// True after the first successful sync of this session.
    synced: bool,
    last_budget: Option<Budget>,
    /// Consecutive network failures (for the backoff).
    offline_failures: u32,
    /// Settings of the lifecycle operations.
    lifecycle: Arc<LifecycleSettings>,
    /// Where lifecycle tasks report back to the loop.
    tasks: UnboundedSender<TaskMsg>,
    /// VMs with a lifecycle operation in flight: one at a time per VM, and syncs do not
    /// rewrite their records meanwhile.
    busy: HashSet<Uuid>,
    /// Firewall applies running (issue 5: one at a time per firewall).
    firewall_jobs: firewall::Jobs,
}

/// What a lifecycle task tells the worker loop.
#[derive(Debug)]
enum TaskMsg {
    /// Pass this event on to the UI.
    Event(WorkerEvent),
    /// The store changed: send a snapshot.
    Changed,
    /// The operation on this VM ended with this event (`None` if its task died): the VM is
    /// free again before the event is passed on.
    Finished(Uuid, Option<WorkerEvent>),
}

/// Sends [`TaskMsg::Finished`] with the final event when dropped, so a VM is never left busy.
struct FinishGuard {
    tasks: UnboundedSender<TaskMsg>,
    vm_id: Uuid,
    event: Option<WorkerEvent>,
}

impl Drop for FinishGuard {
    fn drop(&mut self) {
        let _ = self
            .tasks
            .send(TaskMsg::Finished(self.vm_id, self.event.take()));
    }
}

/// Waits for the in-flight fetch, or forever when there is none.
async fn join_fetch(
    fetch: &mut Option<JoinHandle<FetchResult>>,
) -> Result<FetchResult, tokio::task::JoinError> {
    match fetch {
        Some(handle) => handle.await,
        None => std::future::pending().await,
    }
}

/// Runs a blocking store operation off the async threads (sled calls block: store module docs).
async fn blocking<T, F>(store: &Store, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
{
    let store = store.clone();
    match tokio::task::spawn_blocking(move || f(&store)).await {
        Ok(r) => r,
        Err(e) => Err(StoreError::Io(format!("store task failed: {e}"))),
    }
}

impl Worker {
    fn emit(&self, event: WorkerEvent) {
        // The receiver is gone only when the UI has quit; nothing left to tell.
        let _ = self.events.send(event);
    }

    async fn run(
        mut self,
        mut effects: UnboundedReceiver<Effect>,
        mut tasks: UnboundedReceiver<TaskMsg>,
    ) {
        tracing::info!(
            mode = ?self.mode,
            read_only = self.read_only,
            actor = %self.actor,
            interval_s = self.interval.as_secs(),
            endpoint = %self.client.endpoint(),
            "worker started"
        );
        self.send_snapshot().await;
        if self.accrue_usage(None).await {
            self.send_snapshot().await;
        }
        let mut next_sync = Instant::now();
        let mut refresh_queued = false;
        let mut fetch: Option<JoinHandle<FetchResult>> = None;
        loop {
            if fetch.is_none() && (refresh_queued || Instant::now() >= next_sync) {
                match self.budget_gate(Utc::now()) {
                    Some(wait) => {
                        if refresh_queued {
                            self.emit(WorkerEvent::Info(format!(
                                "API budget used up; next sync in {} s",
                                wait.as_secs()
                            )));
                            refresh_queued = false;
                        }
                        next_sync = next_sync.max(Instant::now() + wait);
                    }
                    None => {
                        refresh_queued = false;
                        fetch = Some(self.start_fetch());
                        self.emit(WorkerEvent::SyncStarted);
                    }
                }
            }
            tokio::select! {
                biased;
                effect = effects.recv() => match effect {
                    None | Some(Effect::Shutdown) => break,
                    Some(Effect::Refresh) => refresh_queued = true,
                    Some(other) => self.apply(other).await,
                },
                done = join_fetch(&mut fetch) => {
                    fetch = None;
                    let delay = self.finish_sync(done).await;
                    next_sync = Instant::now() + delay;
                }
                Some(msg) = tasks.recv() => {
                    // After an operation, sync so the view shows what Hetzner now holds.
                    if self.task_msg(msg).await {
                        refresh_queued = true;
                    }
                }
                _ = tokio::time::sleep_until(next_sync), if fetch.is_none() => {}
            }
        }
        if !self.busy.is_empty() {
            tracing::warn!(
                operations = self.busy.len(),
                "worker stopping with lifecycle operations still running"
            );
        }
        if let Some(handle) = fetch {
            handle.abort();
        }
        if let Err(e) = blocking(&self.store, |s| s.flush()).await {
            tracing::warn!(error = %e, "flushing the store at shutdown failed");
        }
        tracing::info!("worker stopped");
    }

    /// Starts listing labelled servers and firewalls as a separate task.
    fn start_fetch(&self) -> JoinHandle<FetchResult> {
        let client = self.client.clone();
        tokio::spawn(async move {
            let params = ListParams::new().label_selector(labels::MANAGED_SELECTOR);
            // One after the other, so the budget the client keeps (from the last response) is
            // the lowest one.
            let servers = client.list_servers(&params).await?;
            let firewalls = client.list_firewalls(&params).await?;
            Ok(HetznerView { servers, firewalls })
        })
    }

    /// Handles the end of a sync; returns the delay until the next scheduled one.
    async fn finish_sync(&mut self, done: Result<FetchResult, tokio::task::JoinError>) -> Duration {
        self.report_budget();
        let now = Utc::now();
        match done {
            Err(e) => {
                tracing::error!(error = %e, "sync task failed");
                self.emit(WorkerEvent::SyncFailed {
                    error: format!("sync task failed: {e}"),
                    offline: false,
                });
                self.interval
            }
            Ok(Err(e)) => self.sync_failed(&e, now),
            Ok(Ok(view)) => {
                self.offline_failures = 0;
                match self.apply_view(view, now).await {
                    Ok(()) => {
                        self.synced = true;
                        self.accrue_usage(None).await;
                        self.send_snapshot().await;
                        self.emit(WorkerEvent::SyncOk { at: now });
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "writing the sync result failed");
                        self.emit(WorkerEvent::SyncFailed {
                            error: format!("store: {e}"),
                            offline: false,
                        });
                    }
                }
                self.scheduled_delay(now)
            }
        }
    }

    /// Reports a failed fetch and returns the retry delay.
    fn sync_failed(&mut self, e: &ApiError, now: DateTime<Utc>) -> Duration {
        let offline = matches!(e, ApiError::Network(_) | ApiError::Timeout);
        tracing::warn!(error = %e, offline, "sync failed");
        self.emit(WorkerEvent::SyncFailed {
            error: e.to_string(),
            offline,
        });
        if offline {
            let delay = offline_backoff(self.offline_failures, self.interval);
            self.offline_failures = self.offline_failures.saturating_add(1);
            return delay;
        }
        self.offline_failures = 0;
        if let ApiError::RateLimited {
            reset_at: Some(reset),
        } = e
        {
            return (*reset - now)
                .to_std()
                .unwrap_or(Duration::ZERO)
                .max(self.interval);
        }
        self.scheduled_delay(now)
    }

    /// Reconciles the store with `view` and writes the changes, then keeps `view`.
    async fn apply_view(
        &mut self,
        view: HetznerView,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let for_store = view.clone();
        // Hetzner's prices become durable with the VM records they price (one flush below):
        // accrual must never see the VMs without their prices (a kill in between would cost
        // their days at 0).
        let prices = usage::prices_from_servers(&view.servers);
        let busy = self.busy.clone();
        let actor = self.actor.clone();
        let (adopted, vanished) = blocking(&self.store, move |s| {
            let records = s.vms()?;
            let Reconciliation {
                mut updates,
                adopted,
                vanished,
            } = reconcile::reconcile(&records, &for_store, now);
            // A lifecycle operation owns its VM's record until it ends (no lost updates).
            updates.retain(|r| !busy.contains(&r.id));
            for rec in &updates {
                s.put_vm(rec)?;
            }
            // A destroy cut off before it recorded its end (the console quit or crashed while
            // Hetzner finished deleting): the destroy audit event is still owed (docs/product-rules.md §6).
            for rec in &updates {
                let was_destroying = records
                    .iter()
                    .any(|old| old.id == rec.id && old.status == VmStatus::Destroying);
                if was_destroying && rec.status == VmStatus::Deleted {
                    s.append_audit(AuditDraft {
                        at: now,
                        kind: AuditKind::Destroy,
                        vm_id: rec.id,
                        vm_name: rec.name.clone(),
                        hetzner_server_id: rec.hetzner_server_id,
                        tier: rec.tier,
                        region: rec.region,
                        account: rec.account.clone(),
                        to_account: None,
                        actor: actor.clone(),
                        outcome: "ok: the server was found gone at a sync; the destroy that \
                                  started it ended without recording"
                            .into(),
                    })?;
                }
            }
            for rec in &adopted {
                if s.account(&rec.account)?.is_none() {
                    // The labels do not say which kind: organization, the kind that can
                    // receive transfers (docs/product-rules.md §7); the operator can see it in the overlay.
                    let account = Account {
                        slug: rec.account.clone(),
                        kind: crate::domain::AccountKind::Organization,
                        created_at: now,
                    };
                    match s.add_account(&account) {
                        Ok(()) | Err(StoreError::Exists { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
                s.put_vm(rec)?;
            }
            usage::save_hetzner_prices(s, &prices)?;
            s.meta_set(LAST_SYNC_META_KEY, &now.to_rfc3339())?;
            s.flush()?;
            Ok((adopted.len(), vanished.len()))
        })
        .await?;
        if adopted > 0 {
            tracing::info!(adopted, "adopted labelled servers into the store");
            self.emit(WorkerEvent::Info(format!(
                "adopted {adopted} labelled server(s) into the store"
            )));
        }
        if vanished > 0 {
            tracing::warn!(vanished, "VMs whose server is gone at Hetzner");
        }
        self.view = Some(view);
        Ok(())
    }

    /// Caches Hetzner's `prices` (when given, from a sync) and accrues usage up to now
    /// ([`usage::accrue`]). Returns true when records were written. Failures are logged and
    /// reported as [`WorkerEvent::SyncFailed`] (not offline); the next run catches up.
    async fn accrue_usage(
        &self,
        prices: Option<std::collections::BTreeMap<String, crate::domain::usage::HetznerPrice>>,
    ) -> bool {
        let settings = self.usage.clone();
        let result = blocking(&self.store, move |s| {
            if let Some(p) = prices {
                usage::save_hetzner_prices(s, &p)?;
            }
            let rates = usage::rates(s, &settings)?;
            usage::accrue(s, Utc::now(), &rates)
        })
        .await;
        match result {
            Ok(done) => {
                tracing::debug!(
                    vms = done.vms,
                    days = done.days,
                    records = done.records,
                    "usage accrued"
                );
                done.records > 0
            }
            Err(e) => {
                tracing::error!(error = %e, "usage accrual failed");
                self.emit(WorkerEvent::SyncFailed {
                    error: format!("usage accrual: {e}"),
                    offline: false,
                });
                false
            }
        }
    }

    /// Sends [`WorkerEvent::Budget`] when the client's rate-limit budget changed.
    fn report_budget(&mut self) {
        if let Some(rl) = self.client.rate_limit() {
            let budget = budget_of(rl);
            if self.last_budget != Some(budget) {
                self.last_budget = Some(budget);
                self.emit(WorkerEvent::Budget(budget));
            }
        }
    }

    /// How long to hold syncs because the budget is empty (`None`: go ahead).
    fn budget_gate(&self, now: DateTime<Utc>) -> Option<Duration> {
        let rl = self.client.rate_limit()?;
        if rl.remaining > 0 {
            return None;
        }
        let wait = until_sync_budget(&rl, now);
        (!wait.is_zero()).then_some(wait)
    }

    /// The delay until the next scheduled sync after a completed one, from the budget.
    fn scheduled_delay(&self, now: DateTime<Utc>) -> Duration {
        scheduled_delay(self.interval, self.client.rate_limit(), now)
    }

    /// Authorises an effect: the one place where read-only mode is enforced (docs/ARCHITECTURE.md).
    fn authorise(&self, effect: &Effect) -> Result<(), String> {
        if self.read_only && effect.is_mutating() {
            return Err(format!(
                "read-only mode: {} is not allowed",
                self.describe(effect)
            ));
        }
        Ok(())
    }

    /// [`describe`] with VMs named from the store (a cached sled read, on refusal paths only).
    fn describe(&self, effect: &Effect) -> String {
        describe(effect, &|id| {
            self.store.vm(id).ok().flatten().map(|vm| vm.name)
        })
    }

    /// Runs an effect other than `Refresh`/`Shutdown` (handled by the loop).
    async fn apply(&mut self, effect: Effect) {
        if let Err(reason) = self.authorise(&effect) {
            tracing::info!(%reason, "effect refused");
            self.emit(WorkerEvent::Refused { reason });
            return;
        }
        match effect {
            Effect::AddAccount { slug, kind } => {
                let account = Account {
                    slug: slug.clone(),
                    kind,
                    created_at: Utc::now(),
                };
                let result = blocking(&self.store, move |s| {
                    s.add_account(&account)?;
                    s.flush()
                })
                .await;
                match result {
                    Ok(()) => {
                        tracing::info!(%slug, kind = %kind, "account added");
                        self.emit(WorkerEvent::Info(format!(
                            "account '{slug}' added ({kind})"
                        )));
                        self.send_snapshot().await;
                    }
                    Err(e) => self.emit(WorkerEvent::Refused {
                        reason: format!("cannot add account '{slug}': {e}"),
                    }),
                }
            }
            Effect::Provision(_)
            | Effect::Power { .. }
            | Effect::Destroy { .. }
            | Effect::Transfer { .. }
            | Effect::SetBilling { .. } => self.start_operation(effect),
            Effect::LoadFirewall { vm_id, firewall_id } => {
                firewall::spawn_load(self.client.clone(), self.events.clone(), vm_id, firewall_id)
            }
            Effect::ApplyFirewall {
                vm_id,
                firewall_id,
                rules,
            } => firewall::spawn_apply(
                self.client.clone(),
                self.events.clone(),
                self.firewall_jobs.clone(),
                vm_id,
                firewall_id,
                rules,
            ),
            Effect::AddVaultKey {
                account,
                label,
                source,
            } => {
                let event = vault::add(&self.store, account, label, source, Utc::now()).await;
                self.vault_done(event).await;
            }
            Effect::DeleteVaultKey { id } => {
                let event = vault::delete(&self.store, id, Utc::now()).await;
                self.vault_done(event).await;
            }
            Effect::LoadUsage { from, to } => self.spawn_load_usage(from, to),
            Effect::Refresh | Effect::Shutdown => {}
        }
    }

    /// Reads the usage records of `from..=to` in a task of its own (a year of a thousand VMs
    /// takes a while) and answers with [`WorkerEvent::UsageRange`].
    fn spawn_load_usage(&self, from: chrono::NaiveDate, to: chrono::NaiveDate) {
        let store = self.store.clone();
        let events = self.events.clone();
        tokio::spawn(async move {
            let records = blocking(&store, move |s| s.usage(from, to))
                .await
                .map_err(|e| format!("reading usage {from} to {to}: {e}"));
            if let Err(e) = &records {
                tracing::warn!(error = %e, "usage range read failed");
            }
            // The receiver is gone only when the UI has quit.
            let _ = events.send(WorkerEvent::UsageRange(Box::new(
                crate::protocol::UsageRange { from, to, records },
            )));
        });
    }

    /// Starts a lifecycle operation as its own task ([`lifecycle`]), so syncs and other
    /// effects keep flowing; one operation per VM at a time.
    fn start_operation(&mut self, effect: Effect) {
        let vm_id = effect.vm_id().unwrap_or_else(Uuid::new_v4);
        if !self.busy.insert(vm_id) {
            self.emit(WorkerEvent::Refused {
                reason: format!(
                    "{}: another operation on this VM is still running",
                    self.describe(&effect)
                ),
            });
            return;
        }
        let client = self.client.clone();
        let store = self.store.clone();
        let settings = Arc::clone(&self.lifecycle);
        let actor = self.actor.clone();
        let tasks = self.tasks.clone();
        tokio::spawn(async move {
            let mut finish = FinishGuard {
                tasks: tasks.clone(),
                vm_id,
                event: None,
            };
            let report = |r: Report| {
                let msg = match r {
                    Report::Changed => TaskMsg::Changed,
                    Report::Progress {
                        vm_id,
                        percent,
                        step,
                    } => TaskMsg::Event(WorkerEvent::Progress {
                        vm_id,
                        percent,
                        step,
                    }),
                };
                let _ = tasks.send(msg);
            };
            let ctx = Ctx {
                client: &client,
                store: &store,
                settings: &settings,
                actor: &actor,
                report: &report,
            };
            finish.event = Some(run_operation(&ctx, vm_id, effect).await);
        });
    }

    /// Handles a message from a lifecycle task; true when an operation ended (time to sync).
    async fn task_msg(&mut self, msg: TaskMsg) -> bool {
        match msg {
            TaskMsg::Event(event) => self.emit(event),
            TaskMsg::Changed => self.send_snapshot().await,
            TaskMsg::Finished(vm_id, event) => {
                self.busy.remove(&vm_id);
                match event {
                    Some(event) => self.emit(event),
                    None => self.emit(WorkerEvent::OperationFailed {
                        vm_id,
                        error: "the operation's task ended unexpectedly".into(),
                    }),
                }
                return true;
            }
        }
        false
    }

    /// Reports a Vault effect: a snapshot first when the store changed, then the event.
    async fn vault_done(&self, event: crate::protocol::VaultEvent) {
        if !matches!(event, crate::protocol::VaultEvent::Refused(_)) {
            self.send_snapshot().await;
        }
        self.emit(WorkerEvent::Vault(event));
    }

    /// Builds a snapshot from the store and the last Hetzner view, and sends it.
    async fn send_snapshot(&self) {
        let view = self.view.clone();
        let stale = !self.synced;
        let today = Utc::now().date_naive();
        let from = today - chrono::Duration::days(USAGE_WINDOW_DAYS);
        let currency = self.usage.currency.clone();
        let built = blocking(&self.store, move |s| {
            let records = s.vms()?;
            Ok(Snapshot {
                vms: reconcile::rows(&records, view.as_ref()),
                accounts: s.accounts()?,
                vault: s.vault(None)?,
                audit: s.audit_events()?,
                audit_verified: Some(s.verify_audit().is_ok()),
                usage: s.usage(from, today)?,
                usage_currency: currency,
                hetzner_prices: usage::load_hetzner_prices(s)?,
                stale,
            })
        })
        .await;
        match built {
            Ok(snapshot) => self.emit(WorkerEvent::Snapshot(Box::new(snapshot))),
            Err(e) => {
                tracing::error!(error = %e, "reading the store failed");
                self.emit(WorkerEvent::SyncFailed {
                    error: format!("store: {e}"),
                    offline: false,
                });
            }
        }
    }
}

/// Runs one lifecycle effect to its end and returns the event that reports it:
/// [`WorkerEvent::Refused`] (nothing changed), [`WorkerEvent::Provisioned`],
/// [`WorkerEvent::OperationDone`] or [`WorkerEvent::OperationFailed`].
async fn run_operation(ctx: &Ctx<'_>, vm_id: Uuid, effect: Effect) -> WorkerEvent {
    let done = match &effect {
        Effect::Provision(req) => {
            return match lifecycle::provision(ctx, vm_id, req).await {
                Ok(result) => WorkerEvent::Provisioned(Box::new(result)),
                Err(e) => failure(vm_id, e),
            };
        }
        Effect::Power { action, .. } => lifecycle::power(ctx, vm_id, *action).await,
        Effect::Destroy { .. } => lifecycle::destroy(ctx, vm_id).await,
        Effect::Transfer { to, .. } => lifecycle::transfer(ctx, vm_id, to).await,
        Effect::SetBilling { billing_type, .. } => {
            lifecycle::set_billing(ctx, vm_id, *billing_type).await
        }
        other => Err(LifecycleError::Refused(format!(
            "{} is not a lifecycle operation",
            describe(other, &|_| None)
        ))),
    };
    match done {
        Ok(d) => WorkerEvent::OperationDone {
            vm_id,
            what: d.what,
            warning: d.warning,
        },
        Err(e) => failure(vm_id, e),
    }
}

fn failure(vm_id: Uuid, e: LifecycleError) -> WorkerEvent {
    match e {
        LifecycleError::Refused(reason) => {
            tracing::info!(%reason, "operation refused");
            WorkerEvent::Refused { reason }
        }
        LifecycleError::Failed(error) => {
            tracing::warn!(vm = %vm_id, %error, "operation failed");
            WorkerEvent::OperationFailed { vm_id, error }
        }
    }
}

/// The [`WorkerEvent::Info`] text that confirms [`Effect::AddAccount`]: `account 'SLUG' added
/// (KIND)`. Headless commands wait for exactly this line.
pub fn account_added_info(slug: &str, kind: crate::domain::AccountKind) -> String {
    format!("account '{slug}' added ({kind})")
}

/// A short description of an effect for refusal messages.
fn describe(effect: &Effect, name_of: &dyn Fn(Uuid) -> Option<String>) -> String {
    let vm = |id: &Uuid| match name_of(*id) {
        Some(name) => format!("VM '{name}'"),
        None => format!("VM {id}"),
    };
    match effect {
        Effect::Refresh => "refresh".into(),
        Effect::AddAccount { slug, .. } => format!("adding account '{slug}'"),
        Effect::Shutdown => "shutdown".into(),
        Effect::Provision(req) => format!("provisioning '{}'", req.name),
        Effect::Power { vm_id, action } => format!("{} of {}", action.verb(), vm(vm_id)),
        Effect::Destroy { vm_id } => format!("destroying {}", vm(vm_id)),
        Effect::Transfer { vm_id, to } => format!("transferring {} to '{to}'", vm(vm_id)),
        Effect::SetBilling {
            vm_id,
            billing_type,
        } => format!("switching {} to {billing_type} billing", vm(vm_id)),
        Effect::LoadFirewall { firewall_id, .. } => format!("reading firewall {firewall_id}"),
        Effect::ApplyFirewall { firewall_id, .. } => {
            format!("applying rules to firewall {firewall_id}")
        }
        Effect::AddVaultKey { account, .. } => format!("adding a key to {account}'s Vault"),
        Effect::DeleteVaultKey { id } => format!("deleting Vault key {id}"),
        Effect::LoadUsage { from, to } => format!("reading usage {from} to {to}"),
    }
}

/// The status-bar budget for a client rate limit.
fn budget_of(rl: RateLimit) -> Budget {
    Budget {
        limit: rl.limit,
        remaining: rl.remaining,
        reset: rl.reset,
    }
}

/// Retry delay after `failures` earlier consecutive network failures: 2 s · 2^failures,
/// capped at `interval`.
pub fn offline_backoff(failures: u32, interval: Duration) -> Duration {
    OFFLINE_RETRY_START
        .saturating_mul(2u32.saturating_pow(failures.min(16)))
        .min(interval)
}

/// Requests one sync may need (servers and firewalls, a few pages each), waited for when the
/// budget is empty.
pub const SYNC_REQUESTS: u32 = 10;

/// How long until an empty budget holds [`SYNC_REQUESTS`] requests again. Hetzner's bucket
/// refills gradually, `limit` per hour (1 per second at 3600/h), and `RateLimit-Reset` is when
/// it is *full* (docs/hetzner-api.md §4), so the wait is the refill time of those requests,
/// never later than the reset.
pub fn until_sync_budget(rl: &RateLimit, now: DateTime<Utc>) -> Duration {
    let until_reset = (rl.reset - now).to_std().unwrap_or(Duration::ZERO);
    if rl.limit == 0 {
        return until_reset;
    }
    let refill = Duration::from_secs_f64(f64::from(SYNC_REQUESTS) * 3600.0 / f64::from(rl.limit));
    refill.min(until_reset)
}

/// Delay until the next scheduled sync: `interval`, four times that while fewer than 10 % of
/// the hourly limit remain, and when none remain at least until the bucket holds one sync's
/// requests again ([`until_sync_budget`], docs/hetzner-api.md §4).
pub fn scheduled_delay(interval: Duration, rl: Option<RateLimit>, now: DateTime<Utc>) -> Duration {
    let Some(rl) = rl else {
        return interval;
    };
    if rl.remaining == 0 {
        return until_sync_budget(&rl, now).max(interval);
    }
    if u64::from(rl.remaining) * LOW_BUDGET_DIVISOR < u64::from(rl.limit) {
        return interval.saturating_mul(LOW_BUDGET_STRETCH);
    }
    interval
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn rl(limit: u32, remaining: u32, reset: DateTime<Utc>) -> RateLimit {
        RateLimit {
            limit,
            remaining,
            reset,
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped_at_the_interval() {
        let i = Duration::from_secs(30);
        let got: Vec<u64> = (0..6).map(|n| offline_backoff(n, i).as_secs()).collect();
        assert_eq!(got, vec![2, 4, 8, 16, 30, 30]);
        assert_eq!(offline_backoff(u32::MAX, i), i);
    }

    #[test]
    fn budget_stretches_and_waits_for_reset() {
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();
        let i = Duration::from_secs(30);
        assert_eq!(scheduled_delay(i, None, now), i);
        assert_eq!(scheduled_delay(i, Some(rl(3600, 3000, now)), now), i);
        assert_eq!(scheduled_delay(i, Some(rl(3600, 360, now)), now), i);
        assert_eq!(
            scheduled_delay(i, Some(rl(3600, 359, now)), now),
            Duration::from_secs(120)
        );
        // Empty at 3600/h: one sync's 10 requests refill in 10 s, not at the full reset.
        let reset = now + chrono::Duration::seconds(3600);
        assert_eq!(
            until_sync_budget(&rl(3600, 0, reset), now),
            Duration::from_secs(10)
        );
        assert_eq!(scheduled_delay(i, Some(rl(3600, 0, reset)), now), i);
        // A small bucket (360/h): 100 s, longer than the interval.
        assert_eq!(
            scheduled_delay(i, Some(rl(360, 0, reset)), now),
            Duration::from_secs(100)
        );
        // Never past the reset.
        let soon = now + chrono::Duration::seconds(40);
        assert_eq!(
            scheduled_delay(i, Some(rl(36, 0, soon)), now),
            Duration::from_secs(40)
        );
        assert_eq!(scheduled_delay(i, Some(rl(3600, 0, now)), now), i);
    }

    #[test]
    fn refusals_name_the_vm_when_known() {
        let id = Uuid::from_u128(7);
        let destroy = Effect::Destroy { vm_id: id };
        assert_eq!(
            describe(&destroy, &|_| Some("web-1".into())),
            "destroying VM 'web-1'"
        );
        assert_eq!(describe(&destroy, &|_| None), format!("destroying VM {id}"));
    }
}
