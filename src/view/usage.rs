//! The Usage pane's numbers: a [`UsageQuery`] (period, grouping, account, moment) answered with
//! a [`UsageView`] (report, month-to-date, projected month-end overall and per group).
//!
//! Pure; the worker runs [`usage`] off its async threads (`src/worker/usage.rs`) and sends the
//! result, so the dashboard's task never sums records. Totals come from
//! [`aggregate`], the function `crabglamp usage` prints (`src/cli/usage.rs`), over the same
//! records, so the pane and the command always agree. Stopped time is billed like running time
//! in the records already (docs/product-rules.md §8).

use crate::domain::usage::{HetznerPrice, hetzner_key};
use crate::domain::usage_report::{GroupBy, VmOutlook, aggregate, month_end};
use crate::domain::{UsageRecord, VmStatus};
use crate::protocol::{Snapshot, USAGE_WINDOW_DAYS, UsageQuery, UsageView, VmRow};
use chrono::{Duration, NaiveDate, Timelike};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// The first UTC day whose records a snapshot made on `today` carries (the worker's window of
/// [`USAGE_WINDOW_DAYS`] days).
pub fn window_start(today: NaiveDate) -> NaiveDate {
    today - Duration::days(USAGE_WINDOW_DAYS)
}

/// True when `query`'s period starts before the window of the snapshot of its day: its
/// records come from the store.
pub fn needs_store(query: &UsageQuery) -> bool {
    query.from < window_start(query.at.date_naive())
}

/// Answers `query`.
///
/// - `records`: the period's records (the snapshot's window, or the store's records of
///   `from..=to` when [`needs_store`]); records outside the period or the account are ignored.
/// - `recent`: the snapshot's window (up to the query's day), for month-to-date and the
///   projections.
/// - `vms`, `prices`: the snapshot's VMs and Hetzner's cached prices (key
///   [`hetzner_key`]), for which VMs still bill and at what price.
pub fn usage(
    query: &UsageQuery,
    records: &[UsageRecord],
    recent: &[UsageRecord],
    vms: &[VmRow],
    prices: &BTreeMap<String, HetznerPrice>,
) -> UsageView {
    let today = query.at.date_naive();
    let seconds_today = query.at.num_seconds_from_midnight();
    let (from, to) = (query.from, query.to);
    let account = query.account.as_deref();
    let report = aggregate(records, from, to, query.by, account);
    let outlooks = outlooks(vms, prices);
    let outlook = |id: Uuid| outlooks.get(&id).copied().unwrap_or_default();
    let month_end = (from <= today && today <= to)
        .then(|| month_end(recent, today, seconds_today, account, &outlook));
    let projected = query.this_month.then(|| {
        projected_by_group(
            recent,
            (from, today),
            query.by,
            account,
            seconds_today,
            &outlook,
        )
    });
    UsageView {
        query: Some(query.clone()),
        report: Some(report),
        month_end,
        projected,
        error: None,
    }
}

/// Answers `query` from `snapshot` alone: its records (when the period lies in its window, see
/// [`needs_store`]), VMs and prices.
pub fn from_snapshot(query: &UsageQuery, snapshot: &Snapshot) -> UsageView {
    usage(
        query,
        &snapshot.usage,
        &snapshot.usage,
        &snapshot.vms,
        &snapshot.hetzner_prices,
    )
}

/// The answer to `query` when the store could not be read: no report, the error in words.
pub fn failed(query: &UsageQuery, error: String) -> UsageView {
    UsageView {
        query: Some(query.clone()),
        error: Some(error),
        ..UsageView::default()
    }
}

/// Whether each VM is still billing (live, not being destroyed) and Hetzner's price for its
/// server type and location, for [`month_end`]. VMs not listed are not projected.
pub fn outlooks(
    vms: &[VmRow],
    prices: &BTreeMap<String, HetznerPrice>,
) -> HashMap<Uuid, VmOutlook> {
    vms.iter()
        .map(|v| {
            let r = &v.record;
            let price = prices
                .get(&hetzner_key(&r.server_type, r.region.location()))
                .copied();
            let live =
                r.status.is_live() && r.status != VmStatus::Destroying && r.destroyed_at.is_none();
            (r.id, VmOutlook { live, price })
        })
        .collect()
}

/// The projected month-end charge of each group of this month's `records` (of `account`), keyed
/// as [`aggregate`] keys its groups (a VM name shared by several VMs gets ` (first 8 hex digits of
/// the id)`), each from [`month_end`] over that group's records alone.
pub fn projected_by_group(
    records: &[UsageRecord],
    (first, today): (NaiveDate, NaiveDate),
    by: GroupBy,
    account: Option<&str>,
    seconds_today: u32,
    outlook: &dyn Fn(Uuid) -> VmOutlook,
) -> BTreeMap<String, Decimal> {
    // Group id (VM id for VMs) → (name of its first record, its records).
    let mut groups: BTreeMap<String, (String, Vec<UsageRecord>)> = BTreeMap::new();
    for r in records {
        if r.day < first || r.day > today || account.is_some_and(|a| r.account != a) {
            continue;
        }
        let (id, name) = match by {
            GroupBy::Account => (r.account.clone(), r.account.clone()),
            GroupBy::Vm => (r.vm_id.to_string(), r.vm_name.clone()),
            GroupBy::Tier => (r.tier.to_string(), r.tier.to_string()),
            GroupBy::Region => (r.region.to_string(), r.region.to_string()),
        };
        groups
            .entry(id)
            .or_insert_with(|| (name, Vec::new()))
            .1
            .push(r.clone());
    }
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, _) in groups.values() {
        *names.entry(name.as_str()).or_default() += 1;
    }
    groups
        .iter()
        .map(|(id, (name, recs))| {
            let key = if names.get(name.as_str()).copied().unwrap_or(0) > 1 {
                format!("{name} ({})", id.get(..8).unwrap_or(id))
            } else {
                name.clone()
            };
            (
                key,
                month_end(recs, today, seconds_today, None, outlook).charge_projected,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn the_demo_month_sums_as_aggregate_and_projects_each_account() {
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap();
        let snap = crate::demo::snapshot(now);
        let q = UsageQuery {
            from: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            by: GroupBy::Account,
            account: None,
            this_month: true,
            at: now,
        };
        assert!(!needs_store(&q));
        let v = usage(
            &q,
            &snap.usage,
            &snap.usage,
            &snap.vms,
            &snap.hetzner_prices,
        );
        let want = aggregate(&snap.usage, q.from, q.to, q.by, None);
        assert_eq!(v.report.as_ref(), Some(&want));
        let me = v.month_end.unwrap();
        let projected = v.projected.unwrap();
        assert_eq!(projected.len(), want.groups.len());
        let sum: Decimal = projected.values().copied().sum();
        assert_eq!(sum, me.charge_projected);
    }
}
