//! Verifying the audit log as evidence (docs/product-rules.md §11): the events' own hash chain
//! (src/domain/audit.rs), the RFC 6962 Merkle tree over them (src/domain/merkle.rs) and a signed
//! checkpoint kept outside the store (src/domain/checkpoint.rs).
//!
//! [`verify`] is pure: it takes the events as received (from the store, an export, or a socket),
//! the checkpoint text and the verifier key, and returns a [`Report`] whose findings each name
//! the sequence number and what is wrong. Nothing here opens the store, so a client that
//! received events from a remote service verifies them the same way.

use super::audit::{GENESIS_HASH, compute_hash};
use super::checkpoint::{self, Verified};
use super::merkle::{Hash, Tree, check_consistency};
use super::types::AuditEvent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// At most this many findings are listed; the rest are counted in one last finding.
pub const MAX_FINDINGS: usize = 50;

/// What kind of problem a [`Finding`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// The event's content does not match its stored hash: a field was edited.
    Edited,
    /// The event's `prev_hash` is not the previous event's hash: an earlier event was edited
    /// and re-hashed, or events were moved.
    Relinked,
    /// A sequence number is absent from the middle of the log.
    Missing,
    /// Events are not in sequence order, or a sequence number appears twice.
    OutOfOrder,
    /// The log is shorter than a signed checkpoint: events were removed from its end.
    Truncated,
    /// The root of the log's first N events differs from the one a checkpoint of size N signed:
    /// history was rewritten (even if the chain is intact).
    Rewritten,
    /// The checkpoint itself: unreadable, not signed by the key, another origin.
    Checkpoint,
    /// The store's own record of the event count disagrees with the events.
    NotRecorded,
}

/// One problem: the first sequence number it concerns (when one is known) and the words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The sequence number concerned, `None` for the checkpoint itself.
    pub seq: Option<u64>,
    /// The kind of problem.
    pub kind: FindingKind,
    /// What is wrong, in words for the operator.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.seq {
            Some(seq) => write!(f, "event {seq}: {}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

/// The result of [`verify`].
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Number of events checked.
    pub events: u64,
    /// RFC 6962 root of all the events, in the order given.
    pub root: Hash,
    /// The checkpoint verified against, when its signature verified.
    pub checkpoint: Option<Verified>,
    /// Number of hashes in the consistency proof from the checkpoint's size to now (0 when the
    /// checkpoint covers the whole log), when one was checked.
    pub consistency_proof_hashes: Option<usize>,
    /// Every problem found, by sequence number (checkpoint problems first).
    pub findings: Vec<Finding>,
}

impl Report {
    /// True when nothing was found.
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }

    /// One line for a successful verification, e.g. `audit log verified: 12 events, hash chain
    /// intact, consistent with checkpoint #12 signed by crabglamp/ops`.
    pub fn summary(&self) -> String {
        let noun = if self.events == 1 { "event" } else { "events" };
        let mut out = format!(
            "audit log verified: {} {noun}, hash chain intact",
            self.events
        );
        match &self.checkpoint {
            Some(c) => out.push_str(&format!(
                ", consistent with checkpoint #{} signed by {}",
                c.size, c.key_name
            )),
            None => out.push_str(", no signed checkpoint checked"),
        }
        out
    }
}

