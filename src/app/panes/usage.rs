//! The Usage pane's state (issue 7): the period (`p` cycles the presets, `[`/`]` step a month),
//! the grouping (`g`: account → VM → tier → region), records read from the store for periods
//! older than the snapshot's window, and the derived report.
//!
//! Totals come from [`aggregate`], the function `crabglamp usage` prints, over the same records
//! (the snapshot's for periods inside its window of [`USAGE_WINDOW_DAYS`] days, the store's
//! otherwise), so the pane and the command always agree. Stopped time is billed like running
//! time in the records already (docs/product-rules.md §8). Month-to-date and the projected month-end come from
//! [`month_end`] and are shown when the period includes today.

use crate::app::list::ListState;
use crate::app::{Model, Pane};
use crate::domain::usage::hetzner_key;
use crate::domain::usage_report::{
    GroupBy, MonthEnd, Report, VmOutlook, aggregate, last_days, month_bounds, month_end,
};
use crate::domain::{UsageRecord, VmStatus};
use crate::protocol::USAGE_WINDOW_DAYS;
use crate::protocol::{Effect, UsageRange};
use chrono::{Duration, Months, NaiveDate, Timelike};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use uuid::Uuid;

/// Days of the per-VM sparkline in the VM detail (issue 7: "the last 30 days").
pub const SPARK_DAYS: i64 = 30;

/// At most this many store reads are kept (older months are final, so they never go stale).
pub const CACHED_RANGES: usize = 12;

/// The period the Usage pane sums over (UTC days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Period {
    /// The calendar month of today (the default, as `crabglamp usage` without flags).
    #[default]
    ThisMonth,
    /// The calendar month before today's.
    LastMonth,
    /// The last 30 days up to today.
    Last30,
    /// The last 90 days up to today.
    Last90,
    /// Any calendar month, by its first day (never today's or last month's: those are the
    /// presets).
    Month(NaiveDate),
}

impl Period {
    /// First and last UTC day (inclusive) of the period, for `today`. Months are whole months
    /// (as `crabglamp usage --month`), so this month runs to its last day.
    pub fn bounds(self, today: NaiveDate) -> (NaiveDate, NaiveDate) {
        match self {
            Period::ThisMonth => month_bounds(today),
            Period::LastMonth => month_bounds(this_month(today) - Duration::days(1)),
            Period::Last30 => last_days(today, 30),
            Period::Last90 => last_days(today, 90),
            Period::Month(first) => month_bounds(first),
        }
    }

    /// Short words for the pane title: `this month`, `last month`, `last 30 days`,
    /// `last 90 days`, or `2026-07`.
    pub fn label(self) -> String {
        match self {
            Period::ThisMonth => "this month".into(),
            Period::LastMonth => "last month".into(),
            Period::Last30 => "last 30 days".into(),
            Period::Last90 => "last 90 days".into(),
            Period::Month(first) => first.format("%Y-%m").to_string(),
        }
    }

    /// The next preset (`p`): this month → last month → last 30 days → last 90 days → this
    /// month. Any other month goes to this month.
    pub fn next_preset(self) -> Period {
        match self {
            Period::ThisMonth => Period::LastMonth,
            Period::LastMonth => Period::Last30,
            Period::Last30 => Period::Last90,
            Period::Last90 | Period::Month(_) => Period::ThisMonth,
        }
    }

    /// The month `months` calendar months after (negative: before) this period's month, or
    /// `None` past today's month. Rolling windows count as today's month going back (`[` gives
    /// last month) and as last month going forward (`]` gives this month).
    pub fn step_month(self, months: i32, today: NaiveDate) -> Option<Period> {
        let current = this_month(today);
        let anchor = match self {
            Period::ThisMonth => current,
            Period::LastMonth => this_month(current - Duration::days(1)),
            Period::Month(first) => first,
            Period::Last30 | Period::Last90 if months > 0 => {
                this_month(current - Duration::days(1))
            }
            Period::Last30 | Period::Last90 => current,
        };
        let n = Months::new(months.unsigned_abs());
        let target = if months >= 0 {
            anchor.checked_add_months(n)?
        } else {
            anchor.checked_sub_months(n)?
        };
        Some(month_period(target, today)).filter(|_| target <= current)
    }
}

/// The first day of `day`'s month.
fn this_month(day: NaiveDate) -> NaiveDate {
    month_bounds(day).0
}

/// The period of the month starting `first`: a preset when it is today's or last month.
fn month_period(first: NaiveDate, today: NaiveDate) -> Period {
    let current = this_month(today);
    if first == current {
        Period::ThisMonth
    } else if first == this_month(current - Duration::days(1)) {
        Period::LastMonth
    } else {
        Period::Month(first)
    }
}

