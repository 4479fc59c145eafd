//! The Usage pane (issue 7) at the app level: period and grouping keys with exact values (the
//! pane's totals are `aggregate` over the same records, as `crabglamp usage` prints), `]` past
//! the current month refused, an older month read from the store through the worker (request,
//! "loading…", answer shown), and the worker's answer to that request against a real store.

mod common;

use chrono::{Datelike, Duration, NaiveDate, Utc};
use crabglamp::app::panes::usage::Period;
use crabglamp::app::{Model, Msg, Pane, update};
use crabglamp::domain::UsageRecord;
use crabglamp::domain::usage_report::{GroupBy, aggregate};
use crabglamp::protocol::{Effect, UsageQuery, WorkerEvent};
use crabglamp::ui::render;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rust_decimal::Decimal;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// Presses `c`; the worker's part is played for queries inside the snapshot's window
/// ([`common::answer_usage`]). Returns the other effects (store queries included).
fn key(m: &mut Model, c: char) -> Vec<Effect> {
    let effects = update(
        m,
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
    );
    common::answer_usage(m, effects)
}

/// The query the pane sends for a whole month older than the snapshot's window, by account.
fn month_query(m: &Model, from: NaiveDate, to: NaiveDate) -> UsageQuery {
    UsageQuery {
        from,
        to,
        by: GroupBy::Account,
        account: None,
        this_month: false,
        at: m.now,
    }
}

/// The worker's answer to `q` from the store's `records` (the function the worker calls).
fn store_answer(m: &Model, q: &UsageQuery, records: &[UsageRecord]) -> Msg {
    Msg::Worker(WorkerEvent::Usage(Box::new(crabglamp::view::usage::usage(
        q,
        records,
        &m.snapshot.usage,
        &m.snapshot.vms,
        &m.snapshot.hetzner_prices,
    ))))
}

fn usage_model() -> Model {
    let mut m = common::demo_model();
    m.pane = Pane::Usage;
    m
}

fn screen(m: &Model, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render(f, m)).unwrap();
    let buf = t.backend().buffer();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

/// (key, charge) of every group, the total charge and hours.
fn summary(m: &Model) -> (Vec<(String, Decimal)>, Decimal, Decimal) {
    let r = m.usage_ui.view.report.as_ref().expect("report");
    (
        r.groups
            .iter()
            .map(|g| (g.key.clone(), g.totals.charge))
            .collect(),
        r.total.charge,
        r.total.hours(),
    )
}

#[test]
fn this_month_equals_aggregate_and_shows_its_total() {
    let m = usage_model();
    assert_eq!(m.usage_ui.period, Period::ThisMonth);
    let want = aggregate(
        &m.snapshot.usage,
        d(2026, 11, 1),
        d(2026, 11, 30),
        GroupBy::Account,
        None,
    );
    assert_eq!(m.usage_ui.view.report.as_ref(), Some(&want));
    assert_eq!(want.total.charge.round_dp(2).to_string(), "419.50");
    assert_eq!(want.groups.len(), 4);
    let s = screen(&m, 80, 24);
    assert!(
        s.contains("total                    9020.0 419.50 213.37 206.13"),
        "{s}"
    );
    assert!(s.contains("this month · 2026-11-01 to 2026-11-30"), "{s}");
    // Today is in the period: month-to-date and the projection.
    let me = m.usage_ui.view.month_end.as_ref().unwrap();
    assert_eq!(me.charge_to_date, want.total.charge.normalize());
    assert!(me.charge_projected > me.charge_to_date);
    assert!(s.contains("month to date 419.50 (cost 213.37)"), "{s}");
}

