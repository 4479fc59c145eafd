//! The Usage pane's state (issue 7): the period (`p` cycles the presets, `[`/`]` step a month),
//! the grouping (`g`: account → VM → tier → region), and the worker's answer shown.
//!
//! The numbers come from the worker: the pane sends an [`Effect::UsageQuery`] for its choices
//! and shows the [`UsageView`] it gets back, computed by `usage` in `src/view/usage.rs` with
//! [`aggregate`](crate::domain::usage_report::aggregate), the function `crabglamp usage`
//! prints, over the same records (the snapshot's for periods inside its window of
//! [`USAGE_WINDOW_DAYS`](crate::protocol::USAGE_WINDOW_DAYS) days, the store's otherwise), so
//! the pane and the command always agree. Month-to-date and the projected month-end are shown
//! when the period includes today. The VM detail's sparkline is the snapshot's prebuilt one
//! (`src/view/derived.rs`).

use crate::app::list::ListState;
use crate::app::{Model, Pane};
use crate::domain::usage_report::{GroupBy, last_days, month_bounds};
use crate::protocol::{Effect, UsageQuery, UsageView};
use crate::view::usage::needs_store;
pub use crate::view::usage::window_start;
use chrono::{Duration, Months, NaiveDate};

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

/// At most this many answers for other choices are kept, to show again at once (answers read
/// from the store are final: they are not asked again the same day).
pub const CACHED_VIEWS: usize = 12;

/// The Usage pane's state: its choices, the worker's answer shown, and answers kept.
///
/// The pane never sums records: it asks the worker ([`Effect::UsageQuery`], from `ask`) and
/// shows its answer ([`answered`]); `src/view/usage.rs` computes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageUi {
    /// Selection in the group table.
    pub list: ListState,
    /// What the pane shows: the worker's answer for the current choices, or (report `None`)
    /// the query still loading.
    pub view: UsageView,
    /// How many answers replaced the shown view (observable by tests and benchmarks).
    pub derives: u64,
    /// The period shown.
    pub period: Period,
    /// The grouping of the table.
    pub by: GroupBy,
    /// Queries sent and not answered yet.
    pub pending: Vec<UsageQuery>,
    /// Answers for other choices, newest last; at most [`CACHED_VIEWS`].
    pub kept: Vec<UsageView>,
}

impl UsageView {
    /// True while the worker has not answered the shown query (and it did not fail).
    pub fn loading(&self) -> bool {
        self.report.is_none() && self.error.is_none()
    }
}

/// The query of the pane's current choices (period, grouping, account filter) at the model's
/// clock.
pub fn query(model: &Model) -> UsageQuery {
    let today = model.now.date_naive();
    let (from, to) = model.usage_ui.period.bounds(today);
    UsageQuery {
        from,
        to,
        by: model.usage_ui.by,
        account: model.account_filter.clone(),
        this_month: model.usage_ui.period == Period::ThisMonth,
        at: model.now,
    }
}

/// An answer to `answered` serves `wanted`: the same choices, from the same source (the
/// snapshot's window or the store; a new day can move a period out of the window).
fn serves(answered: &UsageQuery, wanted: &UsageQuery) -> bool {
    answered.same_choice(wanted) && needs_store(answered) == needs_store(wanted)
}

/// Brings the shown view in line with the pane's choices and the clock, and asks the worker
/// when needed: for choices without an answer, for a kept answer of the snapshot's window
/// (it may be stale), on a new UTC day, and each minute while the pane is on screen and projects
/// the month-end (entering the pane catches up).
/// Nothing is asked while the same query is pending, nor again after a failed read until the
/// choices change. O(kept answers); runs after every message.
pub(crate) fn ask(model: &mut Model, effects: &mut Vec<Effect>) {
    let q = query(model);
    let on_pane = model.pane == Pane::Usage;
    let ui = &mut model.usage_ui;
    let switched = !ui.view.query.as_ref().is_some_and(|v| serves(v, &q));
    if switched {
        let shown = std::mem::take(&mut ui.view);
        if shown.report.is_some() {
            keep(ui, shown);
        }
        ui.view = match ui
            .kept
            .iter()
            .position(|v| v.query.as_ref().is_some_and(|k| serves(k, &q)))
        {
            Some(i) => ui.kept.remove(i),
            None => UsageView {
                query: Some(q.clone()),
                ..UsageView::default()
            },
        };
        let groups = ui.view.report.as_ref().map_or(0, |r| r.groups.len());
        ui.list.clamp(groups);
        model.dirty = true;
    }
    let ui = &mut model.usage_ui;
    if ui.pending.iter().any(|p| serves(p, &q)) || ui.view.error.is_some() {
        return;
    }
    let want = match (&ui.view.report, &ui.view.query) {
        (Some(_), Some(at)) => {
            let at = at.at;
            (switched && !needs_store(&q))
                || at.date_naive() != q.at.date_naive()
                || (on_pane
                    && ui.view.month_end.is_some()
                    && at.timestamp() / 60 != q.at.timestamp() / 60)
        }
        _ => true,
    };
    if want {
        ui.pending.push(q.clone());
        effects.push(Effect::UsageQuery(q));
    }
}

/// Keeps an answer for later, dropping the oldest past [`CACHED_VIEWS`].
fn keep(ui: &mut UsageUi, view: UsageView) {
    if let Some(q) = &view.query {
        ui.kept
            .retain(|k| !k.query.as_ref().is_some_and(|kq| kq.same_choice(q)));
    }
    ui.kept.push(view);
    if ui.kept.len() > CACHED_VIEWS {
        ui.kept.remove(0);
    }
}

/// The worker's answer ([`crate::protocol::WorkerEvent::Usage`]): shown when it serves the
/// current choices and is not older than the view shown, else kept; a failed read is shown in
/// the pane and as a toast.
pub fn answered(model: &mut Model, view: UsageView) {
    let Some(q) = view.query.clone() else {
        return;
    };
    model.usage_ui.pending.retain(|p| *p != q);
    if let Some(e) = &view.error {
        model.toast(format!("usage: {e}"), true);
    }
    let current = query(model);
    let ui = &mut model.usage_ui;
    if serves(&q, &current) {
        let newer_shown =
            ui.view.report.is_some() && ui.view.query.as_ref().is_some_and(|s| s.at > q.at);
        if !newer_shown {
            let groups = view.report.as_ref().map_or(0, |r| r.groups.len());
            ui.view = view;
            ui.list.clamp(groups);
            ui.derives += 1;
        }
    } else if view.report.is_some() {
        keep(ui, view);
    }
}

/// Sets the period; [`ask`] (after the message) shows and asks for it.
fn set_period(model: &mut Model, period: Period) {
    model.usage_ui.period = period;
    model.usage_ui.list.selected = 0;
}

/// `p`: the next preset period.
pub fn cycle_period(model: &mut Model) {
    let next = model.usage_ui.period.next_preset();
    set_period(model, next);
}

/// `[` (`months` = -1) and `]` (+1): the month before or after. Past today's month is refused
/// with a toast; the period stays.
pub fn step_month(model: &mut Model, months: i32) {
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
        Some(p) => set_period(model, p),
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
