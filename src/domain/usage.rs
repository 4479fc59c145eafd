//! Usage math (SPEC.md §8): billable seconds of a Plain VM per UTC day, split by the account
//! that owned it and the billing type in force, and the money for those seconds.
//!
//! Rules:
//! - A VM's billable life runs from `provisionedAt` (Hetzner bills once the create has
//!   finished: notes §9.3) to `destroyedAt` (or `now`). A VM never provisioned bills nothing;
//!   a record without `provisionedAt` whose status says it exists (e.g. one rebuilt from
//!   Hetzner labels) bills from `createdAt`.
//! - Stopped time counts like running: there is no paused rate.
//! - The day splits at every ownership change (transfer, SPEC.md §7) and billing-type change
//!   (SPEC.md §8); each part goes to the owner and billing type in force at its start.
//! - Seconds are whole seconds (timestamps truncated), so the parts of a day add up exactly.
//! - Money is `rust_decimal`, never floating point, rounded to 6 decimal places.

use super::types::{BillingType, VmRecord, VmStatus};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;

/// Seconds in a UTC day.
pub const SECONDS_PER_DAY: u32 = 86_400;

/// Decimal places kept in charges and costs.
pub const MONEY_DP: u32 = 6;

/// One part of a VM's day: `seconds` owned by `account` under `billing_type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySegment {
    /// The account billed.
    pub account: String,
    /// The billing type in force.
    pub billing_type: BillingType,
    /// Billable seconds (0 < seconds ≤ 86 400).
    pub seconds: u32,
}

/// Start of the VM's billable life (see the module rules), if it has one.
pub fn billable_start(vm: &VmRecord) -> Option<DateTime<Utc>> {
    vm.provisioned_at.or_else(|| {
        let exists = (vm.status.is_live()
            && !matches!(vm.status, VmStatus::Provisioning | VmStatus::Unknown))
            || (vm.destroyed_at.is_some() && vm.hetzner_server_id.is_some());
        exists.then_some(vm.created_at)
    })
}

fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// The billable parts of `day` (UTC) for `vm`, as of `now` (today's parts end at `now`): one
/// [`DaySegment`] per (account, billing type), in order of first occurrence within the day.
/// Empty when the VM did not exist (billably) that day.
pub fn day_segments(vm: &VmRecord, day: NaiveDate, now: DateTime<Utc>) -> Vec<DaySegment> {
    let Some(life_start) = billable_start(vm) else {
        return Vec::new();
    };
    let start = life_start.max(day_start(day));
    let mut end = (day_start(day) + Duration::days(1)).min(now);
    if let Some(destroyed) = vm.destroyed_at {
        end = end.min(destroyed);
    }
    let (start_s, end_s) = (start.timestamp(), end.timestamp());
    if end_s <= start_s {
        return Vec::new();
    }
    // Change points strictly inside (start, end), in time order.
    let mut cuts: Vec<i64> = vm
        .ownership
        .iter()
        .map(|p| p.from.timestamp())
        .chain(vm.billing.iter().map(|p| p.from.timestamp()))
        .filter(|t| *t > start_s && *t < end_s)
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut bounds = vec![start_s];
    bounds.extend(cuts);
    bounds.push(end_s);

    let mut out: Vec<DaySegment> = Vec::new();
    for w in bounds.windows(2) {
        let (a, b) = (w[0], w[1]);
        let account = vm
            .ownership
            .iter()
            .rev()
            .find(|p| p.from.timestamp() <= a)
            .or(vm.ownership.first())
            .map(|p| p.account.clone())
            .unwrap_or_else(|| vm.account.clone());
        let billing_type = vm
            .billing
            .iter()
            .rev()
            .find(|p| p.from.timestamp() <= a)
            .or(vm.billing.first())
            .map(|p| p.billing_type)
            .unwrap_or(vm.billing_type);
        // b - a ≤ 86 400 because both lie within one day.
        let seconds = u32::try_from(b - a).unwrap_or(SECONDS_PER_DAY);
        match out
            .iter_mut()
            .find(|s| s.account == account && s.billing_type == billing_type)
        {
            Some(seg) => seg.seconds += seconds,
            None => out.push(DaySegment {
                account,
                billing_type,
                seconds,
            }),
        }
    }
    out
}

