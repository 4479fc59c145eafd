//! Lifecycle operations on Plain VMs (issue 4; docs/product-rules.md §2, §3, §6, §7, §8): provision, power,
//! destroy, transfer, billing type.
//!
//! Plain async functions over a [`Ctx`] (the Hetzner [`Client`], the [`Store`], the settings,
//! the actor and a progress callback). The worker's effect dispatch runs them as spawned tasks;
//! the headless `crabglamp vm …` commands send the same effects to the worker, so there is one
//! implementation.
//!
//! Each returns [`LifecycleError::Refused`] for anything wrong with the request, found before
//! any change (at Hetzner or in the store), and [`LifecycleError::Failed`] once something was
//! started; a failure says in words what state the VM was left in.
//!
//! Rules kept here:
//! - provisioning validates every field before any mutating API call, then writes the record
//!   (`provisioning`), creates the VM's own firewall (inbound TCP/22 from anywhere only), creates
//!   the server with the cloud-init document, that firewall and the six `crabglamp/*` labels,
//!   follows the create actions to `running` and sets `provisionedAt` (docs/product-rules.md §3). Any failure
//!   deletes what was created (server, then firewall) and marks the VM `failed` with the reason;
//! - neither the one-time password nor Hetzner's `root_password` is ever written to the store,
//!   the log or the audit log (docs/product-rules.md §3): the password only travels in the cloud-init document
//!   sent to Hetzner and, once, in the [`ProvisionResult`];
//! - destroy and transfer append an audit event (flushed before `append_audit` returns) before
//!   they are reported done (docs/ARCHITECTURE.md "Data").

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;
use uuid::Uuid;

use super::caller::Requester;
use crate::domain::audit::AuditDraft;
use crate::domain::cloudinit::{cloud_init, generate_one_time_password};
use crate::domain::firewall::{default_rules, to_wire};
use crate::domain::vault::ssh_command;
use crate::domain::vmname::validate_vm_name;
use crate::domain::{
    AccountKind, AttachedKey, AuditKind, BillingPeriod, BillingType, OwnershipPeriod, Region, Tier,
    VmRecord, VmStatus, default_server_type, labels,
};
use crate::hetzner::{
    Action, ActionStatus, ApiError, Client, CreateFirewallRequest, CreateServerRequest,
    FirewallRef, FirewallRule, ListParams, Server, UpdateRequest,
};
use crate::protocol::{PowerAction, ProvisionRequest, ProvisionResult, Secret};
use crate::store::{Intent, Store, StoreError};

/// Settings of the lifecycle operations. `Default`: the docs/product-rules.md §2 server types, polls after
/// 1 s growing 1.5× to 5 s (docs/hetzner-api.md §5: "1 s, then back off to ~5 s"), 600 s to
/// follow one operation, 10 retries 1 s apart while Hetzner still holds a firewall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleSettings {
    /// Hetzner server type per region and tier (config `server_types`; docs/product-rules.md §2 [ours]).
    pub server_types: BTreeMap<Region, BTreeMap<Tier, String>>,
    /// Wait before the first poll of an action or status.
    pub poll_interval: Duration,
    /// Longest wait between polls.
    pub poll_max_interval: Duration,
    /// How long to follow one operation's actions (or a graceful shutdown) before giving up.
    pub operation_timeout: Duration,
    /// Attempts to delete a firewall Hetzner still reports `resource_in_use` (detaching after
    /// a server delete takes a moment), one `poll_interval` apart.
    pub firewall_delete_attempts: u32,
}

impl Default for LifecycleSettings {
    fn default() -> Self {
        LifecycleSettings {
            server_types: BTreeMap::new(),
            poll_interval: Duration::from_secs(1),
            poll_max_interval: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(600),
            firewall_delete_attempts: 10,
        }
    }
}

impl LifecycleSettings {
    /// The server type for (tier, region): the configured one, else [`default_server_type`].
    pub fn server_type(&self, tier: Tier, region: Region) -> String {
        self.server_types
            .get(&region)
            .and_then(|t| t.get(&tier))
            .cloned()
            .unwrap_or_else(|| default_server_type(tier, region).to_string())
    }
}

/// What an operation tells its caller while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// A VM record changed in the store (send a fresh snapshot).
    Changed,
    /// Progress of the operation on `vm_id`: 0–100 %, with the step in words.
    Progress {
        /// The Plain VM.
        vm_id: Uuid,
        /// Overall percentage.
        percent: u8,
        /// The current step.
        step: String,
    },
}

/// Everything an operation needs.
pub struct Ctx<'a> {
    /// Hetzner API client.
    pub client: &'a Client,
    /// The store (only the worker's tasks write it).
    pub store: &'a Store,
    /// Server types and polling.
    pub settings: &'a LifecycleSettings,
    /// Who asked and when: the actor and request time of audit events.
    pub requester: &'a Requester,
    /// Receives [`Report`]s; must not block.
    pub report: &'a (dyn Fn(Report) + Send + Sync),
}

/// Why an operation did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// The request was refused before anything changed; the reason names the field or rule.
    #[error("{0}")]
    Refused(String),
    /// The operation started and failed; the text says why and what state the VM is in.
    #[error("{0}")]
    Failed(String),
}

