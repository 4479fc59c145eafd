//! Derived views of a snapshot's parts other than the VM list: Vault holders, the audit log's
//! newest-first order and the VM detail's charge sparklines. Pure functions; the worker runs
//! them when the parts they derive from change and ships the results
//! ([`crate::protocol::Prebuilt`]).

use crate::domain::{AuditEvent, UsageRecord};
use crate::protocol::{Sparklines, VmRow};
use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// Days of the per-VM charge sparkline in the VM detail (the last 30 days, as the usage records
/// of docs/product-rules.md §8).
pub const SPARK_DAYS: i64 = 30;

/// Vault key id → names of the live VMs that received it at provisioning, sorted
/// (docs/product-rules.md §5: a deleted key stays on the VMs that hold it).
pub fn vault_holders(vms: &[VmRow]) -> BTreeMap<Uuid, Vec<String>> {
    let mut holders: BTreeMap<Uuid, Vec<String>> = BTreeMap::new();
    for vm in vms.iter().filter(|v| v.record.status.is_live()) {
        for key in vm.keys() {
            holders
                .entry(key.vault_key_id)
                .or_default()
                .push(vm.record.name.clone());
        }
    }
    for names in holders.values_mut() {
        names.sort();
    }
    holders
}

/// Positions in `audit`, newest first: by time, then by sequence number.
pub fn audit_newest_first(audit: &[AuditEvent]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..audit.len()).collect();
    order.sort_by(|&a, &b| (audit[b].at, audit[b].seq).cmp(&(audit[a].at, audit[a].seq)));
    order
}

/// What the Audit pane's filter searches in one event, lowercase: kind, VM name and id, account,
/// destination account, actor and outcome, separated by spaces.
pub fn audit_haystack(e: &AuditEvent) -> String {
    format!(
        "{} {} {} {} {} {} {}",
        e.kind,
        e.vm_name,
        e.vm_id,
        e.account,
        e.to_account.as_deref().unwrap_or(""),
        e.actor,
        e.outcome
    )
    .to_lowercase()
}

/// [`audit_haystack`] of every event of `audit`, in the same positions.
pub fn audit_haystacks(audit: &[AuditEvent]) -> Vec<String> {
    audit.iter().map(audit_haystack).collect()
}

/// Charge per day of the [`SPARK_DAYS`] days up to `today` (oldest first) per VM, summed over
/// every account, from `usage`.
pub fn sparklines(usage: &[UsageRecord], today: NaiveDate) -> Sparklines {
    let from = today - Duration::days(SPARK_DAYS - 1);
    let mut by_vm: HashMap<Uuid, Vec<Decimal>> = HashMap::new();
    for r in usage.iter().filter(|r| r.day >= from && r.day <= today) {
        let days = by_vm
            .entry(r.vm_id)
            .or_insert_with(|| vec![Decimal::ZERO; SPARK_DAYS as usize]);
        let i = usize::try_from((r.day - from).num_days()).unwrap_or(0);
        if let Some(d) = days.get_mut(i) {
            *d += r.charge;
        }
    }
    Sparklines {
        today: Some(today),
        by_vm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn derived_views_of_the_demo_snapshot() {
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();
        let snap = crate::demo::snapshot(now);
        // Holders: every live VM under each key it received, names sorted; no deleted VM.
        let holders = vault_holders(&snap.vms);
        assert!(!holders.is_empty());
        for (key, names) in &holders {
            let mut want: Vec<String> = snap
                .vms
                .iter()
                .filter(|v| v.record.status.is_live())
                .filter(|v| v.keys().iter().any(|k| k.vault_key_id == *key))
                .map(|v| v.record.name.clone())
                .collect();
            want.sort();
            assert_eq!(names, &want);
        }
        // Audit: newest first.
        let order = audit_newest_first(&snap.audit);
        assert_eq!(order.len(), snap.audit.len());
        assert!(order.windows(2).all(|w| {
            let (a, b) = (&snap.audit[w[0]], &snap.audit[w[1]]);
            (a.at, a.seq) >= (b.at, b.seq)
        }));
        // Sparklines: 30 days per VM, summing to the VM's charges of those days.
        let today = now.date_naive();
        let spark = sparklines(&snap.usage, today);
        assert_eq!(spark.today, Some(today));
        assert!(!spark.by_vm.is_empty());
        let from = today - Duration::days(SPARK_DAYS - 1);
        for (vm, days) in &spark.by_vm {
            assert_eq!(days.len(), 30);
            let want: Decimal = snap
                .usage
                .iter()
                .filter(|r| r.vm_id == *vm && r.day >= from && r.day <= today)
                .map(|r| r.charge)
                .sum();
            assert_eq!(days.iter().copied().sum::<Decimal>(), want);
        }
    }
}
