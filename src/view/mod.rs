//! Ready-to-draw data derived from a snapshot: pure functions over `protocol` and `domain`
//! types, no I/O. Sits between `protocol` and the layers that use it (`worker` builds, `app`
//! filters and draws); imports nothing above `protocol`.
//!
//! The expensive derivations (the VM list's haystacks, widths and sort orders; Vault holders;
//! the audit order; the sparklines) run in the worker, off the async threads, only when the
//! parts they derive from change, and reach the dashboard in
//! [`Snapshot::prebuilt`](crate::protocol::Snapshot::prebuilt). What is left for the dashboard's
//! task when a snapshot arrives is one pass over a precomputed order
//! ([`vm_index::VmIndex::from_prebuilt`]).
//!
//! The Usage pane's sums ([`usage::usage`]) are not part of a snapshot: the worker computes
//! them per query (`Effect::UsageQuery`), and again after each snapshot that changed what they
//! sum; the dashboard only shows the answer.

pub mod derived;
pub mod usage;
pub mod vm_index;

use crate::protocol::{Prebuilt, Shared, Snapshot};
use chrono::NaiveDate;

/// Builds every prebuilt part of `snapshot` from its data parts, for sparklines ending on
/// `today` (UTC).
pub fn build(snapshot: &Snapshot, today: NaiveDate) -> Prebuilt {
    Prebuilt {
        vm_table: Shared::new(vm_index::build_table(&snapshot.vms)),
        holders: Shared::new(derived::vault_holders(&snapshot.vms)),
        audit_newest_first: Shared::new(derived::audit_newest_first(&snapshot.audit)),
        audit_haystacks: Shared::new(derived::audit_haystacks(&snapshot.audit)),
        spark: Shared::new(derived::sparklines(&snapshot.usage, today)),
    }
}

/// The snapshot's prebuilt parts: the worker's (a clone of four shared pointers) when present,
/// else built here ([`build`], for snapshots made by hand in tests and demo screenshots).
pub fn prebuilt(snapshot: &Snapshot, today: NaiveDate) -> Prebuilt {
    match &snapshot.prebuilt {
        Some(p) => p.clone(),
        None => build(snapshot, today),
    }
}
