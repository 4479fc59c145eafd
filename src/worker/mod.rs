//! The background task: runs effects, syncs Hetzner, writes the store.
//!
//! [`spawn`] starts one tokio task that owns the Hetzner [`Client`] and the [`Store`] (only the
//! worker writes the store: docs/ARCHITECTURE.md). The dashboard talks to it over two unbounded channels
//! ([`protocol`]): [`Effect`]s in, [`WorkerEvent`]s out. The UI never waits on it.
//!
//! What it does:
//! - at start, a [`Snapshot`](crate::protocol::Snapshot) from the store alone, marked `stale` (docs/ARCHITECTURE.md "Data"), then a
//!   sync at once;
//! - a sync ([`sync`]) lists servers and firewalls with the label selector `crabglamp/vm-id` (in a
//!   separate task, so effects are still handled while a slow API answers), reconciles them with the store ([`reconcile`]) and sends a fresh snapshot;
//! - syncs repeat every `sync_interval` (default 30 s, floor 5 s: issue 3 item 4) and on
//!   [`Effect::Refresh`]; refreshes arriving while a sync runs collapse into one queued sync;
//! - the API budget (`RateLimit-*` headers, docs/hetzner-api.md §4) stretches the interval
//!   four-fold below 10 % remaining and holds syncs while it is empty until one sync's requests have refilled;
//! - when the API cannot be reached, [`WorkerEvent::SyncFailed`] with `offline: true`, the last
//!   data stays, and syncs retry after 2, 4, 8 … s (capped at the interval) until it answers;
//! - effects are authorised in one place ([`Worker::authorise`]): read-only mode refuses every
//!   mutating effect.

pub mod caller;
pub mod firewall;
pub mod lifecycle;
pub mod reconcile;
pub mod snapshot;
pub mod sync;
pub mod usage;
pub mod vault;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::domain::Account;
use crate::hetzner::{ApiError, Client};
use crate::protocol::wire::Role;
use crate::protocol::{Budget, Effect, Mode, WorkerEvent};
use crate::store::{Store, StoreError};
use caller::{Audience, Caller, ClientId, Outbox, Reply, Request, Requester, Routed};
use lifecycle::{Ctx, LifecycleError, LifecycleSettings, Report};
use reconcile::HetznerView;
use snapshot::Touched;
use uuid::Uuid;

/// Shortest allowed interval between scheduled syncs: 5 s (issue 3 item 4; at 2 requests per
/// sync that is 1440 of Hetzner's default 3600 requests per hour).
pub const MIN_SYNC_INTERVAL: Duration = Duration::from_secs(5);

/// Default interval between scheduled syncs: 30 s (issue 3 item 4).
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(30);

/// First retry delay after a network failure; doubles per failure up to the sync interval.
pub const OFFLINE_RETRY_START: Duration = Duration::from_secs(2);

/// How long a stopping service waits for running lifecycle operations to end: 30 s (within
/// systemd's default stop timeout of 90 s); what is still running then is recorded as
/// requested (src/store/intents.rs) and attributed at the next sync.
pub const OPERATIONS_STOP_WAIT: Duration = Duration::from_secs(30);

/// Store `meta` key holding the time of the last successful sync (RFC 3339, UTC).
pub const LAST_SYNC_META_KEY: &str = "sync.last_ok";

pub use crate::protocol::USAGE_WINDOW_DAYS;
pub use sync::{SYNC_REQUESTS, offline_backoff, scheduled_delay, until_sync_budget};

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
    /// The local operator: the Unix user name of this process (embedded), or of the service
    /// (whose own recovery writes name it when no request was recorded).
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

/// The worker inside `crabglamp serve`: requests from authenticated callers in, events with
/// their audience out (src/service/mod.rs routes them). Dropping `requests` stops it.
#[derive(Debug)]
pub struct ServiceWorker {
    /// Requests for the worker.
    pub requests: UnboundedSender<Request>,
    /// Events and who they are for.
    pub events: UnboundedReceiver<Routed>,
    /// The worker task.
    pub join: JoinHandle<()>,
}

/// Starts the worker of a service: like [`spawn_with`], but every effect comes with its
/// [`Caller`] and every event with its [`Audience`].
pub fn spawn_service(cfg: WorkerConfig, lifecycle: LifecycleSettings) -> ServiceWorker {
    let (requests_tx, requests_rx) = mpsc::unbounded_channel();
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let worker = Worker::new(cfg, lifecycle, Outbox::Routed(events_tx));
    let join = tokio::spawn(worker.run(Input::Service(requests_rx)));
    ServiceWorker {
        requests: requests_tx,
        events: events_rx,
        join,
    }
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
    let worker = Worker::new(cfg, lifecycle, Outbox::Local(events_tx));
    let join = tokio::spawn(worker.run(Input::Local(effects_rx)));
    WorkerHandle {
        effects: effects_tx,
        events: events_rx,
        join,
    }
}

