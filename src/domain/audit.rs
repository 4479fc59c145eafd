//! The audit log's hash chain (docs/product-rules.md §6, docs/ARCHITECTURE.md "Data": append-only, hash-chained so that
//! tampering is detectable).
//!
//! Every [`AuditEvent`] carries `prev_hash` (the previous event's `hash`, or [`GENESIS_HASH`] for
//! sequence 1) and `hash` = lowercase hex SHA-256 of [`canonical_bytes`], an unambiguous encoding
//! of every field except `hash` itself. [`verify_chain`] names the first sequence number that
//! breaks the chain: an edited event (hash mismatch), a re-linked event (prev_hash mismatch) or a
//! removed event (a gap in the sequence).
//!
//! Pure: no I/O. The store assigns `seq` and `id` and calls [`seal`].

use super::types::AuditEvent;
use chrono::SecondsFormat;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// `prev_hash` of the first event: 64 zeros (SHA-256 width in hex).
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub use super::types::AuditDraft;

fn field(out: &mut Vec<u8>, name: &str, value: Option<&str>) {
    // `name=<len>:<bytes>\n` for a value, `name=-\n` for an absent one: length-prefixed, so no
    // value can imitate a field boundary, and None differs from Some("").
    out.extend_from_slice(name.as_bytes());
    out.push(b'=');
    match value {
        Some(v) => {
            out.extend_from_slice(v.len().to_string().as_bytes());
            out.push(b':');
            out.extend_from_slice(v.as_bytes());
        }
        None => out.push(b'-'),
    }
    out.push(b'\n');
}

/// The canonical encoding that [`compute_hash`] digests: every field of the event except `hash`,
/// in a fixed order, each as `name=<byte length>:<UTF-8 bytes>\n` (absent optional values as
/// `name=-\n`). Times are RFC 3339 UTC with nanoseconds (`2026-11-30T08:00:00.000000000Z`);
/// enums use their wire spelling; ids are hyphenated lowercase UUIDs.
pub fn canonical_bytes(event: &AuditEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"crabglamp-audit-v1\n");
    field(&mut out, "seq", Some(&event.seq.to_string()));
    field(&mut out, "id", Some(&event.id.hyphenated().to_string()));
    field(
        &mut out,
        "at",
        Some(&event.at.to_rfc3339_opts(SecondsFormat::Nanos, true)),
    );
    field(&mut out, "kind", Some(event.kind.as_str()));
    field(
        &mut out,
        "vm_id",
        Some(&event.vm_id.hyphenated().to_string()),
    );
    field(&mut out, "vm_name", Some(&event.vm_name));
    field(
        &mut out,
        "hetzner_server_id",
        event.hetzner_server_id.map(|id| id.to_string()).as_deref(),
    );
    field(&mut out, "tier", Some(event.tier.as_str()));
    field(&mut out, "region", Some(event.region.as_str()));
    field(&mut out, "account", Some(&event.account));
    field(&mut out, "to_account", event.to_account.as_deref());
    field(&mut out, "actor", Some(&event.actor));
    field(&mut out, "outcome", Some(&event.outcome));
    field(&mut out, "prev_hash", Some(&event.prev_hash));
    // Fields added later are encoded only when present, so every event written before they
    // existed keeps its bytes and its hash.
    if let Some(at) = event.requested_at {
        field(
            &mut out,
            "requested_at",
            Some(&at.to_rfc3339_opts(SecondsFormat::Nanos, true)),
        );
    }
    if let Some(origin) = &event.origin {
        field(&mut out, "origin", Some(origin));
    }
    out
}

/// Lowercase hex SHA-256 (64 characters) of [`canonical_bytes`] of `event`; `event.hash` is
/// ignored.
pub fn compute_hash(event: &AuditEvent) -> String {
    let digest = Sha256::digest(canonical_bytes(event));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Turns a draft into a chained event with the given sequence number, id and previous hash, and
/// computes its `hash`.
pub fn seal(draft: AuditDraft, seq: u64, id: Uuid, prev_hash: &str) -> AuditEvent {
    let mut event = AuditEvent {
        seq,
        id,
        draft,
        prev_hash: prev_hash.to_string(),
        hash: String::new(),
    };
    event.hash = compute_hash(&event);
    event
}

/// The newest event of a verified chain: its sequence number and hash (sequence 0 and
/// [`GENESIS_HASH`] for an empty log). The next event must have `seq + 1` and `prev_hash == hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// Sequence number of the newest verified event (0: none).
    pub seq: u64,
    /// Its hash ([`GENESIS_HASH`] when `seq` is 0).
    pub hash: String,
}

