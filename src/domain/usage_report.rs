//! Usage reports: usage records summed over a period of UTC days, grouped by account, VM, tier
//! or region, with a daily series and totals (issue 7). One function, [`aggregate`], serves
//! both the Usage pane and `crabglamp usage`, so their totals are always equal.
//!
//! Money stays `rust_decimal` (sums of the records' charges and costs, in the records'
//! precision); hours are `seconds / 3600`. Stopped time is already billed in the records
//! (docs/product-rules.md §8).

use super::types::UsageRecord;
use super::usage::HetznerPrice;
use chrono::{Datelike, Duration, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

/// How records are grouped (`--by vm|account|tier|region`; `g` in the pane).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum GroupBy {
    /// By account billed.
    #[default]
    Account,
    /// By Plain VM (keyed by id, shown by name).
    Vm,
    /// By tier.
    Tier,
    /// By region.
    Region,
}

impl GroupBy {
    /// Every grouping, in the order `g` cycles them.
    pub const ALL: [GroupBy; 4] = [
        GroupBy::Account,
        GroupBy::Vm,
        GroupBy::Tier,
        GroupBy::Region,
    ];

    /// `account`, `vm`, `tier` or `region`.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Account => "account",
            GroupBy::Vm => "vm",
            GroupBy::Tier => "tier",
            GroupBy::Region => "region",
        }
    }

    /// The next grouping (wraps).
    pub fn next(self) -> GroupBy {
        let i = GroupBy::ALL.iter().position(|g| *g == self).unwrap_or(0);
        GroupBy::ALL[(i + 1) % GroupBy::ALL.len()]
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GroupBy {
    type Err = String;
    /// Parses `account`, `vm`, `tier` or `region`; the error names the accepted values.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "account" => Ok(GroupBy::Account),
            "vm" => Ok(GroupBy::Vm),
            "tier" => Ok(GroupBy::Tier),
            "region" => Ok(GroupBy::Region),
            other => Err(format!(
                "by: '{other}' is not one of vm, account, tier, region"
            )),
        }
    }
}

/// Hours, charge, cost of one group (or of the total, or of one day).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Billable seconds.
    pub seconds: u64,
    /// Charge to the accounts, in the configured currency.
    pub charge: Decimal,
    /// Hetzner's cost, in the project's currency.
    pub cost: Decimal,
}

impl Totals {
    fn add(&mut self, r: &UsageRecord) {
        self.seconds += u64::from(r.seconds);
        self.charge += r.charge;
        self.cost += r.cost;
    }

    /// `charge − cost`, without trailing zeros.
    pub fn margin(&self) -> Decimal {
        (self.charge - self.cost).normalize()
    }

    /// `seconds / 3600`, exact to 6 decimal places, without trailing zeros (`13.5`).
    pub fn hours(&self) -> Decimal {
        (Decimal::from(self.seconds) / Decimal::from(3600))
            .round_dp(6)
            .normalize()
    }
}

/// One row of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Account slug, VM name, tier or region. VM names reused by another VM in the same period
    /// get ` (first 8 hex digits of the id)` appended so that keys stay unique.
    pub key: String,
    /// The sums.
    pub totals: Totals,
}

/// Records of one period summed by group and by day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// First UTC day (inclusive).
    pub from: NaiveDate,
    /// Last UTC day (inclusive).
    pub to: NaiveDate,
    /// The grouping.
    pub by: GroupBy,
    /// Groups with usage, by key.
    pub groups: Vec<Group>,
    /// One entry per day of the period, oldest first, days without usage included.
    pub daily: Vec<(NaiveDate, Totals)>,
    /// Sum of every group (equal to the sum of `daily`).
    pub total: Totals,
}

/// A group's identity while summing: text (account, tier, region) or a VM's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum GroupId<'a> {
    Text(&'a str),
    Vm(uuid::Uuid),
}

