//! Benchmark of usage (issue 7): accrual of 1,000 VMs over 365 days into a real sled store
//! (target ≤ 1 s), a month's query grouped by VM over those 1,000 VMs (target ≤ 20 ms: the
//! store range scan plus [`aggregate`], what the pane and `crabglamp usage --by vm` do), and
//! the store's size on disk for that year. Then the Usage pane's figures at that size: the
//! worker's answer to this month's query by VM over the snapshot's 92-day window
//! (`crabglamp::view::usage::usage`: report, month-end, per-VM projection; off the dashboard's
//! task) and applying that answer on the dashboard's task (no sums there).
//!
//! Run with `cargo bench --bench usage` (release build). Prints each figure; it asserts the
//! record count only (timings are reported, not asserted). The store lives in a temporary
//! directory removed at the end.

use std::error::Error;
use std::path::Path;
use std::time::Instant;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use crabglamp::domain::usage_report::{GroupBy, aggregate, month_bounds};
use crabglamp::domain::{
    BillingPeriod, BillingType, ImageKey, OwnershipPeriod, Region, Tier, VmRecord, VmStatus,
};
use crabglamp::store::Store;
use crabglamp::worker::usage::accrue;
use uuid::Uuid;

const VMS: usize = 1000;
const DAYS: i64 = 365;
const QUERY_RUNS: usize = 20;

