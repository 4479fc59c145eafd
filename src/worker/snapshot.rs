//! The snapshot the worker keeps and re-sends: each store change re-reads only the parts it
//! touched ([`Touched`]) and rebuilds only the prebuilt views derived from them
//! ([`crate::view`]), sharing every other part with the previous snapshot, off the async
//! threads. The audit log is verified in full once, at start; afterwards only the events
//! appended since the last verified head are read and verified against it.

use super::reconcile::{self, HetznerView};
use super::usage;
use crate::domain::audit::ChainHead;
use crate::protocol::{Shared, Snapshot, USAGE_WINDOW_DAYS};
use crate::store::{Store, StoreError};
use crate::view;
use chrono::NaiveDate;
use std::sync::Arc;

/// The parts of a snapshot a store change touched (what to re-read).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Touched {
    /// VM records, or the Hetzner view they are joined with.
    pub vms: bool,
    /// Accounts.
    pub accounts: bool,
    /// Vault entries.
    pub vault: bool,
    /// Audit events were appended.
    pub audit: bool,
    /// Usage records.
    pub usage: bool,
    /// Hetzner's cached prices.
    pub prices: bool,
}

impl Touched {
    /// Everything (start-up).
    pub const ALL: Touched = Touched {
        vms: true,
        accounts: true,
        vault: true,
        audit: true,
        usage: true,
        prices: true,
    };
    /// Nothing in the store (a flag such as `stale` changed).
    pub const NONE: Touched = Touched {
        vms: false,
        accounts: false,
        vault: false,
        audit: false,
        usage: false,
        prices: false,
    };

    /// The VM records (and the Vault holders derived from them).
    pub const VMS: Touched = Touched {
        vms: true,
        ..Touched::NONE
    };
    /// The accounts.
    pub const ACCOUNTS: Touched = Touched {
        accounts: true,
        ..Touched::NONE
    };
    /// The Vault entries.
    pub const VAULT: Touched = Touched {
        vault: true,
        ..Touched::NONE
    };
    /// The audit log's tail.
    pub const AUDIT: Touched = Touched {
        audit: true,
        ..Touched::NONE
    };
    /// The usage records.
    pub const USAGE: Touched = Touched {
        usage: true,
        ..Touched::NONE
    };
    /// Hetzner's cached prices.
    pub const PRICES: Touched = Touched {
        prices: true,
        ..Touched::NONE
    };

    /// Both changes.
    pub fn and(self, other: Touched) -> Touched {
        Touched {
            vms: self.vms || other.vms,
            accounts: self.accounts || other.accounts,
            vault: self.vault || other.vault,
            audit: self.audit || other.audit,
            usage: self.usage || other.usage,
            prices: self.prices || other.prices,
        }
    }
}

/// The last snapshot sent and what its audit part was verified up to.
#[derive(Debug, Clone, Default)]
pub struct Cache {
    /// The last snapshot built; its prebuilt views are always present.
    pub snapshot: Snapshot,
    /// Newest verified audit event, or `None` when the next read must read and verify the
    /// whole log (at start, and after a failed verification).
    pub head: Option<ChainHead>,
    /// The UTC day the usage window (and the sparklines) ended on at the last usage read.
    pub usage_day: Option<NaiveDate>,
}

/// What a refresh needs besides the store.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// What changed since the cache was built.
    pub touched: Touched,
    /// What Hetzner held at the last successful sync.
    pub view: Option<Arc<HetznerView>>,
    /// True until the first successful sync.
    pub stale: bool,
    /// Today (UTC): the usage window ends on it.
    pub today: NaiveDate,
    /// Currency of the usage charges.
    pub currency: String,
}

