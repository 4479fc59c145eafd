//! Usage math (docs/product-rules.md §8): billable seconds of a Plain VM per UTC day, split by the account
//! that owned it and the billing type in force, and the money for those seconds.
//!
//! Rules:
//! - A VM's billable life runs from `provisionedAt` (Hetzner bills once the create has
//!   finished: docs/hetzner-api.md §9.3) to `destroyedAt` (or `now`). A VM never provisioned bills nothing;
//!   a record without `provisionedAt` whose status says it exists (e.g. one rebuilt from
//!   Hetzner labels) bills from `createdAt`.
//! - Stopped time counts like running: there is no paused rate.
//! - The day splits at every ownership change (transfer, docs/product-rules.md §7) and billing-type change
//!   (docs/product-rules.md §8); each part goes to the owner and billing type in force at its start.
//! - Seconds are whole seconds (timestamps truncated), so the parts of a day add up exactly.
//! - Money is `rust_decimal`, never floating point. Charges are rounded to 6 decimal places
//!   (metered: by the second at an hourly rate; subscription: the monthly price pro rata per
//!   second of the calendar month). Hetzner's cost is exact: every started hour of the server
//!   in a calendar month at the hourly price, capped at the monthly price (docs/hetzner-api.md §9.3).

use super::types::{BillingType, Region, Tier, UsageRecord, VmRecord, VmStatus};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    let inside = |t: DateTime<Utc>| t.timestamp() > start_s && t.timestamp() < end_s;
    if !vm.ownership.iter().any(|p| inside(p.from)) && !vm.billing.iter().any(|p| inside(p.from)) {
        // No transfer or billing switch within the day (the common case): one part.
        return vec![DaySegment {
            account: owner_at(vm, start_s),
            billing_type: billing_at(vm, start_s),
            // end_s - start_s ≤ 86 400 because both lie within one day.
            seconds: u32::try_from(end_s - start_s).unwrap_or(SECONDS_PER_DAY),
        }];
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
        let account = owner_at(vm, a);
        let billing_type = billing_at(vm, a);
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

/// The period in force at `t` (Unix seconds) among `periods` (in time order, each starting at
/// `start(p)`): the last one starting at or before `t`, else the first one.
fn in_force<P>(periods: &[P], start: impl Fn(&P) -> DateTime<Utc>, t: i64) -> Option<&P> {
    periods
        .iter()
        .rev()
        .find(|p| start(p).timestamp() <= t)
        .or(periods.first())
}

/// The account owning `vm` at `t` (Unix seconds) ([`in_force`]; the record's account when it
/// has no ownership periods).
fn owner_at(vm: &VmRecord, t: i64) -> String {
    in_force(&vm.ownership, |p| p.from, t).map_or_else(|| vm.account.clone(), |p| p.account.clone())
}

/// The billing type of `vm` at `t` (Unix seconds) ([`in_force`]; the record's billing type
/// when it has no billing periods).
fn billing_at(vm: &VmRecord, t: i64) -> BillingType {
    in_force(&vm.billing, |p| p.from, t).map_or(vm.billing_type, |p| p.billing_type)
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
    (hourly * Decimal::from(seconds) / Decimal::from(3600))
        .round_dp(MONEY_DP)
        .normalize()
}

/// Subscription charge for `seconds` of `day`: the flat monthly price spread evenly over the
/// seconds of `day`'s calendar month (`monthly × seconds / (days_in_month × 86 400)`), rounded.
pub fn subscription_charge(monthly: Decimal, seconds: u32, day: NaiveDate) -> Decimal {
    let month_seconds = Decimal::from(days_in_month(day) * SECONDS_PER_DAY);
    (monthly * Decimal::from(seconds) / month_seconds)
        .round_dp(MONEY_DP)
        .normalize()
}

/// Subscription charge of `seconds` more in `day`'s month after `seconds_before` subscribed
/// seconds that month: `round(monthly × (before + seconds) / month) − round(monthly × before /
/// month)` (6 places), so the days of a fully subscribed month add up to exactly `monthly`.
pub fn subscription_increment(
    monthly: Decimal,
    seconds_before: u64,
    seconds: u32,
    day: NaiveDate,
) -> Decimal {
    let month_seconds = Decimal::from(u64::from(days_in_month(day)) * u64::from(SECONDS_PER_DAY));
    let upto = |s: u64| (monthly * Decimal::from(s) / month_seconds).round_dp(MONEY_DP);
    (upto(seconds_before + u64::from(seconds)) - upto(seconds_before)).normalize()
}

/// Hetzner's cost of a server that ran `seconds` in one calendar month: every started hour
/// at `hourly`, capped at `monthly` (`min(ceil(seconds / 3600) × hourly, monthly)`:
/// docs/hetzner-api.md §9.3, "Usage is rounded up to full hours"). Exact (no rounding).
pub fn hetzner_month_cost(price: HetznerPrice, seconds: u64) -> Decimal {
    let hours = seconds.div_ceil(3600);
    (Decimal::from(hours) * price.hourly).min(price.monthly)
}

/// Hetzner's cost of `seconds` more of a server that already ran `seconds_before` in the same
/// calendar month: [`hetzner_month_cost`] after minus before, so the increments of a month add
/// up to exactly what Hetzner bills for that month (every started hour, capped at the monthly
/// price: docs/hetzner-api.md §9.3). Exact (no rounding).
pub fn capped_cost_increment(
    hourly: Decimal,
    monthly: Decimal,
    seconds_before: u64,
    seconds: u32,
) -> Decimal {
    let price = HetznerPrice { hourly, monthly };
    (hetzner_month_cost(price, seconds_before + u64::from(seconds))
        - hetzner_month_cost(price, seconds_before))
    .normalize()
}

/// Hetzner's net price of a server type in one location (`server_type.prices[]`, docs/hetzner-api.md §9.1):
/// per started hour and the monthly cap, in the project's currency (EUR or USD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HetznerPrice {
    /// Net price per started hour.
    pub hourly: Decimal,
    /// Net monthly cap.
    pub monthly: Decimal,
}