#[test]
fn period_key_cycles_the_presets_with_exact_totals() {
    let mut m = usage_model();
    let records = m.snapshot.usage.clone();
    let expect = |from, to| aggregate(&records, from, to, GroupBy::Account, None);
    assert!(key(&mut m, 'p').is_empty());
    assert_eq!(m.usage_ui.period, Period::LastMonth);
    let oct = expect(d(2026, 10, 1), d(2026, 10, 31));
    assert_eq!(m.usage_ui.view.report.as_ref(), Some(&oct));
    assert!(
        m.usage_ui.view.month_end.is_none(),
        "October does not include today"
    );
    key(&mut m, 'p');
    assert_eq!(m.usage_ui.period, Period::Last30);
    assert_eq!(
        m.usage_ui.view.report.as_ref(),
        Some(&expect(d(2026, 11, 1), d(2026, 11, 30)))
    );
    key(&mut m, 'p');
    assert_eq!(m.usage_ui.period, Period::Last90);
    let last90 = expect(d(2026, 9, 2), d(2026, 11, 30));
    assert_eq!(m.usage_ui.view.report.as_ref().unwrap().daily.len(), 90);
    assert_eq!(m.usage_ui.view.report.as_ref(), Some(&last90));
    // Ninety days of the demo data: every record of the snapshot (it holds exactly 90 days).
    let all: Decimal = records.iter().map(|r| r.charge).sum();
    assert_eq!(last90.total.charge, all);
    key(&mut m, 'p');
    assert_eq!(m.usage_ui.period, Period::ThisMonth);
}

#[test]
fn grouping_key_cycles_and_the_account_filter_applies() {
    let mut m = usage_model();
    let records = m.snapshot.usage.clone();
    let (from, to) = (d(2026, 11, 1), d(2026, 11, 30));
    let mut seen = Vec::new();
    for _ in 0..4 {
        key(&mut m, 'g');
        let by = m.usage_ui.by;
        seen.push(by);
        let want = aggregate(&records, from, to, by, None);
        assert_eq!(m.usage_ui.view.report.as_ref(), Some(&want));
    }
    assert_eq!(
        seen,
        [
            GroupBy::Vm,
            GroupBy::Tier,
            GroupBy::Region,
            GroupBy::Account
        ]
    );
    key(&mut m, 'g'); // by VM
    key(&mut m, 'g'); // by tier
    let (groups, _, _) = summary(&m);
    let keys: Vec<&str> = groups.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["large", "medium", "small"]);
    // `a` narrows every pane to one account: acme only.
    key(&mut m, 'a');
    assert_eq!(m.account_filter.as_deref(), Some("acme"));
    let want = aggregate(&records, from, to, GroupBy::Tier, Some("acme"));
    assert_eq!(m.usage_ui.view.report.as_ref(), Some(&want));
    assert_eq!(want.total.charge.round_dp(2).to_string(), "216.70");
    let s = screen(&m, 80, 24);
    assert!(s.contains("By tier"), "{s}");
    assert!(s.contains("account acme"), "{s}");
}

#[test]
fn months_step_back_and_forward_but_not_past_the_current_month() {
    let mut m = usage_model();
    // `]` at the current month: refused, the period stays, nothing asked of the worker.
    assert!(key(&mut m, ']').is_empty());
    assert_eq!(m.usage_ui.period, Period::ThisMonth);
    assert!(
        m.toasts
            .iter()
            .any(|t| t.text.contains("already at the current month")),
        "{:?}",
        m.toasts
    );
    assert!(key(&mut m, '[').is_empty());
    assert_eq!(m.usage_ui.period, Period::LastMonth);
    // September is inside the snapshot's window (from 2026-08-30): no store read.
    assert!(key(&mut m, '[').is_empty());
    assert_eq!(m.usage_ui.period, Period::Month(d(2026, 9, 1)));
    let sep = aggregate(
        &m.snapshot.usage,
        d(2026, 9, 1),
        d(2026, 9, 30),
        GroupBy::Account,
        None,
    );
    assert_eq!(m.usage_ui.view.report.as_ref(), Some(&sep));
    assert_eq!(sep.daily.len(), 30);
    key(&mut m, ']');
    key(&mut m, ']');
    assert_eq!(m.usage_ui.period, Period::ThisMonth);
}

/// The demo's oldest VM is from September: make one older, so `[` may step back before the
/// snapshot's window (the pane stops at the first VM's month).
fn with_a_vm_from_2025(m: &mut Model) {
    m.snapshot.vms[0].record.created_at =
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2025, 1, 1, 0, 0, 0)
            .single()
            .unwrap();
}

