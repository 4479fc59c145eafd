//! Usage (issue 7): `crabglamp usage` on demo data with a fixed clock (`--now`, test-only),
//! exact `--json` and `--csv` output, totals equal to the pane's aggregation, and accrual
//! through a real store (twice identical, a 10-day gap caught up).

mod common;

use std::path::Path;
use std::process::Output;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use crabglamp::demo;
use crabglamp::domain::usage::vm_records;
use crabglamp::domain::usage_report::{GroupBy, aggregate};
use crabglamp::store::Store;
use crabglamp::worker::usage::accrue;
use tempfile::TempDir;

const NOW: &str = "2026-11-30T09:30:00Z";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 9, 30, 0).unwrap()
}

fn usage(home: &Path, data: &Path, args: &[&str]) -> Output {
    common::harness::cli_blocking(home, data)
        .env_remove("CRABGLAMP_NOW")
        .arg("--now")
        .arg(NOW)
        .arg("usage")
        .args(args)
        .output()
        .unwrap()
}

fn run_ok(args: &[&str]) -> String {
    let tmp = TempDir::new().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let out = usage(&home, &tmp.path().join("data"), args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {err}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn json_by_account_on_demo_data_is_exact_and_equals_the_pane_aggregation() {
    let text = run_ok(&["--month", "2026-11", "--json"]);
    insta::assert_snapshot!("usage_json_2026_11_by_account", text);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["from"], "2026-11-01");
    assert_eq!(v["to"], "2026-11-30");
    assert_eq!(v["by"], "account");
    assert_eq!(v["currency"], "EUR");
    // The same records through the pane's aggregation function give the same totals.
    let data = demo::generate(now());
    let (from, to) = (
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
    );
    let report = aggregate(&data.usage, from, to, GroupBy::Account, None);
    assert_eq!(
        v["total"]["charge"],
        report.total.charge.normalize().to_string()
    );
    assert_eq!(
        v["total"]["cost"],
        report.total.cost.normalize().to_string()
    );
    assert_eq!(v["total"]["hours"], report.total.hours().to_string());
    let keys: Vec<&str> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, vec!["acme", "alice", "globex", "initech"]);
}

#[test]
fn csv_by_vm_for_one_account_has_a_header_row() {
    let text = run_ok(&[
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-29",
        "--account",
        "globex",
        "--by",
        "vm",
        "--csv",
    ]);
    insta::assert_snapshot!("usage_csv_globex_by_vm", text);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("key,hours,charge,cost,margin"));
    // reports-01 joined globex by a transfer at noon on the 18th (12 days before now): through
    // the 29th that is 11.5 days = 276 h, metered at medium EU 0.0450/h = 12.42.
    let reports = text.lines().find(|l| l.starts_with("reports-01,")).unwrap();
    assert!(reports.starts_with("reports-01,276,12.42,"), "{reports}");
}