/// Builds the next cache from `prev`: re-reads the touched parts from the store, rebuilds the
/// views derived from them, and shares everything else. Blocking (sled reads); run it in
/// `spawn_blocking`.
pub fn refresh(store: &Store, prev: Cache, inputs: Inputs) -> Result<Cache, StoreError> {
    let Cache {
        mut snapshot,
        head,
        usage_day,
    } = prev;
    let mut prebuilt = snapshot.prebuilt.take().unwrap_or_default();
    // Nothing read yet (refresh always sets the usage day): read everything.
    let touched = if usage_day.is_none() {
        Touched::ALL
    } else {
        inputs.touched
    };
    snapshot.stale = inputs.stale;
    snapshot.usage_currency = inputs.currency;
    if touched.vms {
        let records = store.vms()?;
        let rows = reconcile::rows(&records, inputs.view.as_deref());
        prebuilt.vm_table = Shared::new(view::vm_index::build_table(&rows));
        prebuilt.holders = Shared::new(view::derived::vault_holders(&rows));
        snapshot.vms = Shared::new(rows);
    }
    if touched.accounts {
        snapshot.accounts = Shared::new(store.accounts()?);
    }
    if touched.vault {
        snapshot.vault = Shared::new(store.vault(None)?);
    }
    let mut head = head;
    if touched.audit || head.is_none() {
        let (verified, new_head) = read_audit(store, &mut snapshot, head.as_ref())?;
        snapshot.audit_verified = Some(verified);
        snapshot.audit_status = store.audit_status(&snapshot.audit);
        head = new_head;
        prebuilt.audit_newest_first =
            Shared::new(view::derived::audit_newest_first(&snapshot.audit));
        prebuilt.audit_haystacks = Shared::new(view::derived::audit_haystacks(&snapshot.audit));
    }
    let mut usage_day = usage_day;
    if touched.usage || usage_day != Some(inputs.today) {
        let from = inputs.today - chrono::Duration::days(USAGE_WINDOW_DAYS);
        let records = store.usage(from, inputs.today)?;
        prebuilt.spark = Shared::new(view::derived::sparklines(&records, inputs.today));
        snapshot.usage = Shared::new(records);
        usage_day = Some(inputs.today);
    }
    if touched.prices {
        snapshot.hetzner_prices = Shared::new(usage::load_hetzner_prices(store)?);
    }
    snapshot.prebuilt = Some(prebuilt);
    Ok(Cache {
        snapshot,
        head,
        usage_day,
    })
}

