//! Durability of the audit log (docs/ARCHITECTURE.md "Data": audit appends are flushed to disk before
//! they are reported as recorded; issue 4).
//!
//! The test re-executes its own binary as a child process (selected by an environment
//! variable) that appends audit events in a loop and prints each sequence number to stdout
//! only after `Store::append_audit` returned. The parent kills the child with SIGKILL at a
//! random moment (50–400 ms after it is ready), reopens the database and checks that every
//! sequence number the child reported is there and that the hash chain verifies. 24 rounds, on
//! the same database, so each child also continues a chain left by a killed one.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use crabglamp::domain::{AuditKind, Region, Tier};
use crabglamp::store::{AuditDraft, Store};
use rand::Rng;
use uuid::Uuid;

/// Set in the child: the database directory to append to.
const CHILD_ENV: &str = "CRABGLAMP_AUDIT_DURABILITY_CHILD_DB";
/// The test's own name, to run only it in the child.
const TEST_NAME: &str = "audit_events_reported_before_sigkill_survive_it";
/// Rounds of spawn → append → SIGKILL → reopen → check.
const ROUNDS: usize = 24;
/// The child stops by itself after this long, should the parent be gone.
const CHILD_DEADLINE: Duration = Duration::from_secs(30);
/// What the child prints once the store is open.
const READY: &str = "ready";

fn draft(n: u64) -> AuditDraft {
    AuditDraft {
        at: Utc::now(),
        kind: if n.is_multiple_of(2) {
            AuditKind::Transfer
        } else {
            AuditKind::Destroy
        },
        vm_id: Uuid::new_v4(),
        vm_name: format!("vm-{n}"),
        hetzner_server_id: Some(1000 + n as i64),
        tier: Tier::Small,
        region: Region::Eu,
        account: "acme".into(),
        to_account: n.is_multiple_of(2).then(|| "globex".to_string()),
        actor: "durability-test".into(),
        outcome: "ok".into(),
        requested_at: None,
        origin: None,
    }
}

/// The child: append and report until killed (or the deadline).
fn child(db: &str) {
    use std::io::Write;
    let store = Store::open(std::path::Path::new(db)).expect("child opens the store");
    let mut out = std::io::stdout().lock();
    // On a line of its own: libtest has just printed `test NAME ... ` without a newline.
    writeln!(out, "\n{READY}").unwrap();
    out.flush().unwrap();
    let started = std::time::Instant::now();
    let mut n = 0u64;
    while started.elapsed() < CHILD_DEADLINE {
        n += 1;
        let event = store.append_audit(draft(n)).expect("append");
        // Reported only after append_audit returned (flushed to disk).
        writeln!(out, "{}", event.seq).unwrap();
        out.flush().unwrap();
    }
}

/// Kills the child when dropped (a failed assertion never leaves it running).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn audit_events_reported_before_sigkill_survive_it() {
    if let Ok(db) = std::env::var(CHILD_ENV) {
        child(&db);
        return;
    }
    let tmp = tempfile::TempDir::new().unwrap();
    let db = tmp.path().join("audit.db");
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::rng();
    let mut reported_total: Vec<u64> = Vec::new();
    let mut rounds_with_events = 0;
    for round in 0..ROUNDS {
        let mut child = KillOnDrop(
            Command::new(&exe)
                .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
                .env(CHILD_ENV, &db)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let stdout = child.0.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        // Wait until the child has the store open (libtest prints its own lines first).
        loop {
            match lines.next() {
                Some(Ok(line)) if line.trim() == READY => break,
                Some(Ok(_)) => {}
                other => panic!("round {round}: child ended before it was ready: {other:?}"),
            }
        }
        let reader = std::thread::spawn(move || {
            lines
                .map_while(Result::ok)
                .filter_map(|l| l.trim().parse::<u64>().ok())
                .collect::<Vec<u64>>()
        });
        std::thread::sleep(Duration::from_millis(rng.random_range(50..=400)));
        child.0.kill().unwrap(); // SIGKILL on Unix
        let status = child.0.wait().unwrap();
        assert!(!status.success(), "round {round}: the child was killed");
        let reported = reader.join().unwrap();
        if !reported.is_empty() {
            rounds_with_events += 1;
        }
        reported_total.extend(&reported);

        let store = Store::open(&db).unwrap();
        let events = store.audit_events().unwrap();
        let present: std::collections::HashSet<u64> = events.iter().map(|e| e.seq).collect();
        for seq in &reported_total {
            assert!(
                present.contains(seq),
                "round {round}: event {seq} was reported recorded but is missing"
            );
        }
        assert_eq!(
            store.verify_audit(),
            Ok(events.len() as u64),
            "round {round}: the chain verifies"
        );
        drop(store);
    }
    // The child really appended in most rounds (it is killed at least 50 ms after it is
    // ready), so the check above covered events written right up to the kill.
    assert!(
        rounds_with_events >= ROUNDS / 2,
        "only {rounds_with_events} of {ROUNDS} rounds appended anything"
    );
    let mut sorted = reported_total.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        reported_total.len(),
        "no sequence number twice"
    );
}
