//! `crabglamp usage`: usage and cost per group over a period, for scripts (issue 7).
//!
//! `crabglamp usage [--month YYYY-MM | --from D --to D] [--account A] [--by vm|account|tier|region]
//! [--json|--csv]`. Without a period: this month (UTC). The command reads the store (as last
//! synced; it does not call Hetzner), accrues usage up to now first (the same
//! [`accrue`](crabglamp::worker::usage::accrue) the worker runs, so days missed while no console
//! ran are caught up), then sums the records with
//! [`aggregate`](crabglamp::domain::usage_report::aggregate): the Usage pane's function, so the
//! totals are the pane's.
//!
//! Output: a table by default (money to 0.01 as the Usage pane shows it: each row's margin is
//! its shown charge − shown cost, the total row the rounded exact sums, said in a last line);
//! `--json` prints `{"from", "to", "by", "currency", "groups":
//! [{"key", "hours", "charge", "cost", "margin"}], "total": {"hours", "charge", "cost",
//! "margin"}}` with hours and money as decimal strings (exact, no trailing zeros); `--csv` prints
//! a header row `key,hours,charge,cost,margin` and one row per group.

use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;
use serde::Serialize;

use crabglamp::config::Config;
use crabglamp::domain::usage_report::{
    GroupBy, Report, Totals, aggregate, month_bounds, parse_day, parse_month,
};
use crabglamp::domain::usage_report::{ROUNDING_NOTE, shown_money};
use crabglamp::store::Store;
use crabglamp::worker::usage::{UsageSettings, accrue, rates};

use super::output::{Failure, table};

/// Arguments of `crabglamp usage`.
#[derive(Debug, Clone, Args)]
pub struct UsageArgs {
    /// A calendar month (UTC), e.g. 2026-11. Default: this month.
    #[arg(long, value_name = "YYYY-MM", conflicts_with_all = ["from", "to"], value_parser = parse_month_flag)]
    pub month: Option<String>,
    /// First UTC day of the period (with --to).
    #[arg(long, value_name = "YYYY-MM-DD", requires = "to", value_parser = parse_day)]
    pub from: Option<NaiveDate>,
    /// Last UTC day of the period, inclusive (with --from).
    #[arg(long, value_name = "YYYY-MM-DD", requires = "from", value_parser = parse_day)]
    pub to: Option<NaiveDate>,
    /// Only the usage billed to this account.
    #[arg(long, value_name = "SLUG")]
    pub account: Option<String>,
    /// Grouping: vm, account, tier or region.
    #[arg(long, value_name = "GROUPING", default_value = "account", value_parser = parse_by)]
    pub by: GroupBy,
    /// JSON instead of a table (money as decimal strings).
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV with a header row instead of a table.
    #[arg(long)]
    pub csv: bool,
}

/// `--by`: the error is about the value only (the one-line clap error names the flag).
/// `--month`: strictly `YYYY-MM` ([`parse_month`]); a bad value is a parse error (exit 2) whose
/// one line names the flag.
fn parse_month_flag(s: &str) -> Result<String, String> {
    parse_month(s)
        .map(|_| s.to_string())
        .map_err(|e| e.strip_prefix("month: ").unwrap_or(&e).to_string())
}

fn parse_by(s: &str) -> Result<GroupBy, String> {
    s.parse()
        .map_err(|_| format!("'{s}' is not one of vm, account, tier, region"))
}

#[derive(Serialize)]
struct TotalsJson {
    hours: String,
    charge: String,
    cost: String,
    margin: String,
}

impl From<&Totals> for TotalsJson {
    fn from(t: &Totals) -> Self {
        TotalsJson {
            hours: t.hours().to_string(),
            charge: t.charge.normalize().to_string(),
            cost: t.cost.normalize().to_string(),
            margin: t.margin().to_string(),
        }
    }
}

#[derive(Serialize)]
struct GroupJson {
    key: String,
    #[serde(flatten)]
    totals: TotalsJson,
}

#[derive(Serialize)]
struct ReportJson {
    from: NaiveDate,
    to: NaiveDate,
    by: String,
    currency: String,
    groups: Vec<GroupJson>,
    total: TotalsJson,
}

/// The period asked for: `--month`, `--from/--to`, or this month of `now`. A month after
/// `now`'s is refused (it has no usage yet), as the Usage pane does.
fn period(args: &UsageArgs, now: DateTime<Utc>) -> Result<(NaiveDate, NaiveDate), Failure> {
    let this_month = month_bounds(now.date_naive());
    match (&args.month, args.from, args.to) {
        (Some(m), _, _) => {
            let (first, last) = parse_month(m).map_err(Failure)?;
            if first > this_month.0 {
                return Err(Failure(format!(
                    "--month: {m} is after the current month (no usage yet)"
                )));
            }
            Ok((first, last))
        }
        (None, Some(from), Some(to)) if from <= to => Ok((from, to)),
        (None, Some(from), Some(to)) => Err(Failure(format!("--from {from} is after --to {to}"))),
        _ => Ok(this_month),
    }
}

/// `--account` must name an account in the store (an unknown slug would print zeros).
fn check_account(store: &Store, account: Option<&str>) -> Result<(), Failure> {
    match account {
        Some(slug) if store.account(slug)?.is_none() => {
            Err(Failure(format!("--account: '{slug}' does not exist")))
        }
        _ => Ok(()),
    }
}

