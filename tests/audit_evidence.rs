//! The audit log as evidence, on a real store, offline: each tampering of the matrix,
//! done directly in the sled files as someone with write access to the store would, is detected
//! against the checkpoints in the witness file (outside the store directory) with the right
//! finding; honest appends, a checkpoint kept elsewhere and a migrated chain-only log verify;
//! a failing witness never loses the event and is retried.

mod common;

use common::harness::raw_open;

use chrono::{TimeZone, Utc};
use crabglamp::domain::audit::{GENESIS_HASH, compute_hash};
use crabglamp::domain::evidence::{FindingKind, Report};
use crabglamp::domain::{AuditEvent, AuditKind, Region, Tier};
use crabglamp::store::{self, Anchor, AuditDraft, Store};
use std::path::{Path, PathBuf};
use uuid::Uuid;

fn draft(n: u32, actor: &str) -> AuditDraft {
    AuditDraft {
        at: Utc.with_ymd_and_hms(2026, 11, n, 9, 0, 0).unwrap(),
        kind: if n.is_multiple_of(2) {
            AuditKind::Transfer
        } else {
            AuditKind::Destroy
        },
        vm_id: Uuid::from_u128(n as u128),
        vm_name: format!("web-{n}"),
        hetzner_server_id: Some(40 + n as i64),
        tier: Tier::Small,
        region: Region::Eu,
        account: "acme".into(),
        to_account: (n.is_multiple_of(2)).then(|| "globex".to_string()),
        actor: actor.into(),
        outcome: "ok".into(),
        requested_at: None,
        origin: None,
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    db: PathBuf,
    anchor: Anchor,
}

impl Fixture {
    /// A store with `n` events appended through the store, a checkpoint after each.
    fn new(n: u32) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("data").join("live.db");
        let anchor = Anchor {
            key_file: Anchor::key_file_beside(&db),
            key_name: "crabglamp/test".into(),
            witness_file: dir.path().join("witness").join("live.txt"),
            witness_command: None,
        };
        let f = Fixture {
            _dir: dir,
            db,
            anchor,
        };
        let store = f.open();
        for i in 1..=n {
            store.append_audit(draft(i, "ops")).unwrap();
        }
        f
    }

    fn open(&self) -> Store {
        let store = Store::open(&self.db).unwrap();
        store.set_anchor(self.anchor.clone()).unwrap();
        store
    }

    fn key(&self) -> String {
        store::load_key(&self.anchor.key_file)
            .unwrap()
            .unwrap()
            .verifier_key()
            .to_string()
    }

    /// `crabglamp audit verify`: the store's events against the witness file's newest
    /// checkpoint, the file's earlier ones naming the first rewritten event. The store is
    /// opened without its anchor: verifying publishes nothing.
    fn verify(&self) -> Report {
        let store = Store::open(&self.db).unwrap();
        let history = store::read_witness(&self.anchor.witness_file).unwrap();
        let newest = store::newest_checkpoint(&self.anchor.witness_file).unwrap();
        store
            .verify_evidence(newest.as_deref(), &self.key(), history.as_deref())
            .unwrap()
    }

    /// Edits the raw sled trees with the store closed.
    fn tamper(&self, edit: impl FnOnce(&sled::Tree, &sled::Tree)) {
        let db = raw_open(&self.db);
        let audit = db.open_tree("audit").unwrap();
        let meta = db.open_tree("meta").unwrap();
        edit(&audit, &meta);
        db.flush().unwrap();
    }
}

fn read(tree: &sled::Tree, seq: u64) -> AuditEvent {
    serde_json::from_slice(&tree.get(seq.to_be_bytes()).unwrap().unwrap()).unwrap()
}

fn write(tree: &sled::Tree, event: &AuditEvent) {
    tree.insert(event.seq.to_be_bytes(), serde_json::to_vec(event).unwrap())
        .unwrap();
}

/// Renumbers from 1 and re-chains every event, as a careful forger would.
fn rewrite_all(tree: &sled::Tree, mut events: Vec<AuditEvent>) {
    tree.clear().unwrap();
    let mut prev = GENESIS_HASH.to_string();
    for (i, e) in events.iter_mut().enumerate() {
        e.seq = i as u64 + 1;
        e.prev_hash = prev.clone();
        e.hash = compute_hash(e);
        prev = e.hash.clone();
        write(tree, e);
    }
}

fn all(tree: &sled::Tree) -> Vec<AuditEvent> {
    tree.iter()
        .map(|kv| serde_json::from_slice(&kv.unwrap().1).unwrap())
        .collect()
}

