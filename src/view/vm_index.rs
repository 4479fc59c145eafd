//! The VM list's index: lowercase haystacks, widths, the sort order of every column, and the
//! visible rows.
//!
//! Split in two so that the dashboard's task does no per-row work beyond one pass when a
//! snapshot arrives: [`build_table`] (haystacks, widths, deleted count and every column's sort
//! order; O(n log n) per column) runs in the worker off the async threads and is shipped in the
//! snapshot ([`crate::protocol::Prebuilt::vm_table`]); [`VmIndex::from_prebuilt`] then applies
//! the sort direction and the filters in one pass over a precomputed order, allocating only the
//! visible rows. Changing the sort column or direction is the same pass; a filter keystroke is
//! one pass of substring searches over the precomputed lowercase strings (measured in
//! `benches/render.rs`).

use crate::domain::VmStatus;
use crate::protocol::{Shared, VmRow, VmTable};
use chrono::{DateTime, Utc};
use std::cmp::Ordering;
use std::net::Ipv4Addr;
use unicode_width::UnicodeWidthStr;

/// A sortable column of the VM list, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortColumn {
    /// Hostname.
    #[default]
    Name,
    /// Owning account slug.
    Account,
    /// `us` / `eu`.
    Region,
    /// small < medium < large.
    Tier,
    /// Image key.
    Image,
    /// Status (in lifecycle order).
    Status,
    /// Public IPv4, numerically.
    Ipv4,
    /// Public IPv6 network, as text.
    Ipv6,
    /// metered / subscription.
    Billing,
    /// Provisioned-at (UTC); VMs not yet provisioned sort last.
    Provisioned,
}

impl SortColumn {
    /// Every column, in display order.
    pub const ALL: [SortColumn; 10] = [
        SortColumn::Name,
        SortColumn::Account,
        SortColumn::Region,
        SortColumn::Tier,
        SortColumn::Image,
        SortColumn::Status,
        SortColumn::Ipv4,
        SortColumn::Ipv6,
        SortColumn::Billing,
        SortColumn::Provisioned,
    ];

    /// Column header text.
    pub fn title(self) -> &'static str {
        match self {
            SortColumn::Name => "NAME",
            SortColumn::Account => "ACCOUNT",
            SortColumn::Region => "REGION",
            SortColumn::Tier => "TIER",
            SortColumn::Image => "IMAGE",
            SortColumn::Status => "STATUS",
            SortColumn::Ipv4 => "IPV4",
            SortColumn::Ipv6 => "IPV6",
            SortColumn::Billing => "BILLING",
            SortColumn::Provisioned => "PROVISIONED",
        }
    }

    /// Position in [`SortColumn::ALL`].
    pub fn index(self) -> usize {
        SortColumn::ALL
            .iter()
            .position(|c| *c == self)
            .unwrap_or_default()
    }

    /// The next column (wraps).
    pub fn next(self) -> SortColumn {
        SortColumn::ALL[(self.index() + 1) % SortColumn::ALL.len()]
    }
}

/// The text a VM row shows in the status column: `unmanaged` for a labelled server the store did
/// not know, else the status word (`vanished` included).
pub fn status_text(row: &VmRow) -> &'static str {
    if !row.managed {
        "unmanaged"
    } else {
        row.record.status.as_str()
    }
}

/// `YYYY-MM-DD HH:MM` (UTC) of provisioning, or `-`.
pub fn provisioned_text(row: &VmRow) -> String {
    row.record
        .provisioned_at
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "-".into())
}

/// Compact age of `then` at `now`: `45s`, `12m`, `5h`, `17d`, `2y`; `-` when in the future by
/// more than a minute (clock skew).
pub fn age(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds();
    if secs < -60 {
        return "-".into();
    }
    let secs = secs.max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s if s < 2 * 365 * 86_400 => format!("{}d", s / 86_400),
        s => format!("{}y", s / (365 * 86_400)),
    }
}

