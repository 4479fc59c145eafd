//! Usage records in the store (docs/product-rules.md §8): one sled entry per (calendar month, VM) holding
//! every record of that VM in that month, in a compact binary encoding (postcard).
//!
//! Why bundles: accrual writes a VM's whole year at once and the Usage pane reads a month for
//! every VM; one entry per record (365,000 for 1,000 VMs over a year) made accrual take tens of
//! seconds and the store hundreds of MiB, while a bundle per month is 12,000 entries.
//!
//! - Tree `usage_months`: key = first day of the month ([`day_key`], 4 bytes) ‖ VM UUID (16),
//!   so a range scan is in month order, then VM order. Value = postcard of a `Bundle`: the VM
//!   names and accounts used, once each, and the records sorted by (day, account, billing
//!   type), unique on those three.
//! - Money is kept exactly as `rust_decimal`'s (mantissa, scale), varint-encoded, never as a
//!   float.
//! - Schema 1 kept one JSON value per record in tree `usage`; [`migrate_v1`] moves those into
//!   bundles when a schema-1 database is opened.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, StoreError, day_key, from_json, printable_key};
use crate::domain::{BillingType, Region, Tier, UsageRecord, validate_account_slug};

/// Name of the sled tree of usage bundles.
pub(super) const TREE: &str = "usage_months";
/// Name of schema 1's tree of one JSON usage record per key.
pub(super) const V1_TREE: &str = "usage";

/// The value of one (month, VM) entry: that VM's records in that month. Names and accounts
/// are stored once per bundle and referred to by index (a VM keeps one name and one owner for
/// most of a month).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Bundle {
    /// VM names used by the records.
    names: Vec<String>,
    /// Account slugs used by the records.
    accounts: Vec<String>,
    /// Sorted by (day, account, billing type).
    records: Vec<StoredRecord>,
}

/// One record inside a [`Bundle`]: the [`UsageRecord`] without what the key holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredRecord {
    /// Day of the month, 1–31.
    day: u8,
    /// Index into [`Bundle::names`].
    name: u16,
    /// Index into [`Bundle::accounts`].
    account: u16,
    tier: Tier,
    region: Region,
    billing_type: BillingType,
    seconds: u32,
    charge: StoredDecimal,
    cost: StoredDecimal,
    is_final: bool,
}

/// A `rust_decimal` as its exact (mantissa, scale): varint-encoded, so `0.39984` takes 4
/// bytes, not 16.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct StoredDecimal(i128, u32);

impl From<Decimal> for StoredDecimal {
    fn from(d: Decimal) -> Self {
        StoredDecimal(d.mantissa(), d.scale())
    }
}

impl StoredDecimal {
    fn decimal(self) -> Option<Decimal> {
        Decimal::try_from_i128_with_scale(self.0, self.1).ok()
    }
}

fn first_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

fn bundle_key(month: NaiveDate, vm_id: Uuid) -> [u8; 20] {
    let mut key = [0u8; 20];
    key[..4].copy_from_slice(&day_key(first_of_month(month)));
    key[4..].copy_from_slice(vm_id.as_bytes());
    key
}

fn billing_order(b: BillingType) -> u8 {
    match b {
        BillingType::Metered => 1,
        BillingType::Subscription => 2,
    }
}

/// Index of `value` in `table`, appending it when missing.
fn intern(table: &mut Vec<String>, value: &str) -> u16 {
    match table.iter().position(|v| v == value) {
        Some(i) => u16::try_from(i).unwrap_or(u16::MAX),
        None => {
            table.push(value.to_string());
            u16::try_from(table.len() - 1).unwrap_or(u16::MAX)
        }
    }
}

impl Bundle {
    /// Adds `r` (of this bundle's month and VM). A record of the same (day, account, billing
    /// type) added earlier is replaced by [`Bundle::tidy`].
    fn push(&mut self, r: &UsageRecord) {
        let name = intern(&mut self.names, &r.vm_name);
        let account = intern(&mut self.accounts, &r.account);
        // `day()` is 1..=31.
        let day = u8::try_from(r.day.day()).unwrap_or(1);
        self.records.push(StoredRecord {
            day,
            name,
            account,
            tier: r.tier,
            region: r.region,
            billing_type: r.billing_type,
            seconds: r.seconds,
            charge: r.charge.into(),
            cost: r.cost.into(),
            is_final: r.is_final,
        });
    }