/// Sums `records` with `from <= day <= to` (and of `account`, when given) into groups by `by`,
/// a daily series and a total. Records outside the period or of other accounts are ignored.
/// An empty period (`from > to`) gives an empty report.
pub fn aggregate(
    records: &[UsageRecord],
    from: NaiveDate,
    to: NaiveDate,
    by: GroupBy,
    account: Option<&str>,
) -> Report {
    let days = if from <= to {
        usize::try_from((to - from).num_days() + 1).unwrap_or(0)
    } else {
        0
    };
    let mut daily = vec![Totals::default(); days];
    // Group id → (display name, totals). Ids borrow from the records (no allocation per
    // record); VMs are told apart by id, so a reused name stays two groups.
    let mut groups: HashMap<GroupId<'_>, (&str, Totals)> = HashMap::new();
    let mut total = Totals::default();
    for r in records {
        if r.day < from || r.day > to || account.is_some_and(|a| r.account != a) {
            continue;
        }
        let (id, name) = match by {
            GroupBy::Account => (GroupId::Text(&r.account), r.account.as_str()),
            GroupBy::Vm => (GroupId::Vm(r.vm_id), r.vm_name.as_str()),
            GroupBy::Tier => (GroupId::Text(r.tier.as_str()), r.tier.as_str()),
            GroupBy::Region => (GroupId::Text(r.region.as_str()), r.region.as_str()),
        };
        groups
            .entry(id)
            .or_insert_with(|| (name, Totals::default()))
            .1
            .add(r);
        if let Some(t) = usize::try_from((r.day - from).num_days())
            .ok()
            .and_then(|i| daily.get_mut(i))
        {
            t.add(r);
        }
        total.add(r);
    }
    let mut name_count: HashMap<&str, usize> = HashMap::new();
    for (name, _) in groups.values() {
        *name_count.entry(name).or_default() += 1;
    }
    let mut out: Vec<(GroupId<'_>, Group)> = groups
        .into_iter()
        .map(|(id, (name, totals))| {
            let key = match id {
                GroupId::Vm(uuid) if name_count.get(name).copied().unwrap_or(0) > 1 => {
                    let hex = uuid.simple().to_string();
                    format!("{name} ({})", hex.get(..8).unwrap_or(&hex))
                }
                _ => name.to_string(),
            };
            (id, Group { key, totals })
        })
        .collect();
    // By key; equal keys (not possible after the suffix above) would fall back to the id.
    out.sort_by(|a, b| a.1.key.cmp(&b.1.key).then_with(|| a.0.cmp(&b.0)));
    let daily = daily
        .into_iter()
        .enumerate()
        .map(|(i, t)| (from + Duration::days(i as i64), t))
        .collect();
    Report {
        from,
        to,
        by,
        groups: out.into_iter().map(|(_, g)| g).collect(),
        daily,
        total,
    }
}

/// First and last day of the calendar month of `day`.
pub fn month_bounds(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = day.with_day(1).unwrap_or(day);
    let last = first
        .checked_add_months(chrono::Months::new(1))
        .and_then(|n| n.pred_opt())
        .unwrap_or(day);
    (first, last)
}

/// Earliest year [`parse_month`] and [`parse_day`] accept: no usage exists before the Unix
/// epoch, and 4 digits end at 9999.
pub const FIRST_YEAR: i32 = 1970;

/// The digits of `text` when it is exactly `shape` with each `D` an ASCII digit (no sign, no
/// spaces, no shorter or longer fields), as numbers per run of `D`s.
fn strict_fields(text: &str, shape: &str) -> Option<Vec<u32>> {
    if text.len() != shape.len() {
        return None;
    }
    let mut fields = Vec::new();
    let mut current: Option<u32> = None;
    for (c, s) in text.bytes().zip(shape.bytes()) {
        if s == b'D' {
            if !c.is_ascii_digit() {
                return None;
            }
            current = Some(current.unwrap_or(0) * 10 + u32::from(c - b'0'));
        } else {
            if c != s {
                return None;
            }
            fields.extend(current.take());
        }
    }
    fields.extend(current);
    Some(fields)
}

/// Parses a strict `YYYY-MM` (4-digit year 1970–9999, 2-digit month 01–12, nothing around it)
/// into the month's first and last day (UTC days).
///
/// Errors (one line naming the field, as `--month` shows it): `month: '26-11' is not YYYY-MM`,
/// `month: '0000-01' is before 1970`.
pub fn parse_month(text: &str) -> Result<(NaiveDate, NaiveDate), String> {
    let not = || format!("month: '{text}' is not YYYY-MM");
    let Some([y, m]) = strict_fields(text, "DDDD-DD").and_then(|f| <[u32; 2]>::try_from(f).ok())
    else {
        return Err(not());
    };
    let year = i32::try_from(y).map_err(|_| not())?;
    let first = NaiveDate::from_ymd_opt(year, m, 1).ok_or_else(not)?;
    if year < FIRST_YEAR {
        return Err(format!("month: '{text}' is before {FIRST_YEAR}"));
    }
    Ok(month_bounds(first))
}

/// Parses a strict `YYYY-MM-DD` (4-digit year 1970–9999, a day that exists in that month,
/// nothing around it) into a UTC day, for `--from`/`--to`.
///
/// Errors, without the flag (the caller names it): `'2026-13-01' is not a real YYYY-MM-DD day`,
/// `'1969-12-31' is before 1970`.
pub fn parse_day(text: &str) -> Result<NaiveDate, String> {
    let not = || format!("'{text}' is not a real YYYY-MM-DD day");
    let Some([y, m, d]) =
        strict_fields(text, "DDDD-DD-DD").and_then(|f| <[u32; 3]>::try_from(f).ok())
    else {
        return Err(not());
    };
    let year = i32::try_from(y).map_err(|_| not())?;
    let day = NaiveDate::from_ymd_opt(year, m, d).ok_or_else(not)?;
    if year < FIRST_YEAR {
        return Err(format!("'{text}' is before {FIRST_YEAR}"));
    }
    Ok(day)
}

/// Month-to-date and a projection to the end of `today`'s month, for one key of a report.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MonthEnd {
    /// Charge from the 1st of the month through today (today provisional).
    pub charge_to_date: Decimal,
    /// Hetzner cost from the 1st through today.
    pub cost_to_date: Decimal,
    /// Charge to date plus, for every live VM with a record today, its daily charge for the
    /// rest of the month (today's remainder counted as a fraction).
    pub charge_projected: Decimal,
    /// Cost to date plus the same projection of Hetzner's cost: exact when the VM's Hetzner
    /// price is known (every started hour, capped at the monthly price), else an estimate.
    pub cost_projected: Decimal,
}

