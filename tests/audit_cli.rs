//! The real binary's audit evidence commands on a live-mode store (offline: no audit command
//! talks to Hetzner): `audit prove --json` checked by an independent Python verifier
//! (scripts/verify_audit_proof.py, standard library + `cryptography`), `audit key`, `audit
//! verify` against the witness file and `--checkpoint`, and an export verified without the
//! store.

mod common;

use common::harness::raw_open;

use chrono::{TimeZone, Utc};
use crabglamp::domain::{AuditKind, Region, Tier};
use crabglamp::store::{Anchor, AuditDraft, Store};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use uuid::Uuid;

const EVENTS: u32 = 13;

fn draft(n: u32) -> AuditDraft {
    AuditDraft {
        at: Utc.with_ymd_and_hms(2026, 11, n, 9, 0, 0).unwrap(),
        kind: AuditKind::Destroy,
        vm_id: Uuid::from_u128(n as u128),
        vm_name: format!("web-{n}"),
        hetzner_server_id: Some(n as i64),
        tier: Tier::Large,
        region: Region::Us,
        account: "acme".into(),
        to_account: None,
        actor: "anna".into(),
        outcome: "ok".into(),
        requested_at: None,
        origin: None,
    }
}

/// A data directory whose live store holds [`EVENTS`] events, signed with the key and witness
/// file the binary uses by default (`audit-keys/live.key`, `live-audit-checkpoints.txt`).
fn data_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = data.join("live.db");
    let store = Store::open(&db).unwrap();
    store
        .set_anchor(Anchor {
            key_file: Anchor::key_file_beside(&db),
            key_name: "crabglamp/cli-test".into(),
            witness_file: data.join("live-audit-checkpoints.txt"),
            witness_command: None,
        })
        .unwrap();
    for i in 1..=EVENTS {
        store.append_audit(draft(i)).unwrap();
    }
    (dir, data)
}

fn run(home: &Path, data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crabglamp"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("HCLOUD_TOKEN", "offline-token")
        .env("HCLOUD_ENDPOINT", "http://127.0.0.1:9/v1")
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn python(script_args: &[&Path]) -> Output {
    Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/verify_audit_proof.py"))
        .args(script_args)
        .output()
        .expect("python3 (with the cryptography package) runs the independent verifier")
}

#[test]
fn an_independent_python_verifier_accepts_the_signature_and_inclusion_proofs() {
    let (dir, data) = data_dir();
    let key = stdout(&run(dir.path(), &data, &["audit", "key"]));
    let key = key.trim();
    assert!(key.starts_with("crabglamp/cli-test+"), "{key}");
    assert_eq!(key.split('+').nth(1).map(str::len), Some(8));
    for seq in [1u32, 6, 12, 13] {
        let json = stdout(&run(
            dir.path(),
            &data,
            &["audit", "prove", &seq.to_string(), "--json"],
        ));
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["seq"], seq);
        assert_eq!(value["treeSize"], EVENTS);
        assert_eq!(value["key"], key);
        let file = dir.path().join(format!("proof-{seq}.json"));
        std::fs::write(&file, &json).unwrap();
        let out = python(&[&file]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("ok: event {seq} is in checkpoint #13 signed by crabglamp/cli-test\n"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success());
        // A proof for another leaf, or another event's bytes, is refused.
        let mut bad = value.clone();
        bad["leafIndex"] = serde_json::json!((seq % EVENTS) as u64);
        std::fs::write(&file, bad.to_string()).unwrap();
        let out = python(&[&file]);
        assert_eq!(out.status.code(), Some(1));
        // Another leaf's position: the path leads elsewhere or has the wrong length.
        let said = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            said == "FAIL: inclusion proof does not lead to the signed root\n"
                || said == "FAIL: inclusion proof too long\n"
                || said == "FAIL: inclusion proof too short\n",
            "{said}"
        );
    }
    // A checkpoint whose size was edited no longer carries a valid signature.
    let json = stdout(&run(dir.path(), &data, &["audit", "prove", "2", "--json"]));
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let edited = value["checkpoint"]
        .as_str()
        .unwrap()
        .replacen("\n13\n", "\n12\n", 1);
    value["checkpoint"] = serde_json::json!(edited);
    let file = dir.path().join("edited.json");
    std::fs::write(&file, value.to_string()).unwrap();
    let out = python(&[&file]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "FAIL: checkpoint signature does not verify\n"
    );
}

#[test]
fn verify_reports_tampering_and_checks_checkpoints_kept_elsewhere() {
    let (dir, data) = data_dir();
    assert_eq!(
        stdout(&run(dir.path(), &data, &["audit", "verify"])),
        "audit log verified: 13 events, hash chain intact, consistent with checkpoint #13 \
         signed by crabglamp/cli-test\n"
    );
    // A checkpoint kept elsewhere, and a pinned key passed as a file.
    let kept = dir.path().join("kept.txt");
    let witness = std::fs::read_to_string(data.join("live-audit-checkpoints.txt")).unwrap();
    let notes = crabglamp::domain::checkpoint::split_notes(&witness);
    std::fs::write(&kept, notes[4]).unwrap();
    let key_file = dir.path().join("key.pub");
    std::fs::write(
        &key_file,
        stdout(&run(dir.path(), &data, &["audit", "key"])),
    )
    .unwrap();
    let out = run(
        dir.path(),
        &data,
        &[
            "audit",
            "verify",
            "--checkpoint",
            kept.to_str().unwrap(),
            "--key",
            key_file.to_str().unwrap(),
        ],
    );
    assert_eq!(
        stdout(&out),
        "audit log verified: 13 events, hash chain intact, consistent with checkpoint #5 \
         signed by crabglamp/cli-test\n"
    );
    // An export with its checkpoint verifies without the store.
    let export = stdout(&run(
        dir.path(),
        &data,
        &["audit", "export", "--format", "jsonl", "--with-checkpoint"],
    ));
    assert_eq!(export.lines().count(), 14);
    let file = dir.path().join("export.jsonl");
    std::fs::write(&file, &export).unwrap();
    let out = run(
        dir.path(),
        &dir.path().join("elsewhere"),
        &["audit", "verify", "--export", file.to_str().unwrap()],
    );
    assert!(
        stdout(&out).starts_with(
            "audit log verified: 13 events, hash chain intact, consistent with checkpoint #13 \
             signed by crabglamp/cli-test (key crabglamp/cli-test+"
        ),
        "{}",
        stdout(&out)
    );

    // Delete the newest event and lower the recorded count: exit 1 naming event 13.
    {
        let db = raw_open(&data.join("live.db"));
        db.open_tree("audit")
            .unwrap()
            .remove(13u64.to_be_bytes())
            .unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("audit.last_seq", "12")
            .unwrap();
        db.flush().unwrap();
    }
    let out = run(dir.path(), &data, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "crabglamp: audit log does not verify (1 problem):\n  event 13: is missing: the log \
         has 12 events but checkpoint #13 signed 13 (the log was truncated)\n"
    );
    // Still consistent with the checkpoint kept at 5.
    let out = run(
        dir.path(),
        &data,
        &["audit", "verify", "--checkpoint", kept.to_str().unwrap()],
    );
    assert_eq!(
        stdout(&out),
        "audit log verified: 12 events, hash chain intact, consistent with checkpoint #5 \
         signed by crabglamp/cli-test\n"
    );
}