fn record(day: NaiveDate, account: &str, seconds: u32, charge: &str) -> UsageRecord {
    let mut r = common::demo_model().snapshot.usage[0].clone();
    r.day = day;
    r.account = account.into();
    r.seconds = seconds;
    r.charge = charge.parse().unwrap();
    r.cost = r.charge / Decimal::from(2);
    r.is_final = true;
    r
}

#[test]
fn an_older_month_is_asked_of_the_worker_and_its_answer_shown() {
    let mut m = usage_model();
    with_a_vm_from_2025(&mut m);
    key(&mut m, '['); // October
    key(&mut m, '['); // September
    // August starts before the snapshot's window: the pane asks the worker for it.
    let effects = key(&mut m, '[');
    let august = month_query(&m, d(2026, 8, 1), d(2026, 8, 31));
    assert_eq!(effects, vec![Effect::UsageQuery(august.clone())]);
    assert_eq!(m.usage_ui.period, Period::Month(d(2026, 8, 1)));
    assert!(m.usage_ui.view.loading());
    let s = screen(&m, 80, 24);
    assert!(s.contains("loading…"), "{s}");
    assert!(s.contains("2026-08 · 2026-08-01 to 2026-08-31"), "{s}");
    // Asked once: stepping away and back while it loads sends nothing new.
    key(&mut m, ']');
    assert!(key(&mut m, '[').is_empty());
    let records = vec![
        record(d(2026, 8, 3), "acme", 86_400, "1.25"),
        record(d(2026, 8, 4), "acme", 43_200, "0.625"),
        record(d(2026, 8, 4), "globex", 3_600, "0.05"),
    ];
    let answer = store_answer(&m, &august, &records);
    update(&mut m, answer);
    assert!(!m.usage_ui.view.loading());
    let want = aggregate(
        &records,
        d(2026, 8, 1),
        d(2026, 8, 31),
        GroupBy::Account,
        None,
    );
    assert_eq!(m.usage_ui.view.report.as_ref(), Some(&want));
    let (groups, total, hours) = summary(&m);
    assert_eq!(
        groups,
        vec![
            ("acme".to_string(), "1.875".parse().unwrap()),
            ("globex".to_string(), "0.05".parse().unwrap())
        ]
    );
    assert_eq!(total.to_string(), "1.925");
    assert_eq!(hours.to_string(), "37");
    let s = screen(&m, 80, 24);
    assert!(!s.contains("loading…"), "{s}");
    assert!(
        s.contains("total                     37.0   1.92 0.96   0.96"),
        "{s}"
    );
    // Kept: back to August later asks nothing.
    key(&mut m, ']');
    assert!(key(&mut m, '[').is_empty());
    assert_eq!(m.usage_ui.view.report.as_ref(), Some(&want));
}

#[test]
fn a_failed_store_read_is_shown_and_asked_again() {
    let mut m = usage_model();
    with_a_vm_from_2025(&mut m);
    key(&mut m, '[');
    key(&mut m, '[');
    let range = (d(2026, 8, 1), d(2026, 8, 31));
    assert_eq!(key(&mut m, '[').len(), 1);
    let q = month_query(&m, range.0, range.1);
    update(
        &mut m,
        Msg::Worker(WorkerEvent::Usage(Box::new(
            crabglamp::view::usage::failed(&q, "store: disk on fire".into()),
        ))),
    );
    let s = screen(&m, 100, 30);
    assert!(
        s.contains("could not read usage: store: disk on fire"),
        "{s}"
    );
    key(&mut m, ']');
    assert_eq!(key(&mut m, '['), vec![Effect::UsageQuery(q)]);
}

#[test]
fn vm_detail_shows_the_last_30_days_of_charge() {
    let m = common::demo_model();
    let vm = m.selected_vm().unwrap().record.id;
    let today = common::now().date_naive();
    let prebuilt = crabglamp::view::prebuilt(&m.snapshot, today);
    let spark = &prebuilt.spark.by_vm[&vm];
    assert_eq!(spark.len(), 30);
    let want: Decimal = m
        .snapshot
        .usage
        .iter()
        .filter(|r| r.vm_id == vm && r.day > today - Duration::days(30))
        .map(|r| r.charge)
        .sum();
    assert_eq!(spark.iter().copied().sum::<Decimal>(), want);
    let s = screen(&m, 80, 24);
    assert!(s.contains(&format!("{} EUR/30d", want.round_dp(2))), "{s}");
}

