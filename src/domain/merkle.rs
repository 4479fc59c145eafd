//! The audit log's Merkle tree (docs/product-rules.md §11, RFC 6962 §2.1 / RFC 9162 §2.1):
//! leaf hash = SHA-256(0x00 ‖ event bytes), interior node = SHA-256(0x01 ‖ left ‖ right), where
//! the event bytes are [`canonical_bytes`](super::audit::canonical_bytes) of the event.
//!
//! The hashing, the proofs and their checks are Cloudflare's `tlog_tiles` (a port of Go's
//! `golang.org/x/mod/sumdb/tlog`, tested against real Certificate Transparency proofs); this
//! module keeps its "stored hashes" (every leaf and every completed subtree, about two per leaf,
//! in tlog's dense order: [`tlog_tiles::stored_hash_index`]) in memory and exposes the few
//! operations the log needs. Pure: no I/O. The store keeps the same stored hashes on disk.
//!
//! Sizes and indexes: a tree of `size` events holds the events with sequence numbers
//! `1..=size`; the event with sequence number `seq` is leaf index `seq - 1`.

use super::types::AuditEvent;
use tlog_tiles::{HashReader, record_hash};

pub use tlog_tiles::{EMPTY_HASH, Hash};

/// A tree proof failure, in words (an index outside the tree, a proof that does not check).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProofError(pub String);

/// The leaf hash of `event`: SHA-256(0x00 ‖ canonical event bytes).
pub fn leaf_hash(event: &AuditEvent) -> Hash {
    record_hash(&super::audit::canonical_bytes(event))
}

/// Lowercase hex of a hash (64 characters).
pub fn hex(hash: &Hash) -> String {
    hash.0.iter().map(|b| format!("{b:02x}")).collect()
}

/// An append-only Merkle tree held in memory: tlog's stored hashes, index
/// [`tlog_tiles::stored_hash_index`] → hash.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tree {
    size: u64,
    stored: Vec<Hash>,
}

struct Reader<'a>(&'a [Hash]);

impl HashReader for Reader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.0.get(i).copied())
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Tree {
        Tree::default()
    }

    /// The tree over `events` in the order given (their stored `seq` is not consulted).
    pub fn from_events(events: &[AuditEvent]) -> Tree {
        let mut tree = Tree {
            size: 0,
            stored: Vec::with_capacity(events.len() * 2 + 64),
        };
        for event in events {
            tree.push_leaf(leaf_hash(event));
        }
        tree
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; returns the stored hashes it added (the leaf, then each subtree it
    /// completed), which the store writes from index `stored_hash_index(0, size before)`.
    pub fn push_leaf(&mut self, leaf: Hash) -> Vec<Hash> {
        // Only earlier stored hashes are read, all of them present: this cannot fail.
        let added =
            tlog_tiles::stored_hashes_for_record_hash(self.size, leaf, &Reader(&self.stored))
                .unwrap_or_default();
        self.stored.extend_from_slice(&added);
        self.size += 1;
        added
    }

    /// The leaf hash at `index` (sequence number `index + 1`).
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        if index >= self.size {
            return None;
        }
        let i = usize::try_from(tlog_tiles::stored_hash_index(0, index)).ok()?;
        self.stored.get(i).copied()
    }

    /// The root hash of the first `size` leaves ([`EMPTY_HASH`] for 0). Errors: `size` larger
    /// than the tree.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        if size > self.size {
            return Err(ProofError(format!(
                "the tree has {} events, not {size}",
                self.size
            )));
        }
        tlog_tiles::tree_hash(size, &Reader(&self.stored)).map_err(|e| ProofError(e.to_string()))
    }

    /// The root hash of the whole tree.
    pub fn root(&self) -> Hash {
        self.root_at(self.size).unwrap_or(EMPTY_HASH)
    }

    /// The inclusion proof (RFC 6962 audit path, leaf side first) of leaf `index` in the tree
    /// of the first `size` leaves. Errors: `index >= size` or `size` larger than the tree.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        if index >= size || size > self.size {
            return Err(ProofError(format!(
                "event {} is not in a tree of {size} events",
                index + 1
            )));
        }
        tlog_tiles::prove_record(size, index, &Reader(&self.stored))
            .map_err(|e| ProofError(e.to_string()))
    }

    /// The consistency proof (RFC 6962 §2.1.2) that the tree of the first `old` leaves is a
    /// prefix of the tree of the first `new` leaves. Errors: `old > new` or `new` larger than the
    /// tree.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ProofError> {
        if old > new || new > self.size {
            return Err(ProofError(format!(
                "no consistency proof from {old} to {new} events in a tree of {}",
                self.size
            )));
        }
        if old == 0 || old == new {
            return Ok(Vec::new());
        }
        tlog_tiles::prove_tree(new, old, &Reader(&self.stored))
            .map_err(|e| ProofError(e.to_string()))
    }
}

/// Checks an inclusion proof: the leaf `leaf` at `index` is in the tree of `size` leaves whose
/// root is `root`.
pub fn check_inclusion(
    proof: &[Hash],
    size: u64,
    root: Hash,
    index: u64,
    leaf: Hash,
) -> Result<(), ProofError> {
    tlog_tiles::check_record(&proof.to_vec(), size, root, index, leaf)
        .map_err(|e| ProofError(format!("inclusion proof does not verify: {e}")))
}