    /// Sorts the records, keeps the last added of each (day, account, billing type), and drops
    /// names and accounts no record uses any more.
    fn tidy(mut self) -> Bundle {
        let accounts = std::mem::take(&mut self.accounts);
        let account_of = |s: &StoredRecord| {
            accounts
                .get(usize::from(s.account))
                .map_or("", String::as_str)
        };
        self.records.sort_by(|a, b| {
            (a.day, account_of(a), billing_order(a.billing_type)).cmp(&(
                b.day,
                account_of(b),
                billing_order(b.billing_type),
            ))
        });
        // The sort is stable: of equal keys, the one added last comes last and wins.
        let mut kept: Vec<StoredRecord> = Vec::with_capacity(self.records.len());
        for s in self.records {
            match kept.last_mut() {
                Some(prev)
                    if prev.day == s.day
                        && prev.account == s.account
                        && prev.billing_type == s.billing_type =>
                {
                    *prev = s;
                }
                _ => kept.push(s),
            }
        }
        let mut out = Bundle::default();
        for mut s in kept {
            let name = self
                .names
                .get(usize::from(s.name))
                .map_or("", String::as_str);
            let account = account_of(&s);
            s.name = intern(&mut out.names, name);
            s.account = intern(&mut out.accounts, account);
            out.records.push(s);
        }
        out
    }

    /// Appends the records with days in `from..=to` to `out`.
    /// Errors (in words): a day the month lacks, an index or a decimal out of range.
    fn records_into(
        self,
        month: NaiveDate,
        vm_id: Uuid,
        from: NaiveDate,
        to: NaiveDate,
        out: &mut Vec<UsageRecord>,
    ) -> Result<(), String> {
        let text = |table: &[String], i: u16, what: &str| {
            table
                .get(usize::from(i))
                .cloned()
                .ok_or_else(|| format!("{what} index {i} out of range"))
        };
        for s in self.records {
            let day = first_of_month(month)
                .with_day(u32::from(s.day))
                .ok_or_else(|| format!("day {} is not in the month of {month}", s.day))?;
            if day < from || day > to {
                continue;
            }
            out.push(UsageRecord {
                day,
                vm_id,
                vm_name: text(&self.names, s.name, "name")?,
                account: text(&self.accounts, s.account, "account")?,
                tier: s.tier,
                region: s.region,
                billing_type: s.billing_type,
                seconds: s.seconds,
                charge: s.charge.decimal().ok_or("charge out of range")?,
                cost: s.cost.decimal().ok_or("cost out of range")?,
                is_final: s.is_final,
            });
        }
        Ok(())
    }
}

fn decode(key: &[u8], bytes: &[u8]) -> Result<Bundle, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt {
        tree: TREE,
        key: printable_key(key),
        detail: e.to_string(),
    })
}

fn encode(bundle: &Bundle) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(bundle).map_err(|e| StoreError::Io(format!("encoding usage records: {e}")))
}

/// The month of a bundle key (its first 4 bytes), from [`day_key`].
fn key_month(key: &[u8]) -> Option<NaiveDate> {
    let days = (u32::from_be_bytes(key.get(..4)?.try_into().ok()?) ^ 0x8000_0000) as i32;
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(super::EPOCH_DAYS_FROM_CE)?)
}

fn key_vm(key: &[u8]) -> Option<Uuid> {
    Uuid::from_slice(key.get(4..20)?).ok()
}

/// Refuses a record the store must never hold: a malformed account slug, more than a day.
fn validate(record: &UsageRecord) -> Result<(), StoreError> {
    validate_account_slug(&record.account).map_err(StoreError::Invalid)?;
    if record.seconds > 86_400 {
        return Err(StoreError::Invalid(format!(
            "usage seconds: {} is more than a day (86400)",
            record.seconds
        )));
    }
    Ok(())
}

impl Store {
    fn usage_bundle(&self, key: &[u8]) -> Result<Bundle, StoreError> {
        match self.inner.usage.get(key)? {
            Some(bytes) => decode(key, &bytes),
            None => Ok(Bundle::default()),
        }
    }

    /// Inserts a usage record, replacing any record for the same (day, VM, account, billing
    /// type): accrual is idempotent, a re-put of today's provisional record updates it.
    ///
    /// Errors: [`StoreError::Invalid`] for a malformed account slug or more than 86 400
    /// seconds; I/O errors.
    pub fn put_usage(&self, record: &UsageRecord) -> Result<(), StoreError> {
        self.put_usage_records(std::slice::from_ref(record))
    }

    /// [`Store::put_usage`] for many records in one atomic batch (demo seeding, migration).
    ///
    /// Errors: as [`Store::put_usage`]; nothing is written when a record is refused.
    pub fn put_usage_records(&self, records: &[UsageRecord]) -> Result<(), StoreError> {
        let mut groups: BTreeMap<[u8; 20], Vec<&UsageRecord>> = BTreeMap::new();
        for r in records {
            validate(r)?;
            groups
                .entry(bundle_key(r.day, r.vm_id))
                .or_default()
                .push(r);
        }
        let mut batch = sled::Batch::default();
        for (key, new) in groups {
            let mut bundle = self.usage_bundle(&key)?;
            for r in new {
                bundle.push(r);
            }
            batch.insert(&key[..], encode(&bundle.tidy())?);
        }
        self.inner.usage.apply_batch(batch)?;
        Ok(())
    }

