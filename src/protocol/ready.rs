//! Ready-to-draw data the worker derives from a snapshot's parts off the UI task and ships with
//! it ([`Prebuilt`]). Data only: the builders are in `src/view/`, which also turns a
//! [`VmTable`] into the visible rows of the VM list.

use super::Shared;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// The expensive part of the VM list's index over a snapshot's `vms`, built once per change of
/// the rows (`src/view/vm_index.rs` builds it and filters with it). Row numbers are positions
/// in the snapshot's `vms`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VmTable {
    /// One lowercase string per row: every column's text joined by NUL (so a search term never
    /// matches across two columns), then the server type.
    pub haystacks: Vec<String>,
    /// Widest display width per column (in the VM list's column order) over all rows.
    pub widths: [u16; 10],
    /// Rows with status `deleted`.
    pub deleted: usize,
    /// Per row: whether its status is `deleted`.
    pub is_deleted: Vec<bool>,
    /// The distinct owning accounts, sorted.
    pub accounts: Vec<String>,
    /// Per row: its owning account, as a position in `accounts`.
    pub account_of: Vec<u32>,
    /// Per column (in the VM list's column order): every row, ascending by that column (ties
    /// by name, then id). Descending is the same order read backwards.
    pub orders: Vec<Vec<usize>>,
}

impl VmTable {
    /// Number of rows indexed.
    pub fn len(&self) -> usize {
        self.haystacks.len()
    }

    /// True when no row is indexed.
    pub fn is_empty(&self) -> bool {
        self.haystacks.is_empty()
    }
}

/// Charge per day of the last days up to `today` (oldest first), per VM, every account: the VM
/// detail's sparkline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sparklines {
    /// The UTC day the sparklines end on; stale once the UI's day differs.
    pub today: Option<NaiveDate>,
    /// Charge per day, oldest first, per VM id.
    pub by_vm: HashMap<Uuid, Vec<Decimal>>,
}

/// Everything derived from a snapshot's parts that the dashboard would otherwise rebuild on
/// its own task; each part is shared with the previous snapshot unless what it derives from
/// changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Prebuilt {
    /// The VM list's index over `vms`.
    pub vm_table: Shared<VmTable>,
    /// Vault key id → names of the live VMs holding it, sorted.
    pub holders: Shared<BTreeMap<Uuid, Vec<String>>>,
    /// Positions in `audit`, newest first (by time, then sequence number).
    pub audit_newest_first: Shared<Vec<usize>>,
    /// What the Audit filter searches in each event of `audit` (same positions), lowercase.
    pub audit_haystacks: Shared<Vec<String>>,
    /// The VM detail's charge sparklines over `usage`.
    pub spark: Shared<Sparklines>,
}