impl ChainHead {
    /// The head of an empty log.
    pub fn genesis() -> ChainHead {
        ChainHead {
            seq: 0,
            hash: GENESIS_HASH.to_string(),
        }
    }
}

/// Checks a whole log, oldest first: sequence numbers 1, 2, 3… without gaps, each `prev_hash`
/// equal to the previous event's `hash` ([`GENESIS_HASH`] for the first) and each `hash` equal to
/// [`compute_hash`]. Returns the number of events, or the first bad sequence number with the
/// reason (for a gap, the first missing number).
pub fn verify_chain(events: &[AuditEvent]) -> Result<u64, (u64, String)> {
    verify_tail(&ChainHead::genesis(), events).map(|head| head.seq)
}

/// [`verify_chain`] for the events appended after `head` (already verified): the first must be
/// `head.seq + 1` and link to `head.hash`. Returns the new head (`head` itself when `tail` is
/// empty), or the first bad sequence number with the reason.
pub fn verify_tail(head: &ChainHead, tail: &[AuditEvent]) -> Result<ChainHead, (u64, String)> {
    let mut prev_hash = head.hash.clone();
    let mut expected: u64 = head.seq + 1;
    for event in tail {
        if event.seq != expected {
            return Err(if event.seq > expected {
                (
                    expected,
                    format!(
                        "event {expected} is missing (the next event found is {})",
                        event.seq
                    ),
                )
            } else {
                (
                    event.seq,
                    format!("event {} is out of order (expected {expected})", event.seq),
                )
            });
        }
        if event.prev_hash != prev_hash {
            return Err((
                event.seq,
                format!(
                    "prev_hash {} does not match the hash of event {} ({})",
                    short(&event.prev_hash),
                    expected - 1,
                    short(&prev_hash)
                ),
            ));
        }
        let actual = compute_hash(event);
        if event.hash != actual {
            return Err((
                event.seq,
                format!(
                    "hash mismatch: stored {}, computed {} (the event was modified)",
                    short(&event.hash),
                    short(&actual)
                ),
            ));
        }
        prev_hash = actual;
        expected += 1;
    }
    Ok(ChainHead {
        seq: expected - 1,
        hash: prev_hash,
    })
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::types::{AuditKind, Region, Tier};
    use chrono::{TimeZone, Utc};

    fn draft(n: u32, kind: AuditKind) -> AuditDraft {
        AuditDraft {
            at: Utc.with_ymd_and_hms(2026, 11, n, 12, 0, 0).unwrap(),
            kind,
            vm_id: Uuid::from_u128(n as u128),
            vm_name: format!("vm-{n}"),
            hetzner_server_id: Some(1000 + n as i64),
            tier: Tier::Small,
            region: Region::Eu,
            account: "acme".into(),
            to_account: (kind == AuditKind::Transfer).then(|| "globex".to_string()),
            actor: "alice".into(),
            outcome: "ok".into(),
            requested_at: None,
            origin: None,
        }
    }

    fn chain(n: u32) -> Vec<AuditEvent> {
        let mut out: Vec<AuditEvent> = Vec::new();
        for i in 1..=n {
            let prev = out
                .last()
                .map(|e| e.hash.clone())
                .unwrap_or_else(|| GENESIS_HASH.to_string());
            let kind = if i % 2 == 0 {
                AuditKind::Transfer
            } else {
                AuditKind::Destroy
            };
            out.push(seal(
                draft(i, kind),
                i as u64,
                Uuid::from_u128(100 + i as u128),
                &prev,
            ));
        }
        out
    }

    #[test]
    fn canonical_encoding_is_exact() {
        let e = seal(
            draft(3, AuditKind::Destroy),
            1,
            Uuid::from_u128(7),
            GENESIS_HASH,
        );
        let text = String::from_utf8(canonical_bytes(&e)).unwrap();
        assert_eq!(
            text,
            "crabglamp-audit-v1\nseq=1:1\nid=36:00000000-0000-0000-0000-000000000007\n\
             at=30:2026-11-03T12:00:00.000000000Z\nkind=7:destroy\n\
             vm_id=36:00000000-0000-0000-0000-000000000003\nvm_name=4:vm-3\n\
             hetzner_server_id=4:1003\ntier=5:small\nregion=2:eu\naccount=4:acme\n\
             to_account=-\nactor=5:alice\noutcome=2:ok\n\
             prev_hash=64:0000000000000000000000000000000000000000000000000000000000000000\n"
        );
        assert_eq!(e.hash.len(), 64);
        assert_eq!(e.hash, compute_hash(&e));
        // None and Some("") encode differently.
        let mut with_empty = e.clone();
        with_empty.to_account = Some(String::new());
        assert_ne!(compute_hash(&with_empty), e.hash);
    }

    #[test]
    fn hash_is_sha256_of_canonical_bytes() {
        let e = seal(draft(1, AuditKind::Transfer), 1, Uuid::nil(), GENESIS_HASH);
        let expected: String = Sha256::digest(canonical_bytes(&e))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(e.hash, expected);
    }

    #[test]
    fn valid_chain_counts() {
        assert_eq!(verify_chain(&chain(5)), Ok(5));
        assert_eq!(verify_chain(&[]), Ok(0));
    }

    #[test]
    fn tampered_byte_names_that_seq() {
        let mut events = chain(5);
        events[2].vm_name = "vm-X".into(); // one byte changed in event 3
        let (seq, reason) = verify_chain(&events).unwrap_err();
        assert_eq!(seq, 3);
        assert!(reason.starts_with("hash mismatch"), "{reason}");
    }

    #[test]
    fn rehashed_edit_breaks_the_next_link() {
        let mut events = chain(5);
        events[1].outcome = "failed".into();
        events[1].hash = compute_hash(&events[1]);
        let (seq, reason) = verify_chain(&events).unwrap_err();
        assert_eq!(seq, 3);
        assert!(reason.starts_with("prev_hash"), "{reason}");
    }

    #[test]
    fn deleted_event_names_the_gap() {
        let mut events = chain(5);
        events.remove(3); // event 4 removed
        assert_eq!(
            verify_chain(&events),
            Err((4, "event 4 is missing (the next event found is 5)".into()))
        );
        let mut first_gone = chain(3);
        first_gone.remove(0);
        assert_eq!(verify_chain(&first_gone).unwrap_err().0, 1);
    }

    #[test]
    fn a_tail_verifies_against_the_head_like_the_whole_chain() {
        let events = chain(6);
        let whole = verify_tail(&ChainHead::genesis(), &events).unwrap();
        let head = verify_tail(&ChainHead::genesis(), &events[..4]).unwrap();
        assert_eq!(head.seq, 4);
        assert_eq!(head.hash, events[3].hash);
        assert_eq!(verify_tail(&head, &events[4..]), Ok(whole.clone()));
        assert_eq!(whole.seq, 6);
        assert_eq!(verify_tail(&whole, &[]), Ok(whole.clone()));
        // A tail that does not start right after the head names the gap.
        assert_eq!(
            verify_tail(&head, &events[5..]),
            Err((5, "event 5 is missing (the next event found is 6)".into()))
        );
        // A tail edited in place is caught; so is one that links to another head.
        let mut edited = events[4..].to_vec();
        edited[1].outcome = "failed".into();
        assert_eq!(verify_tail(&head, &edited).unwrap_err().0, 6);
        let other = ChainHead {
            seq: 4,
            hash: "f".repeat(64),
        };
        let (seq, reason) = verify_tail(&other, &events[4..]).unwrap_err();
        assert_eq!(seq, 5);
        assert!(reason.starts_with("prev_hash"), "{reason}");
    }
}
