//! The sync and reconciliation flow of the worker: listing labelled servers and firewalls in a
//! task of its own, reconciling them with the store ([`reconcile`](super::reconcile)), usage
//! accrual after a sync, and the API budget that paces syncs (docs/hetzner-api.md §4).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use super::reconcile::{self, HetznerView, Reconciliation};
use super::snapshot::Touched;
use super::{
    FetchResult, LAST_SYNC_META_KEY, LOW_BUDGET_DIVISOR, LOW_BUDGET_STRETCH, OFFLINE_RETRY_START,
    Worker, blocking, usage,
};
use crate::domain::{Account, AuditKind, VmStatus, labels};
use crate::hetzner::{ApiError, ListParams, RateLimit};
use crate::protocol::{Budget, WorkerEvent};
use crate::store::{AuditDraft, StoreError};

impl Worker {
    /// Starts listing labelled servers and firewalls as a separate task.
    pub(super) fn start_fetch(&self) -> JoinHandle<FetchResult> {
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
    pub(super) async fn finish_sync(
        &mut self,
        done: Result<FetchResult, tokio::task::JoinError>,
    ) -> Duration {
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
                        let first = !self.synced;
                        self.synced = true;
                        // A sync writes VM records and prices, may adopt accounts and append
                        // an owed destroy event; accrual may write usage records.
                        let mut touched = Touched::VMS
                            .and(Touched::ACCOUNTS)
                            .and(Touched::AUDIT)
                            .and(Touched::PRICES);
                        if self.accrue_usage(None).await {
                            touched = touched.and(Touched::USAGE);
                        }
                        self.send_snapshot(touched).await;
                        self.emit(WorkerEvent::SyncOk { at: now });
                        if first {
                            self.resume_destroys().await;
                        }
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
    pub(super) fn sync_failed(&mut self, e: &ApiError, now: DateTime<Utc>) -> Duration {
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
    pub(super) async fn apply_view(
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
        let actor = self.local.user.clone();
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
                    let mut draft = AuditDraft::for_vm(
                        rec,
                        AuditKind::Destroy,
                        actor.as_str(),
                        now,
                        "ok: the server was found gone at a sync; the destroy that started it \
                         ended without recording",
                    );
                    // Who asked, and when, as recorded before the first Hetzner call.
                    if let Some(intent) = s.intent(rec.id)?.filter(|i| i.kind == AuditKind::Destroy)
                    {
                        draft.actor = intent.requester;
                        draft.origin = intent.origin;
                        draft.requested_at = Some(intent.requested_at);
                    }
                    s.append_audit(draft)?;
                    s.remove_intent(rec.id)?;
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
        self.view = Some(Arc::new(view));
        Ok(())
    }

    /// Caches Hetzner's `prices` (when given, from a sync) and accrues usage up to now
    /// ([`usage::accrue`]). Returns true when records were written. Failures are logged and
    /// reported as [`WorkerEvent::SyncFailed`] (not offline); the next run catches up.
    pub(super) async fn accrue_usage(
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
    pub(super) fn report_budget(&mut self) {
        if let Some(rl) = self.client.rate_limit() {
            let budget = budget_of(rl);
            if self.last_budget != Some(budget) {
                self.last_budget = Some(budget);
                self.emit(WorkerEvent::Budget(budget));
            }
        }
    }

    /// How long to hold syncs because the budget is empty (`None`: go ahead).
    pub(super) fn budget_gate(&self, now: DateTime<Utc>) -> Option<Duration> {
        let rl = self.client.rate_limit()?;
        if rl.remaining > 0 {
            return None;
        }
        let wait = until_sync_budget(&rl, now);
        (!wait.is_zero()).then_some(wait)
    }

    /// The delay until the next scheduled sync after a completed one, from the budget.
    pub(super) fn scheduled_delay(&self, now: DateTime<Utc>) -> Duration {
        scheduled_delay(self.interval, self.client.rate_limit(), now)
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
    use std::time::Duration;

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
}