    /// Replaces every usage record of VM `vm_id` on the UTC days `from..=to` with `records`
    /// in one atomic batch: records of those days not in `records` are removed (a recomputed
    /// day never keeps a stale part, e.g. today's provisional record under a billing type that
    /// no longer applies). Records of other days are untouched, so final records stay forever.
    /// Used by accrual.
    ///
    /// Errors: [`StoreError::Invalid`] when a record is of another VM or outside the days, has
    /// a malformed account slug, or more than 86 400 seconds (nothing is written then); I/O
    /// errors.
    pub fn replace_usage(
        &self,
        vm_id: Uuid,
        from: NaiveDate,
        to: NaiveDate,
        records: &[UsageRecord],
    ) -> Result<(), StoreError> {
        for r in records {
            if r.vm_id != vm_id || r.day < from || r.day > to {
                return Err(StoreError::Invalid(format!(
                    "usage record of {} / {} given for {from}..={to} / {vm_id}",
                    r.day, r.vm_id
                )));
            }
            validate(r)?;
        }
        if from > to {
            return Ok(());
        }
        // Every month the days touch, with its stored records outside the days.
        let mut months: BTreeMap<NaiveDate, Bundle> = BTreeMap::new();
        let mut month = first_of_month(from);
        while month <= to {
            let mut bundle = self.usage_bundle(&bundle_key(month, vm_id))?;
            bundle.records.retain(|s| {
                month
                    .with_day(u32::from(s.day))
                    .is_some_and(|d| d < from || d > to)
            });
            months.insert(month, bundle);
            match month.checked_add_months(chrono::Months::new(1)) {
                Some(n) => month = n,
                None => break,
            }
        }
        for r in records {
            if let Some(bundle) = months.get_mut(&first_of_month(r.day)) {
                bundle.push(r);
            }
        }
        let mut batch = sled::Batch::default();
        for (month, bundle) in months {
            let key = bundle_key(month, vm_id);
            if bundle.records.is_empty() {
                batch.remove(&key[..]);
            } else {
                batch.insert(&key[..], encode(&bundle.tidy())?);
            }
        }
        self.inner.usage.apply_batch(batch)?;
        Ok(())
    }

    /// [`Store::replace_usage`] for the single day `day`.
    ///
    /// Errors: as [`Store::replace_usage`].
    pub fn replace_usage_day(
        &self,
        day: NaiveDate,
        vm_id: Uuid,
        records: &[UsageRecord],
    ) -> Result<(), StoreError> {
        self.replace_usage(vm_id, day, day, records)
    }

    /// Usage records with `from <= day <= to_inclusive` (UTC days), in day order (within a day:
    /// by VM id, account, billing type). An empty range (`from > to_inclusive`) gives none.
    ///
    /// Errors: [`StoreError::Corrupt`] for a bundle that does not decode; I/O errors.
    pub fn usage(
        &self,
        from: NaiveDate,
        to_inclusive: NaiveDate,
    ) -> Result<Vec<UsageRecord>, StoreError> {
        if from > to_inclusive {
            return Ok(Vec::new());
        }
        let start = day_key(first_of_month(from)).to_vec();
        let iter = match first_of_month(to_inclusive).checked_add_months(chrono::Months::new(1)) {
            Some(next) => self.inner.usage.range(start..day_key(next).to_vec()),
            None => self.inner.usage.range(start..),
        };
        let mut out = Vec::new();
        for item in iter {
            let (key, bytes) = item?;
            let (Some(month), Some(vm_id)) = (key_month(&key), key_vm(&key)) else {
                return Err(StoreError::Corrupt {
                    tree: TREE,
                    key: printable_key(&key),
                    detail: "not a (month, VM) key".into(),
                });
            };
            decode(&key, &bytes)?
                .records_into(month, vm_id, from, to_inclusive, &mut out)
                .map_err(|detail| StoreError::Corrupt {
                    tree: TREE,
                    key: printable_key(&key),
                    detail,
                })?;
        }
        // Bundles come month by month, VM by VM, each in day order: a stable sort by day gives
        // (day, VM, account, billing type).
        out.sort_by_key(|r| r.day);
        Ok(out)
    }
}

/// Moves schema 1's per-record JSON usage tree into bundles and drops it. Idempotent: a
/// crash before the drop re-runs it on the next open and writes the same bundles.
///
/// Errors: [`StoreError::Corrupt`] for a schema-1 record that does not decode; I/O errors.
pub(super) fn migrate_v1(store: &Store) -> Result<(), StoreError> {
    let db = &store.inner.db;
    if !db
        .tree_names()
        .iter()
        .any(|n| n.as_ref() == V1_TREE.as_bytes())
    {
        return Ok(());
    }
    let old = db.open_tree(V1_TREE)?;
    let records = old
        .iter()
        .map(|item| {
            let (k, v) = item?;
            from_json::<UsageRecord>(V1_TREE, &k, &v)
        })
        .collect::<Result<Vec<_>, _>>()?;
    store.put_usage_records(&records)?;
    store.inner.usage.flush()?;
    db.drop_tree(V1_TREE)?;
    Ok(())
}
