//! Render and filter cost with 10,000 VMs: one frame of the VM pane at 200×50 (target ≤ 2 ms;
//! only visible rows are built), one filter keystroke (target ≤ 5 ms), and a new snapshot: as
//! the dashboard applies it today (rebuilding the index on its own task), as it applies one
//! whose views the worker prebuilt (target ≤ 2 ms; `src/view/mod.rs`), and the worker's build of
//! those views (off the dashboard's task; informational). Run with `cargo bench --bench render`.

use chrono::{TimeZone, Utc};
use crabglamp::app::{Model, Msg, update};
use crabglamp::protocol::{Mode, Snapshot, WorkerEvent};
use crabglamp::ui::{coalesce, render};
use crabglamp::view::{self, vm_index::VmIndex};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::hint::black_box;

fn key(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

/// The demo snapshot with its VMs repeated (new ids, numbered names) up to `n` rows.
fn big_snapshot(n: usize) -> Snapshot {
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap();
    let mut snap = crabglamp::demo::snapshot(now);
    let base = snap.vms.clone();
    snap.vms = (0..n)
        .map(|i| {
            let mut row = base[i % base.len()].clone();
            row.record.id = uuid::Uuid::from_u128(i as u128 + 1);
            row.record.name = format!("{}-{i:05}", row.record.name);
            row
        })
        .collect();
    snap
}

fn model(n: usize) -> Model {
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap();
    let mut m = Model::new(Mode::Demo, false, false, "bench", now);
    update(
        &mut m,
        Msg::Worker(WorkerEvent::Snapshot(Box::new(big_snapshot(n)))),
    );
    m
}

fn bench(c: &mut Criterion) {
    let mut m = model(10_000);
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).expect("test backend");
    // Move the selection every frame so that each draw has real changes to diff.
    c.bench_function("render VM pane, 10k VMs, 200x50", |b| {
        b.iter(|| {
            update(&mut m, key(KeyCode::Char('j')));
            terminal.draw(|f| render(black_box(f), &m)).expect("draw");
        })
    });

    let mut m = model(10_000);
    update(&mut m, key(KeyCode::Char('/')));
    for ch in "acme-w".chars() {
        update(&mut m, key(KeyCode::Char(ch)));
    }
    c.bench_function("filter keystroke, 10k VMs", |b| {
        b.iter_batched(
            || m.clone(),
            |mut m| {
                update(&mut m, key(KeyCode::Char('e')));
                m
            },
            BatchSize::LargeInput,
        )
    });
    c.bench_function("new snapshot (index rebuild), 10k VMs", |b| {
        let snap = big_snapshot(10_000);
        b.iter_batched(
            || (m.clone(), Box::new(snap.clone())),
            |(mut m, s)| {
                update(&mut m, Msg::Worker(WorkerEvent::Snapshot(s)));
                m
            },
            BatchSize::LargeInput,
        )
    });
}

/// What the dashboard's task does with a snapshot whose views the worker prebuilt: keep the
/// newest of the waiting snapshots, take its parts (shared pointers), filter the prebuilt VM
/// index, find the selected VM again, and list the Vault keys and audit events of the account
/// filter from the prebuilt holders and order.
fn apply_prebuilt(m: &mut Model, batch: Vec<WorkerEvent>) {
    for ev in coalesce(batch) {
        let WorkerEvent::Snapshot(snap) = ev else {
            continue;
        };
        let pre = view::prebuilt(&snap, m.now.date_naive());
        m.snapshot = *snap;
        let vms = &mut m.vms;
        vms.index = VmIndex::from_prebuilt(
            pre.vm_table.clone(),
            vms.sort,
            vms.reverse,
            &vms.filter,
            m.account_filter.as_deref(),
            vms.show_deleted,
        );
        let rows = &m.snapshot.vms;
        let found = vms.selected_id.and_then(|id| {
            vms.index
                .visible()
                .iter()
                .position(|&i| rows.get(i).is_some_and(|v| v.record.id == id))
        });
        vms.list.selected = found.unwrap_or(0);
        let account = m.account_filter.as_deref();
        let snap = &m.snapshot;
        let mut vault: Vec<(usize, usize)> = snap
            .vault
            .iter()
            .enumerate()
            .filter(|(_, e)| account.is_none_or(|a| e.account == a))
            .filter(|(_, e)| e.deleted_at.is_none() || pre.holders.contains_key(&e.id))
            .map(|(i, e)| (i, pre.holders.get(&e.id).map_or(0, Vec::len)))
            .collect();
        vault.sort_by(|a, b| {
            let (ea, eb) = (&snap.vault[a.0], &snap.vault[b.0]);
            (&ea.account, ea.created_at, &ea.label).cmp(&(&eb.account, eb.created_at, &eb.label))
        });
        let audit: Vec<usize> = pre
            .audit_newest_first
            .iter()
            .copied()
            .filter(|&i| {
                snap.audit.get(i).is_some_and(|e| {
                    account.is_none_or(|a| e.account == a || e.to_account.as_deref() == Some(a))
                })
            })
            .collect();
        black_box((vault, audit, &pre.spark));
    }
}

fn bench_prebuilt(c: &mut Criterion) {
    let m = model(10_000);
    let today = m.now.date_naive();
    let snap = big_snapshot(10_000);
    c.bench_function(
        "worker: build the prebuilt views, 10k VMs (off the UI task)",
        |b| b.iter(|| view::build(black_box(&snap), today)),
    );
    let mut ready = snap.clone();
    ready.prebuilt = Some(view::build(&ready, today));
    let one = vec![WorkerEvent::Snapshot(Box::new(ready.clone()))];
    c.bench_function("apply a new snapshot on the UI side, 10k VMs", |b| {
        b.iter_batched(
            || (m.clone(), one.clone()),
            |(mut m, batch)| {
                apply_prebuilt(&mut m, batch);
                m
            },
            BatchSize::LargeInput,
        )
    });
    // A burst: ten snapshots with other events between them, as after a destroy.
    let burst: Vec<WorkerEvent> = (0..10)
        .flat_map(|i| {
            [
                WorkerEvent::Snapshot(Box::new(ready.clone())),
                WorkerEvent::Info(format!("event {i}")),
            ]
        })
        .collect();
    c.bench_function(
        "apply a burst of 10 snapshots on the UI side, 10k VMs",
        |b| {
            b.iter_batched(
                || (m.clone(), burst.clone()),
                |(mut m, batch)| {
                    apply_prebuilt(&mut m, batch);
                    m
                },
                BatchSize::LargeInput,
            )
        },
    );
}

criterion_group!(benches, bench, bench_prebuilt);
criterion_main!(benches);
