//! Render and filter cost with 10,000 VMs: one frame of the VM pane at 200×50 (target ≤ 2 ms;
//! only visible rows are built), one filter keystroke (target ≤ 5 ms), one Audit filter
//! keystroke (≤ 1 ms), and a new snapshot: as the dashboard applies one whose views the worker
//! prebuilt (target ≤ 2 ms; `src/view/mod.rs`), a burst of ten, one without prebuilt views
//! (the views built on the dashboard's task, as before they moved to the worker), and the
//! worker's build of those views (off the dashboard's task; informational). Run with
//! `cargo bench --bench render`.

use chrono::{TimeZone, Utc};
use crabglamp::app::{Model, Msg, update};
use crabglamp::protocol::{Mode, Snapshot, WorkerEvent};
use crabglamp::ui::{coalesce, render};
use crabglamp::view;
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
    c.bench_function(
        "new snapshot without prebuilt views (built on the UI task), 10k VMs",
        |b| {
            let snap = big_snapshot(10_000);
            b.iter_batched(
                || (m.clone(), Box::new(snap.clone())),
                |(mut m, s)| {
                    update(&mut m, Msg::Worker(WorkerEvent::Snapshot(s)));
                    m
                },
                BatchSize::LargeInput,
            )
        },
    );
}

/// Applies a batch of worker events as the event loop does: the newest of the waiting snapshots
/// only ([`coalesce`]), each event through [`update`].
fn apply_batch(m: &mut Model, batch: Vec<WorkerEvent>) {
    for ev in coalesce(batch) {
        update(m, Msg::Worker(ev));
    }
}

/// One Audit filter keystroke with 10,000 VMs and 2,000 audit events (target ≤ 1 ms): only the
/// audit timeline is filtered again.
fn bench_audit(c: &mut Criterion) {
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap();
    let mut snap = big_snapshot(10_000);
    let base: Vec<_> = snap.audit.iter().cloned().collect();
    let events: Vec<_> = (0..2_000)
        .map(|i| {
            let mut e = base[i % base.len()].clone();
            e.seq = i as u64 + 1;
            e
        })
        .collect();
    snap.audit = events.into();
    snap.prebuilt = Some(view::build(&snap, now.date_naive()));
    let mut m = Model::new(Mode::Demo, false, false, "bench", now);
    update(&mut m, Msg::Worker(WorkerEvent::Snapshot(Box::new(snap))));
    update(&mut m, key(KeyCode::Char('5')));
    update(&mut m, key(KeyCode::Char('/')));
    for ch in "acme".chars() {
        update(&mut m, key(KeyCode::Char(ch)));
    }
    c.bench_function("audit filter keystroke, 10k VMs, 2k events", |b| {
        b.iter_batched(
            || m.clone(),
            |mut m| {
                update(&mut m, key(KeyCode::Char('x')));
                m
            },
            BatchSize::LargeInput,
        )
    });
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
                apply_batch(&mut m, batch);
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
                    apply_batch(&mut m, batch);
                    m
                },
                BatchSize::LargeInput,
            )
        },
    );
}

criterion_group!(benches, bench, bench_prebuilt, bench_audit);
criterion_main!(benches);