/// Brings `snapshot.audit` up to date and verifies it: the whole log when `head` is `None`,
/// else only the events after `head`, appended to the shared list. Returns whether the chain
/// verified and the head to continue from (`None` after a failure: the next read verifies the
/// whole log again).
fn read_audit(
    store: &Store,
    snapshot: &mut Snapshot,
    head: Option<&ChainHead>,
) -> Result<(bool, Option<ChainHead>), StoreError> {
    if let Some(head) = head {
        match store.audit_tail_since(head) {
            Ok((tail, new_head)) => {
                if !tail.is_empty() {
                    snapshot.audit.extend(tail);
                }
                return Ok((true, Some(new_head)));
            }
            Err(StoreError::AuditChain { seq, reason }) => {
                tracing::error!(seq, %reason, "audit log does not verify");
                // Fall through: read the whole log as it is now.
            }
            Err(e) => return Err(e),
        }
    }
    let events = store.audit_events()?;
    let checked = store.check_audit(&ChainHead::genesis(), &events);
    snapshot.audit = Shared::new(events);
    match checked {
        Ok(new_head) => Ok((true, Some(new_head))),
        Err(StoreError::AuditChain { seq, reason }) => {
            tracing::error!(seq, %reason, "audit log does not verify");
            Ok((false, None))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AuditDraft, AuditKind};
    use chrono::{TimeZone, Utc};

    fn inputs(touched: Touched, today: NaiveDate) -> Inputs {
        Inputs {
            touched,
            view: None,
            stale: true,
            today,
            currency: "EUR".into(),
        }
    }

    #[test]
    fn a_change_re_reads_only_the_parts_it_touched() {
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();
        let today = now.date_naive();
        let data = crate::demo::generate(now);
        let store = Store::open_temporary().unwrap();
        crate::demo::seed_store(&store, &data).unwrap();

        // Start: everything read, the whole audit log verified.
        let first = refresh(&store, Cache::default(), inputs(Touched::NONE, today)).unwrap();
        let snap = &first.snapshot;
        assert_eq!(snap.vms.len(), data.vms.len());
        assert_eq!(snap.accounts.len(), data.accounts.len());
        assert_eq!(snap.vault.len(), data.vault.len());
        assert_eq!(snap.audit.len(), data.audit.len());
        assert_eq!(snap.audit_verified, Some(true));
        assert!(!snap.usage.is_empty());
        assert!(!snap.hetzner_prices.is_empty());
        let head = first.head.clone().unwrap();
        assert_eq!(head.seq, data.audit.len() as u64);
        let pre = snap.prebuilt.clone().unwrap();
        assert_eq!(pre, view::build(snap, today));

        // A Vault change: only the Vault is re-read; every other part is the same allocation.
        let mut entry = data.vault[0].clone();
        entry.id = uuid::Uuid::from_u128(0xfeed);
        entry.label = "added".into();
        store.put_vault_entry(&entry).unwrap();
        let second = refresh(&store, first.clone(), inputs(Touched::VAULT, today)).unwrap();
        let (a, b) = (&first.snapshot, &second.snapshot);
        assert_eq!(b.vault.len(), a.vault.len() + 1);
        assert!(!Shared::ptr_eq(&a.vault, &b.vault));
        assert!(Shared::ptr_eq(&a.vms, &b.vms));
        assert!(Shared::ptr_eq(&a.accounts, &b.accounts));
        assert!(Shared::ptr_eq(&a.audit, &b.audit));
        assert!(Shared::ptr_eq(&a.usage, &b.usage));
        assert!(Shared::ptr_eq(&a.hetzner_prices, &b.hetzner_prices));
        let (pa, pb) = (a.prebuilt.as_ref().unwrap(), b.prebuilt.as_ref().unwrap());
        assert!(Shared::ptr_eq(&pa.vm_table, &pb.vm_table));
        assert!(Shared::ptr_eq(&pa.holders, &pb.holders));
        assert!(Shared::ptr_eq(
            &pa.audit_newest_first,
            &pb.audit_newest_first
        ));
        assert!(Shared::ptr_eq(&pa.spark, &pb.spark));

        // An audit append: only the new event is read, verified against the kept head.
        let vm = &data.vms[0];
        let appended = store
            .append_audit(AuditDraft::for_vm(vm, AuditKind::Destroy, "ops", now, "ok"))
            .unwrap();
        let third = refresh(&store, second.clone(), inputs(Touched::AUDIT, today)).unwrap();
        let c = &third.snapshot;
        assert_eq!(c.audit.len(), b.audit.len() + 1);
        assert_eq!(c.audit.last(), Some(&appended));
        assert_eq!(c.audit_verified, Some(true));
        assert_eq!(third.head.as_ref().map(|h| h.seq), Some(appended.seq));
        assert_eq!(
            c.prebuilt.as_ref().unwrap().audit_newest_first.len(),
            c.audit.len()
        );
        assert!(Shared::ptr_eq(&b.vms, &c.vms));
        assert!(Shared::ptr_eq(&b.vault, &c.vault));
        // The previous snapshot (still held by the dashboard) did not change.
        assert_eq!(b.audit.len(), data.audit.len());

        // VMs: the rows and the views over them are rebuilt, the rest kept.
        let fourth = refresh(&store, third.clone(), inputs(Touched::VMS, today)).unwrap();
        let d = &fourth.snapshot;
        assert!(!Shared::ptr_eq(&c.vms, &d.vms));
        assert_eq!(*c.vms, *d.vms);
        assert!(Shared::ptr_eq(&c.audit, &d.audit));

        // A new day moves the usage window even when nothing was written.
        let tomorrow = today.succ_opt().unwrap();
        let fifth = refresh(&store, fourth.clone(), inputs(Touched::NONE, tomorrow)).unwrap();
        let (d_spark, e_spark) = (
            &d.prebuilt.as_ref().unwrap().spark,
            &fifth.snapshot.prebuilt.as_ref().unwrap().spark,
        );
        assert_eq!(e_spark.today, Some(tomorrow));
        assert!(!Shared::ptr_eq(d_spark, e_spark));
        assert!(Shared::ptr_eq(&d.vms, &fifth.snapshot.vms));
    }
}
