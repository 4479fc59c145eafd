//! The VM list's cached index: lowercase haystacks, sort order and visible rows.
//!
//! Built once per snapshot ([`VmIndex::new`]); the sort order is recomputed only when the sort
//! column or direction changes, and the visible rows only when the filter or account filter
//! changes. A filter keystroke is therefore one pass of substring searches over precomputed
//! lowercase strings in the already-sorted order, with no sorting (issue 3: ≤ 5 ms for 10,000
//! VMs, measured in `benches/render.rs`).

use crate::domain::VmStatus;
use crate::protocol::VmRow;
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

/// Cached index over a snapshot's VM rows. Indices refer to positions in the rows slice it was
/// built from; rebuild it when the rows change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VmIndex {
    /// One lowercase string per row: every column joined by NUL, so a search term never matches
    /// across two columns.
    haystacks: Vec<String>,
    /// All rows in the current sort order.
    sorted: Vec<usize>,
    /// The rows passing the filters, in sort order.
    visible: Vec<usize>,
    /// Widest display width per column ([`SortColumn::ALL`] order) over all rows.
    widths: [u16; 10],
    /// Rows with status `deleted`.
    deleted: usize,
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

/// Compares two rows by `col`; `la`/`lb` are their lowercase names (precomputed once per
/// snapshot, so a sort allocates nothing).
fn compare(a: &VmRow, b: &VmRow, la: &str, lb: &str, col: SortColumn) -> Ordering {
    let (ra, rb) = (&a.record, &b.record);
    let primary = match col {
        SortColumn::Name => la.cmp(lb),
        SortColumn::Account => ra.account.cmp(&rb.account),
        SortColumn::Region => ra.region.cmp(&rb.region),
        SortColumn::Tier => ra.tier.cmp(&rb.tier),
        SortColumn::Image => ra.image.as_str().cmp(rb.image.as_str()),
        SortColumn::Status => (!a.managed, ra.status).cmp(&(!b.managed, rb.status)),
        SortColumn::Ipv4 => {
            let pa = ra.ipv4.as_deref().and_then(|s| s.parse::<Ipv4Addr>().ok());
            let pb = rb.ipv4.as_deref().and_then(|s| s.parse::<Ipv4Addr>().ok());
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

impl VmIndex {
    /// Builds haystacks and column widths for `rows`, sorts by `col` (`reverse` for descending)
    /// and applies the filters (see [`VmIndex::refilter`]).
    pub fn new(
        rows: &[VmRow],
        col: SortColumn,
        reverse: bool,
        filter: &str,
        account: Option<&str>,
        show_deleted: bool,
    ) -> VmIndex {
        let mut widths = [0u16; 10];
        let haystacks = rows
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
        let mut index = VmIndex {
            haystacks,
            sorted: Vec::new(),
            visible: Vec::new(),
            widths,
            deleted: rows
                .iter()
                .filter(|r| r.record.status == VmStatus::Deleted)
                .count(),
        };
        index.resort(rows, col, reverse);
        index.refilter(rows, filter, account, show_deleted);
        index
    }

    /// Re-sorts all rows by `col` (ties by name, then id); keeps the filter result in the new
    /// order.
    pub fn resort(&mut self, rows: &[VmRow], col: SortColumn, reverse: bool) {
        let mut sorted: Vec<usize> = (0..rows.len()).collect();
        let lower = |i: usize| -> &str {
            self.haystacks
                .get(i)
                .and_then(|h| h.split('\0').next())
                .unwrap_or("")
        };
        sorted.sort_by(|&a, &b| {
            let o = compare(&rows[a], &rows[b], lower(a), lower(b), col);
            if reverse { o.reverse() } else { o }
        });
        self.sorted = sorted;
        let mut keep = vec![false; rows.len()];
        for &i in &self.visible {
            if let Some(k) = keep.get_mut(i) {
                *k = true;
            }
        }
        self.visible = self.sorted.iter().copied().filter(|&i| keep[i]).collect();
    }

    /// Recomputes the visible rows: a row is visible when its account equals `account` (if
    /// given), it is not `deleted` (unless `show_deleted`), and every whitespace-separated term
    /// of `filter` occurs, case-insensitively, in one of its columns.
    pub fn refilter(
        &mut self,
        rows: &[VmRow],
        filter: &str,
        account: Option<&str>,
        show_deleted: bool,
    ) {
        let terms: Vec<String> = filter.split_whitespace().map(str::to_lowercase).collect();
        self.visible = self
            .sorted
            .iter()
            .copied()
            .filter(|&i| {
                rows.get(i).is_some_and(|r| {
                    account.is_none_or(|a| r.record.account == a)
                        && (show_deleted || r.record.status != VmStatus::Deleted)
                }) && terms.iter().all(|t| {
                    self.haystacks
                        .get(i)
                        .is_some_and(|h| h.contains(t.as_str()))
                })
            })
            .collect();
    }

    /// Row indices passing the filters, in sort order.
    pub fn visible(&self) -> &[usize] {
        &self.visible
    }

    /// Total number of rows indexed.
    pub fn total(&self) -> usize {
        self.sorted.len()
    }

    /// Number of rows with status `deleted`.
    pub fn deleted(&self) -> usize {
        self.deleted
    }

    /// Widest display width of `col` over all rows (header not included).
    pub fn width(&self, col: SortColumn) -> u16 {
        self.widths[col.index()]
    }
}