/// A finished operation other than provisioning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// What was done, in words.
    pub what: String,
    /// Something the operator must know (e.g. keys staying on a transferred VM).
    pub warning: Option<String>,
}

/// The client address of an `SSH_CONNECTION` value (`client_ip client_port server_ip
/// server_port`), when it is an IP address: what an audit event keeps as the client-reported
/// origin, apart from the actor (docs/product-rules.md §10). Anything else is `None`.
pub fn ssh_origin(ssh_connection: &str) -> Option<String> {
    let first = ssh_connection.split_whitespace().next()?;
    first
        .parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| ip.to_string())
}

/// A draft naming `requester` as its actor, with its origin and, when it differs from `at`,
/// its request time.
fn requested(mut draft: AuditDraft, requester: &Requester) -> AuditDraft {
    draft.actor = requester.user.clone();
    draft.origin = requester.origin.clone();
    if draft.at != requester.requested_at {
        draft.requested_at = Some(requester.requested_at);
    }
    draft
}

/// Records that `requester` asked for `kind` on `vm_id` before the first Hetzner call, flushed
/// ([`Store::put_intent`]): a destroy cut off by a stop is still attributed to who asked.
async fn record_intent(
    ctx: &Ctx<'_>,
    vm_id: Uuid,
    kind: AuditKind,
    to: Option<String>,
) -> Result<(), LifecycleError> {
    let intent = Intent {
        vm_id,
        kind,
        to_account: to,
        requester: ctx.requester.user.clone(),
        origin: ctx.requester.origin.clone(),
        requested_at: ctx.requester.requested_at,
    };
    blocking(ctx.store, move |s| {
        s.put_intent(&intent)?;
        s.flush()
    })
    .await
    .map_err(store_failed)
}

/// Drops the intent once its audit event is recorded (a failure only leaves a stale record
/// that the next operation on the VM replaces).
async fn clear_intent(ctx: &Ctx<'_>, vm_id: Uuid) {
    if let Err(e) = blocking(ctx.store, move |s| s.remove_intent(vm_id)).await {
        tracing::warn!(vm = %vm_id, error = %e, "removing the recorded request failed");
    }
}

/// The Vault keys stay behind after a transfer (docs/product-rules.md §5, §7: no push at v1).
pub fn transfer_warning(from: &str) -> String {
    format!(
        "Vault keys of account '{from}' stay in the VM's authorized_keys: there is no key push \
         at v1; the new owner removes them over SSH"
    )
}

/// The label set of a VM's server: all six `crabglamp/*` labels ([`labels`]).
pub fn server_labels(vm: &VmRecord) -> BTreeMap<String, String> {
    BTreeMap::from([
        (labels::VM_ID.to_string(), vm.id.to_string()),
        (labels::ACCOUNT.to_string(), vm.account.clone()),
        (labels::TIER.to_string(), vm.tier.as_str().to_string()),
        (labels::REGION.to_string(), vm.region.as_str().to_string()),
        (labels::IMAGE.to_string(), vm.image.as_str().to_string()),
        (
            labels::BILLING_TYPE.to_string(),
            vm.billing_type.as_str().to_string(),
        ),
    ])
}

/// The label set of a VM's own firewall: `crabglamp/vm-id` and `crabglamp/account`.
pub fn firewall_labels(vm: &VmRecord) -> BTreeMap<String, String> {
    BTreeMap::from([
        (labels::VM_ID.to_string(), vm.id.to_string()),
        (labels::ACCOUNT.to_string(), vm.account.clone()),
    ])
}

/// Name of a VM's own firewall: `crabglamp-<name>-<first 8 hex digits of the VM id>` (unique
/// even when a name is reused after a destroy; at most 81 of Hetzner's 128 characters).
pub fn firewall_name(vm: &VmRecord) -> String {
    let id = vm.id.simple().to_string();
    format!("crabglamp-{}-{}", vm.name, id.get(..8).unwrap_or(&id))
}

/// The default rule set (docs/product-rules.md §3: inbound TCP/22 from `0.0.0.0/0` and `::/0` only) in the
/// client's wire type.
pub fn default_firewall_rules() -> Result<Vec<FirewallRule>, String> {
    default_rules()
        .iter()
        .map(|r| {
            serde_json::to_value(to_wire(r))
                .and_then(serde_json::from_value)
                .map_err(|e| format!("default firewall rule: {e}"))
        })
        .collect()
}

/// Runs a blocking store call off the async threads (sled blocks: store module docs).
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

fn store_failed(e: StoreError) -> LifecycleError {
    LifecycleError::Failed(format!("store: {e}"))
}