fn findings(r: &Report) -> Vec<(Option<u64>, FindingKind)> {
    r.findings.iter().map(|f| (f.seq, f.kind)).collect()
}

fn messages(r: &Report) -> Vec<String> {
    r.findings.iter().map(|f| f.to_string()).collect()
}

#[test]
fn an_honest_log_verifies_against_its_witnessed_checkpoint() {
    let f = Fixture::new(5);
    let r = f.verify();
    assert!(r.ok(), "{:?}", r.findings);
    assert_eq!(r.events, 5);
    assert_eq!(r.checkpoint.as_ref().map(|c| c.size), Some(5));
    assert_eq!(r.consistency_proof_hashes, Some(0));
    // One checkpoint per append, outside the store directory; the key is 0600 in a 0700 dir.
    let witness = std::fs::read_to_string(&f.anchor.witness_file).unwrap();
    assert_eq!(
        crabglamp::domain::checkpoint::split_notes(&witness).len(),
        5
    );
    assert!(!f.anchor.witness_file.starts_with(&f.db));
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&f.anchor.key_file), 0o600);
    assert_eq!(mode(f.anchor.key_file.parent().unwrap()), 0o700);
    assert!(!f.anchor.key_file.starts_with(&f.db));
}

#[test]
fn edit_one_field() {
    let f = Fixture::new(5);
    f.tamper(|audit, _| {
        let mut e = read(audit, 3);
        e.draft.account = "acmf".into();
        write(audit, &e);
    });
    let r = f.verify();
    assert_eq!(
        findings(&r),
        vec![
            (Some(3), FindingKind::Edited),
            (Some(3), FindingKind::Rewritten)
        ]
    );
    assert!(
        messages(&r)[0].starts_with("event 3: was modified"),
        "{:?}",
        messages(&r)
    );
}

#[test]
fn edit_and_rehash_one_event() {
    let f = Fixture::new(5);
    f.tamper(|audit, _| {
        let mut e = read(audit, 3);
        e.draft.outcome = "failed".into();
        e.hash = compute_hash(&e);
        write(audit, &e);
    });
    let r = f.verify();
    assert_eq!(
        findings(&r),
        vec![
            (Some(3), FindingKind::Rewritten),
            (Some(4), FindingKind::Relinked)
        ]
    );
    assert_eq!(
        messages(&r)[0],
        "event 3: is not the event checkpoint #3 signed: history was rewritten from this event on"
    );
}

#[test]
fn delete_the_last_event_and_lower_the_last_sequence_number() {
    let f = Fixture::new(5);
    f.tamper(|audit, meta| {
        audit.remove(5u64.to_be_bytes()).unwrap();
        meta.insert("audit.last_seq", "4").unwrap();
    });
    let r = f.verify();
    assert_eq!(findings(&r), vec![(Some(5), FindingKind::Truncated)]);
    assert_eq!(
        messages(&r),
        vec![
            "event 5: is missing: the log has 4 events but checkpoint #5 signed 5 (the log was \
             truncated)"
        ]
    );
}

#[test]
fn delete_a_middle_event_renumber_and_rehash_everything() {
    let f = Fixture::new(5);
    f.tamper(|audit, meta| {
        let mut events = all(audit);
        events.remove(2);
        rewrite_all(audit, events);
        meta.insert("audit.last_seq", "4").unwrap();
    });
    let r = f.verify();
    assert_eq!(
        findings(&r),
        vec![
            (Some(3), FindingKind::Rewritten),
            (Some(5), FindingKind::Truncated)
        ]
    );
}

#[test]
fn reorder_two_events() {
    // Moved as stored (their sequence numbers travel with them): out of order.
    let f = Fixture::new(5);
    f.tamper(|audit, _| {
        let (a, b) = (read(audit, 2), read(audit, 3));
        audit
            .insert(2u64.to_be_bytes(), serde_json::to_vec(&b).unwrap())
            .unwrap();
        audit
            .insert(3u64.to_be_bytes(), serde_json::to_vec(&a).unwrap())
            .unwrap();
    });
    let r = f.verify();
    assert!(
        findings(&r).contains(&(Some(2), FindingKind::OutOfOrder)),
        "{:?}",
        r.findings
    );
    assert!(
        findings(&r).contains(&(Some(2), FindingKind::Rewritten)),
        "{:?}",
        r.findings
    );
    // Swapped, renumbered and re-chained: the chain is intact, the tree is not.
    let f = Fixture::new(5);
    f.tamper(|audit, _| {
        let mut events = all(audit);
        events.swap(1, 2);
        rewrite_all(audit, events);
    });
    let r = f.verify();
    assert_eq!(findings(&r), vec![(Some(2), FindingKind::Rewritten)]);
}