/// The worker answers [`Effect::UsageQuery`] with the sums of the store's records of that range.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_sums_an_old_range_from_the_store() {
    use crabglamp::hetzner::{Client, Token};
    use crabglamp::protocol::Mode;
    let dir = tempfile::tempdir().unwrap();
    let store = crabglamp::store::Store::open(dir.path()).unwrap();
    let now = Utc::now();
    let data = crabglamp::demo::generate(now);
    crabglamp::demo::seed_store(&store, &data).unwrap();
    let sim = crabglamp::sim::start(
        "127.0.0.1:0".parse().unwrap(),
        crabglamp::sim::SimConfig::default(),
    )
    .await
    .unwrap();
    let client = Client::builder()
        .endpoint(sim.endpoint())
        .token(Token::new("sim-token"))
        .max_attempts(1)
        .build()
        .unwrap();
    let mut w = crabglamp::worker::spawn(crabglamp::worker::WorkerConfig {
        client,
        store: store.clone(),
        mode: Mode::Demo,
        read_only: true,
        sync_interval: std::time::Duration::from_secs(3600),
        actor: "test".into(),
        usage: Default::default(),
    });
    // Final days only (accrual may rewrite today's provisional records meanwhile).
    let from = crabglamp::demo::first_usage_day(now);
    let to = now.date_naive() - Duration::days(2);
    // Asked as if a year later: the range is then older than the snapshot's window.
    let q = UsageQuery {
        from,
        to,
        by: GroupBy::Account,
        account: None,
        this_month: false,
        at: now + Duration::days(365),
    };
    assert!(crabglamp::view::usage::needs_store(&q));
    w.effects.send(Effect::UsageQuery(q.clone())).unwrap();
    let got = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        loop {
            match w.events.recv().await {
                Some(WorkerEvent::Usage(v)) if v.query.as_ref() == Some(&q) => return *v,
                Some(_) => continue,
                None => panic!("worker ended"),
            }
        }
    })
    .await
    .expect("an answer");
    assert_eq!(got.error, None);
    assert!(got.month_end.is_none() && got.projected.is_none());
    let report = got.report.unwrap();
    let want: Vec<UsageRecord> = data
        .usage
        .iter()
        .filter(|r| r.day >= from && r.day <= to)
        .cloned()
        .collect();
    assert_eq!(report, aggregate(&want, from, to, GroupBy::Account, None));
    let seconds: u64 = want.iter().map(|r| u64::from(r.seconds)).sum();
    let charge: Decimal = want.iter().map(|r| r.charge).sum();
    assert_eq!(
        (report.total.seconds, report.total.charge),
        (seconds, charge)
    );
    w.effects.send(Effect::Shutdown).unwrap();
    w.join.await.unwrap();
    drop(sim);
}

fn draw(m: &Model, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render(f, m)).unwrap();
    t
}

/// Ninety days at 80 columns: braille bars for the charge, a `•` line for the cost.
#[test]
fn last_90_days_at_80x24_uses_braille() {
    let mut m = usage_model();
    for _ in 0..3 {
        key(&mut m, 'p');
    }
    let s = screen(&m, 80, 24);
    assert!(s.contains("⣿ charge  • Hetzner cost · EUR per day"), "{s}");
    assert!(
        s.contains("total                    19675.2 904.48 467.74 436.74"),
        "{s}"
    );
    insta::assert_snapshot!("usage_last_90_days_80x24", draw(&m, 80, 24).backend());
}