fn col_text(row: &VmRow, col: SortColumn) -> String {
    let r = &row.record;
    match col {
        SortColumn::Name => r.name.clone(),
        SortColumn::Account => r.account.clone(),
        SortColumn::Region => r.region.as_str().into(),
        SortColumn::Tier => r.tier.as_str().into(),
        SortColumn::Image => r.image.as_str().into(),
        SortColumn::Status => status_text(row).into(),
        SortColumn::Ipv4 => r.ipv4.clone().unwrap_or_default(),
        SortColumn::Ipv6 => r.ipv6.clone().unwrap_or_default(),
        SortColumn::Billing => r.billing_type.as_str().into(),
        SortColumn::Provisioned => provisioned_text(row),
    }
}

/// What a comparison needs of a row beyond the row itself, computed once per build so that a
/// sort allocates and parses nothing.
struct SortKey<'a> {
    /// Lowercase name (the haystack's first column).
    lower_name: &'a str,
    /// Parsed public IPv4 address.
    ipv4: Option<Ipv4Addr>,
}

/// Compares two rows by `col`, ties by name, then id.
fn compare(a: &VmRow, b: &VmRow, ka: &SortKey, kb: &SortKey, col: SortColumn) -> Ordering {
    let (ra, rb) = (&a.record, &b.record);
    let primary = match col {
        SortColumn::Name => ka.lower_name.cmp(kb.lower_name),
        SortColumn::Account => ra.account.cmp(&rb.account),
        SortColumn::Region => ra.region.cmp(&rb.region),
        SortColumn::Tier => ra.tier.cmp(&rb.tier),
        SortColumn::Image => ra.image.as_str().cmp(rb.image.as_str()),
        SortColumn::Status => (!a.managed, ra.status).cmp(&(!b.managed, rb.status)),
        SortColumn::Ipv4 => {
            let (pa, pb) = (ka.ipv4, kb.ipv4);
            // Missing addresses last.
            (pa.is_none(), pa).cmp(&(pb.is_none(), pb))
        }
        SortColumn::Ipv6 => (ra.ipv6.is_none(), &ra.ipv6).cmp(&(rb.ipv6.is_none(), &rb.ipv6)),
        SortColumn::Billing => ra.billing_type.cmp(&rb.billing_type),
        SortColumn::Provisioned => (ra.provisioned_at.is_none(), ra.provisioned_at)
            .cmp(&(rb.provisioned_at.is_none(), rb.provisioned_at)),
    };
    primary
        .then_with(|| ra.name.cmp(&rb.name))
        .then_with(|| ra.id.cmp(&rb.id))
}

/// Builds the expensive, filter-independent part of the index over `rows`: one lowercase
/// haystack per row, the widest text per column, the deleted count, each row's account and
/// deleted flag, and every column's ascending order. Pure; the worker runs it off the async
/// threads for each change of the rows.
pub fn build_table(rows: &[VmRow]) -> VmTable {
    build(rows, &SortColumn::ALL)
}