/// What the dashboard shows about the log's evidence (the Audit pane's title): the checkpoint
/// it was verified against, the first problem, or a failing witness.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuditStatus {
    /// Size (`#N`) of the checkpoint the log was verified against.
    pub checkpoint: Option<u64>,
    /// When that checkpoint was signed by this store (UTC), when known.
    pub signed_at: Option<DateTime<Utc>>,
    /// The first finding, in words, when verification failed.
    pub problem: Option<String>,
    /// The last failure to publish a checkpoint (witness file or command), retried with the
    /// next append; `None` when the last publication succeeded.
    pub witness_error: Option<String>,
    /// The newest published checkpoint (signed-note text), for clients that cannot read the
    /// witness file (attached to `crabglamp serve`): what their `audit verify` and `audit
    /// prove` check against unless given one kept elsewhere.
    #[serde(default)]
    pub checkpoint_text: Option<String>,
    /// The store's verifier key (`name+hash+base64 key`, public).
    #[serde(default)]
    pub key: Option<String>,
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// Checks the events' sequence numbers and hash chain; every problem found, by position.
fn chain_findings(events: &[AuditEvent]) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut count: BTreeMap<u64, usize> = BTreeMap::new();
    for e in events {
        *count.entry(e.seq).or_default() += 1;
    }
    for (&seq, &n) in &count {
        if n > 1 {
            out.push(Finding {
                seq: Some(seq),
                kind: FindingKind::OutOfOrder,
                message: format!("appears {n} times"),
            });
        }
    }
    // Gaps in 1..=max, as ranges.
    let max = count.keys().next_back().copied().unwrap_or(0);
    let mut missing_from: Option<u64> = None;
    for seq in 1..=max + 1 {
        let present = seq > max || count.contains_key(&seq);
        match (present, missing_from) {
            (false, None) => missing_from = Some(seq),
            (true, Some(from)) => {
                let message = if from + 1 == seq {
                    "is missing".to_string()
                } else {
                    format!("is missing, and so are the events up to {}", seq - 1)
                };
                out.push(Finding {
                    seq: Some(from),
                    kind: FindingKind::Missing,
                    message,
                });
                missing_from = None;
            }
            _ => {}
        }
        if seq > max {
            break;
        }
    }
    for (i, e) in events.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|p| events.get(p));
        if let Some(p) = prev
            && e.seq < p.seq
        {
            out.push(Finding {
                seq: Some(e.seq),
                kind: FindingKind::OutOfOrder,
                message: format!("is out of order: it comes after event {}", p.seq),
            });
        }
        let actual = compute_hash(e);
        if e.hash != actual {
            out.push(Finding {
                seq: Some(e.seq),
                kind: FindingKind::Edited,
                message: format!(
                    "was modified: its content hashes to {}, not to its stored hash {}",
                    short(&actual),
                    short(&e.hash)
                ),
            });
            continue;
        }
        let expected_prev = match prev {
            None if e.seq == 1 => Some(GENESIS_HASH),
            Some(p) if p.seq + 1 == e.seq => Some(p.hash.as_str()),
            _ => None,
        };
        if let Some(expected) = expected_prev
            && e.prev_hash != expected
        {
            let what = if e.seq == 1 {
                "the first event does not start the chain".to_string()
            } else {
                format!(
                    "does not link to event {} (prev_hash {}, event {} has hash {}): event {} \
                     was changed and re-hashed, or events were moved",
                    e.seq - 1,
                    short(&e.prev_hash),
                    e.seq - 1,
                    short(expected),
                    e.seq - 1
                )
            };
            out.push(Finding {
                seq: Some(e.seq),
                kind: FindingKind::Relinked,
                message: what,
            });
        }
    }
    out
}

/// Among the signed notes of `history` (a witness file's text), the first event that differs:
/// binary search for the smallest checkpoint size whose signed root differs from the events'
/// (notes that do not verify are skipped). Returns (first sequence number that may differ,
/// the size of the checkpoint that first disagrees).
fn locate_rewrite(tree: &Tree, key: &str, history: &str, upto: u64) -> Option<(u64, u64)> {
    let mut notes: Vec<(u64, &str)> = checkpoint::split_notes(history)
        .into_iter()
        .filter_map(|n| Some((checkpoint::claimed_size(n)?, n)))
        .filter(|(s, _)| *s >= 1 && *s <= upto)
        .collect();
    notes.sort_by_key(|(s, _)| *s);
    notes.dedup_by_key(|(s, _)| *s);
    // Invariant: sizes below `good` match (or are unknown), the note at `bad` differs.
    let mut good: u64 = 0;
    let mut bad: Option<u64> = None;
    let (mut lo, mut hi) = (0usize, notes.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let (size, text) = notes[mid];
        match checkpoint::verify(text, key) {
            Ok(v) if v.size == size => {
                if tree.root_at(size).ok() == Some(v.root) {
                    good = good.max(size);
                    lo = mid + 1;
                } else {
                    bad = Some(size);
                    hi = mid;
                }
            }
            _ => {
                notes.remove(mid);
                hi -= 1;
            }
        }
    }
    bad.map(|b| (good + 1, b))
}

/// The newest checkpoint in `history` of at most `size` events whose signature verifies.
fn newest_within(key: &str, history: &str, size: u64) -> Option<Verified> {
    checkpoint::split_notes(history)
        .into_iter()
        .rev()
        .filter(|n| checkpoint::claimed_size(n).is_some_and(|s| s <= size))
        .find_map(|n| checkpoint::verify(n, key).ok())
}