/// The platform's price for one (tier, region, billing type) (docs/product-rules.md §8 [ours], from the
/// config's `[[prices]]`): metered entries use `hourly`, subscription entries `monthly`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeRate {
    /// Tier.
    pub tier: Tier,
    /// Region.
    pub region: Region,
    /// Billing type.
    pub billing_type: BillingType,
    /// Price per hour (metered), charged by the second.
    pub hourly: Option<Decimal>,
    /// Flat price per calendar month (subscription), shown per day pro rata.
    pub monthly: Option<Decimal>,
}

/// Everything accrual needs besides the VM records: the platform's rate table and currency,
/// and Hetzner's prices per (server type, location) as last read from the API.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Rates {
    /// Currency of the charges (config `currency`, e.g. `EUR`).
    pub currency: String,
    /// The platform's rate table.
    pub charge: Vec<ChargeRate>,
    /// Hetzner prices keyed by [`hetzner_key`] (`server_type@location`).
    pub hetzner: BTreeMap<String, HetznerPrice>,
}

/// Key of [`Rates::hetzner`]: `cpx22@hel1`.
pub fn hetzner_key(server_type: &str, location: &str) -> String {
    format!("{server_type}@{location}")
}

impl Rates {
    /// The rate for (tier, region, billing type), if configured.
    pub fn charge_rate(
        &self,
        tier: Tier,
        region: Region,
        billing: BillingType,
    ) -> Option<&ChargeRate> {
        self.charge
            .iter()
            .find(|r| r.tier == tier && r.region == region && r.billing_type == billing)
    }

    /// Hetzner's price for the VM's server type in its region's location, if known.
    pub fn hetzner_price(&self, vm: &VmRecord) -> Option<HetznerPrice> {
        self.hetzner
            .get(&hetzner_key(&vm.server_type, vm.region.location()))
            .copied()
    }

    /// The charge for `seconds` of `day` under `billing` for a VM of (tier, region):
    /// [`metered_charge`] or [`subscription_charge`]; zero when no rate is configured.
    pub fn charge(
        &self,
        tier: Tier,
        region: Region,
        billing: BillingType,
        seconds: u32,
        day: NaiveDate,
    ) -> Decimal {
        let Some(rate) = self.charge_rate(tier, region, billing) else {
            return Decimal::ZERO;
        };
        match billing {
            BillingType::Metered => metered_charge(rate.hourly.unwrap_or_default(), seconds),
            BillingType::Subscription => {
                subscription_charge(rate.monthly.unwrap_or_default(), seconds, day)
            }
        }
    }
}

/// Billable seconds of `vm` in `day`'s calendar month before `day` (for the monthly cap).
pub fn month_seconds_before(vm: &VmRecord, day: NaiveDate, now: DateTime<Utc>) -> u64 {
    month_before(vm, day, now).0
}