#[test]
fn replace_the_store_with_a_fresh_log_of_the_same_length() {
    let f = Fixture::new(5);
    std::fs::remove_dir_all(&f.db).unwrap();
    {
        // A fresh store, written through the store API (no anchor: the forger has no witness).
        let store = Store::open(&f.db).unwrap();
        for i in 1..=5 {
            store.append_audit(draft(i, "mallory")).unwrap();
        }
    }
    let r = f.verify();
    assert_eq!(findings(&r), vec![(Some(1), FindingKind::Rewritten)]);
    // Opening it with the anchor signs nothing for it: it does not extend the witness.
    let store = f.open();
    let state = store.witness_state().unwrap();
    assert_eq!(
        state.error.as_deref(),
        Some(
            "not signed: the log does not extend the witnessed checkpoint #5 (its history was rewritten)"
        )
    );
}

#[test]
fn truncate_to_zero() {
    let f = Fixture::new(5);
    f.tamper(|audit, meta| {
        audit.clear().unwrap();
        meta.insert("audit.last_seq", "0").unwrap();
    });
    let r = f.verify();
    assert_eq!(findings(&r), vec![(Some(1), FindingKind::Truncated)]);
    assert_eq!(
        messages(&r),
        vec![
            "event 1: is missing, and so are the events up to 5: the log has 0 events but \
             checkpoint #5 signed 5 (the log was truncated)"
        ]
    );
}

#[test]
fn appends_after_a_checkpoint_kept_elsewhere_are_consistent_with_it() {
    let f = Fixture::new(3);
    let kept = store::newest_checkpoint(&f.anchor.witness_file)
        .unwrap()
        .unwrap();
    {
        let store = f.open();
        for i in 4..=7 {
            store.append_audit(draft(i, "ops")).unwrap();
        }
    }
    let store = Store::open(&f.db).unwrap();
    let r = store.verify_evidence(Some(&kept), &f.key(), None).unwrap();
    assert!(r.ok(), "{:?}", r.findings);
    assert_eq!(r.events, 7);
    assert_eq!(r.checkpoint.as_ref().map(|c| c.size), Some(3));
    assert_eq!(r.consistency_proof_hashes, Some(4));
    // The stored tree and the events agree on every root.
    let tree = crabglamp::domain::merkle::Tree::from_events(&store.audit_events().unwrap());
    for size in 0..=7 {
        assert_eq!(
            store.audit_tree_root(size).unwrap(),
            tree.root_at(size).unwrap()
        );
    }
    // The same checkpoint against another key is refused.
    let other =
        crabglamp::domain::checkpoint::Signer::from_seed("crabglamp/test", &[9; 32]).unwrap();
    let r = store
        .verify_evidence(Some(&kept), other.verifier_key(), None)
        .unwrap();
    assert_eq!(findings(&r), vec![(None, FindingKind::Checkpoint)]);
}

#[test]
fn a_chain_only_store_is_migrated_once_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let events = {
        let store = Store::open(&db).unwrap();
        for i in 1..=4 {
            store.append_audit(draft(i, "ops")).unwrap();
        }
        store.audit_events().unwrap()
    };
    // Back to the format before the tree: no stored hashes, no format marker.
    {
        let raw = raw_open(&db);
        raw.drop_tree("audit_tree").unwrap();
        raw.open_tree("meta").unwrap().remove("audit.tree").unwrap();
        raw.flush().unwrap();
    }
    let anchor = Anchor {
        key_file: Anchor::key_file_beside(&db),
        key_name: "crabglamp/old".into(),
        witness_file: dir.path().join("witness.txt"),
        witness_command: None,
    };
    let root = {
        let store = Store::open(&db).unwrap();
        // The event bytes and order did not change.
        assert_eq!(store.audit_events().unwrap(), events);
        // The anchor publishes the first checkpoint at once.
        let signer = store.set_anchor(anchor.clone()).unwrap();
        let newest = store::newest_checkpoint(&anchor.witness_file)
            .unwrap()
            .unwrap();
        let r = store
            .verify_evidence(Some(&newest), signer.verifier_key(), None)
            .unwrap();
        assert!(r.ok(), "{:?}", r.findings);
        assert_eq!(r.checkpoint.map(|c| c.size), Some(4));
        store.audit_tree_root(4).unwrap()
    };
    // Idempotent: opening again changes nothing and publishes nothing more.
    let store = Store::open(&db).unwrap();
    store.set_anchor(anchor.clone()).unwrap();
    assert_eq!(store.audit_tree_root(4).unwrap(), root);
    let text = std::fs::read_to_string(&anchor.witness_file).unwrap();
    assert_eq!(crabglamp::domain::checkpoint::split_notes(&text).len(), 1);
    store.append_audit(draft(5, "ops")).unwrap();
    let text = std::fs::read_to_string(&anchor.witness_file).unwrap();
    assert_eq!(crabglamp::domain::checkpoint::split_notes(&text).len(), 2);
}