/// NO_COLOR: no colour anywhere, the two series told apart by their symbols and the legend.
#[test]
fn no_color_by_vm_keeps_charge_and_cost_apart_by_symbol() {
    let mut m = common::model_with(crabglamp::demo::snapshot(common::now()), true);
    m.pane = Pane::Usage;
    key(&mut m, 'g');
    let t = draw(&m, 80, 24);
    for cell in t.backend().buffer().content() {
        assert_eq!(
            (cell.fg, cell.bg),
            (ratatui::style::Color::Reset, ratatui::style::Color::Reset)
        );
    }
    let s = screen(&m, 80, 24);
    assert!(s.contains("█▄█▄"), "{s}");
    assert!(s.contains("█ charge  ▄ Hetzner cost"), "{s}");
    assert!(s.contains("By VM"), "{s}");
    // The total stays on screen under the scrolling groups.
    assert!(
        s.contains("total                    9020.0 419.50 213.37 206.13"),
        "{s}"
    );
    insta::assert_snapshot!("usage_by_vm_no_color_80x24", t.backend());
}

/// Runs `crabglamp usage ARGS` in demo mode at `now` (test-only `--now`) in a fresh home.
fn cli_usage(now: &str, args: &[&str]) -> String {
    let tmp = tempfile::TempDir::new().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let out = common::harness::cli_blocking(&home, &tmp.path().join("data"))
        .env_remove("CRABGLAMP_NOW")
        .arg("--now")
        .arg(now)
        .arg("usage")
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Rows of a table as their first five whitespace-separated words (key, hours, charge, cost,
/// margin; the pane's month-end column is left out), `(total)` as `total`: only rows whose first
/// word is in `keys`.
fn rows(text: &str, keys: &[&str]) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| {
            l.replace(['│', '›'], " ")
                .split_whitespace()
                .take(5)
                .map(|w| if w == "(total)" { "total" } else { w }.to_string())
                .collect::<Vec<_>>()
        })
        .filter(|w| w.len() == 5 && keys.contains(&w[0].as_str()))
        .collect()
}

/// The pane prints what `crabglamp usage` prints for the same period, grouping and account.
#[test]
fn the_pane_shows_the_numbers_crabglamp_usage_prints() {
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-30T09:30:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let mut m = Model::new(crabglamp::protocol::Mode::Demo, false, false, "ops", now);
    let effects = update(
        &mut m,
        Msg::Worker(WorkerEvent::Snapshot(Box::new(crabglamp::demo::snapshot(
            now,
        )))),
    );
    assert!(common::answer_usage(&mut m, effects).is_empty());
    m.pane = Pane::Usage;
    let accounts = ["acme", "alice", "globex", "initech", "total"];
    let cli = rows(
        &cli_usage("2026-11-30T09:30:00Z", &["--month", "2026-11"]),
        &accounts,
    );
    assert_eq!(cli.len(), 5, "{cli:?}");
    assert_eq!(rows(&screen(&m, 100, 30), &accounts), cli);
    // Last month, by VM, acme only.
    key(&mut m, 'p');
    key(&mut m, 'g');
    key(&mut m, 'a');
    let vms: Vec<String> = m
        .usage_ui
        .view
        .report
        .as_ref()
        .unwrap()
        .groups
        .iter()
        .map(|g| g.key.clone())
        .chain(["total".to_string()])
        .collect();
    let vms: Vec<&str> = vms.iter().map(String::as_str).collect();
    let cli = rows(
        &cli_usage(
            "2026-11-30T09:30:00Z",
            &["--month", "2026-10", "--by", "vm", "--account", "acme"],
        ),
        &vms,
    );
    assert!(cli.len() >= 3, "{cli:?}");
    assert_eq!(rows(&screen(&m, 100, 40), &vms), cli);
}

