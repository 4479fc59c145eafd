//! Usage records in the store (SPEC.md §8): one sled entry per (calendar month, VM) holding
//! every record of that VM in that month, in a compact binary encoding (postcard).
//!
//! Why bundles: accrual writes a VM's whole year at once and the Usage pane reads a month for
//! every VM; one entry per record (365,000 for 1,000 VMs over a year) made accrual take tens of
//! seconds and the store hundreds of MiB, while a bundle per month is 12,000 entries.
//!
//! - Tree `usage_months`: key = first day of the month ([`day_key`], 4 bytes) ‖ VM UUID (16),
//!   so a range scan is in month order, then VM order. Value = postcard of `Vec<StoredRecord>`
//!   sorted by (day, account, billing type); (day, account, billing type) is unique within it.
//! - Money is kept as `rust_decimal`'s exact 16-byte form, never as a float.
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

/// One record inside a (month, VM) bundle: the [`UsageRecord`] without what the key holds.
#[derive(Debug, Serialize, Deserialize)]
struct StoredRecord {
    /// Day of the month, 1–31.
    day: u8,
    vm_name: String,
    account: String,
    tier: Tier,
    region: Region,
    billing_type: BillingType,
    seconds: u32,
    #[serde(with = "decimal_bytes")]
    charge: Decimal,
    #[serde(with = "decimal_bytes")]
    cost: Decimal,
    is_final: bool,
}

/// `rust_decimal`'s lossless 16-byte form (`Decimal::serialize` / `Decimal::deserialize`).
mod decimal_bytes {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&d.serialize(), s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        <[u8; 16]>::deserialize(d).map(Decimal::deserialize)
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

fn stored(r: &UsageRecord) -> StoredRecord {
    StoredRecord {
        // `day()` is 1..=31.
        day: u8::try_from(r.day.day()).unwrap_or(1),
        vm_name: r.vm_name.clone(),
        account: r.account.clone(),
        tier: r.tier,
        region: r.region,
        billing_type: r.billing_type,
        seconds: r.seconds,
        charge: r.charge,
        cost: r.cost,
        is_final: r.is_final,
    }
}

/// The record of `s` in the bundle of (`month`, `vm_id`); `None` for a day the month lacks.
fn record(month: NaiveDate, vm_id: Uuid, s: StoredRecord) -> Option<UsageRecord> {
    Some(UsageRecord {
        day: first_of_month(month).with_day(u32::from(s.day))?,
        vm_id,
        vm_name: s.vm_name,
        account: s.account,
        tier: s.tier,
        region: s.region,
        billing_type: s.billing_type,
        seconds: s.seconds,
        charge: s.charge,
        cost: s.cost,
        is_final: s.is_final,
    })
}

fn decode(key: &[u8], bytes: &[u8]) -> Result<Vec<StoredRecord>, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt {
        tree: TREE,
        key: printable_key(key),
        detail: e.to_string(),
    })
}

fn encode(records: &[StoredRecord]) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(records).map_err(|e| StoreError::Io(format!("encoding usage records: {e}")))
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

fn sort(records: &mut [StoredRecord]) {
    records.sort_by(|a, b| {
        (a.day, &a.account, billing_order(a.billing_type)).cmp(&(
            b.day,
            &b.account,
            billing_order(b.billing_type),
        ))
    });
}

impl Store {
    fn usage_bundle(&self, key: &[u8]) -> Result<Vec<StoredRecord>, StoreError> {
        match self.inner.usage.get(key)? {
            Some(bytes) => decode(key, &bytes),
            None => Ok(Vec::new()),
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
                let s = stored(r);
                bundle.retain(|o| {
                    !(o.day == s.day && o.account == s.account && o.billing_type == s.billing_type)
                });
                bundle.push(s);
            }
            sort(&mut bundle);
            batch.insert(&key[..], encode(&bundle)?);
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
        let mut batch = sled::Batch::default();
        let mut month = first_of_month(from);
        while month <= to {
            let key = bundle_key(month, vm_id);
            let next = month.checked_add_months(chrono::Months::new(1));
            let mut bundle = self.usage_bundle(&key)?;
            bundle.retain(|s| {
                month
                    .with_day(u32::from(s.day))
                    .is_some_and(|d| d < from || d > to)
            });
            bundle.extend(
                records
                    .iter()
                    .filter(|r| first_of_month(r.day) == month)
                    .map(stored),
            );
            if bundle.is_empty() {
                batch.remove(&key[..]);
            } else {
                sort(&mut bundle);
                batch.insert(&key[..], encode(&bundle)?);
            }
            match next {
                Some(n) => month = n,
                None => break,
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
            for s in decode(&key, &bytes)? {
                let Some(r) = record(month, vm_id, s) else {
                    return Err(StoreError::Corrupt {
                        tree: TREE,
                        key: printable_key(&key),
                        detail: "a day the month does not have".into(),
                    });
                };
                if r.day >= from && r.day <= to_inclusive {
                    out.push(r);
                }
            }
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
