//! Render and filter cost with 10,000 VMs (issue 3 "Measured, in a benchmark"): one frame of the
//! VM pane at 200×50 (target ≤ 2 ms; only visible rows are built) and one filter keystroke
//! (target ≤ 5 ms). Run with `cargo bench --bench render`.

use chrono::{TimeZone, Utc};
use crabglamp::app::{Model, Msg, update};
use crabglamp::protocol::{Mode, Snapshot, WorkerEvent};
use crabglamp::ui::render;
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

criterion_group!(benches, bench);
criterion_main!(benches);