/// This month: each group's projected month-end is `month_end` over that group's records.
#[test]
fn this_month_projects_each_group_to_the_month_end() {
    use crabglamp::domain::VmStatus;
    use crabglamp::domain::usage::hetzner_key;
    use crabglamp::domain::usage_report::{VmOutlook, month_end};
    let mut m = usage_model();
    let records = m.snapshot.usage.clone();
    // Live VMs with their Hetzner prices, as the pane sees them.
    let looks: std::collections::HashMap<uuid::Uuid, VmOutlook> = m
        .snapshot
        .vms
        .iter()
        .map(|v| {
            let r = &v.record;
            let live =
                r.status.is_live() && r.status != VmStatus::Destroying && r.destroyed_at.is_none();
            let price = m
                .snapshot
                .hetzner_prices
                .get(&hetzner_key(&r.server_type, r.region.location()))
                .copied();
            (r.id, VmOutlook { live, price })
        })
        .collect();
    let outlook = |id: uuid::Uuid| looks.get(&id).copied().unwrap_or_default();
    let secs = 9 * 3600; // the fixed now is 09:00 UTC
    let today = d(2026, 11, 30);
    let projected = m.usage_ui.view.projected.clone().unwrap();
    let keys: Vec<&str> = projected.keys().map(String::as_str).collect();
    assert_eq!(keys, ["acme", "alice", "globex", "initech"]);
    for (account, value) in &projected {
        assert_eq!(
            *value,
            month_end(&records, today, secs, Some(account), &outlook).charge_projected
        );
    }
    let s = screen(&m, 80, 24);
    assert!(s.contains("MONTH-END"), "{s}");
    let total = month_end(&records, today, secs, None, &outlook).charge_projected;
    assert_eq!(total.round_dp(2).to_string(), "428.87");
    assert!(
        s.contains("total                    9020.0 419.50 213.37 206.13    428.87"),
        "{s}"
    );
    // By VM: every VM with usage this month has its own projection, keyed like the report.
    key(&mut m, 'g');
    let report_keys: Vec<String> = m
        .usage_ui
        .view
        .report
        .as_ref()
        .unwrap()
        .groups
        .iter()
        .map(|g| g.key.clone())
        .collect();
    let projected_keys: Vec<String> = m
        .usage_ui
        .view
        .projected
        .as_ref()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(projected_keys, report_keys);
    // Last month is over: no projection column.
    key(&mut m, 'p');
    assert!(m.usage_ui.view.projected.is_none());
    assert!(!screen(&m, 80, 24).contains("MONTH-END"));
}

/// When the groups do not all fit, the table's title says which rows are on screen (as the
/// VMs pane says how many VMs it shows), and follows the selection.
#[test]
fn the_group_table_says_which_rows_are_on_screen() {
    let mut m = usage_model();
    key(&mut m, 'g');
    let s = screen(&m, 120, 35);
    let line = |s: &str, word: &str| -> String {
        s.lines()
            .find(|l| l.contains(word))
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        line(&s, "╭ By VM"),
        "╭ By VM · 1–12 of 15 · hours, charge, cost, margin, projected month-end · EUR · stopped time bills like running ───────╮"
    );
    let s = screen(&m, 80, 24);
    assert_eq!(
        line(&s, "╭ By VM"),
        "╭ By VM · 1–7 of 15 · hours, charge, cost, margin, projected month-end · EUR ──╮"
    );
    // Down to the last VM: the window follows.
    for _ in 0..14 {
        update(
            &mut m,
            Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)),
        );
    }
    let s = screen(&m, 80, 24);
    assert_eq!(
        line(&s, "╭ By VM"),
        "╭ By VM · 9–15 of 15 · hours, charge, cost, margin, projected month-end · EUR ─╮"
    );
    assert!(line(&s, "› ").contains("scratch"), "{s}");
    // All rows on screen: no position.
    let s = screen(&m, 160, 48);
    assert_eq!(
        line(&s, "╭ By VM"),
        format!(
            "╭ By VM · hours, charge, cost, margin, projected month-end · EUR · stopped time bills like running {}╮",
            "─".repeat(60)
        )
    );
    // At the minimum size the column words give way to the position.
    let s = screen(&m, 60, 15);
    assert!(
        line(&s, "╭ By VM").starts_with("╭ By VM · 14–15 of 15 · EUR ─"),
        "{s}"
    );
}