/// Checks a consistency proof: the tree of `old_size` leaves with root `old_root` is a prefix
/// of the tree of `new_size` leaves with root `new_root`.
pub fn check_consistency(
    proof: &[Hash],
    new_size: u64,
    new_root: Hash,
    old_size: u64,
    old_root: Hash,
) -> Result<(), ProofError> {
    if old_size == new_size {
        return if old_root == new_root && proof.is_empty() {
            Ok(())
        } else {
            Err(ProofError(
                "consistency proof does not verify: the roots differ at the same size".into(),
            ))
        };
    }
    if old_size == 0 {
        return if proof.is_empty() && old_root == EMPTY_HASH {
            Ok(())
        } else {
            Err(ProofError(
                "consistency proof does not verify: an empty tree has no proof".into(),
            ))
        };
    }
    tlog_tiles::check_tree(&proof.to_vec(), new_size, new_root, old_size, old_root)
        .map_err(|e| ProofError(format!("consistency proof does not verify: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn h(data: &[u8]) -> Hash {
        record_hash(data)
    }

    fn node(l: Hash, r: Hash) -> Hash {
        let mut s = Sha256::new();
        s.update([1u8]);
        s.update(l.0);
        s.update(r.0);
        Hash(s.finalize().into())
    }

    fn tree(n: u8) -> Tree {
        let mut t = Tree::new();
        for i in 0..n {
            t.push_leaf(h(&[i]));
        }
        t
    }

    #[test]
    fn roots_follow_rfc6962() {
        let t = tree(3);
        let leaf0 = Hash(Sha256::digest([0u8, 0u8]).into());
        assert_eq!(t.leaf(0), Some(leaf0));
        assert_eq!(t.root_at(0).unwrap(), EMPTY_HASH);
        assert_eq!(t.root_at(1).unwrap(), leaf0);
        assert_eq!(t.root_at(2).unwrap(), node(h(&[0]), h(&[1])));
        assert_eq!(t.root(), node(node(h(&[0]), h(&[1])), h(&[2])));
        assert_eq!(
            hex(&EMPTY_HASH),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(t.root_at(4).is_err());
    }

    #[test]
    fn proofs_verify_and_name_bad_input() {
        let t = tree(7);
        for size in 1..=7 {
            for index in 0..size {
                let p = t.inclusion_proof(index, size).unwrap();
                let root = t.root_at(size).unwrap();
                let leaf = t.leaf(index).unwrap();
                check_inclusion(&p, size, root, index, leaf).unwrap();
                assert!(check_inclusion(&p, size, root, index, h(b"other")).is_err());
            }
            for old in 0..=size {
                let p = t.consistency_proof(old, size).unwrap();
                let (ro, rn) = (t.root_at(old).unwrap(), t.root_at(size).unwrap());
                check_consistency(&p, size, rn, old, ro).unwrap();
            }
        }
        // Leaf 2 of 4: sibling leaf 3, then the left subtree.
        let p = t.inclusion_proof(2, 4).unwrap();
        assert_eq!(p, vec![h(&[3]), node(h(&[0]), h(&[1]))]);
        assert!(t.inclusion_proof(7, 7).is_err());
        assert!(t.consistency_proof(5, 4).is_err());
    }

    proptest::proptest! {
        /// For random sizes n < m, the consistency proof from n to m verifies, and fails once
        /// any one leaf of the old or new tree is changed.
        #[test]
        fn consistency_proofs_verify_and_catch_any_changed_leaf(
            m in 2u64..300,
            n_seed in 0u64..1000,
            changed_seed in 0u64..1000,
        ) {
            let n = 1 + n_seed % (m - 1);
            let mut t = Tree::new();
            for i in 0..m {
                t.push_leaf(h(&i.to_be_bytes()));
            }
            let proof = t.consistency_proof(n, m).unwrap();
            let (old_root, new_root) = (t.root_at(n).unwrap(), t.root());
            proptest::prop_assert!(check_consistency(&proof, m, new_root, n, old_root).is_ok());
            // Logarithmic: at most about 2·log2(m) hashes.
            proptest::prop_assert!(proof.len() as u32 <= 2 * (64 - m.leading_zeros()));

            let changed = changed_seed % m;
            let mut other = Tree::new();
            for i in 0..m {
                let data = if i == changed { b"changed".to_vec() } else { i.to_be_bytes().to_vec() };
                other.push_leaf(h(&data));
            }
            // The new tree with one leaf changed no longer extends the old root (and, when the
            // leaf is in the old part, the old root no longer matches the new tree).
            let other_proof = other.consistency_proof(n, m).unwrap();
            proptest::prop_assert!(
                check_consistency(&other_proof, m, other.root(), n, old_root).is_err()
                    || changed >= n
            );
            proptest::prop_assert!(check_consistency(&proof, m, other.root(), n, old_root).is_err());
            if changed < n {
                proptest::prop_assert!(
                    check_consistency(&proof, m, new_root, n, other.root_at(n).unwrap()).is_err()
                );
            }
        }
    }
}