/// (all, subscription) billable seconds of `vm` in `day`'s month before `day`.
fn month_before(vm: &VmRecord, day: NaiveDate, now: DateTime<Utc>) -> (u64, u64) {
    let mut d = day.with_day(1).unwrap_or(day);
    let mut total = (0u64, 0u64);
    while d < day {
        for s in day_segments(vm, d, now) {
            total.0 += u64::from(s.seconds);
            if s.billing_type == BillingType::Subscription {
                total.1 += u64::from(s.seconds);
            }
        }
        match d.succ_opt() {
            Some(next) => d = next,
            None => break,
        }
    }
    total
}

/// The usage records of `vm` for the UTC days `from..=to`, as of `now`: one per (day, account,
/// billing type) from [`day_segments`], with the charge from `rates` and Hetzner's cost (every
/// started hour of the server in the calendar month, capped at the monthly price: the month's
/// earlier days are counted from the VM's life, so any range gives the same records).
/// Days after `now`'s day are empty; today's records are provisional (`is_final: false`).
/// Deterministic: the same inputs give the same records (accrual is idempotent).
pub fn vm_records(
    vm: &VmRecord,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
    rates: &Rates,
) -> Vec<UsageRecord> {
    let mut out = Vec::new();
    let Some(start) = billable_start(vm) else {
        return out;
    };
    let today = now.date_naive();
    let mut last = to.min(today);
    if let Some(destroyed) = vm.destroyed_at {
        last = last.min(destroyed.date_naive());
    }
    let mut day = from.max(start.date_naive());
    if day > last {
        return out;
    }
    let price = rates.hetzner_price(vm);
    let hourly = rates
        .charge_rate(vm.tier, vm.region, BillingType::Metered)
        .and_then(|r| r.hourly);
    let monthly = rates
        .charge_rate(vm.tier, vm.region, BillingType::Subscription)
        .and_then(|r| r.monthly)
        .unwrap_or_default();
    let mut month = (day.year(), day.month());
    let (mut before, mut sub_before) = month_before(vm, day, now);
    while day <= last {
        if (day.year(), day.month()) != month {
            month = (day.year(), day.month());
            (before, sub_before) = (0, 0);
        }
        for seg in day_segments(vm, day, now) {
            let cost = price
                .map(|p| capped_cost_increment(p.hourly, p.monthly, before, seg.seconds))
                .unwrap_or_default();
            before += u64::from(seg.seconds);
            let charge = match seg.billing_type {
                // As [`Rates::charge`]: zero without a configured rate.
                BillingType::Metered => hourly
                    .map(|h| metered_charge(h, seg.seconds))
                    .unwrap_or_default(),
                BillingType::Subscription => {
                    let c = subscription_increment(monthly, sub_before, seg.seconds, day);
                    sub_before += u64::from(seg.seconds);
                    c
                }
            };
            out.push(UsageRecord {
                day,
                vm_id: vm.id,
                vm_name: vm.name.clone(),
                charge,
                account: seg.account,
                tier: vm.tier,
                region: vm.region,
                billing_type: seg.billing_type,
                seconds: seg.seconds,
                cost,
                is_final: day < today,
            });
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BillingPeriod, ImageKey, OwnershipPeriod, VmRecord};
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

    fn rates() -> Rates {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        let mut hetzner = BTreeMap::new();
        hetzner.insert(
            hetzner_key("cpx22", "hel1"),
            HetznerPrice {
                hourly: d("0.0128"),
                monthly: d("7.99"),
            },
        );
        Rates {
            currency: "EUR".into(),
            charge: vec![
                ChargeRate {
                    tier: Tier::Small,
                    region: Region::Eu,
                    billing_type: BillingType::Metered,
                    hourly: Some(d("0.0250")),
                    monthly: None,
                },
                ChargeRate {
                    tier: Tier::Small,
                    region: Region::Eu,
                    billing_type: BillingType::Subscription,
                    hourly: None,
                    monthly: Some(d("28.00")),
                },
            ],
            hetzner,
        }
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Hours of each record, as decimal strings.
    fn hours_of(records: &[UsageRecord]) -> Vec<String> {
        records
            .iter()
            .map(|r| {
                (Decimal::from(r.seconds) / Decimal::from(3600))
                    .normalize()
                    .to_string()
            })
            .collect()
    }

    fn sum_cost(records: &[UsageRecord]) -> Decimal {
        records.iter().map(|r| r.cost).sum::<Decimal>().normalize()
    }

    #[test]
    fn records_of_a_short_life_are_13_5_24_8_hours() {
        let v = vm(t(1, 10, 30), Some(t(3, 8, 0)));
        let recs = vm_records(&v, day(1), day(30), t(20, 0, 0), &rates());
        assert_eq!(hours_of(&recs), vec!["13.5", "24", "8"]);
        assert!(recs.iter().all(|r| r.is_final && r.account == "acme"));
        // Metered 0.025/h by the second; Hetzner every started hour: 14 + 24 + 8 hours.
        let charges: Vec<String> = recs.iter().map(|r| r.charge.to_string()).collect();
        assert_eq!(charges, vec!["0.3375", "0.6", "0.2"]);
        let costs: Vec<String> = recs.iter().map(|r| r.cost.to_string()).collect();
        assert_eq!(costs, vec!["0.1792", "0.3072", "0.1024"]);
    }

    #[test]
    fn transfer_at_noon_gives_two_12_hour_records_and_month_sums_per_account() {
        let mut v = vm(t(1, 0, 0), None);
        v.ownership.push(OwnershipPeriod {
            from: t(5, 12, 0),
            account: "globex".into(),
        });
        v.account = "globex".into();
        let now = utc(2026, 12, 1, 6, 0);
        let recs = vm_records(&v, day(1), day(30), now, &rates());
        let split: Vec<(&str, u32)> = recs
            .iter()
            .filter(|r| r.day == day(5))
            .map(|r| (r.account.as_str(), r.seconds))
            .collect();
        assert_eq!(split, vec![("acme", 43_200), ("globex", 43_200)]);
        let month = |a: &str| -> u64 {
            recs.iter()
                .filter(|r| r.account == a)
                .map(|r| u64::from(r.seconds))
                .sum()
        };
        assert_eq!(month("acme"), 108 * 3600); // 4.5 days
        assert_eq!(month("globex"), 612 * 3600); // 25.5 days
        let charge = |a: &str| -> Decimal {
            recs.iter()
                .filter(|r| r.account == a)
                .map(|r| r.charge)
                .sum()
        };
        assert_eq!(charge("acme").normalize().to_string(), "2.7");
        assert_eq!(charge("globex").normalize().to_string(), "15.3");
        // Hetzner bills the server, whoever owns it: 720 h capped at 7.99.
        assert_eq!(sum_cost(&recs).to_string(), "7.99");
    }

    #[test]
    fn billing_switch_mid_day_splits_the_record_by_type() {
        let mut v = vm(t(1, 0, 0), None);
        v.billing.push(BillingPeriod {
            from: t(3, 18, 0),
            billing_type: BillingType::Subscription,
        });
        let recs = vm_records(&v, day(3), day(3), t(9, 0, 0), &rates());
        let got: Vec<(BillingType, u32, String)> = recs
            .iter()
            .map(|r| (r.billing_type, r.seconds, r.charge.to_string()))
            .collect();
        // 18 h metered at 0.025; 6 h of a 28.00/month subscription in a 30-day month.
        assert_eq!(
            got,
            vec![
                (BillingType::Metered, 64_800, "0.45".to_string()),
                (BillingType::Subscription, 21_600, "0.233333".to_string()),
            ]
        );
    }

    #[test]
    fn a_day_stopped_throughout_is_24_hours() {
        let v = vm(t(1, 0, 0), None);
        assert_eq!(v.status, VmStatus::Stopped);
        let recs = vm_records(&v, day(2), day(2), t(9, 0, 0), &rates());
        assert_eq!(hours_of(&recs), vec!["24"]);
        assert_eq!(recs[0].charge.to_string(), "0.6");
    }

    #[test]
    fn twenty_four_hours_at_a_sixteen_decimal_rate_is_exact() {
        let rate = Decimal::from_str("0.0166600000000000").unwrap();
        assert_eq!(metered_charge(rate, 86_400).to_string(), "0.39984");
        assert_eq!(
            metered_charge(rate, 86_400),
            Decimal::from_str("0.39984").unwrap()
        );
    }

    #[test]
    fn hetzner_cost_is_capped_in_a_31_day_month() {
        // October 2026 has 31 days = 744 h; 0.0128/h reaches the 7.99 cap after 624.2 h.
        let v = vm(utc(2026, 10, 1, 0, 0), None);
        let recs = vm_records(
            &v,
            date(2026, 10, 1),
            date(2026, 10, 31),
            t(9, 0, 0),
            &rates(),
        );
        assert_eq!(recs.len(), 31);
        assert_eq!(sum_cost(&recs).to_string(), "7.99");
        assert_eq!(recs[25].cost.to_string(), "0.3072"); // day 26: hours 601..624
        assert_eq!(recs[26].cost.to_string(), "0.0028"); // day 27 reaches the cap
        assert!(recs[27..].iter().all(|r| r.cost.is_zero()));
        assert_eq!(
            hetzner_month_cost(rates().hetzner[&hetzner_key("cpx22", "hel1")], 744 * 3600),
            Decimal::from_str("7.99").unwrap()
        );
    }

    #[test]
    fn a_server_across_a_month_boundary_is_capped_per_month() {
        let v = vm(utc(2026, 10, 20, 0, 0), Some(utc(2026, 11, 28, 0, 0)));
        let recs = vm_records(
            &v,
            date(2026, 10, 1),
            date(2026, 11, 30),
            t(30, 9, 0),
            &rates(),
        );
        let month_cost = |m: u32| -> String {
            recs.iter()
                .filter(|r| r.day.month() == m)
                .map(|r| r.cost)
                .sum::<Decimal>()
                .normalize()
                .to_string()
        };
        assert_eq!(month_cost(10), "3.6864"); // 12 days = 288 h × 0.0128
        assert_eq!(month_cost(11), "7.99"); // 27 days = 648 h, capped
        // Starting the range mid-month gives the same records (the month's earlier days count).
        let tail = vm_records(
            &v,
            date(2026, 11, 20),
            date(2026, 11, 30),
            t(30, 9, 0),
            &rates(),
        );
        let whole_tail: Vec<UsageRecord> = recs
            .iter()
            .filter(|r| r.day >= date(2026, 11, 20))
            .cloned()
            .collect();
        assert_eq!(tail, whole_tail);
    }

    #[test]
    fn leap_day_is_a_day_of_a_29_day_month() {
        let v = vm(utc(2028, 2, 1, 0, 0), None);
        let now = utc(2028, 3, 1, 12, 0);
        let recs = vm_records(&v, date(2028, 2, 1), date(2028, 2, 29), now, &rates());
        assert_eq!(recs.len(), 29);
        let leap = recs.last().unwrap();
        assert_eq!((leap.day, leap.seconds), (date(2028, 2, 29), 86_400));
        assert_eq!(days_in_month(date(2028, 2, 29)), 29);
        // 696 h × 0.0128 = 8.9088 is over the cap.
        assert_eq!(sum_cost(&recs).to_string(), "7.99");
        // A 28.00/month subscription in a 29-day month: 28/29 per day.
        assert_eq!(
            subscription_charge(Decimal::from(28), 86_400, date(2028, 2, 29)).to_string(),
            "0.965517"
        );
    }

    #[test]
    fn a_28_day_month_prorates_the_subscription_per_day() {
        let mut v = vm(utc(2027, 1, 15, 0, 0), None);
        v.billing[0].billing_type = BillingType::Subscription;
        v.billing_type = BillingType::Subscription;
        let now = utc(2027, 3, 2, 0, 0);
        let recs = vm_records(&v, date(2027, 2, 1), date(2027, 2, 28), now, &rates());
        assert_eq!(recs.len(), 28);
        assert!(recs.iter().all(|r| r.charge == Decimal::ONE));
        let total: Decimal = recs.iter().map(|r| r.charge).sum();
        assert_eq!(total, Decimal::from(28));
        // 672 h × 0.0128 = 8.6016: capped.
        assert_eq!(sum_cost(&recs).to_string(), "7.99");
    }

    #[test]
    fn today_is_provisional_and_records_are_deterministic() {
        let v = vm(t(1, 0, 0), None);
        let now = t(9, 6, 15);
        let a = vm_records(&v, day(1), day(30), now, &rates());
        let b = vm_records(&v, day(1), day(30), now, &rates());
        assert_eq!(a, b);
        assert_eq!(a.len(), 9);
        assert!(!a[8].is_final && a[8].seconds == 22_500);
        assert!(a[..8].iter().all(|r| r.is_final));
    }

    #[test]
    fn a_fully_subscribed_31_day_month_sums_to_the_monthly_price() {
        let mut v = vm(utc(2026, 9, 20, 0, 0), None);
        v.billing[0].billing_type = BillingType::Subscription;
        let recs = vm_records(
            &v,
            date(2026, 10, 1),
            date(2026, 10, 31),
            t(9, 0, 0),
            &rates(),
        );
        let total: Decimal = recs.iter().map(|r| r.charge).sum();
        assert_eq!(total.normalize().to_string(), "28");
        // 28/31 per day, rounded to 6 places without drift.
        assert_eq!(recs[0].charge.to_string(), "0.903226");
        assert_eq!(recs[2].charge.to_string(), "0.903225");
    }
}