#[test]
fn bad_input_is_one_line() {
    let tmp = TempDir::new().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let out = usage(&home, &tmp.path().join("data"), &["--month", "2026-13"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "crabglamp: --month: '2026-13' is not YYYY-MM"
    );
}

/// Runs `usage ARGS` on fresh demo data; returns (exit status, stdout, stderr).
fn run_any(args: &[&str]) -> (Option<i32>, String, String) {
    let tmp = TempDir::new().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let out = usage(&home, &tmp.path().join("data"), args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_unknown_account_is_refused_naming_the_field() {
    for (slug, line) in [
        ("nosuch", "crabglamp: --account: 'nosuch' does not exist\n"),
        ("", "crabglamp: --account: '' does not exist\n"),
        ("ACME", "crabglamp: --account: 'ACME' does not exist\n"),
    ] {
        let (code, out, err) = run_any(&["--account", slug]);
        assert_eq!((code, out.as_str(), err.as_str()), (Some(1), "", line));
    }
    // A known account still reports.
    let text = run_ok(&["--account", "acme", "--csv"]);
    assert_eq!(
        text.lines()
            .map(|l| l.split(',').next().unwrap())
            .collect::<Vec<_>>(),
        vec!["key", "acme"]
    );
}

#[test]
fn months_are_strict_and_not_in_the_future() {
    // A malformed month is a parse error (exit 2); a month after the current one is refused
    // (exit 1).
    for (month, code, line) in [
        ("26-11", 2, "crabglamp: --month: '26-11' is not YYYY-MM\n"),
        ("2026-1", 2, "crabglamp: --month: '2026-1' is not YYYY-MM\n"),
        (
            "+2026-11",
            2,
            "crabglamp: --month: '+2026-11' is not YYYY-MM\n",
        ),
        (
            " 2026-11",
            2,
            "crabglamp: --month: ' 2026-11' is not YYYY-MM\n",
        ),
        (
            "0000-01",
            2,
            "crabglamp: --month: '0000-01' is before 1970\n",
        ),
        (
            "2026-12",
            1,
            "crabglamp: --month: 2026-12 is after the current month (no usage yet)\n",
        ),
        (
            "2027-01",
            1,
            "crabglamp: --month: 2027-01 is after the current month (no usage yet)\n",
        ),
    ] {
        let (got, out, err) = run_any(&["--month", month]);
        assert_eq!((got, out.as_str(), err.as_str()), (Some(code), "", line));
    }
}

#[test]
fn argument_errors_are_one_line_with_exit_status_2() {
    for (args, line) in [
        (
            &["--json", "--csv"][..],
            "crabglamp: --json cannot be used with --csv\n",
        ),
        (
            &["--by", "foo"][..],
            "crabglamp: --by: 'foo' is not one of vm, account, tier, region\n",
        ),
        (
            &["--from", "2026-13-01", "--to", "2026-12-01"][..],
            "crabglamp: --from: '2026-13-01' is not a real YYYY-MM-DD day\n",
        ),
        (
            &["--from", "2026-11-01", "--to", "26-11-30"][..],
            "crabglamp: --to: '26-11-30' is not a real YYYY-MM-DD day\n",
        ),
        (
            &["--from", "2026-11-01"][..],
            "crabglamp: missing --to <YYYY-MM-DD>\n",
        ),
        (
            &["--nosuch"][..],
            "crabglamp: unexpected argument '--nosuch'\n",
        ),
    ] {
        let (code, out, err) = run_any(args);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (Some(2), "", line),
            "{args:?}"
        );
    }
    // --help stays clap's help, on stdout, exit 0.
    let (code, out, err) = run_any(&["--help"]);
    assert_eq!((code, err.as_str()), (Some(0), ""));
    assert!(out.starts_with("Usage and cost per account"), "{out}");
    assert!(out.contains("Usage: crabglamp usage [OPTIONS]"), "{out}");
}

#[test]
fn accrual_over_seeded_demo_data_rewrites_identical_records() {
    let data = demo::generate(now());
    let store = Store::open_temporary().unwrap();
    demo::seed_store(&store, &data).unwrap();
    let first = demo::first_usage_day(now());
    let today = now().date_naive();
    accrue(&store, now(), &demo::rates()).unwrap();
    assert_eq!(store.usage(first, today).unwrap(), data.usage);
    accrue(&store, now(), &demo::rates()).unwrap();
    assert_eq!(store.usage(first, today).unwrap(), data.usage);
}

#[test]
fn ten_closed_days_are_caught_up_in_a_real_store() {
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("db");
    let data = demo::generate(now());
    let vm = data
        .vms
        .iter()
        .find(|v| v.name == "acme-db")
        .unwrap()
        .clone();
    let rates = demo::rates();
    {
        let store = Store::open(&path).unwrap();
        store.put_vm(&vm).unwrap();
        accrue(&store, now(), &rates).unwrap();
    }
    // Ten days later, a new console on the same database.
    let later = now() + chrono::Duration::days(10);
    let store = Store::open(&path).unwrap();
    accrue(&store, later, &rates).unwrap();
    let start = vm.provisioned_at.unwrap().date_naive();
    let all = store.usage(start, later.date_naive()).unwrap();
    assert_eq!(
        all,
        vm_records(&vm, start, later.date_naive(), later, &rates)
    );
    let tail: Vec<(String, u32, bool)> = all
        .iter()
        .filter(|r| r.day >= today_minus(later, 11))
        .map(|r| (r.day.to_string(), r.seconds, r.is_final))
        .collect();
    assert_eq!(tail.len(), 12);
    assert!(tail[..11].iter().all(|(_, s, f)| *s == 86_400 && *f));
    assert_eq!(tail[11], ("2026-12-10".to_string(), 34_200, false));
}

fn today_minus(t: DateTime<Utc>, days: i64) -> NaiveDate {
    t.date_naive() - chrono::Duration::days(days)
}

/// The worker answers the Usage pane's query ([`Effect::UsageQuery`]) with the numbers
/// `crabglamp usage --json` prints for the same period and data: the pane and the command sum
/// the same records with the same function.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_answers_a_usage_query_with_what_crabglamp_usage_prints() {
    use chrono::{Datelike, Duration};
    use common::harness::{Harness, Options};
    use crabglamp::protocol::{Effect, Mode, UsageQuery, WorkerEvent};
    // The real clock (the worker accrues with it); a whole month that is over, so its records
    // are final.
    let now = Utc::now();
    let today = now.date_naive();
    let this_month = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap();
    let back = if today.day() <= 2 { 2 } else { 1 };
    let from = this_month - chrono::Months::new(back);
    let to = from + chrono::Months::new(1) - Duration::days(1);
    let month = from.format("%Y-%m").to_string();
    // The command, on demo data generated at the same instant.
    let tmp = TempDir::new().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let out = common::harness::cli_blocking(&home, &tmp.path().join("data"))
        .env_remove("CRABGLAMP_NOW")
        .arg("--now")
        .arg(now.to_rfc3339())
        .args(["usage", "--month", &month, "--by", "vm", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The worker, read-only, on a store seeded with the same demo data.
    let h = Harness::new(Options {
        read_only: true,
        mode: Mode::Demo,
        ..Options::default()
    })
    .await;
    demo::seed_store(&h.store, &demo::generate(now)).unwrap();
    let mut w = h.spawn();
    let q = UsageQuery {
        from,
        to,
        by: GroupBy::Vm,
        account: None,
        this_month: false,
        at: Utc::now(),
    };
    w.send(Effect::UsageQuery(q.clone()));
    let events = w
        .until(|e| matches!(e, WorkerEvent::Usage(v) if v.query.as_ref() == Some(&q)))
        .await;
    let Some(WorkerEvent::Usage(view)) = events.last() else {
        panic!("no answer: {events:?}");
    };
    assert_eq!(view.error, None);
    let report = view.report.as_ref().unwrap();
    let row = |key: &str, t: &crabglamp::domain::usage_report::Totals| {
        serde_json::json!({
            "key": key,
            "hours": t.hours().to_string(),
            "charge": t.charge.normalize().to_string(),
            "cost": t.cost.normalize().to_string(),
        })
    };
    let pick = |v: &serde_json::Value, key: &str| {
        serde_json::json!({
            "key": key,
            "hours": v["hours"],
            "charge": v["charge"],
            "cost": v["cost"],
        })
    };
    let got: Vec<serde_json::Value> = report
        .groups
        .iter()
        .map(|g| row(&g.key, &g.totals))
        .chain([row("total", &report.total)])
        .collect();
    let want: Vec<serde_json::Value> = cli["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| pick(g, g["key"].as_str().unwrap()))
        .chain([pick(&cli["total"], "total")])
        .collect();
    assert!(want.len() > 3, "{cli}");
    assert_eq!(got, want);
    w.shutdown().await;
    h.shutdown().await;
}