#[test]
fn a_failing_witness_command_keeps_the_event_and_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("failed-once");
    let seen = dir.path().join("seen.txt");
    let db = dir.path().join("live.db");
    let anchor = Anchor {
        key_file: Anchor::key_file_beside(&db),
        key_name: "crabglamp/test".into(),
        witness_file: dir.path().join("witness.txt"),
        // Fails the first time (exit 1), then copies what it gets.
        witness_command: Some(format!(
            "if [ -e {f} ]; then cat >> {s}; else touch {f}; echo 'remote down' >&2; exit 1; fi",
            f = flag.display(),
            s = seen.display()
        )),
    };
    let store = Store::open(&db).unwrap();
    store.set_anchor(anchor.clone()).unwrap();
    let first = store.append_audit(draft(1, "ops")).unwrap();
    assert_eq!(store.audit_events().unwrap(), vec![first]);
    let state = store.witness_state().unwrap();
    assert_eq!(
        state.error.as_deref(),
        Some("the witness command exited with status 1: remote down")
    );
    // The dashboard shows it.
    let status = store.audit_status(&store.audit_events().unwrap()).unwrap();
    assert_eq!(status.checkpoint, Some(1));
    assert_eq!(status.problem, None);
    assert_eq!(status.witness_error, state.error);
    // The next append retries and succeeds; the command got the newest checkpoint.
    store.append_audit(draft(2, "ops")).unwrap();
    assert_eq!(store.witness_state().unwrap().error, None);
    let got = std::fs::read_to_string(&seen).unwrap();
    assert_eq!(got, store.witness_state().unwrap().checkpoint.unwrap());
    assert!(got.starts_with("crabglamp/test\n2\n"), "{got}");
}

#[test]
fn an_unwritable_witness_file_keeps_the_event_and_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    // A read-only file even for root: the kernel refuses writes to /proc/version.
    let anchor = Anchor {
        key_file: Anchor::key_file_beside(&db),
        key_name: "crabglamp/test".into(),
        witness_file: PathBuf::from("/proc/version"),
        witness_command: None,
    };
    let store = Store::open(&db).unwrap();
    store.set_anchor(anchor.clone()).unwrap();
    store.append_audit(draft(1, "ops")).unwrap();
    assert_eq!(store.audit_events().unwrap().len(), 1);
    let error = store.witness_state().unwrap().error.unwrap();
    assert!(
        error.starts_with("the witness file /proc/version cannot be written: "),
        "{error}"
    );
    // A witness whose directory cannot be made (a file is in the way), then can.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "").unwrap();
    let witness = blocker.join("witness.txt");
    store
        .set_anchor(Anchor {
            witness_file: witness.clone(),
            ..anchor
        })
        .unwrap();
    store.append_audit(draft(2, "ops")).unwrap();
    let error = store.witness_state().unwrap().error.unwrap();
    assert!(error.starts_with("the witness file "), "{error}");
    assert_eq!(store.audit_events().unwrap().len(), 2);
    let status = store.audit_status(&store.audit_events().unwrap()).unwrap();
    assert_eq!(status.witness_error.as_deref(), Some(error.as_str()));
    std::fs::remove_file(&blocker).unwrap();
    store.append_audit(draft(3, "ops")).unwrap();
    assert_eq!(store.witness_state().unwrap().error, None);
    let newest = store::newest_checkpoint(&witness).unwrap().unwrap();
    assert!(newest.starts_with("crabglamp/test\n3\n"), "{newest}");
}

#[test]
fn a_deleted_checkpoint_key_is_not_replaced_by_a_new_one() {
    let f = Fixture::new(3);
    let before = f.key();
    std::fs::remove_file(&f.anchor.key_file).unwrap();
    let store = Store::open(&f.db).unwrap();
    let err = store.set_anchor(f.anchor.clone()).unwrap_err().to_string();
    assert!(
        err.contains("is missing, but this store has signed checkpoints with it: restore the key"),
        "{err}"
    );
    assert!(!f.anchor.key_file.exists(), "no new key was made");
    drop(store);
    // A fresh store still gets its first key.
    let g = Fixture::new(0);
    assert!(g.anchor.key_file.exists());
    assert_ne!(g.key(), before);
}