/// [`build_table`] with the orders of `cols` only (the others left empty, built by
/// [`VmIndex::resort`] when asked for).
fn build(rows: &[VmRow], cols: &[SortColumn]) -> VmTable {
    let mut widths = [0u16; 10];
    let haystacks: Vec<String> = rows
        .iter()
        .map(|row| {
            let mut hay = String::with_capacity(128);
            for (i, c) in SortColumn::ALL.iter().enumerate() {
                let text = col_text(row, *c);
                let w = u16::try_from(text.width()).unwrap_or(u16::MAX);
                widths[i] = widths[i].max(w);
                hay.push_str(&text.to_lowercase());
                hay.push('\0');
            }
            hay.push_str(&row.record.server_type.to_lowercase());
            hay
        })
        .collect();
    let is_deleted: Vec<bool> = rows
        .iter()
        .map(|r| r.record.status == VmStatus::Deleted)
        .collect();
    let mut accounts: Vec<String> = rows.iter().map(|r| r.record.account.clone()).collect();
    accounts.sort_unstable();
    accounts.dedup();
    let account_of = rows
        .iter()
        .map(|r| {
            let i = accounts
                .binary_search(&r.record.account)
                .unwrap_or_default();
            u32::try_from(i).unwrap_or(u32::MAX)
        })
        .collect();
    let keys = sort_keys(rows, &haystacks);
    let orders = SortColumn::ALL
        .iter()
        .map(|col| {
            if cols.contains(col) {
                sort_order(rows, &keys, *col)
            } else {
                Vec::new()
            }
        })
        .collect();
    drop(keys);
    VmTable {
        deleted: is_deleted.iter().filter(|d| **d).count(),
        haystacks,
        widths,
        is_deleted,
        accounts,
        account_of,
        orders,
    }
}

fn sort_keys<'a>(rows: &[VmRow], haystacks: &'a [String]) -> Vec<SortKey<'a>> {
    rows.iter()
        .zip(haystacks)
        .map(|(row, hay)| SortKey {
            lower_name: hay.split('\0').next().unwrap_or(""),
            ipv4: row
                .record
                .ipv4
                .as_deref()
                .and_then(|s| s.parse::<Ipv4Addr>().ok()),
        })
        .collect()
}

/// Every row, ascending by `col` (ties by name, then id).
fn sort_order(rows: &[VmRow], keys: &[SortKey], col: SortColumn) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows.len().min(keys.len())).collect();
    order.sort_by(|&a, &b| compare(&rows[a], &rows[b], &keys[a], &keys[b], col));
    order
}

/// The VM list's index over a snapshot's VM rows: a shared [`VmTable`] plus the sort column,
/// the direction and the visible rows. Indices refer to positions in the rows the table was
/// built from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VmIndex {
    /// The prebuilt, filter-independent part.
    table: Shared<VmTable>,
    /// Sort column.
    col: SortColumn,
    /// Descending.
    reverse: bool,
    /// The rows passing the filters, in sort order.
    visible: Vec<usize>,
}

impl VmIndex {
    /// Builds the table for `rows` (as [`build_table`], the expensive part, but with the order
    /// of `col` only: the others are built when [`VmIndex::resort`] asks for them), then sorts
    /// by `col` (`reverse` for descending) and applies the filters (see [`VmIndex::refilter`]).
    pub fn new(
        rows: &[VmRow],
        col: SortColumn,
        reverse: bool,
        filter: &str,
        account: Option<&str>,
        show_deleted: bool,
    ) -> VmIndex {
        VmIndex::from_prebuilt(
            Shared::new(build(rows, &[col])),
            col,
            reverse,
            filter,
            account,
            show_deleted,
        )
    }

    /// An index over a table built elsewhere (the snapshot's
    /// [`crate::protocol::Prebuilt::vm_table`]): sorts by `col` and applies the filters in one
    /// pass over the table's precomputed order; allocates only the visible rows.
    pub fn from_prebuilt(
        table: Shared<VmTable>,
        col: SortColumn,
        reverse: bool,
        filter: &str,
        account: Option<&str>,
        show_deleted: bool,
    ) -> VmIndex {
        let mut index = VmIndex {
            table,
            col,
            reverse,
            visible: Vec::new(),
        };
        index.apply_filter(filter, account, show_deleted);
        index
    }