/// Reads the VM's current record, applies `f` and writes it back; returns the new record.
async fn update_vm<F>(ctx: &Ctx<'_>, id: Uuid, f: F) -> Result<VmRecord, StoreError>
where
    F: FnOnce(&mut VmRecord) + Send + 'static,
{
    let rec = blocking(ctx.store, move |s| {
        let mut rec = s.vm(id)?.ok_or_else(|| StoreError::NotFound {
            what: format!("VM {id}"),
        })?;
        f(&mut rec);
        s.put_vm(&rec)?;
        s.flush()?;
        Ok(rec)
    })
    .await?;
    (ctx.report)(Report::Changed);
    Ok(rec)
}

async fn load_vm(ctx: &Ctx<'_>, id: Uuid) -> Result<VmRecord, LifecycleError> {
    blocking(ctx.store, move |s| s.vm(id))
        .await
        .map_err(store_failed)?
        .ok_or_else(|| LifecycleError::Refused(format!("VM {id} is not in the store")))
}

fn progress(ctx: &Ctx<'_>, vm_id: Uuid, percent: u8, step: &str) {
    (ctx.report)(Report::Progress {
        vm_id,
        percent: percent.min(100),
        step: step.to_string(),
    });
}

/// Follows `actions` until all have ended, reporting progress as `base + span × mean progress`
/// (percent). Errors: [`ApiError::ActionFailed`] for the first action that ended `error`,
/// [`ApiError::ActionTimeout`] after the operation timeout, and poll errors.
async fn follow(
    ctx: &Ctx<'_>,
    vm_id: Uuid,
    mut actions: Vec<Action>,
    step: &str,
    base: u8,
    span: u8,
) -> Result<(), ApiError> {
    let started = Instant::now();
    let mut interval = ctx.settings.poll_interval;
    let mut last_percent: Option<u8> = None;
    loop {
        if let Some(a) = actions.iter().find(|a| a.status == ActionStatus::Error) {
            let (code, message) = a
                .error
                .as_ref()
                .map(|e| (e.code.clone(), e.message.clone()))
                .unwrap_or_else(|| ("action_failed".into(), "no reason given".into()));
            return Err(ApiError::ActionFailed {
                id: a.id,
                code,
                message,
            });
        }
        let total: u32 = actions
            .iter()
            .map(|a| {
                if a.status == ActionStatus::Success {
                    100
                } else {
                    a.progress.min(100)
                }
            })
            .sum();
        let mean = total.checked_div(actions.len() as u32).unwrap_or(100);
        let percent = base.saturating_add(((u32::from(span) * mean) / 100) as u8);
        if last_percent != Some(percent) {
            last_percent = Some(percent);
            progress(ctx, vm_id, percent, step);
        }
        if actions.iter().all(|a| a.status == ActionStatus::Success) {
            return Ok(());
        }
        if started.elapsed() >= ctx.settings.operation_timeout {
            let id = actions
                .iter()
                .find(|a| a.status != ActionStatus::Success)
                .map(|a| a.id)
                .unwrap_or_default();
            return Err(ApiError::ActionTimeout {
                id,
                waited_secs: started.elapsed().as_secs(),
            });
        }
        tokio::time::sleep(interval).await;
        interval = interval
            .saturating_mul(3)
            .checked_div(2)
            .unwrap_or(interval)
            .min(ctx.settings.poll_max_interval);
        for a in actions.iter_mut() {
            if a.status == ActionStatus::Running || a.status == ActionStatus::Unknown {
                *a = ctx.client.get_action(a.id).await?;
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// Provision

/// What validation found: the record to write and the document to send.
struct Plan {
    record: VmRecord,
    user_data: String,
    password: Option<Secret>,
}

/// Checks every field of `req` (each error names it) and builds the record and the cloud-init
/// document. Reads the store and asks Hetzner whether a server already has the name; changes
/// nothing.
async fn plan(ctx: &Ctx<'_>, vm_id: Uuid, req: &ProvisionRequest) -> Result<Plan, LifecycleError> {
    let r = req.clone();
    let (live_names, account, entries) = blocking(ctx.store, move |s| {
        let live: Vec<String> = s
            .vms()?
            .into_iter()
            .filter(|v| v.status.is_live())
            .map(|v| v.name)
            .collect();
        let account = s.account(&r.account)?;
        let entries = r
            .key_ids
            .iter()
            .map(|id| s.vault_entry(*id).map(|e| (*id, e)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((live, account, entries))
    })
    .await
    .map_err(store_failed)?;

    validate_vm_name(&req.name, &live_names).map_err(LifecycleError::Refused)?;
    if account.is_none() {
        return Err(LifecycleError::Refused(format!(
            "account: '{}' does not exist",
            req.account
        )));
    }
    if req.key_ids.is_empty() {
        return Err(LifecycleError::Refused(
            "keys: pick at least one Vault key (keys can be added only when a VM is created)"
                .into(),
        ));
    }
    let now = Utc::now();
    let mut attached = Vec::new();
    let mut lines = Vec::new();
    for (id, entry) in entries {
        let entry = entry.ok_or_else(|| {
            LifecycleError::Refused(format!("keys: Vault key {id} does not exist"))
        })?;
        if entry.account != req.account {
            return Err(LifecycleError::Refused(format!(
                "keys: Vault key '{}' ({id}) belongs to account '{}', not '{}'",
                entry.label, entry.account, req.account
            )));
        }
        if entry.deleted_at.is_some() {
            return Err(LifecycleError::Refused(format!(
                "keys: Vault key '{}' ({id}) was deleted from the Vault",
                entry.label
            )));
        }
        attached.push(AttachedKey {
            vault_key_id: id,
            fingerprint_sha256: entry.fingerprint_sha256.clone(),
            label: entry.label.clone(),
            attached_at: now,
        });
        lines.push(entry.public_key);
    }
    let password = req
        .one_time_password
        .then(|| Secret::new(generate_one_time_password()));
    let user_data = cloud_init(
        &req.name,
        req.image,
        &lines,
        password.as_ref().map(Secret::expose),
    )
    .map_err(|e| LifecycleError::Refused(e.to_string()))?;

    // Hetzner server names are unique per project (docs/hetzner-api.md §6.3): a read, not a change.
    let taken = ctx
        .client
        .list_servers(&ListParams::new().name(req.name.clone()))
        .await
        .map_err(|e| LifecycleError::Refused(format!("name: cannot check it with Hetzner: {e}")))?;
    if !taken.is_empty() {
        return Err(LifecycleError::Refused(format!(
            "name: {} is already used by a Hetzner server in this project",
            req.name
        )));
    }

    let record = VmRecord {
        id: vm_id,
        name: req.name.clone(),
        account: req.account.clone(),
        tier: req.tier,
        region: req.region,
        image: req.image,
        billing_type: req.billing_type,
        status: VmStatus::Provisioning,
        created_at: now,
        provisioned_at: None,
        destroyed_at: None,
        hetzner_server_id: None,
        hetzner_firewall_id: None,
        server_type: ctx.settings.server_type(req.tier, req.region),
        ipv4: None,
        ipv6: None,
        keys: attached,
        ownership: vec![OwnershipPeriod {
            from: now,
            account: req.account.clone(),
        }],
        billing: vec![BillingPeriod {
            from: now,
            billing_type: req.billing_type,
        }],
        failure: None,
    };
    Ok(Plan {
        record,
        user_data,
        password,
    })
}

/// Provisions a Plain VM with id `vm_id` (docs/product-rules.md §3; see the module rules).
///
/// Errors: [`LifecycleError::Refused`] naming the field (name: RFC 1123 label, unique among
/// live VMs and Hetzner servers; account exists; keys of that account, not deleted, at least
/// one; cloud-init within 32 KiB) before anything is created; [`LifecycleError::Failed`] after
/// the record was written, once everything created was deleted again and the VM marked
/// `failed` with the reason.
pub async fn provision(
    ctx: &Ctx<'_>,
    vm_id: Uuid,
    req: &ProvisionRequest,
) -> Result<ProvisionResult, LifecycleError> {
    let Plan {
        record,
        user_data,
        password,
    } = plan(ctx, vm_id, req).await?;
    let rec = record.clone();
    blocking(ctx.store, move |s| {
        s.put_vm(&rec)?;
        s.flush()
    })
    .await
    .map_err(store_failed)?;
    (ctx.report)(Report::Changed);
    progress(ctx, vm_id, 0, "creating firewall");
    tracing::info!(vm = %vm_id, name = %record.name, account = %record.account, "provisioning");

    let mut created = Created::default();
    match build(ctx, &record, user_data, &mut created).await {
        Ok(server) => {
            let ipv4 = server.ipv4().map(str::to_string);
            let ipv6 = server.ipv6_network().map(str::to_string);
            let status = VmStatus::from_hetzner(server.status.as_str());
            let server_type = server.server_type.name.clone();
            let (v4, v6) = (ipv4.clone(), ipv6.clone());
            let now = Utc::now();
            update_vm(ctx, vm_id, move |r| {
                r.status = if status == VmStatus::Provisioning {
                    VmStatus::Running
                } else {
                    status
                };
                r.provisioned_at = Some(now);
                r.ipv4 = v4;
                r.ipv6 = v6;
                r.server_type = server_type;
            })
            .await
            .map_err(store_failed)?;
            progress(ctx, vm_id, 100, "running");
            tracing::info!(vm = %vm_id, server = server.id, "provisioned");
            let user = record.image.default_user();
            Ok(ProvisionResult {
                vm_id,
                name: record.name.clone(),
                account: record.account.clone(),
                ssh_command: ssh_command(user, ipv4.as_deref(), ipv6.as_deref()),
                ipv4,
                ipv6,
                default_user: user.to_string(),
                key_fingerprints: record
                    .keys
                    .iter()
                    .map(|k| k.fingerprint_sha256.clone())
                    .collect(),
                one_time_password: password,
            })
        }
        Err(reason) => {
            tracing::warn!(vm = %vm_id, %reason, "provisioning failed; cleaning up");
            progress(ctx, vm_id, 100, "cleaning up after a failure");
            let cleanup = clean_up(ctx, &created).await;
            let text = match &cleanup {
                Ok(()) => format!("provisioning failed: {reason}; nothing was left behind"),
                Err(left) => format!("provisioning failed: {reason}; cleanup incomplete: {left}"),
            };
            let failure = text.clone();
            let left_ok = cleanup.is_ok();
            update_vm(ctx, vm_id, move |r| {
                r.status = VmStatus::Failed;
                r.failure = Some(failure);
                if left_ok {
                    r.hetzner_server_id = None;
                    r.hetzner_firewall_id = None;
                }
            })
            .await
            .map_err(store_failed)?;
            Err(LifecycleError::Failed(text))
        }
    }
}

/// Hetzner resources created so far by one provisioning.
#[derive(Debug, Default)]
struct Created {
    firewall: Option<i64>,
    server: Option<i64>,
}

/// Creates the firewall and the server and follows the create actions; returns the server as
/// read back at the end. The error is the reason in words.
async fn build(
    ctx: &Ctx<'_>,
    record: &VmRecord,
    user_data: String,
    created: &mut Created,
) -> Result<Server, String> {
    let vm_id = record.id;
    let rules = default_firewall_rules()?;
    let fw = ctx
        .client
        .create_firewall(&CreateFirewallRequest {
            name: firewall_name(record),
            labels: firewall_labels(record),
            rules,
            apply_to: Vec::new(),
        })
        .await
        .map_err(|e| format!("creating the firewall: {e}"))?;
    let fw_id = fw.firewall.id;
    created.firewall = Some(fw_id);
    update_vm(ctx, vm_id, move |r| r.hetzner_firewall_id = Some(fw_id))
        .await
        .map_err(|e| format!("store: {e}"))?;
    follow(ctx, vm_id, fw.actions, "creating firewall", 0, 10)
        .await
        .map_err(|e| format!("creating the firewall: {e}"))?;

    progress(ctx, vm_id, 10, "creating server");
    let response = ctx
        .client
        .create_server(&CreateServerRequest {
            name: record.name.clone(),
            server_type: record.server_type.clone(),
            image: record.image.as_str().to_string(),
            location: Some(record.region.location().to_string()),
            start_after_create: Some(true),
            ssh_keys: Vec::new(),
            firewalls: vec![FirewallRef { firewall: fw_id }],
            user_data: Some(user_data),
            labels: server_labels(record),
        })
        .await
        .map_err(|e| format!("creating the server: {e}"))?;
    // Hetzner returns a generated root password when no SSH key is given to it (docs/hetzner-api.md §6.3):
    // dropped here, never stored or logged (docs/product-rules.md §3).
    let crate::hetzner::CreateServerResponse {
        server,
        action,
        next_actions,
        root_password: _,
    } = response;
    let server_id = server.id;
    created.server = Some(server_id);
    update_vm(ctx, vm_id, move |r| r.hetzner_server_id = Some(server_id))
        .await
        .map_err(|e| format!("store: {e}"))?;
    let mut actions = vec![action];
    actions.extend(next_actions);
    follow(ctx, vm_id, actions, "building server", 15, 80)
        .await
        .map_err(|e| format!("building the server: {e}"))?;
    let server = ctx
        .client
        .get_server(server_id)
        .await
        .map_err(|e| format!("reading the new server back: {e}"))?;
    if server.status.as_str() != "running" {
        return Err(format!(
            "the server is {} after its create actions, not running",
            server.status.as_str()
        ));
    }
    Ok(server)
}

/// Deletes what a failed provisioning created: the server (waiting for its action), then the
/// firewall. Returns what could not be deleted, in words.
async fn clean_up(ctx: &Ctx<'_>, created: &Created) -> Result<(), String> {
    let mut left = Vec::new();
    if let Some(id) = created.server
        && let Err(e) = delete_server(ctx, id).await
    {
        left.push(format!("server {id}: {e}"));
    }
    if let Some(id) = created.firewall
        && let Err(e) = delete_firewall(ctx, id).await
    {
        left.push(format!("firewall {id}: {e}"));
    }
    if left.is_empty() {
        Ok(())
    } else {
        Err(left.join("; "))
    }
}

/// Deletes a server and waits for the action; a server already gone counts as deleted.
async fn delete_server(ctx: &Ctx<'_>, id: i64) -> Result<(), ApiError> {
    match ctx.client.delete_server(id).await {
        Ok(action) => {
            if action.status == ActionStatus::Success {
                return Ok(());
            }
            match ctx.client.wait_for_action(action.id).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_not_found() => Ok(()),
                Err(e) => Err(e),
            }
        }
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes a firewall, retrying `resource_in_use` while Hetzner detaches it from a deleted
/// server; a firewall already gone counts as deleted.
async fn delete_firewall(ctx: &Ctx<'_>, id: i64) -> Result<(), ApiError> {
    let mut attempt = 1;
    loop {
        match ctx.client.delete_firewall(id).await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e)
                if e.code() == Some("resource_in_use")
                    && attempt < ctx.settings.firewall_delete_attempts =>
            {
                attempt += 1;
                tokio::time::sleep(ctx.settings.poll_interval).await;
            }
            Err(e) => return Err(e),
        }
    }
}

// ------------------------------------------------------------------------------------------
// Power

/// Starts, stops (graceful `shutdown`, or `poweroff` with `force`) or reboots a live VM. The
/// VM shows `starting`/`stopping` while the action runs, then the status read back from
/// Hetzner. A graceful shutdown waits until the server is `off` (the action's success only
/// means the signal was sent: docs/hetzner-api.md §6.6).
///
/// Errors: refused unless the VM is live with a server (`running`, `stopped`, `starting`,
/// `stopping` or `unknown`); failed when Hetzner refuses or the action fails (the status is
/// then read back again).
pub async fn power(
    ctx: &Ctx<'_>,
    vm_id: Uuid,
    action: PowerAction,
) -> Result<Done, LifecycleError> {
    let vm = load_vm(ctx, vm_id).await?;
    let server_id = match (vm.status, vm.hetzner_server_id) {
        (
            VmStatus::Running
            | VmStatus::Stopped
            | VmStatus::Starting
            | VmStatus::Stopping
            | VmStatus::Unknown,
            Some(id),
        ) => id,
        (status, _) => {
            return Err(LifecycleError::Refused(format!(
                "cannot {} {}: it is {status} (power actions need a live VM)",
                action.verb(),
                vm.name
            )));
        }
    };
    let transitional = match action {
        PowerAction::Start | PowerAction::Reboot => VmStatus::Starting,
        PowerAction::Stop { .. } => VmStatus::Stopping,
    };
    let previous = vm.status;
    update_vm(ctx, vm_id, move |r| r.status = transitional)
        .await
        .map_err(store_failed)?;
    progress(ctx, vm_id, 0, action.verb());
    let result = run_power(ctx, vm_id, server_id, action).await;
    let read_back = ctx.client.get_server(server_id).await;
    let status = match &read_back {
        Ok(s) => VmStatus::from_hetzner(s.status.as_str()),
        Err(_) => previous,
    };
    update_vm(ctx, vm_id, move |r| r.status = status)
        .await
        .map_err(store_failed)?;
    progress(ctx, vm_id, 100, action.verb());
    match result {
        Ok(()) => {
            tracing::info!(vm = %vm_id, action = action.verb(), %status, "power action done");
            Ok(Done {
                what: format!("{}: {} done; now {status}", vm.name, action.verb()),
                warning: None,
            })
        }
        Err(e) => Err(LifecycleError::Failed(format!(
            "{}: {} failed: {e}; now {status}",
            vm.name,
            action.verb()
        ))),
    }
}

async fn run_power(
    ctx: &Ctx<'_>,
    vm_id: Uuid,
    server_id: i64,
    action: PowerAction,
) -> Result<(), ApiError> {
    let started = match action {
        PowerAction::Start => ctx.client.poweron_server(server_id).await?,
        PowerAction::Stop { force: true } => ctx.client.poweroff_server(server_id).await?,
        PowerAction::Stop { force: false } => ctx.client.shutdown_server(server_id).await?,
        PowerAction::Reboot => ctx.client.reboot_server(server_id).await?,
    };
    follow(ctx, vm_id, vec![started.clone()], action.verb(), 0, 90).await?;
    if action == (PowerAction::Stop { force: false }) {
        // ACPI shutdown: wait for the guest to power off.
        let deadline = Instant::now() + ctx.settings.operation_timeout;
        let mut interval = ctx.settings.poll_interval;
        loop {
            let server = ctx.client.get_server(server_id).await?;
            if server.status.as_str() == "off" {
                break;
            }
            if Instant::now() >= deadline {
                return Err(ApiError::ActionTimeout {
                    id: started.id,
                    waited_secs: ctx.settings.operation_timeout.as_secs(),
                });
            }
            tokio::time::sleep(interval).await;
            interval = (interval * 3 / 2).min(ctx.settings.poll_max_interval);
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Destroy

/// Destroys a VM: `destroying`, delete the server and wait for its action, delete its firewall
/// (retrying `resource_in_use`), then the record becomes `deleted` with `destroyedAt` and a
/// destroy audit event is appended (flushed) before this returns. Not cancellable.
///
/// Errors: refused for a VM already `deleted`; failed when Hetzner refuses — the VM stays
/// `destroying` (destroy can be run again) and an audit event with outcome `failed: …` is
/// appended.
pub async fn destroy(ctx: &Ctx<'_>, vm_id: Uuid) -> Result<Done, LifecycleError> {
    let vm = load_vm(ctx, vm_id).await?;
    if vm.status == VmStatus::Deleted {
        return Err(LifecycleError::Refused(format!(
            "{} is already deleted (deleted is final)",
            vm.name
        )));
    }
    record_intent(ctx, vm_id, AuditKind::Destroy, None).await?;
    update_vm(ctx, vm_id, |r| r.status = VmStatus::Destroying)
        .await
        .map_err(store_failed)?;
    progress(ctx, vm_id, 0, "deleting server");
    tracing::info!(vm = %vm_id, name = %vm.name, "destroying");
    let mut outcome: Result<(), String> = Ok(());
    if let Some(id) = vm.hetzner_server_id
        && let Err(e) = delete_server(ctx, id).await
    {
        outcome = Err(format!("deleting server {id}: {e}"));
    }
    if outcome.is_ok() {
        progress(ctx, vm_id, 60, "deleting firewall");
        if let Some(id) = vm.hetzner_firewall_id
            && let Err(e) = delete_firewall(ctx, id).await
        {
            outcome = Err(format!("deleting firewall {id}: {e}"));
        }
    }
    let now = Utc::now();
    if outcome.is_ok() {
        update_vm(ctx, vm_id, move |r| {
            r.status = VmStatus::Deleted;
            r.destroyed_at = Some(now);
        })
        .await
        .map_err(store_failed)?;
    }
    let draft = requested(
        AuditDraft::for_vm(
            &vm,
            AuditKind::Destroy,
            "",
            now,
            match &outcome {
                Ok(()) => "ok".to_string(),
                Err(e) => format!("failed: {e}"),
            },
        ),
        ctx.requester,
    );
    let event = blocking(ctx.store, move |s| s.append_audit(draft))
        .await
        .map_err(store_failed)?;
    if outcome.is_ok() {
        clear_intent(ctx, vm_id).await;
    }
    (ctx.report)(Report::Changed);
    progress(ctx, vm_id, 100, "destroyed");
    match outcome {
        Ok(()) => {
            tracing::info!(vm = %vm_id, seq = event.seq, "destroyed; audit event recorded");
            Ok(Done {
                what: format!("{} destroyed; audit event {} recorded", vm.name, event.seq),
                warning: None,
            })
        }
        Err(e) => Err(LifecycleError::Failed(format!(
            "destroying {} failed: {e}; it stays destroying (run destroy again); audit event {} recorded",
            vm.name, event.seq
        ))),
    }
}

// ------------------------------------------------------------------------------------------
// Transfer and billing

fn require_running_or_stopped(vm: &VmRecord, what: &str) -> Result<i64, LifecycleError> {
    match (vm.status, vm.hetzner_server_id) {
        (VmStatus::Running | VmStatus::Stopped, Some(id)) => Ok(id),
        (status, _) => Err(LifecycleError::Refused(format!(
            "cannot {what} {}: it is {status} (only while running or stopped)",
            vm.name
        ))),
    }
}

/// Read-modify-write of a server's labels (PUT replaces the whole set: docs/hetzner-api.md §6.4).
async fn set_server_labels(
    ctx: &Ctx<'_>,
    server_id: i64,
    changes: &[(&str, &str)],
) -> Result<BTreeMap<String, String>, ApiError> {
    let server = ctx.client.get_server(server_id).await?;
    let before = server.labels.clone();
    let mut labels = server.labels;
    for (k, v) in changes {
        labels.insert((*k).to_string(), (*v).to_string());
    }
    ctx.client
        .update_server(
            server_id,
            &UpdateRequest {
                name: None,
                labels: Some(labels),
            },
        )
        .await?;
    Ok(before)
}

/// Transfers a VM to the organization `to` (docs/product-rules.md §7): only to an organization, only while
/// `running` or `stopped`. Updates the server's `crabglamp/account` and
/// `crabglamp/billing-type` labels and the firewall's account label; the VM keeps running;
/// billing becomes `metered` with an ownership period and a billing period starting at the
/// same instant; a transfer audit event (source and destination) is appended and flushed.
/// The result's warning says the old account's Vault keys stay on the VM.
///
/// Errors: refused for an unknown or personal destination, the same account, or another
/// status; failed when Hetzner refuses the label update (the server's labels are put back).
pub async fn transfer(ctx: &Ctx<'_>, vm_id: Uuid, to: &str) -> Result<Done, LifecycleError> {
    let vm = load_vm(ctx, vm_id).await?;
    let to_owned = to.to_string();
    let dest = blocking(ctx.store, move |s| s.account(&to_owned))
        .await
        .map_err(store_failed)?
        .ok_or_else(|| LifecycleError::Refused(format!("to: account '{to}' does not exist")))?;
    if dest.kind == AccountKind::Personal {
        return Err(LifecycleError::Refused(format!(
            "to: '{to}' is a personal account; a VM can only be transferred to an organization"
        )));
    }
    if dest.slug == vm.account {
        return Err(LifecycleError::Refused(format!(
            "to: {} already belongs to '{to}'",
            vm.name
        )));
    }
    let server_id = require_running_or_stopped(&vm, "transfer")?;
    record_intent(ctx, vm_id, AuditKind::Transfer, Some(to.to_string())).await?;
    progress(ctx, vm_id, 0, "updating labels");
    let before = set_server_labels(
        ctx,
        server_id,
        &[
            (labels::ACCOUNT, to),
            (labels::BILLING_TYPE, BillingType::Metered.as_str()),
        ],
    )
    .await
    .map_err(|e| {
        LifecycleError::Failed(format!(
            "transferring {}: updating the server labels: {e}; nothing changed",
            vm.name
        ))
    })?;
    if let Some(fw_id) = vm.hetzner_firewall_id {
        let fw_result = async {
            let fw = ctx.client.get_firewall(fw_id).await?;
            let mut l = fw.labels;
            l.insert(labels::ACCOUNT.to_string(), to.to_string());
            ctx.client
                .update_firewall(
                    fw_id,
                    &UpdateRequest {
                        name: None,
                        labels: Some(l),
                    },
                )
                .await
        }
        .await;
        if let Err(e) = fw_result {
            let rollback = ctx
                .client
                .update_server(
                    server_id,
                    &UpdateRequest {
                        name: None,
                        labels: Some(before),
                    },
                )
                .await;
            let note = match rollback {
                Ok(_) => "the server's labels were put back; nothing changed".to_string(),
                Err(r) => format!("putting the server's labels back failed too: {r}"),
            };
            return Err(LifecycleError::Failed(format!(
                "transferring {}: updating the firewall labels: {e}; {note}",
                vm.name
            )));
        }
    }
    let now = Utc::now();
    let dest_slug = to.to_string();
    let rec = vm.clone();
    let requester = ctx.requester.clone();
    let event = blocking(ctx.store, move |s| {
        let mut r = s.vm(rec.id)?.unwrap_or(rec);
        let from = r.account.clone();
        r.account = dest_slug.clone();
        r.billing_type = BillingType::Metered;
        r.ownership.push(OwnershipPeriod {
            from: now,
            account: dest_slug.clone(),
        });
        r.billing.push(BillingPeriod {
            from: now,
            billing_type: BillingType::Metered,
        });
        s.put_vm(&r)?;
        let event = s.append_audit(requested(
            AuditDraft::for_vm(&r, AuditKind::Transfer, "", now, "ok").transferred(from, dest_slug),
            &requester,
        ))?;
        s.remove_intent(r.id)?;
        Ok(event)
    })
    .await
    .map_err(store_failed)?;
    (ctx.report)(Report::Changed);
    progress(ctx, vm_id, 100, "transferred");
    tracing::info!(vm = %vm_id, from = %vm.account, to = %to, seq = event.seq, "transferred");
    Ok(Done {
        what: format!(
            "{} transferred from '{}' to '{to}'; billing is now metered; audit event {} recorded",
            vm.name, vm.account, event.seq
        ),
        warning: Some(transfer_warning(&vm.account)),
    })
}

/// Switches a VM's billing type, only while `running` or `stopped` (docs/product-rules.md §8); effective at
/// once: a billing period starts now and the `crabglamp/billing-type` label is updated.
///
/// Errors: refused for another status or the billing type already in force; failed when
/// Hetzner refuses the label update (nothing changed).
pub async fn set_billing(
    ctx: &Ctx<'_>,
    vm_id: Uuid,
    billing_type: BillingType,
) -> Result<Done, LifecycleError> {
    let vm = load_vm(ctx, vm_id).await?;
    if vm.billing_type == billing_type {
        return Err(LifecycleError::Refused(format!(
            "billing: {} is already {billing_type}",
            vm.name
        )));
    }
    let server_id = require_running_or_stopped(&vm, "switch the billing type of")?;
    set_server_labels(
        ctx,
        server_id,
        &[(labels::BILLING_TYPE, billing_type.as_str())],
    )
    .await
    .map_err(|e| {
        LifecycleError::Failed(format!(
            "switching {} to {billing_type}: updating the server label: {e}; nothing changed",
            vm.name
        ))
    })?;
    let now: DateTime<Utc> = Utc::now();
    update_vm(ctx, vm_id, move |r| {
        r.billing_type = billing_type;
        r.billing.push(BillingPeriod {
            from: now,
            billing_type,
        });
    })
    .await
    .map_err(store_failed)?;
    tracing::info!(vm = %vm_id, %billing_type, "billing type switched");
    Ok(Done {
        what: format!(
            "{} is now billed {billing_type} (from {})",
            vm.name,
            now.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        warning: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_is_the_ssh_client_address_only() {
        assert_eq!(
            ssh_origin("198.51.100.7 52344 10.0.0.5 22").as_deref(),
            Some("198.51.100.7")
        );
        assert_eq!(
            ssh_origin("2001:db8::7 52344 2001:db8::1 22").as_deref(),
            Some("2001:db8::7")
        );
        assert_eq!(ssh_origin("root from 1.2.3.4"), None);
        assert_eq!(ssh_origin(""), None);
    }

    #[test]
    fn default_firewall_is_ssh_from_anywhere_only() {
        let rules = default_firewall_rules().unwrap();
        assert_eq!(rules.len(), 1);
        let json = serde_json::to_value(&rules[0]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"direction": "in", "protocol": "tcp", "port": "22",
                "source_ips": ["0.0.0.0/0", "::/0"], "destination_ips": [],
                "description": "SSH"})
        );
    }

    #[test]
    fn ssh_command_uses_ipv4_then_the_ipv6_host() {
        assert_eq!(
            ssh_command("debian", Some("203.0.113.9"), Some("2001:db8::/64")),
            "ssh debian@203.0.113.9"
        );
        assert_eq!(
            ssh_command("root", None, Some("2001:db8:1:2::/64")),
            "ssh root@2001:db8:1:2::1"
        );
    }

    #[test]
    fn server_types_fall_back_to_the_spec_defaults() {
        let mut s = LifecycleSettings::default();
        assert_eq!(s.server_type(Tier::Small, Region::Us), "cpx21");
        s.server_types
            .entry(Region::Eu)
            .or_default()
            .insert(Tier::Large, "ccx33".into());
        assert_eq!(s.server_type(Tier::Large, Region::Eu), "ccx33");
        assert_eq!(s.server_type(Tier::Large, Region::Us), "cpx41");
    }
}