/// The finding for a log whose first `m` events are not the ones checkpoint `#m` signed,
/// naming the first differing event when `history` allows.
fn rewritten(tree: &Tree, key: &str, history: Option<&str>, m: u64) -> Finding {
    let located = history.and_then(|h| locate_rewrite(tree, key, h, m));
    let (seq, message) = match located {
        Some((first, at)) if first == at => (
            first,
            format!(
                "is not the event checkpoint #{at} signed: history was rewritten from this \
                 event on"
            ),
        ),
        Some((first, at)) => (
            first,
            format!(
                "the events from here to {at} are not the ones checkpoint #{at} signed: \
                 history was rewritten"
            ),
        ),
        None => (
            1,
            format!(
                "the log's first {m} events are not the ones checkpoint #{m} signed: history \
                 was rewritten"
            ),
        ),
    };
    Finding {
        seq: Some(seq),
        kind: FindingKind::Rewritten,
        message,
    }
}

/// Verifies `events` (oldest first, as stored or received) against the signed `checkpoint`
/// text (one signed note; `None`: the chain and tree only) and the verifier `key` (note
/// verifier form `<name>+<hex key hash>+<base64(0x01 ‖ key)>`).
///
/// Finds: an edited event ([`FindingKind::Edited`]), an edited and re-hashed one
/// ([`FindingKind::Relinked`] at the next event), gaps, duplicates and reordering, a log shorter
/// than the checkpoint ([`FindingKind::Truncated`]), a log whose first N events are not the N
/// the checkpoint signed ([`FindingKind::Rewritten`], checked with an RFC 6962 consistency
/// proof from the checkpoint's size to the log's), and a checkpoint that does not verify.
/// `history` (optional: the witness file's text, many checkpoints) names the first rewritten
/// event.
pub fn verify(
    events: &[AuditEvent],
    checkpoint: Option<&str>,
    key: &str,
    history: Option<&str>,
) -> Report {
    let tree = Tree::from_events(events);
    let n = tree.size();
    let mut findings = chain_findings(events);
    let mut report = Report {
        events: n,
        root: tree.root(),
        checkpoint: None,
        consistency_proof_hashes: None,
        findings: Vec::new(),
    };
    let mut head = Vec::new();
    if let Some(text) = checkpoint {
        match checkpoint::verify(text, key) {
            Err(e) => head.push(Finding {
                seq: None,
                kind: FindingKind::Checkpoint,
                message: e.0,
            }),
            Ok(v) => {
                let m = v.size;
                if m > n {
                    let message = if m == n + 1 {
                        format!(
                            "is missing: the log has {n} events but checkpoint #{m} signed {m} \
                             (the log was truncated)"
                        )
                    } else {
                        format!(
                            "is missing, and so are the events up to {m}: the log has {n} \
                             events but checkpoint #{m} signed {m} (the log was truncated)"
                        )
                    };
                    findings.push(Finding {
                        seq: Some(n + 1),
                        kind: FindingKind::Truncated,
                        message,
                    });
                    // What is left may be rewritten too: check it against the newest earlier
                    // checkpoint it should extend.
                    if let Some(h) = history
                        && let Some(earlier) = newest_within(key, h, n)
                        && tree.root_at(earlier.size).ok() != Some(earlier.root)
                    {
                        findings.push(rewritten(&tree, key, history, earlier.size));
                    }
                } else {
                    let proof = tree.consistency_proof(m, n).unwrap_or_default();
                    report.consistency_proof_hashes = Some(proof.len());
                    if check_consistency(&proof, n, report.root, m, v.root).is_err() {
                        findings.push(rewritten(&tree, key, history, m));
                    }
                }
                report.checkpoint = Some(v);
            }
        }
    }
    findings.sort_by_key(|f| f.seq);
    head.extend(findings);
    if head.len() > MAX_FINDINGS {
        let more = head.len() - MAX_FINDINGS;
        head.truncate(MAX_FINDINGS);
        head.push(Finding {
            seq: None,
            kind: FindingKind::Checkpoint,
            message: format!("… and {more} more findings"),
        });
    }
    report.findings = head;
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::seal;
    use crate::domain::checkpoint::Signer;
    use crate::domain::types::{AuditDraft, AuditKind, Region, Tier};
    use chrono::TimeZone;
    use uuid::Uuid;

    fn log(n: u32) -> Vec<AuditEvent> {
        log_by(n, "ops")
    }

    fn log_by(n: u32, actor: &str) -> Vec<AuditEvent> {
        let mut out: Vec<AuditEvent> = Vec::new();
        for i in 1..=n {
            let prev = out
                .last()
                .map(|e| e.hash.clone())
                .unwrap_or_else(|| GENESIS_HASH.into());
            let draft = AuditDraft {
                at: Utc.with_ymd_and_hms(2026, 11, i, 12, 0, 0).unwrap(),
                kind: AuditKind::Destroy,
                vm_id: Uuid::from_u128(i as u128),
                vm_name: format!("vm-{i}"),
                hetzner_server_id: Some(i as i64),
                tier: Tier::Small,
                region: Region::Eu,
                account: "acme".into(),
                to_account: None,
                actor: actor.into(),
                outcome: "ok".into(),
                requested_at: None,
                origin: None,
            };
            out.push(seal(
                draft,
                i as u64,
                Uuid::from_u128(99 + i as u128),
                &prev,
            ));
        }
        out
    }

    fn signer() -> Signer {
        Signer::from_seed("crabglamp/t", &[3u8; 32]).unwrap()
    }

    fn kinds(r: &Report) -> Vec<(Option<u64>, FindingKind)> {
        r.findings.iter().map(|f| (f.seq, f.kind)).collect()
    }

    #[test]
    fn an_honest_log_verifies_against_an_older_checkpoint() {
        let s = signer();
        let events = log(6);
        let cp = s.sign(4, Tree::from_events(&events[..4]).root()).unwrap();
        let r = verify(&events, Some(&cp), s.verifier_key(), None);
        assert!(r.ok(), "{:?}", r.findings);
        assert_eq!(r.checkpoint.as_ref().map(|c| c.size), Some(4));
        assert_eq!(r.consistency_proof_hashes, Some(1)); // 4 is a complete subtree of 6
        assert_eq!(
            r.summary(),
            "audit log verified: 6 events, hash chain intact, consistent with checkpoint #4 \
             signed by crabglamp/t"
        );
    }

    #[test]
    fn each_tampering_is_named() {
        let s = signer();
        let events = log(5);
        let history: String = (1..=5)
            .map(|k| {
                s.sign(k, Tree::from_events(&events[..k as usize]).root())
                    .unwrap()
            })
            .collect();
        let cp = s.sign(5, Tree::from_events(&events).root()).unwrap();
        let key = s.verifier_key();

        let mut edited = events.clone();
        edited[2].vm_name = "other".into();
        let r = verify(&edited, Some(&cp), key, Some(&history));
        assert_eq!(
            kinds(&r),
            vec![
                (Some(3), FindingKind::Edited),
                (Some(3), FindingKind::Rewritten)
            ]
        );

        let mut rehashed = events.clone();
        rehashed[1].outcome = "failed".into();
        rehashed[1].hash = compute_hash(&rehashed[1]);
        let r = verify(&rehashed, Some(&cp), key, Some(&history));
        assert_eq!(
            kinds(&r),
            vec![
                (Some(2), FindingKind::Rewritten),
                (Some(3), FindingKind::Relinked)
            ]
        );

        let r = verify(&events[..4], Some(&cp), key, Some(&history));
        assert_eq!(kinds(&r), vec![(Some(5), FindingKind::Truncated)]);
        assert_eq!(
            r.findings[0].to_string(),
            "event 5: is missing: the log has 4 events but checkpoint #5 signed 5 (the log was \
             truncated)"
        );

        let fresh = log_by(5, "mallory");
        let r = verify(&fresh, Some(&cp), key, Some(&history));
        assert!(
            kinds(&r).contains(&(Some(1), FindingKind::Rewritten)),
            "{:?}",
            r.findings
        );

        let mut swapped = events.clone();
        swapped.swap(1, 2);
        let r = verify(&swapped, Some(&cp), key, None);
        assert_eq!(r.findings[0].seq, Some(1));
        assert!(
            kinds(&r).contains(&(Some(2), FindingKind::OutOfOrder)),
            "{:?}",
            r.findings
        );

        let r = verify(&[], Some(&cp), key, None);
        assert_eq!(
            r.findings[0].to_string(),
            "event 1: is missing, and so are the events up to 5: the log has 0 events but \
             checkpoint #5 signed 5 (the log was truncated)"
        );

        let other = Signer::from_seed("crabglamp/t", &[4u8; 32]).unwrap();
        let r = verify(&events, Some(&cp), other.verifier_key(), None);
        assert_eq!(kinds(&r), vec![(None, FindingKind::Checkpoint)]);
    }
}