    /// The rows of the current order, first to last (row order when the table lacks the
    /// column's order: a prebuilt table has all of them).
    fn order(&self) -> impl Iterator<Item = usize> + '_ {
        let order: &[usize] = self
            .table
            .orders
            .get(self.col.index())
            .filter(|o| o.len() == self.table.len())
            .map_or(&[], Vec::as_slice);
        let unsorted = order.is_empty().then_some(0..self.table.len());
        let (fwd, rev) = if self.reverse {
            (None, Some(order.iter().rev()))
        } else {
            (Some(order.iter()), None)
        };
        fwd.into_iter()
            .flatten()
            .chain(rev.into_iter().flatten())
            .copied()
            .chain(unsorted.into_iter().flatten())
    }

    /// Re-sorts all rows by `col` (ties by name, then id); keeps the filter result in the new
    /// order. One pass over the precomputed order; `rows` (those the table was built from) are
    /// read only when the table lacks that column's order (an index from [`VmIndex::new`]).
    pub fn resort(&mut self, rows: &[VmRow], col: SortColumn, reverse: bool) {
        let n = self.table.len();
        let missing = self
            .table
            .orders
            .get(col.index())
            .is_none_or(|o| o.len() != n);
        if missing && rows.len() == n {
            let order = sort_order(rows, &sort_keys(rows, &self.table.haystacks), col);
            let table = &mut *self.table;
            table.orders.resize(SortColumn::ALL.len(), Vec::new());
            table.orders[col.index()] = order;
        }
        let mut keep = vec![false; self.table.len()];
        for &i in &self.visible {
            if let Some(k) = keep.get_mut(i) {
                *k = true;
            }
        }
        self.col = col;
        self.reverse = reverse;
        let mut visible = std::mem::take(&mut self.visible);
        visible.clear();
        visible.extend(
            self.order()
                .filter(|&i| keep.get(i).copied().unwrap_or(false)),
        );
        self.visible = visible;
    }

    /// Recomputes the visible rows: a row is visible when its account equals `account` (if
    /// given), it is not `deleted` (unless `show_deleted`), and every whitespace-separated term
    /// of `filter` occurs, case-insensitively, in one of its columns. `rows` is not read (the
    /// table has what the filters need).
    pub fn refilter(
        &mut self,
        _rows: &[VmRow],
        filter: &str,
        account: Option<&str>,
        show_deleted: bool,
    ) {
        self.apply_filter(filter, account, show_deleted);
    }

    fn apply_filter(&mut self, filter: &str, account: Option<&str>, show_deleted: bool) {
        let terms: Vec<String> = filter.split_whitespace().map(str::to_lowercase).collect();
        let table = &self.table;
        // `Some(None)`: an account no row has, so nothing passes.
        let account: Option<Option<u32>> = account.map(|a| {
            table
                .accounts
                .binary_search_by(|x| x.as_str().cmp(a))
                .ok()
                .and_then(|i| u32::try_from(i).ok())
        });
        let mut visible = std::mem::take(&mut self.visible);
        visible.clear();
        let pass = |i: usize| {
            account.is_none_or(|want| want.is_some() && table.account_of.get(i).copied() == want)
                && (show_deleted || !table.is_deleted.get(i).copied().unwrap_or(false))
                && terms.iter().all(|t| {
                    table
                        .haystacks
                        .get(i)
                        .is_some_and(|h| h.contains(t.as_str()))
                })
        };
        visible.extend(self.order().filter(|&i| pass(i)));
        self.visible = visible;
    }

    /// Row indices passing the filters, in sort order.
    pub fn visible(&self) -> &[usize] {
        &self.visible
    }

    /// Total number of rows indexed.
    pub fn total(&self) -> usize {
        self.table.len()
    }

    /// Number of rows with status `deleted`.
    pub fn deleted(&self) -> usize {
        self.table.deleted
    }

    /// Widest display width of `col` over all rows (header not included).
    pub fn width(&self, col: SortColumn) -> u16 {
        self.table.widths[col.index()]
    }

    /// The shared table this index filters.
    pub fn table(&self) -> &Shared<VmTable> {
        &self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn rows() -> Vec<VmRow> {
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();
        let mut rows = crate::demo::snapshot(now).vms.into_inner();
        // Same name twice (ties by id), a missing address, mixed case.
        let mut twin = rows[0].clone();
        twin.record.id = uuid::Uuid::from_u128(1);
        twin.record.ipv4 = None;
        rows.push(twin);
        rows[1].record.name = rows[1].record.name.to_uppercase();
        rows
    }

    /// The index as it was computed on the dashboard's task before the split: one sort with
    /// the comparator (reversed for descending), then the filters read from the rows.
    fn reference(
        rows: &[VmRow],
        col: SortColumn,
        reverse: bool,
        filter: &str,
        account: Option<&str>,
        show_deleted: bool,
    ) -> Vec<usize> {
        let hay: Vec<String> = rows
            .iter()
            .map(|r| {
                let mut h: Vec<String> = SortColumn::ALL
                    .iter()
                    .map(|c| col_text(r, *c).to_lowercase())
                    .collect();
                h.push(r.record.server_type.to_lowercase());
                h.join("\0")
            })
            .collect();
        let keys: Vec<SortKey> = rows
            .iter()
            .zip(&hay)
            .map(|(r, h)| SortKey {
                lower_name: h.split('\0').next().unwrap_or(""),
                ipv4: r.record.ipv4.as_deref().and_then(|s| s.parse().ok()),
            })
            .collect();
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by(|&a, &b| {
            let o = compare(&rows[a], &rows[b], &keys[a], &keys[b], col);
            if reverse { o.reverse() } else { o }
        });
        let terms: Vec<String> = filter.split_whitespace().map(str::to_lowercase).collect();
        order
            .into_iter()
            .filter(|&i| {
                let r = &rows[i].record;
                account.is_none_or(|a| r.account == a)
                    && (show_deleted || r.status != VmStatus::Deleted)
                    && terms.iter().all(|t| hay[i].contains(t.as_str()))
            })
            .collect()
    }

    #[test]
    fn prebuilt_index_matches_a_full_sort_for_every_column_and_filter() {
        let rows = rows();
        let table = Shared::new(build_table(&rows));
        assert_eq!(table.len(), rows.len());
        let filters = [
            ("", None, false),
            ("", None, true),
            ("web", None, true),
            ("EU small", None, false),
            ("", Some("acme"), true),
            ("", Some("nobody"), true),
            ("nothing-matches-this", None, true),
        ];
        for col in SortColumn::ALL {
            for reverse in [false, true] {
                for (filter, account, deleted) in filters {
                    let want = reference(&rows, col, reverse, filter, account, deleted);
                    let got = VmIndex::from_prebuilt(
                        table.clone(),
                        col,
                        reverse,
                        filter,
                        account,
                        deleted,
                    );
                    assert_eq!(
                        got.visible(),
                        want,
                        "{col:?} {reverse} {filter:?} {account:?}"
                    );
                    let new = VmIndex::new(&rows, col, reverse, filter, account, deleted);
                    assert_eq!(new.visible(), want);
                }
            }
        }
        // The demo data exercises what the filters tell apart.
        assert!(table.deleted > 0);
        assert!(
            reference(&rows, SortColumn::Name, false, "", Some("acme"), true).len() < rows.len()
        );
    }

    #[test]
    fn resorting_keeps_the_filtered_rows_in_the_new_order() {
        let rows = rows();
        let mut index = VmIndex::new(&rows, SortColumn::Name, false, "eu", None, false);
        index.resort(&rows, SortColumn::Ipv4, true);
        assert_eq!(
            index.visible(),
            reference(&rows, SortColumn::Ipv4, true, "eu", None, false)
        );
        assert_eq!(index.total(), rows.len());
        let widest = rows.iter().map(|r| r.record.name.width()).max();
        assert_eq!(Some(usize::from(index.width(SortColumn::Name))), widest);
        let deleted = rows
            .iter()
            .filter(|r| r.record.status == VmStatus::Deleted)
            .count();
        assert_eq!(index.deleted(), deleted);
    }
}