/// Days in the calendar month of `day` (28–31).
pub fn days_in_month(day: NaiveDate) -> u32 {
    let first = day.with_day(1).unwrap_or(day);
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first);
    u32::try_from((next - first).num_days()).unwrap_or(30)
}

/// Metered charge: `hourly × seconds / 3600`, rounded to [`MONEY_DP`] places.
pub fn metered_charge(hourly: Decimal, seconds: u32) -> Decimal {
    (hourly * Decimal::from(seconds) / Decimal::from(3600)).round_dp(MONEY_DP)
}

/// Subscription charge for `seconds` of `day`: the flat monthly price spread evenly over the
/// seconds of `day`'s calendar month (`monthly × seconds / (days_in_month × 86 400)`), rounded.
pub fn subscription_charge(monthly: Decimal, seconds: u32, day: NaiveDate) -> Decimal {
    let month_seconds = Decimal::from(days_in_month(day) * SECONDS_PER_DAY);
    (monthly * Decimal::from(seconds) / month_seconds).round_dp(MONEY_DP)
}

/// Hetzner's cost of `seconds` more of a server that already ran `seconds_before` in the same
/// calendar month: Hetzner charges `min(hours × hourly, monthly)` per month (notes §9.3), so
/// the increment is `min(h₁ × hourly, monthly) − min(h₀ × hourly, monthly)` with hours as exact
/// fractions (Hetzner rounds up to whole hours; this is an estimate). Rounded.
pub fn capped_cost_increment(
    hourly: Decimal,
    monthly: Decimal,
    seconds_before: u64,
    seconds: u32,
) -> Decimal {
    let hours = |s: u64| Decimal::from(s) / Decimal::from(3600);
    let before = (hours(seconds_before) * hourly).min(monthly);
    let after = (hours(seconds_before + u64::from(seconds)) * hourly).min(monthly);
    (after - before).round_dp(MONEY_DP)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        BillingPeriod, ImageKey, OwnershipPeriod, Region, Tier, VmRecord, VmStatus,
    };
    use chrono::TimeZone;
    use std::str::FromStr;
    use uuid::Uuid;

    fn t(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap()
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn vm(provisioned: DateTime<Utc>, destroyed: Option<DateTime<Utc>>) -> VmRecord {
        VmRecord {
            id: Uuid::from_u128(1),
            name: "web".into(),
            account: "acme".into(),
            tier: Tier::Small,
            region: Region::Eu,
            image: ImageKey::Debian12,
            billing_type: BillingType::Metered,
            status: if destroyed.is_some() {
                VmStatus::Deleted
            } else {
                VmStatus::Stopped
            },
            created_at: provisioned - Duration::seconds(60),
            provisioned_at: Some(provisioned),
            destroyed_at: destroyed,
            hetzner_server_id: Some(7),
            hetzner_firewall_id: Some(8),
            server_type: "cpx22".into(),
            ipv4: None,
            ipv6: None,
            keys: vec![],
            ownership: vec![OwnershipPeriod {
                from: provisioned - Duration::seconds(60),
                account: "acme".into(),
            }],
            billing: vec![BillingPeriod {
                from: provisioned - Duration::seconds(60),
                billing_type: BillingType::Metered,
            }],
            failure: None,
        }
    }

    fn seg(account: &str, b: BillingType, seconds: u32) -> DaySegment {
        DaySegment {
            account: account.into(),
            billing_type: b,
            seconds,
        }
    }

    #[test]
    fn created_mid_day_destroyed_two_days_later() {
        let v = vm(t(1, 10, 30), Some(t(3, 8, 0)));
        let now = t(20, 0, 0);
        let per_day: Vec<Vec<DaySegment>> =
            (1..=4).map(|d| day_segments(&v, day(d), now)).collect();
        assert_eq!(
            per_day,
            vec![
                vec![seg("acme", BillingType::Metered, 48_600)], // 13.5 h
                vec![seg("acme", BillingType::Metered, 86_400)], // 24 h
                vec![seg("acme", BillingType::Metered, 28_800)], // 8 h
                vec![],
            ]
        );
        assert_eq!(
            day_segments(&v, NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(), now),
            vec![]
        );
    }

    #[test]
    fn transfer_at_noon_splits_the_day() {
        let mut v = vm(t(1, 0, 0), None);
        v.ownership.push(OwnershipPeriod {
            from: t(5, 12, 0),
            account: "globex".into(),
        });
        v.billing.push(BillingPeriod {
            from: t(5, 12, 0),
            billing_type: BillingType::Metered,
        });
        v.account = "globex".into();
        assert_eq!(
            day_segments(&v, day(5), t(9, 0, 0)),
            vec![
                seg("acme", BillingType::Metered, 43_200),
                seg("globex", BillingType::Metered, 43_200)
            ]
        );
        assert_eq!(
            day_segments(&v, day(6), t(9, 0, 0)),
            vec![seg("globex", BillingType::Metered, 86_400)]
        );
    }

    #[test]
    fn billing_switch_splits_and_stopped_day_counts_fully() {
        let mut v = vm(t(1, 0, 0), None);
        assert_eq!(v.status, VmStatus::Stopped);
        assert_eq!(
            day_segments(&v, day(2), t(9, 0, 0)),
            vec![seg("acme", BillingType::Metered, 86_400)]
        );
        v.billing.push(BillingPeriod {
            from: t(3, 18, 0),
            billing_type: BillingType::Subscription,
        });
        assert_eq!(
            day_segments(&v, day(3), t(9, 0, 0)),
            vec![
                seg("acme", BillingType::Metered, 64_800),
                seg("acme", BillingType::Subscription, 21_600)
            ]
        );
    }

    #[test]
    fn today_ends_at_now_and_unprovisioned_bills_nothing() {
        let v = vm(t(1, 0, 0), None);
        assert_eq!(
            day_segments(&v, day(9), t(9, 6, 15)),
            vec![seg("acme", BillingType::Metered, 22_500)]
        );
        assert_eq!(day_segments(&v, day(10), t(9, 6, 15)), vec![]);
        let mut p = vm(t(9, 6, 0), None);
        p.provisioned_at = None;
        p.status = VmStatus::Provisioning;
        assert_eq!(day_segments(&p, day(9), t(9, 6, 15)), vec![]);
    }

    #[test]
    fn money() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(metered_charge(d("0.0250"), 86_400), d("0.6"));
        assert_eq!(metered_charge(d("0.0300"), 48_600), d("0.405"));
        assert_eq!(days_in_month(day(30)), 30);
        assert_eq!(
            days_in_month(NaiveDate::from_ymd_opt(2028, 2, 10).unwrap()),
            29
        );
        assert_eq!(subscription_charge(d("30.00"), 86_400, day(4)), d("1"));
        assert_eq!(
            subscription_charge(d("14.90"), 43_200, day(4)),
            d("0.248333")
        );
        // cpx22: 0.0128/h, capped at 7.99/month (624.2 h).
        assert_eq!(
            capped_cost_increment(d("0.0128"), d("7.99"), 0, 86_400),
            d("0.3072")
        );
        assert_eq!(
            capped_cost_increment(d("0.0128"), d("7.99"), 624 * 3600, 86_400),
            d("0.0028")
        );
        assert_eq!(
            capped_cost_increment(d("0.0128"), d("7.99"), 700 * 3600, 86_400),
            d("0")
        );
    }
}
