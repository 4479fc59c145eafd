//! Benchmark of the audit log's evidence (docs/product-rules.md §11): one append through a real
//! sled store with its Merkle tree update, signed checkpoint, witness file append and both
//! flushes; `audit verify` over 100,000 events (target ≤ 1 s: chain, tree, signature and
//! consistency check, [`crabglamp::domain::evidence::verify`]); and inclusion and consistency
//! proofs at 100,000 events (their size is printed: logarithmic).
//!
//! Run with `cargo bench --bench audit` (release build). Timings are reported, not asserted.

use chrono::{TimeZone, Utc};
use crabglamp::domain::audit::{GENESIS_HASH, seal};
use crabglamp::domain::checkpoint::Signer;
use crabglamp::domain::evidence;
use crabglamp::domain::merkle::{Tree, check_consistency, check_inclusion};
use crabglamp::domain::{AuditDraft, AuditEvent, AuditKind, Region, Tier};
use crabglamp::store::{Anchor, Store};
use criterion::{Criterion, criterion_group, criterion_main};
use std::time::Duration;
use uuid::Uuid;

const EVENTS: u64 = 100_000;

fn draft(n: u64) -> AuditDraft {
    AuditDraft {
        at: Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap()
            + chrono::Duration::seconds(n as i64),
        kind: AuditKind::Destroy,
        vm_id: Uuid::from_u128(n as u128),
        vm_name: format!("web-{n}"),
        hetzner_server_id: Some(n as i64),
        tier: Tier::Medium,
        region: Region::Eu,
        account: "acme".into(),
        to_account: None,
        actor: "anna from 192.0.2.1".into(),
        outcome: "ok".into(),
        requested_at: None,
        origin: None,
    }
}

fn log(n: u64) -> Vec<AuditEvent> {
    let mut out: Vec<AuditEvent> = Vec::with_capacity(n as usize);
    for i in 1..=n {
        let prev = out
            .last()
            .map(|e| e.hash.clone())
            .unwrap_or_else(|| GENESIS_HASH.into());
        out.push(seal(draft(i), i, Uuid::from_u128(i as u128), &prev));
    }
    out
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let store = Store::open(&db).unwrap();
    store
        .set_anchor(Anchor {
            key_file: Anchor::key_file_beside(&db),
            key_name: "crabglamp/bench".into(),
            witness_file: dir.path().join("witness.txt"),
            witness_command: None,
        })
        .unwrap();
    let mut n = 0;
    let mut group = c.benchmark_group("audit");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("append + checkpoint + flush (one event)", |b| {
        b.iter(|| {
            n += 1;
            store.append_audit(draft(n)).unwrap()
        })
    });

    let events = log(EVENTS);
    let signer = Signer::from_seed("crabglamp/bench", &[5u8; 32]).unwrap();
    let tree = Tree::from_events(&events);
    let checkpoint = signer.sign(EVENTS, tree.root()).unwrap();
    let older = signer
        .sign(EVENTS / 3, tree.root_at(EVENTS / 3).unwrap())
        .unwrap();
    let key = signer.verifier_key().to_string();
    group.sample_size(10);
    group.bench_function("verify 100,000 events against the newest checkpoint", |b| {
        b.iter(|| {
            let r = evidence::verify(&events, Some(&checkpoint), &key, None);
            assert!(r.ok());
            r
        })
    });
    group.bench_function("verify 100,000 events against checkpoint #33333", |b| {
        b.iter(|| {
            let r = evidence::verify(&events, Some(&older), &key, None);
            assert!(r.ok());
            r
        })
    });
    group.sample_size(100);
    let index = 61_234;
    let inclusion = tree.inclusion_proof(index, EVENTS).unwrap();
    let consistency = tree.consistency_proof(EVENTS / 3, EVENTS).unwrap();
    println!(
        "proof sizes at {EVENTS} events: inclusion {} hashes ({} bytes), consistency from {} {} \
         hashes ({} bytes)",
        inclusion.len(),
        inclusion.len() * 32,
        EVENTS / 3,
        consistency.len(),
        consistency.len() * 32
    );
    group.bench_function("inclusion proof at 100,000 (make + check)", |b| {
        b.iter(|| {
            let p = tree.inclusion_proof(index, EVENTS).unwrap();
            check_inclusion(&p, EVENTS, tree.root(), index, tree.leaf(index).unwrap()).unwrap();
            p
        })
    });
    group.bench_function("consistency proof 33,333 → 100,000 (make + check)", |b| {
        let old = tree.root_at(EVENTS / 3).unwrap();
        b.iter(|| {
            let p = tree.consistency_proof(EVENTS / 3, EVENTS).unwrap();
            check_consistency(&p, EVENTS, tree.root(), EVENTS / 3, old).unwrap();
            p
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