/// Each row shows charge and cost rounded to cents and their difference as the margin (the
/// exact margin rounded alone can differ by a cent); the total row is the rounded exact sums,
/// and the border says so.
#[test]
fn each_shown_row_adds_up_and_the_border_says_how_totals_round() {
    let mut m = usage_model();
    key(&mut m, 'g');
    let s = screen(&m, 120, 35);
    let rows: Vec<&str> = s
        .lines()
        .filter(|l| l.contains("acme-ci-runner") || l.contains("│  total"))
        .collect();
    assert_eq!(
        rows,
        [
            "│› acme-ci-runner            705.0  66.98  33.49  33.49     68.40                                                      │",
            "│  total                    9020.0 419.50 213.37 206.13    428.87                                                      │",
        ]
    );
    // The exact margin of acme-ci-runner rounds to 33.48 on its own.
    let r = m.usage_ui.view.report.as_ref().unwrap();
    let ci = r.groups.iter().find(|g| g.key == "acme-ci-runner").unwrap();
    assert_eq!(format!("{:.2}", ci.totals.margin().round_dp(2)), "33.48");
    assert!(
        s.contains(
            "╰─────────────────────────────────────────────────────────────────────── rounded to cents; totals of unrounded amounts ╯"
        ),
        "{s}"
    );
    for row in rows_of(&s) {
        let n: Vec<Decimal> = row[2..5].iter().map(|x| x.parse().unwrap()).collect();
        assert_eq!(n[0] - n[1], n[2], "{row:?}");
    }
}