/// Accrues up to `now`, then builds the report (blocking store calls).
pub fn report(
    store: &Store,
    config: &Config,
    args: &UsageArgs,
    now: DateTime<Utc>,
) -> Result<(Report, String), Failure> {
    let (from, to) = period(args, now)?;
    check_account(store, args.account.as_deref())?;
    let settings = UsageSettings::from_config(config);
    let rates = rates(store, &settings)?;
    accrue(store, now, &rates)?;
    let records = store.usage(from, to)?;
    Ok((
        aggregate(&records, from, to, args.by, args.account.as_deref()),
        settings.currency,
    ))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The report as the command prints it (without the final newline).
pub fn render(report: &Report, currency: &str, args: &UsageArgs) -> Result<String, Failure> {
    if args.json {
        let json = ReportJson {
            from: report.from,
            to: report.to,
            by: report.by.to_string(),
            currency: currency.to_string(),
            groups: report
                .groups
                .iter()
                .map(|g| GroupJson {
                    key: g.key.clone(),
                    totals: TotalsJson::from(&g.totals),
                })
                .collect(),
            total: TotalsJson::from(&report.total),
        };
        return Ok(serde_json::to_string_pretty(&json)?);
    }
    if args.csv {
        let mut lines = vec!["key,hours,charge,cost,margin".to_string()];
        for g in &report.groups {
            let t = TotalsJson::from(&g.totals);
            lines.push(format!(
                "{},{},{},{},{}",
                csv_field(&g.key),
                t.hours,
                t.charge,
                t.cost,
                t.margin
            ));
        }
        return Ok(lines.join("\n"));
    }
    // Each row rounded on its own as the Usage pane shows it (margin = shown charge − shown
    // cost); the total row is the rounded exact sums, said once under the table.
    let row = |key: String, t: &Totals| -> Vec<String> {
        let [charge, cost, margin] = shown_money(t);
        vec![
            key,
            format!("{:.1}", t.hours().round_dp(1)),
            charge,
            cost,
            margin,
        ]
    };
    let mut rows: Vec<Vec<String>> = report
        .groups
        .iter()
        .map(|g| row(g.key.clone(), &g.totals))
        .collect();
    rows.push(row("(total)".into(), &report.total));
    let by = report.by.as_str().to_uppercase();
    let margin = if currency.is_empty() {
        "MARGIN".to_string()
    } else {
        format!("MARGIN ({currency})")
    };
    let head = format!(
        "usage {} to {} (UTC days), by {}; stopped time bills like running",
        report.from, report.to, report.by
    );
    let mut text = format!(
        "{head}\n{}\n{ROUNDING_NOTE}",
        table(&[&by, "HOURS", "CHARGE", "COST", &margin], &rows)
    );
    if report.groups.is_empty() {
        text.push('\n');
        text.push_str(EMPTY_NOTE);
    }
    Ok(text)
}

/// Last line of an empty table: why there may be nothing yet.
pub const EMPTY_NOTE: &str = "no usage recorded in this period (records are accrued from the VM \
                              records a sync stored: run the console or `crabglamp vms` once)";

/// Runs `crabglamp usage` on an open store; returns the text to print.
pub async fn run(
    store: Store,
    config: Config,
    args: UsageArgs,
    now: DateTime<Utc>,
) -> Result<String, Failure> {
    tokio::task::spawn_blocking(move || {
        let (report, currency) = report(&store, &config, &args, now)?;
        render(&report, &currency, &args)
    })
    .await
    .map_err(|e| Failure(format!("usage task failed: {e}")))?
}

/// Runs `crabglamp usage` through a worker handle (attached to a service, which accrues on
/// its own): the same report, summed by the service ([`Effect::UsageQuery`]).
pub async fn run_attached(
    handle: &mut crabglamp::worker::WorkerHandle,
    args: UsageArgs,
    now: DateTime<Utc>,
) -> Result<String, Failure> {
    use crabglamp::protocol::{Effect, UsageQuery, WorkerEvent};
    let (from, to) = period(&args, now)?;
    let snapshot = super::session::store_snapshot(&mut handle.events).await?;
    if let Some(slug) = args.account.as_deref()
        && !snapshot.accounts.iter().any(|a| a.slug == slug)
    {
        return Err(Failure(format!("--account: '{slug}' does not exist")));
    }
    let query = UsageQuery {
        from,
        to,
        by: args.by,
        account: args.account.clone(),
        this_month: false,
        at: now,
    };
    let _ = handle.effects.send(Effect::UsageQuery(query.clone()));
    while let Some(event) = handle.events.recv().await {
        match event {
            WorkerEvent::Usage(view)
                if view.query.as_ref().is_some_and(|q| q.same_choice(&query)) =>
            {
                if let Some(e) = view.error {
                    return Err(Failure(e));
                }
                let Some(report) = view.report else {
                    return Err(Failure("the service sent no usage report".into()));
                };
                return render(&report, &snapshot.usage_currency, &args);
            }
            WorkerEvent::Refused { reason } => return Err(Failure(reason)),
            WorkerEvent::ServiceLost { error } => {
                return Err(Failure(format!("lost the service: {error}")));
            }
            _ => {}
        }
    }
    Err(Failure("the service connection ended".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_table_says_why_it_may_be_empty() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let report = crabglamp::domain::usage_report::aggregate(
            &[],
            day,
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            GroupBy::Account,
            None,
        );
        let args = UsageArgs {
            month: None,
            from: None,
            to: None,
            account: None,
            by: GroupBy::Account,
            json: false,
            csv: false,
        };
        let text = render(&report, "EUR", &args).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.last().copied(), Some(EMPTY_NOTE));
        assert_eq!(
            lines.first().copied(),
            Some(
                "usage 2026-11-01 to 2026-11-30 (UTC days), by account; stopped time bills like running"
            )
        );
        // JSON and CSV stay machine-readable: no note.
        let csv = render(&report, "EUR", &UsageArgs { csv: true, ..args }).unwrap();
        assert_eq!(csv, "key,hours,charge,cost,margin");
    }
}