/// The Usage pane's state: its choices, the records read from the store, and the derived view.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageUi {
    /// Selection in the group table.
    pub list: ListState,
    /// What the pane shows (and the VM sparklines), from [`derive`].
    pub view: UsageView,
    /// The UTC day the view was computed for (a new day re-derives).
    pub day: Option<NaiveDate>,
    /// The minute (Unix seconds / 60) the view was computed (month-end projections follow the
    /// clock).
    pub minute: Option<i64>,
    /// How many times [`derive`] ran (observable by tests and benchmarks).
    pub derives: u64,
    /// The period shown.
    pub period: Period,
    /// The grouping of the table.
    pub by: GroupBy,
    /// Records read from the store ([`Effect::LoadUsage`]) by `(from, to)`, for periods older
    /// than the snapshot's window; at most [`CACHED_RANGES`].
    pub loaded: BTreeMap<(NaiveDate, NaiveDate), Vec<UsageRecord>>,
    /// Ranges asked of the worker and not answered yet.
    pub pending: BTreeSet<(NaiveDate, NaiveDate)>,
    /// Why the last store read failed, in words (until the next answer).
    pub error: Option<String>,
}

/// What the Usage pane shows, derived from the snapshot (or the store's records), the period,
/// the grouping and the account filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageView {
    /// First UTC day of the period.
    pub from: Option<NaiveDate>,
    /// Last UTC day of the period.
    pub to: Option<NaiveDate>,
    /// The report ([`aggregate`]); `None` while the store's records are loading.
    pub report: Option<Report>,
    /// Month-to-date and projected month-end, when the period includes today.
    pub month_end: Option<MonthEnd>,
    /// Projected month-end charge per group key (as in the report), when the period is this
    /// month: [`month_end`] over each group's records.
    pub projected: Option<BTreeMap<String, Decimal>>,
    /// Charge per day of the last [`SPARK_DAYS`] days (oldest first) per VM, every account.
    pub spark: HashMap<Uuid, Vec<Decimal>>,
}

impl UsageView {
    /// True while the period's records are being read from the store.
    pub fn loading(&self) -> bool {
        self.report.is_none()
    }
}

/// The first day whose records the snapshot carries (the worker's window).
pub fn window_start(today: NaiveDate) -> NaiveDate {
    today - Duration::days(USAGE_WINDOW_DAYS)
}

/// Recomputes the pane's view (and the VM sparklines) from the snapshot, the account filter,
/// the clock and the pane's choices; nothing else in the model changes.
pub fn derive(model: &mut Model) {
    let today = model.now.date_naive();
    let (from, to) = model.usage_ui.period.bounds(today);
    let account = model.account_filter.as_deref();
    let records: Option<&[UsageRecord]> = if from >= window_start(today) {
        Some(&model.snapshot.usage)
    } else {
        model.usage_ui.loaded.get(&(from, to)).map(Vec::as_slice)
    };
    let by = model.usage_ui.by;
    let report = records.map(|r| aggregate(r, from, to, by, account));
    let outlooks = outlooks(model);
    let outlook = |id: Uuid| outlooks.get(&id).copied().unwrap_or_default();
    let month_end = (from <= today && today <= to).then(|| {
        month_end(
            &model.snapshot.usage,
            today,
            model.now.num_seconds_from_midnight(),
            account,
            &outlook,
        )
    });
    let projected = match (&report, model.usage_ui.period) {
        (Some(_), Period::ThisMonth) => Some(projected_by_group(
            &model.snapshot.usage,
            (from, today),
            by,
            account,
            model.now.num_seconds_from_midnight(),
            &outlook,
        )),
        _ => None,
    };
    let spark_from = today - Duration::days(SPARK_DAYS - 1);
    let mut spark: HashMap<Uuid, Vec<Decimal>> = HashMap::new();
    for r in model
        .snapshot
        .usage
        .iter()
        .filter(|r| r.day >= spark_from && r.day <= today)
    {
        let days = spark
            .entry(r.vm_id)
            .or_insert_with(|| vec![Decimal::ZERO; SPARK_DAYS as usize]);
        let i = usize::try_from((r.day - spark_from).num_days()).unwrap_or(0);
        if let Some(d) = days.get_mut(i) {
            *d += r.charge;
        }
    }
    let groups = report.as_ref().map_or(0, |r| r.groups.len());
    model.usage_ui.view = UsageView {
        from: Some(from),
        to: Some(to),
        report,
        month_end,
        projected,
        spark,
    };
    model.usage_ui.day = Some(today);
    model.usage_ui.minute = Some(model.now.timestamp() / 60);
    model.usage_ui.list.clamp(groups);
    model.usage_ui.derives += 1;
}