/// The embedded console's caller: this process's user, an operator (read-only mode is the
/// worker's own setting), and the address its `SSH_CONNECTION` reports.
pub fn local_caller(user: &str) -> Caller {
    Caller {
        client: 0,
        user: user.to_string(),
        role: Role::Operator,
        origin: std::env::var("SSH_CONNECTION")
            .ok()
            .and_then(|v| lifecycle::ssh_origin(&v)),
    }
}

/// Where the worker's effects come from.
enum Input {
    /// The embedded console: every effect is the local operator's.
    Local(UnboundedReceiver<Effect>),
    /// The service: effects with their callers.
    Service(UnboundedReceiver<Request>),
}

impl Input {
    /// The next request; `None` when the worker should stop.
    async fn next(&mut self, local: &Arc<Caller>) -> Option<Request> {
        match self {
            Input::Local(rx) => match rx.recv().await {
                None | Some(Effect::Shutdown) => None,
                Some(e) => Some(Request::Effect(Arc::clone(local), e)),
            },
            Input::Service(rx) => rx.recv().await,
        }
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
    /// The local operator (embedded) or the service's own user.
    local: Arc<Caller>,
    usage: usage::UsageSettings,
    events: Outbox,
    /// What Hetzner held at the last successful sync (kept while offline).
    view: Option<Arc<HetznerView>>,
    /// The last snapshot sent, reused part by part ([`snapshot`]).
    cache: snapshot::Cache,
    /// Parts touched by changes whose snapshot could not be read yet.
    pending: Touched,
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
    /// Each client's last Usage query: answered again after each snapshot that changes what
    /// it sums (usage records, VMs, prices).
    usage_query: HashMap<ClientId, crate::protocol::UsageQuery>,
    /// The receiving end of `tasks`, taken by [`Worker::run`].
    tasks_rx: Option<UnboundedReceiver<TaskMsg>>,
    /// Inside a service: effects come from other processes, whose files are not this one's
    /// to read.
    remote: bool,
}

/// What a lifecycle or firewall task tells the worker loop.
#[derive(Debug)]
enum TaskMsg {
    /// Pass this event on to the caller that asked.
    Event(Reply, WorkerEvent),
    /// The store changed: send a snapshot.
    Changed,
    /// Hetzner's firewalls changed (an apply): sync so every console sees them.
    FirewallApplied,
    /// The operation on this VM ended with this event (`None` if its task died): the VM is
    /// free again before the event is passed on to the caller.
    Finished(Uuid, Reply, Option<WorkerEvent>),
}

/// Sends [`TaskMsg::Finished`] with the final event when dropped, so a VM is never left busy.
struct FinishGuard {
    tasks: UnboundedSender<TaskMsg>,
    vm_id: Uuid,
    reply: Reply,
    event: Option<WorkerEvent>,
}

impl Drop for FinishGuard {
    fn drop(&mut self) {
        let _ = self.tasks.send(TaskMsg::Finished(
            self.vm_id,
            self.reply.clone(),
            self.event.take(),
        ));
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
    fn new(cfg: WorkerConfig, lifecycle: LifecycleSettings, events: Outbox) -> Worker {
        let (tasks_tx, tasks_rx) = mpsc::unbounded_channel();
        Worker {
            interval: cfg.sync_interval.max(MIN_SYNC_INTERVAL),
            client: cfg.client,
            store: cfg.store,
            mode: cfg.mode,
            read_only: cfg.read_only,
            local: Arc::new(local_caller(&cfg.actor)),
            usage: cfg.usage,
            events,
            view: None,
            cache: snapshot::Cache::default(),
            pending: Touched::NONE,
            synced: false,
            last_budget: None,
            offline_failures: 0,
            lifecycle: Arc::new(lifecycle),
            tasks: tasks_tx,
            busy: HashSet::new(),
            firewall_jobs: firewall::Jobs::default(),
            usage_query: HashMap::new(),
            tasks_rx: Some(tasks_rx),
            remote: false,
        }
    }

    /// Sends an event to every console.
    fn emit(&self, event: WorkerEvent) {
        self.events.send(Audience::All, event);
    }

    /// Sends an event to the caller that asked.
    fn reply(&self, caller: &Caller, event: WorkerEvent) {
        self.events.send(Audience::Client(caller.client), event);
    }

    async fn run(mut self, mut input: Input) {
        let Some(mut tasks) = self.tasks_rx.take() else {
            return;
        };
        self.remote = matches!(input, Input::Service(_));
        tracing::info!(
            mode = ?self.mode,
            read_only = self.read_only,
            actor = %self.local.user,
            interval_s = self.interval.as_secs(),
            endpoint = %self.client.endpoint(),
            "worker started"
        );
        self.send_snapshot(Touched::ALL).await;
        if self.accrue_usage(None).await {
            self.send_snapshot(Touched::USAGE).await;
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
                request = input.next(&self.local) => match request {
                    None | Some(Request::Stop) => break,
                    Some(Request::Effect(_, Effect::Shutdown)) => {}
                    Some(Request::Effect(_, Effect::Refresh)) => refresh_queued = true,
                    Some(Request::Effect(caller, other)) => self.apply(&caller, other).await,
                    Some(Request::Disconnected(client)) => {
                        self.usage_query.remove(&client);
                    }
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
        if let Some(handle) = fetch.take() {
            handle.abort();
        }
        // A service lets the operations its callers asked for finish first (bounded): they
        // belong to whoever asked, not to this run. An embedded console asked before quitting.
        if matches!(input, Input::Service(_)) && !self.busy.is_empty() {
            tracing::info!(
                operations = self.busy.len(),
                "waiting for running operations before stopping"
            );
            let deadline = Instant::now() + OPERATIONS_STOP_WAIT;
            while !self.busy.is_empty() {
                tokio::select! {
                    Some(msg) = tasks.recv() => {
                        self.task_msg(msg).await;
                    }
                    _ = tokio::time::sleep_until(deadline) => break,
                }
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

    /// Authorises an effect: the one place where read-only mode and the caller's role are
    /// enforced (docs/ARCHITECTURE.md, docs/product-rules.md §10).
    fn authorise(&self, caller: &Caller, effect: &Effect) -> Result<(), String> {
        authorise(self.read_only, caller, effect, &|e| self.describe(e))
    }

    /// A service never reads a file a client names (it would read it with the service's
    /// permissions, home and directory): attached clients read key files themselves and send
    /// the text (src/service/client.rs).
    fn no_remote_paths(&self, effect: &Effect) -> Result<(), String> {
        match effect {
            Effect::AddVaultKey {
                source: crate::protocol::KeySource::Path(_),
                ..
            } if self.remote => Err(
                "the service reads no files for clients: send the key's text (crabglamp reads \
                 the file on your side)"
                    .into(),
            ),
            _ => Ok(()),
        }
    }

    /// A firewall effect may only touch the VM's own firewall, as the store records it: a
    /// client names the VM; a firewall id it sends that is not that VM's is refused (the
    /// project's other firewalls are not the console's to read or change).
    fn firewall_of_vm(&self, effect: &Effect) -> Result<(), String> {
        let (Effect::LoadFirewall { vm_id, firewall_id }
        | Effect::ApplyFirewall {
            vm_id, firewall_id, ..
        }) = effect
        else {
            return Ok(());
        };
        match self.store.vm(*vm_id) {
            Ok(Some(vm)) if vm.hetzner_firewall_id == Some(*firewall_id) => Ok(()),
            Ok(Some(vm)) => Err(format!(
                "firewall {firewall_id} is not VM '{}''s firewall",
                vm.name
            )),
            Ok(None) => Err(format!("VM {vm_id} is not a Plain VM of this store")),
            Err(e) => Err(format!("reading VM {vm_id}: {e}")),
        }
    }

    /// [`describe`] with VMs named from the store (a cached sled read, on refusal paths only).
    fn describe(&self, effect: &Effect) -> String {
        describe(effect, &|id| {
            self.store.vm(id).ok().flatten().map(|vm| vm.name)
        })
    }

    /// Runs an effect other than `Refresh`/`Shutdown` (handled by the loop).
    async fn apply(&mut self, caller: &Arc<Caller>, effect: Effect) {
        if let Err(reason) = self
            .authorise(caller, &effect)
            .and_then(|()| self.firewall_of_vm(&effect))
            .and_then(|()| self.no_remote_paths(&effect))
        {
            tracing::info!(user = %caller.user, %reason, "effect refused");
            self.reply(caller, WorkerEvent::Refused { reason });
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
                        tracing::info!(%slug, kind = %kind, user = %caller.user, "account added");
                        self.send_snapshot(Touched::ACCOUNTS).await;
                        self.reply(caller, WorkerEvent::Info(account_added_info(&slug, kind)));
                    }
                    Err(e) => self.reply(
                        caller,
                        WorkerEvent::Refused {
                            reason: format!("cannot add account '{slug}': {e}"),
                        },
                    ),
                }
            }
            Effect::Provision(_)
            | Effect::Power { .. }
            | Effect::Destroy { .. }
            | Effect::Transfer { .. }
            | Effect::SetBilling { .. } => self.start_operation(caller, effect),
            Effect::LoadFirewall { vm_id, firewall_id } => firewall::spawn_load(
                self.client.clone(),
                self.events.reply_to(caller.client),
                vm_id,
                firewall_id,
            ),
            Effect::ApplyFirewall {
                vm_id,
                firewall_id,
                rules,
            } => {
                let tasks = self.tasks.clone();
                tracing::info!(user = %caller.user, firewall = firewall_id, "firewall apply requested");
                firewall::spawn_apply(
                    self.client.clone(),
                    self.events.reply_to(caller.client),
                    self.firewall_jobs.clone(),
                    (vm_id, firewall_id),
                    rules,
                    move || {
                        let _ = tasks.send(TaskMsg::FirewallApplied);
                    },
                )
            }
            Effect::AddVaultKey {
                account,
                label,
                source,
            } => {
                let event = vault::add(&self.store, account, label, source, Utc::now()).await;
                self.vault_done(caller, event).await;
            }
            Effect::DeleteVaultKey { id } => {
                let event = vault::delete(&self.store, id, Utc::now()).await;
                self.vault_done(caller, event).await;
            }
            Effect::UsageQuery(query) => {
                self.usage_query.insert(caller.client, query.clone());
                self.spawn_usage(self.events.reply_to(caller.client), query);
            }
            Effect::Refresh | Effect::Shutdown => {}
        }
    }

    /// Answers a Usage pane query in a task of its own (a year of a thousand VMs takes a
    /// while to read and sum) with [`WorkerEvent::Usage`] ([`usage::answer`]), from the current
    /// snapshot.
    fn spawn_usage(&self, reply: Reply, query: crate::protocol::UsageQuery) {
        let store = self.store.clone();
        let snapshot = self.cache.snapshot.clone();
        tokio::spawn(async move {
            let view = usage::answer(&store, snapshot, query).await;
            reply.send(WorkerEvent::Usage(Box::new(view)));
        });
    }

    /// Starts a lifecycle operation as its own task ([`lifecycle`]), so syncs and other
    /// effects keep flowing; one operation per VM at a time.
    fn start_operation(&mut self, caller: &Caller, effect: Effect) {
        let vm_id = effect.vm_id().unwrap_or_else(Uuid::new_v4);
        if !self.busy.insert(vm_id) {
            self.reply(
                caller,
                WorkerEvent::Refused {
                    reason: format!(
                        "{}: another operation on this VM is still running",
                        self.describe(&effect)
                    ),
                },
            );
            return;
        }
        let requester = Requester::of(caller, Utc::now());
        tracing::info!(user = %requester.user, origin = ?requester.origin, operation = %self.describe(&effect), "operation requested");
        self.run_task(
            vm_id,
            requester,
            self.events.reply_to(caller.client),
            effect,
        );
    }

    /// Destroys that were requested and then cut off by a stop of this process (their VM is
    /// still `destroying`, the request still recorded: src/store/intents.rs) are carried on
    /// after the first sync, in the name of who asked and when; a destroy whose server the
    /// sync found gone was recorded by the sync already.
    async fn resume_destroys(&mut self) {
        let open = blocking(&self.store, |s| {
            let mut out = Vec::new();
            for intent in s.intents_all()? {
                let destroying = s
                    .vm(intent.vm_id)?
                    .is_some_and(|vm| vm.status == crate::domain::VmStatus::Destroying);
                if intent.kind == crate::domain::AuditKind::Destroy && destroying {
                    out.push(intent);
                }
            }
            Ok(out)
        })
        .await;
        let open = match open {
            Ok(open) => open,
            Err(e) => {
                tracing::error!(error = %e, "reading the recorded requests failed");
                return;
            }
        };
        for intent in open {
            if !self.busy.insert(intent.vm_id) {
                continue;
            }
            tracing::info!(vm = %intent.vm_id, requester = %intent.requester, requested_at = %intent.requested_at, "carrying on a destroy cut off by a stop");
            let requester = Requester {
                user: intent.requester,
                origin: intent.origin,
                requested_at: intent.requested_at,
            };
            self.run_task(
                intent.vm_id,
                requester,
                self.events.reply_to(self.local.client),
                Effect::Destroy {
                    vm_id: intent.vm_id,
                },
            );
        }
    }

    /// Runs a lifecycle effect on `vm_id` (already marked busy) as its own task for
    /// `requester`, reporting to `reply`.
    fn run_task(&self, vm_id: Uuid, requester: Requester, reply: Reply, effect: Effect) {
        let client = self.client.clone();
        let store = self.store.clone();
        let settings = Arc::clone(&self.lifecycle);
        let tasks = self.tasks.clone();
        // The operation is its own task: it runs to its end whether or not the caller stays.
        tokio::spawn(async move {
            let mut finish = FinishGuard {
                tasks: tasks.clone(),
                vm_id,
                reply: reply.clone(),
                event: None,
            };
            let report = |r: Report| {
                let msg = match r {
                    Report::Changed => TaskMsg::Changed,
                    Report::Progress {
                        vm_id,
                        percent,
                        step,
                    } => TaskMsg::Event(
                        reply.clone(),
                        WorkerEvent::Progress {
                            vm_id,
                            percent,
                            step,
                        },
                    ),
                };
                let _ = tasks.send(msg);
            };
            let ctx = Ctx {
                client: &client,
                store: &store,
                settings: &settings,
                requester: &requester,
                report: &report,
            };
            finish.event = Some(run_operation(&ctx, vm_id, effect).await);
        });
    }

    /// Handles a message from a lifecycle task; true when an operation ended (time to sync).
    async fn task_msg(&mut self, msg: TaskMsg) -> bool {
        match msg {
            TaskMsg::Event(reply, event) => reply.send(event),
            // Lifecycle operations write VM records and append audit events.
            TaskMsg::Changed => self.send_snapshot(Touched::VMS.and(Touched::AUDIT)).await,
            TaskMsg::FirewallApplied => return true,
            TaskMsg::Finished(vm_id, reply, event) => {
                self.busy.remove(&vm_id);
                match event {
                    Some(event) => reply.send(event),
                    None => reply.send(WorkerEvent::OperationFailed {
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
    async fn vault_done(&mut self, caller: &Caller, event: crate::protocol::VaultEvent) {
        if !matches!(event, crate::protocol::VaultEvent::Refused(_)) {
            tracing::info!(user = %caller.user, "Vault changed");
            self.send_snapshot(Touched::VAULT).await;
        }
        self.reply(caller, WorkerEvent::Vault(event));
    }

    /// Brings the kept snapshot up to date with what changed (`touched`, plus whatever an
    /// earlier failed read left pending) and sends it ([`snapshot::refresh`], off the async
    /// threads). Sending is a clone of shared parts.
    async fn send_snapshot(&mut self, touched: Touched) {
        self.pending = self.pending.and(touched);
        let changed = self.pending;
        let prev = self.cache.clone();
        let inputs = snapshot::Inputs {
            touched: self.pending,
            view: self.view.clone(),
            stale: !self.synced,
            today: Utc::now().date_naive(),
            currency: self.usage.currency.clone(),
        };
        let built = blocking(&self.store, move |s| snapshot::refresh(s, prev, inputs)).await;
        match built {
            Ok(cache) => {
                self.cache = cache;
                self.pending = Touched::NONE;
                self.emit(WorkerEvent::Snapshot(Box::new(self.cache.snapshot.clone())));
                // The Usage pane's numbers follow what they sum.
                let sums = changed.usage || changed.vms || changed.prices;
                if sums {
                    for (client, q) in &self.usage_query {
                        let q = crate::protocol::UsageQuery {
                            at: Utc::now(),
                            ..q.clone()
                        };
                        self.spawn_usage(self.events.reply_to(*client), q);
                    }
                }
            }
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

/// The authorisation rule (docs/product-rules.md §10): with `read_only` (the worker's
/// `--read-only`) every mutating effect is refused; a [`Role::Reader`] caller's mutating
/// effects are refused naming the user and the role. `describe` words the effect.
fn authorise(
    read_only: bool,
    caller: &Caller,
    effect: &Effect,
    describe: &dyn Fn(&Effect) -> String,
) -> Result<(), String> {
    if !effect.is_mutating() {
        return Ok(());
    }
    if read_only {
        return Err(format!(
            "read-only mode: {} is not allowed",
            describe(effect)
        ));
    }
    if caller.role == Role::Reader {
        return Err(format!(
            "{} is a reader (read-only access): {} is not allowed",
            caller.user,
            describe(effect)
        ));
    }
    Ok(())
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
        Effect::UsageQuery(q) => format!("summing usage {} to {}", q.from, q.to),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