/// Every row of a table whose first word is not a header word, as words, `│` and `›` removed.
fn rows_of(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| {
            l.replace(['│', '›'], " ")
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .filter(|w| w.len() >= 5 && w[2].parse::<Decimal>().is_ok() && w[1].contains('.'))
        .collect()
}

/// `crabglamp usage` names the currency once in its header, shows each row's margin as shown
/// charge − shown cost, and ends with the rounding note.
#[test]
fn crabglamp_usage_table_rows_add_up_and_name_the_currency_once() {
    let out = cli_usage(
        "2026-11-30T09:30:00Z",
        &["--month", "2026-11", "--by", "vm"],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[1],
        "VM               HOURS   CHARGE  COST    MARGIN (EUR)"
    );
    assert_eq!(
        lines.iter().find(|l| l.starts_with("acme-ci-runner")),
        Some(&"acme-ci-runner   705.5   67.02   33.49   33.53")
    );
    assert_eq!(
        lines[lines.len() - 2],
        "(total)          9026.0  419.79  213.37  206.42"
    );
    assert_eq!(
        lines.last(),
        Some(&"rounded to cents; totals of unrounded amounts")
    );
    assert_eq!(out.matches("EUR").count(), 1, "{out}");
    let rows = rows_of(&out);
    assert_eq!(rows.len(), 16, "{out}");
    for row in rows {
        let n: Vec<Decimal> = row[2..5].iter().map(|x| x.parse().unwrap()).collect();
        assert_eq!(n[0] - n[1], n[2], "{row:?}");
    }
}

/// `[` stops at the month the first VM was created in, with a toast, instead of walking back
/// through empty months forever.
#[test]
fn months_stop_at_the_first_vms_month() {
    let mut m = usage_model();
    let first = m
        .snapshot
        .vms
        .iter()
        .map(|v| v.record.created_at.date_naive())
        .min()
        .unwrap();
    let first_month = NaiveDate::from_ymd_opt(first.year(), first.month(), 1).unwrap();
    for _ in 0..60 {
        key(&mut m, '[');
    }
    assert_eq!(m.usage_ui.period, Period::Month(first_month));
    let want = format!(
        "usage: nothing before {} (the first VM was created then)",
        first_month.format("%Y-%m")
    );
    assert!(m.toasts.iter().any(|t| t.text == want), "{:?}", m.toasts);
}

/// Showing a month still inside the snapshot's window when the UTC day changes and the window
/// moves past it: the pane asks the worker for it (it no longer sits on "loading…").
#[test]
fn a_new_day_that_moves_the_window_past_the_shown_month_asks_the_worker() {
    let mut m = usage_model();
    let today = m.now.date_naive();
    let window = crabglamp::app::panes::usage::window_start(today);
    // The first month wholly inside today's window.
    let month = if window.day() == 1 {
        window
    } else {
        NaiveDate::from_ymd_opt(window.year(), window.month(), 1)
            .unwrap()
            .checked_add_months(chrono::Months::new(1))
            .unwrap()
    };
    m.usage_ui.period = Period::Month(month);
    let now = m.now;
    let effects = update(&mut m, Msg::Tick { now });
    assert!(common::answer_usage(&mut m, effects).is_empty());
    assert!(!m.usage_ui.view.loading());
    // The first day whose window starts after that month's first day.
    let later = m.now + Duration::days((month - window).num_days() + 1);
    assert!(crabglamp::app::panes::usage::window_start(later.date_naive()) > month);
    let effects = update(&mut m, Msg::Tick { now: later });
    let (from, to) = Period::Month(month).bounds(later.date_naive());
    let mut q = month_query(&m, from, to);
    q.at = later;
    assert_eq!(effects, vec![Effect::UsageQuery(q)]);
    assert!(m.usage_ui.view.loading());
}

/// At 60×15 the month-to-date line keeps every figure (a shorter wording), not `…`.
#[test]
fn the_month_end_figures_fit_at_60x15() {
    let m = usage_model();
    let me = m.usage_ui.view.month_end.clone().unwrap();
    let s = screen(&m, 60, 15);
    let want = format!(
        "so far {} (cost {}) · end {} (cost {})",
        me.charge_to_date.round_dp(2),
        me.cost_to_date.round_dp(2),
        me.charge_projected.round_dp(2),
        me.cost_projected.round_dp(2)
    );
    assert!(s.contains(&want), "{want}\n{s}");
}

/// A snapshot arriving on the Usage pane sums nothing on the dashboard's task: the report, the
/// projections and the count of applied answers stay until the worker's answer (the worker
/// answers its kept query again after a snapshot that changed usage), which then shows the new
/// numbers.
#[test]
fn a_snapshot_on_the_usage_pane_waits_for_the_workers_sums() {
    let mut m = usage_model();
    let before = m.usage_ui.view.clone();
    let applied = m.usage_ui.derives;
    let mut snap = m.snapshot.clone();
    let today = m.now.date_naive();
    // Today's records gone (as if re-accrued): the sums would change.
    let kept: Vec<UsageRecord> = snap
        .usage
        .iter()
        .filter(|r| r.day != today)
        .cloned()
        .collect();
    snap.usage = crabglamp::protocol::Shared::new(kept);
    let effects = update(&mut m, Msg::Worker(WorkerEvent::Snapshot(Box::new(snap))));
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(m.usage_ui.view, before);
    assert_eq!(m.usage_ui.derives, applied);
    // The worker's answer to the same query over the new snapshot.
    let q = before.query.clone().unwrap();
    let answer = crabglamp::view::usage::from_snapshot(&q, &m.snapshot);
    update(
        &mut m,
        Msg::Worker(WorkerEvent::Usage(Box::new(answer.clone()))),
    );
    assert_eq!(m.usage_ui.derives, applied + 1);
    assert_eq!(m.usage_ui.view, answer);
    assert_ne!(m.usage_ui.view.report, before.report);
}

/// While the period includes today, each new minute asks the worker again (the month-end
/// projection counts the seconds left of today); the shown numbers stay until the answer.
#[test]
fn a_new_minute_asks_for_the_month_end_again() {
    let mut m = usage_model();
    let before = m.usage_ui.view.clone();
    let later = m.now + Duration::seconds(60);
    let effects = update(&mut m, Msg::Tick { now: later });
    let mut q = before.query.clone().unwrap();
    q.at = later;
    assert_eq!(effects, vec![Effect::UsageQuery(q.clone())]);
    assert_eq!(m.usage_ui.view, before);
    // Asked once while pending.
    assert!(update(&mut m, Msg::Tick { now: later }).is_empty());
    assert!(common::answer_usage(&mut m, effects).is_empty());
    assert_eq!(m.usage_ui.view.query, Some(q));
    let (was, now) = (
        before.month_end.unwrap().charge_projected,
        m.usage_ui.view.month_end.clone().unwrap().charge_projected,
    );
    assert!(now <= was, "{now} > {was}");
}