fn dir_size(path: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

fn main() -> Result<(), Box<dyn Error>> {
    let now = Utc
        .with_ymd_and_hms(2026, 11, 30, 23, 59, 59)
        .single()
        .ok_or("time")?;
    let start = now - Duration::days(DAYS - 1);
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("usage.db");
    let store = Store::open(&path)?;
    let tiers = [Tier::Small, Tier::Medium, Tier::Large];
    let regions = [Region::Us, Region::Eu];
    for i in 0..VMS {
        let provisioned = start
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .ok_or("time")?
            .and_utc()
            + Duration::minutes(i as i64 % 600);
        let tier = tiers[i % 3];
        let region = regions[i % 2];
        let billing = if i % 4 == 0 {
            BillingType::Subscription
        } else {
            BillingType::Metered
        };
        let account = format!("account-{}", i % 25);
        let mut ownership = vec![OwnershipPeriod {
            from: provisioned,
            account: account.clone(),
        }];
        if i % 10 == 0 {
            ownership.push(OwnershipPeriod {
                from: provisioned + Duration::days(200) + Duration::hours(12),
                account: "org-dest".into(),
            });
        }
        store.put_vm(&VmRecord {
            id: Uuid::from_u128(i as u128 + 1),
            name: format!("vm-{i:04}"),
            account: ownership
                .last()
                .map(|o| o.account.clone())
                .unwrap_or(account),
            tier,
            region,
            image: ImageKey::Debian13,
            billing_type: billing,
            status: if i % 3 == 0 {
                VmStatus::Stopped
            } else {
                VmStatus::Running
            },
            created_at: provisioned,
            provisioned_at: Some(provisioned),
            destroyed_at: None,
            hetzner_server_id: Some(i as i64 + 1),
            hetzner_firewall_id: Some(i as i64 + 1),
            server_type: crabglamp::domain::default_server_type(tier, region).into(),
            ipv4: None,
            ipv6: None,
            keys: vec![],
            ownership,
            billing: vec![BillingPeriod {
                from: provisioned,
                billing_type: billing,
            }],
            failure: None,
        })?;
    }
    store.flush()?;
    let rates = crabglamp::demo::rates();

    let vms = store.vms()?;
    let t = Instant::now();
    let mut computed = 0;
    for vm in &vms {
        computed += crabglamp::domain::usage::vm_records(
            vm,
            start.date_naive(),
            now.date_naive(),
            now,
            &rates,
        )
        .len();
    }
    println!(
        "records computed (no store): {computed} in {:.3} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let done = accrue(&store, now, &rates)?;
    let accrual = t.elapsed();
    println!(
        "accrual: {VMS} VMs × {DAYS} days = {} records in {:.3} s (target ≤ 1 s)",
        done.records,
        accrual.as_secs_f64()
    );
    if done.records < VMS * DAYS as usize {
        return Err(format!(
            "expected at least {} records, got {}",
            VMS * DAYS as usize,
            done.records
        )
        .into());
    }

    let t = Instant::now();
    let again = accrue(&store, now, &rates)?;
    println!(
        "accrual again (nothing to catch up, today only): {} records in {:.3} s",
        again.records,
        t.elapsed().as_secs_f64()
    );

    let (from, to) = month_bounds(NaiveDate::from_ymd_opt(2026, 11, 1).ok_or("date")?);
    let mut times = Vec::new();
    let mut reads = Vec::new();
    let mut groups = 0;
    for _ in 0..QUERY_RUNS {
        let t = Instant::now();
        let records = store.usage(from, to)?;
        reads.push(t.elapsed());
        let report = aggregate(&records, from, to, GroupBy::Vm, None);
        times.push(t.elapsed());
        groups = report.groups.len();
    }
    times.sort();
    reads.sort();
    println!(
        "  of which reading the month's records from the store: median {:.2} ms",
        reads[QUERY_RUNS / 2].as_secs_f64() * 1e3
    );
    println!(
        "month query grouped by VM: {groups} groups, median {:.2} ms, min {:.2} ms, max {:.2} ms over {QUERY_RUNS} runs (target ≤ 20 ms)",
        times[QUERY_RUNS / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[QUERY_RUNS - 1].as_secs_f64() * 1e3
    );

    // The Usage pane: the worker sums, the dashboard applies.
    let window = store.usage(
        crabglamp::view::usage::window_start(now.date_naive()),
        now.date_naive(),
    )?;
    let rows: Vec<crabglamp::protocol::VmRow> = vms
        .iter()
        .map(|r| crabglamp::protocol::VmRow {
            record: r.clone(),
            managed: true,
            hetzner_status: None,
            location: None,
            cores: None,
            memory_gb: None,
            disk_gb: None,
            labels: Default::default(),
            firewall: None,
        })
        .collect();
    let query = crabglamp::protocol::UsageQuery {
        from,
        to,
        by: GroupBy::Vm,
        account: None,
        this_month: true,
        at: now,
    };
    let prices = Default::default();
    let mut sums = Vec::new();
    let mut view = None;
    for _ in 0..QUERY_RUNS {
        let t = Instant::now();
        view = Some(crabglamp::view::usage::usage(
            &query, &window, &window, &rows, &prices,
        ));
        sums.push(t.elapsed());
    }
    sums.sort();
    let view = view.ok_or("no view")?;
    println!(
        "Usage pane, worker side: this month by VM with month-end and per-VM projection over {} window records: median {:.2} ms",
        window.len(),
        sums[QUERY_RUNS / 2].as_secs_f64() * 1e3
    );
    let mut model =
        crabglamp::app::Model::new(crabglamp::protocol::Mode::Demo, false, false, "bench", now);
    let mut applies = Vec::new();
    for _ in 0..QUERY_RUNS {
        let answer = crabglamp::protocol::WorkerEvent::Usage(Box::new(view.clone()));
        let t = Instant::now();
        crabglamp::app::update(&mut model, crabglamp::app::Msg::Worker(answer));
        applies.push(t.elapsed());
    }
    applies.sort();
    println!(
        "Usage pane, dashboard side: applying the answer: median {:.3} ms",
        applies[QUERY_RUNS / 2].as_secs_f64() * 1e3
    );

    store.flush()?;
    drop(store);
    let bytes = dir_size(&path)?;
    println!(
        "store size on disk for the year: {:.1} MiB ({bytes} bytes)",
        bytes as f64 / (1024.0 * 1024.0)
    );
    Ok(())
}