/// Whether each VM of the snapshot is still billing (live, not being destroyed) and Hetzner's
/// price for its server type and location (from the snapshot's cached prices), for
/// [`month_end`]. VMs the snapshot does not list are not projected.
fn outlooks(model: &Model) -> HashMap<Uuid, VmOutlook> {
    model
        .snapshot
        .vms
        .iter()
        .map(|v| {
            let r = &v.record;
            let price = model
                .snapshot
                .hetzner_prices
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
fn projected_by_group(
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

/// Asks the worker for the period's records when the snapshot does not carry them and they are
/// neither loaded nor asked for already.
pub(crate) fn request(model: &mut Model, effects: &mut Vec<Effect>) {
    let today = model.now.date_naive();
    let range = model.usage_ui.period.bounds(today);
    if range.0 >= window_start(today)
        || model.usage_ui.loaded.contains_key(&range)
        || model.usage_ui.pending.contains(&range)
    {
        return;
    }
    model.usage_ui.pending.insert(range);
    effects.push(Effect::LoadUsage {
        from: range.0,
        to: range.1,
    });
}

/// Sets the period, asks for records when needed and re-derives.
fn set_period(model: &mut Model, period: Period, effects: &mut Vec<Effect>) {
    model.usage_ui.period = period;
    model.usage_ui.list.selected = 0;
    request(model, effects);
    derive(model);
}

/// `p`: the next preset period.
pub fn cycle_period(model: &mut Model, effects: &mut Vec<Effect>) {
    let next = model.usage_ui.period.next_preset();
    set_period(model, next, effects);
}

/// `[` (`months` = -1) and `]` (+1): the month before or after. Past today's month is refused
/// with a toast; the period stays.
pub fn step_month(model: &mut Model, months: i32, effects: &mut Vec<Effect>) {
    let today = model.now.date_naive();
    // No usage before the month the first VM of the snapshot was created in.
    let first_month = model
        .snapshot
        .vms
        .iter()
        .map(|v| v.record.created_at.date_naive())
        .min()
        .map_or(month_bounds(today).0, |d| month_bounds(d).0);
    match model.usage_ui.period.step_month(months, today) {
        Some(p) if p.bounds(today).1 < first_month => model.toast(
            format!(
                "usage: nothing before {} (the first VM was created then)",
                first_month.format("%Y-%m")
            ),
            false,
        ),
        Some(p) => set_period(model, p, effects),
        None => model.toast(
            "usage: already at the current month (no usage after today)".into(),
            false,
        ),
    }
}

/// `g`: the next grouping (account → VM → tier → region).
pub fn cycle_group(model: &mut Model) {
    model.usage_ui.by = model.usage_ui.by.next();
    model.usage_ui.list.selected = 0;
    derive(model);
}

/// The worker's answer to [`Effect::LoadUsage`]: kept (failures shown in the pane and a toast).
pub fn loaded(model: &mut Model, range: UsageRange) {
    let key = (range.from, range.to);
    model.usage_ui.pending.remove(&key);
    match range.records {
        Ok(records) => {
            model.usage_ui.error = None;
            model.usage_ui.loaded.insert(key, records);
            let today = model.now.date_naive();
            let current = model.usage_ui.period.bounds(today);
            while model.usage_ui.loaded.len() > CACHED_RANGES {
                let Some(old) = model
                    .usage_ui
                    .loaded
                    .keys()
                    .find(|k| **k != current)
                    .copied()
                else {
                    break;
                };
                model.usage_ui.loaded.remove(&old);
            }
        }
        Err(e) => {
            model.toast(format!("usage: {e}"), true);
            model.usage_ui.error = Some(e);
        }
    }
    if model.pane == Pane::Usage || model.usage_ui.loaded.contains_key(&key) {
        derive(model);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn presets_and_bounds() {
        let today = d(2026, 3, 15);
        assert_eq!(
            Period::ThisMonth.bounds(today),
            (d(2026, 3, 1), d(2026, 3, 31))
        );
        assert_eq!(
            Period::LastMonth.bounds(today),
            (d(2026, 2, 1), d(2026, 2, 28))
        );
        assert_eq!(Period::Last30.bounds(today), (d(2026, 2, 14), today));
        assert_eq!(Period::Last90.bounds(today), (d(2025, 12, 16), today));
        let mut p = Period::ThisMonth;
        let mut seen = vec![];
        for _ in 0..4 {
            p = p.next_preset();
            seen.push(p.label());
        }
        assert_eq!(
            seen,
            ["last month", "last 30 days", "last 90 days", "this month"]
        );
    }

    #[test]
    fn month_steps_stop_at_the_current_month() {
        let today = d(2026, 1, 10);
        assert_eq!(
            Period::ThisMonth.step_month(-1, today),
            Some(Period::LastMonth)
        );
        assert_eq!(
            Period::LastMonth.step_month(-1, today),
            Some(Period::Month(d(2025, 11, 1)))
        );
        assert_eq!(
            Period::Month(d(2025, 11, 1)).step_month(1, today),
            Some(Period::LastMonth)
        );
        assert_eq!(Period::ThisMonth.step_month(1, today), None);
        assert_eq!(Period::Last30.step_month(1, today), Some(Period::ThisMonth));
        assert_eq!(
            Period::Last90.step_month(-1, today),
            Some(Period::LastMonth)
        );
        assert_eq!(Period::Month(d(2025, 11, 1)).label(), "2025-11");
    }
}