/// What [`month_end`] needs to know of a VM besides its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VmOutlook {
    /// The VM still exists (not destroyed, not vanished): only such VMs are projected.
    pub live: bool,
    /// Hetzner's price for the VM's server type in its location, when known.
    pub price: Option<HetznerPrice>,
}

/// Month-to-date and projected month-end over `records` (of `account`, when given) at
/// `today` with `seconds_today` elapsed (0..86 400, UTC).
///
/// A VM is projected when it has a record today and `outlook` says it is live; it runs to the
/// end of the month (stopped time bills like running: docs/product-rules.md §8):
/// - charge: its latest full day's charge this month per remaining day, or, for a VM younger
///   than a day, today's charge scaled to a day (metered and subscription charges are linear
///   in time);
/// - cost: with its Hetzner price, exactly what Hetzner will bill for the month
///   (`min(started hours × hourly, monthly)` over the VM's seconds this month, docs/hetzner-api.md §9.3)
///   minus what is billed so far; without it, its latest full day's cost per remaining day
///   (0 once capped), or for a VM younger than a day the cost per started hour so far × 24.
pub fn month_end(
    records: &[UsageRecord],
    today: NaiveDate,
    seconds_today: u32,
    account: Option<&str>,
    outlook: &dyn Fn(uuid::Uuid) -> VmOutlook,
) -> MonthEnd {
    let (first, last) = month_bounds(today);
    let mut out = MonthEnd::default();
    // (VM, day) → (seconds, charge, cost) of the shown account(s).
    let mut per_day: BTreeMap<(uuid::Uuid, NaiveDate), (u32, Decimal, Decimal)> = BTreeMap::new();
    // VM → billable seconds this month through today, every account (Hetzner caps per server).
    let mut month_seconds: BTreeMap<uuid::Uuid, u64> = BTreeMap::new();
    for r in records {
        if r.day < first || r.day > today {
            continue;
        }
        *month_seconds.entry(r.vm_id).or_default() += u64::from(r.seconds);
        if account.is_some_and(|a| r.account != a) {
            continue;
        }
        out.charge_to_date += r.charge;
        out.cost_to_date += r.cost;
        let e = per_day.entry((r.vm_id, r.day)).or_default();
        e.0 += r.seconds;
        e.1 += r.charge;
        e.2 += r.cost;
    }
    // VM → latest full day before today: (day, charge, cost); VM → today's (seconds, charge, cost).
    type DayVal = (NaiveDate, Decimal, Decimal);
    let mut full: BTreeMap<uuid::Uuid, DayVal> = BTreeMap::new();
    let mut now_day: BTreeMap<uuid::Uuid, (u32, Decimal, Decimal)> = BTreeMap::new();
    for ((vm, day), (secs, charge, cost)) in per_day {
        if day == today {
            now_day.insert(vm, (secs, charge, cost));
        } else if secs == 86_400 {
            let slot = full.entry(vm).or_insert((day, charge, cost));
            if day >= slot.0 {
                *slot = (day, charge, cost);
            }
        }
    }
    let remaining_s = u64::from(86_400u32.saturating_sub(seconds_today))
        + u64::try_from((last - today).num_days().max(0)).unwrap_or(0) * 86_400;
    let day = Decimal::from(86_400u32);
    let remaining_days = Decimal::from(remaining_s) / day;
    let mut add_charge = Decimal::ZERO;
    let mut add_cost = Decimal::ZERO;
    for (vm, (secs, charge, cost)) in &now_day {
        let look = outlook(*vm);
        if !look.live || *secs == 0 {
            continue;
        }
        let charge_per_day = match full.get(vm) {
            Some((_, c, _)) => *c,
            None => *charge * day / Decimal::from(*secs),
        };
        add_charge += charge_per_day * remaining_days;
        add_cost += match look.price {
            Some(price) => {
                let so_far = month_seconds.get(vm).copied().unwrap_or(0);
                super::usage::hetzner_month_cost(price, so_far + remaining_s)
                    - super::usage::hetzner_month_cost(price, so_far)
            }
            None => {
                let cost_per_day = match full.get(vm) {
                    Some((_, _, k)) => *k,
                    None => *cost / Decimal::from(secs.div_ceil(3600).max(1)) * Decimal::from(24),
                };
                cost_per_day * remaining_days
            }
        };
    }
    out.charge_projected = (out.charge_to_date + add_charge).round_dp(6).normalize();
    out.cost_projected = (out.cost_to_date + add_cost).round_dp(6).normalize();
    out.charge_to_date = out.charge_to_date.normalize();
    out.cost_to_date = out.cost_to_date.normalize();
    out
}

/// The last `days` UTC days ending with `today`: (first, today).
pub fn last_days(today: NaiveDate, days: i64) -> (NaiveDate, NaiveDate) {
    (today - Duration::days(days.max(1) - 1), today)
}

/// Money as the pane and `crabglamp usage` show it: rounded to 0.01.
pub fn money(d: Decimal) -> String {
    format!("{:.2}", d.round_dp(2))
}

/// Under the group table and after `crabglamp usage`'s table: each row is rounded on its own,
/// the total row is the rounded exact sum, so the rows may differ from the total by a cent.
pub const ROUNDING_NOTE: &str = "rounded to cents; totals of unrounded amounts";

/// Charge, cost and margin of one row as the pane and `crabglamp usage` show them: charge and
/// cost rounded to 0.01 (half-even, as [`money`]), the margin their difference, so that each
/// shown row adds up (shown charge − shown cost = shown margin). E.g. charge 33.935, cost
/// 18.864 → `33.94`, `18.86`, `15.08` (the exact margin 15.071 would show as 15.07).
pub fn shown_money(t: &Totals) -> [String; 3] {
    let charge = t.charge.round_dp(2);
    let cost = t.cost.round_dp(2);
    [money(charge), money(cost), money(charge - cost)]
}

/// Hours as the pane and `crabglamp usage` show them: rounded to 0.1.
pub fn hours(t: &Totals) -> String {
    format!("{:.1}", t.hours().round_dp(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BillingType, Region, Tier};
    use uuid::Uuid;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    fn rec(
        day: u32,
        vm: u128,
        name: &str,
        account: &str,
        seconds: u32,
        charge: &str,
    ) -> UsageRecord {
        UsageRecord {
            day: d(day),
            vm_id: Uuid::from_u128((vm << 124) | vm),
            vm_name: name.into(),
            account: account.into(),
            tier: if vm == 1 { Tier::Small } else { Tier::Large },
            region: Region::Eu,
            billing_type: BillingType::Metered,
            seconds,
            charge: Decimal::from_str(charge).unwrap(),
            cost: Decimal::from_str(charge).unwrap() / Decimal::from(2),
            is_final: day < 30,
        }
    }

    fn sample() -> Vec<UsageRecord> {
        vec![
            rec(1, 1, "web", "acme", 86_400, "0.6"),
            rec(2, 1, "web", "acme", 43_200, "0.3"),
            rec(2, 1, "web", "globex", 43_200, "0.3"),
            rec(2, 2, "db", "acme", 48_600, "1.0125"),
            rec(3, 3, "web", "initech", 3_600, "0.025"),
            rec(12, 2, "db", "acme", 86_400, "2.04"),
        ]
    }

    #[test]
    fn groups_and_totals_agree() {
        let r = aggregate(&sample(), d(1), d(3), GroupBy::Account, None);
        let keys: Vec<(&str, String, String)> = r
            .groups
            .iter()
            .map(|g| {
                (
                    g.key.as_str(),
                    g.totals.hours().to_string(),
                    g.totals.charge.to_string(),
                )
            })
            .collect();
        assert_eq!(
            keys,
            vec![
                ("acme", "49.5".to_string(), "1.9125".to_string()),
                ("globex", "12".to_string(), "0.3".to_string()),
                ("initech", "1".to_string(), "0.025".to_string()),
            ]
        );
        assert_eq!(r.total.hours().to_string(), "62.5");
        assert_eq!(r.total.charge.to_string(), "2.2375");
        assert_eq!(r.total.margin().to_string(), "1.11875");
        assert_eq!(r.daily.len(), 3);
        let daily_sum: Decimal = r.daily.iter().map(|(_, t)| t.charge).sum();
        assert_eq!(daily_sum, r.total.charge);
    }

    #[test]
    fn vm_grouping_disambiguates_reused_names_and_account_filter_applies() {
        let r = aggregate(&sample(), d(1), d(30), GroupBy::Vm, None);
        let keys: Vec<&str> = r.groups.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, vec!["db", "web (10000000)", "web (30000000)"]);
        let acme = aggregate(&sample(), d(1), d(30), GroupBy::Tier, Some("acme"));
        let tiers: Vec<(&str, u64)> = acme
            .groups
            .iter()
            .map(|g| (g.key.as_str(), g.totals.seconds))
            .collect();
        assert_eq!(tiers, vec![("large", 135_000), ("small", 129_600)]);
        assert_eq!(
            aggregate(&sample(), d(5), d(4), GroupBy::Region, None).groups,
            vec![]
        );
    }

    #[test]
    fn months_parse_with_leap_years() {
        assert_eq!(
            parse_month("2028-02"),
            Ok((
                NaiveDate::from_ymd_opt(2028, 2, 1).unwrap(),
                NaiveDate::from_ymd_opt(2028, 2, 29).unwrap()
            ))
        );
        assert_eq!(parse_month("2027-02").map(|m| m.1.day()), Ok(28));
        assert_eq!(
            parse_month("2026-13"),
            Err("month: '2026-13' is not YYYY-MM".into())
        );
        assert_eq!("VM".parse::<GroupBy>(), Ok(GroupBy::Vm));
        assert_eq!(GroupBy::Region.next(), GroupBy::Account);
    }

    #[test]
    fn months_are_strict_yyyy_mm_from_1970() {
        for bad in [
            "26-11",
            "2026-1",
            "+2026-11",
            " 2026-11",
            "2026-11 ",
            "2026-00",
            "2026-13",
            "20261-01",
            "2026/11",
            "2026-1a",
            "",
            "２０２６-11",
            "2026-11-01",
        ] {
            assert_eq!(
                parse_month(bad),
                Err(format!("month: '{bad}' is not YYYY-MM")),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_month("0000-01"),
            Err("month: '0000-01' is before 1970".into())
        );
        assert_eq!(
            parse_month("1969-12"),
            Err("month: '1969-12' is before 1970".into())
        );
        assert_eq!(
            parse_month("1970-01"),
            Ok((
                NaiveDate::from_ymd_opt(1970, 1, 1).unwrap(),
                NaiveDate::from_ymd_opt(1970, 1, 31).unwrap()
            ))
        );
        assert_eq!(
            parse_month("9999-12"),
            Ok((
                NaiveDate::from_ymd_opt(9999, 12, 1).unwrap(),
                NaiveDate::from_ymd_opt(9999, 12, 31).unwrap()
            ))
        );
    }

    #[test]
    fn days_are_strict_real_yyyy_mm_dd_from_1970() {
        assert_eq!(
            parse_day("2028-02-29"),
            Ok(NaiveDate::from_ymd_opt(2028, 2, 29).unwrap())
        );
        for bad in [
            "2026-13-01",
            "2027-02-29",
            "2026-11-31",
            "2026-11-1",
            "26-11-01",
            "+2026-11-01",
            " 2026-11-01",
            "2026-11-01T00:00",
            "2026-11",
            "X",
            "",
        ] {
            assert_eq!(
                parse_day(bad),
                Err(format!("'{bad}' is not a real YYYY-MM-DD day")),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_day("1969-12-31"),
            Err("'1969-12-31' is before 1970".into())
        );
    }

    #[test]
    fn month_end_projects_running_vms_only() {
        // VM 1 ran full days on the 28th and 29th at 0.6/day and 6 h today (the 30th, last day).
        let mut recs = vec![
            rec(28, 1, "web", "acme", 86_400, "0.6"),
            rec(29, 1, "web", "acme", 86_400, "0.6"),
            rec(30, 1, "web", "acme", 21_600, "0.15"),
            // VM 2 was destroyed on the 29th: no record today, not projected.
            rec(29, 2, "db", "acme", 86_400, "2.04"),
        ];
        let live = |vm: Uuid| VmOutlook {
            live: vm == Uuid::from_u128((1 << 124) | 1),
            price: None,
        };
        let m = month_end(&recs, d(30), 21_600, None, &live);
        assert_eq!(m.charge_to_date.to_string(), "3.39");
        // 18 h left today at 0.6/day.
        assert_eq!(m.charge_projected.to_string(), "3.84");
        // Earlier in the month: 10 more days after today.
        recs.retain(|r| r.vm_name == "web");
        for r in &mut recs {
            r.day -= Duration::days(10);
        }
        let m = month_end(&recs, d(20), 21_600, None, &live);
        assert_eq!(m.charge_to_date.to_string(), "1.35");
        assert_eq!(m.charge_projected.to_string(), "7.8"); // 1.35 + 0.45 + 10 × 0.6
        assert_eq!(m.cost_projected.to_string(), "3.9");
    }

    fn price() -> HetznerPrice {
        HetznerPrice {
            hourly: Decimal::from_str("0.0128").unwrap(),
            monthly: Decimal::from_str("7.99").unwrap(),
        }
    }

    #[test]
    fn a_vm_created_minutes_ago_projects_by_started_hours_not_by_its_first_minutes() {
        // Created 11:58 on the 30th (last day of the month), now 12:00: one started hour billed.
        let mut r = rec(30, 1, "new", "acme", 120, "0.000667");
        r.cost = Decimal::from_str("0.0128").unwrap();
        let recs = vec![r];
        let priced = |_: Uuid| VmOutlook {
            live: true,
            price: Some(price()),
        };
        let m = month_end(&recs, d(30), 43_200, None, &priced);
        // 120 s + 43 200 s left = 12 h 2 min → 13 started hours × 0.0128.
        assert_eq!(m.cost_projected.to_string(), "0.1664");
        // The charge is linear: 0.000667 per 120 s over 43 320 s.
        assert_eq!(m.charge_projected.to_string(), "0.240787");
        // Without a price: the cost per started hour so far × 24 per day, half a day left.
        let unpriced = |_: Uuid| VmOutlook {
            live: true,
            price: None,
        };
        let m = month_end(&recs, d(30), 43_200, None, &unpriced);
        assert_eq!(m.cost_projected.to_string(), "0.1664");
        // Destroyed since (not live): nothing is projected.
        let gone = |_: Uuid| VmOutlook {
            live: false,
            price: Some(price()),
        };
        let m = month_end(&recs, d(30), 43_200, None, &gone);
        assert_eq!(
            (m.charge_projected.to_string(), m.cost_projected.to_string()),
            ("0.000667".to_string(), "0.0128".to_string())
        );
    }

    #[test]
    fn the_projected_cost_stops_at_the_monthly_cap() {
        // Running since the 1st: 20 full days = 480 started hours = 6.144 so far.
        let mut recs = Vec::new();
        for day in 1..=20 {
            let mut r = rec(day, 1, "web", "acme", 86_400, "0.5");
            r.cost = Decimal::from_str("0.3072").unwrap();
            recs.push(r);
        }
        let priced = |_: Uuid| VmOutlook {
            live: true,
            price: Some(price()),
        };
        // At 00:00 on the 20th's end … the 20th is today with a full day: 10 more days would
        // be 240 h × 0.0128 = 3.072, but the month is capped at 7.99.
        let m = month_end(&recs, d(20), 86_400, None, &priced);
        assert_eq!(m.cost_to_date.to_string(), "6.144");
        assert_eq!(m.cost_projected.to_string(), "7.99");
    }
}
