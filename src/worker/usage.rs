//! Usage accrual (issue 7, docs/product-rules.md §8): writes one usage record per (UTC day, VM, account,
//! billing type) from the VM records' lives ([`crate::domain::usage::vm_records`]), never from
//! samples.
//!
//! - The worker calls [`accrue`] at start and after each successful sync. Each VM's progress is
//!   kept in the store's `meta` as `usage.accrued_through.<vm id>` = the last UTC day whose
//!   records are final. A run recomputes every day after it up to today (catching up days
//!   missed while the console was closed; a VM without the key starts at its provisioning), so
//!   running twice, or after a crash, writes the same records ([`Store::replace_usage`]
//!   replaces the recomputed days' records as a whole, in one batch per VM). Today's records are provisional (`is_final: false`)
//!   until the day ends. Days before the key are never rewritten: records of destroyed VMs stay.
//! - Hetzner's prices per (server type, location) come from the servers the sync lists (each
//!   embeds its full server type with `prices[]`: docs/hetzner-api.md §9.1) and are cached as JSON in `meta`
//!   under [`HETZNER_PRICES_META_KEY`] (net prices), written and flushed together with the
//!   synced VM records, so accrual works offline and for destroyed VMs. While a VM's server
//!   type has no known price its records show cost 0 but stay provisional (`is_final: false`,
//!   its progress key not advanced), so they are recomputed once the price is cached.
//! - The charge comes from the config's rate table ([`UsageSettings`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::config::Config;
use crate::domain::usage::{
    ChargeRate, HetznerPrice, Rates, billable_start, hetzner_key, vm_records,
};
use crate::hetzner::Server;
use crate::store::{Store, StoreError};

/// `meta` key of the cached Hetzner prices: JSON object `"cpx22@hel1"` →
/// `{"hourly": "0.0128", "monthly": "7.99"}` (net, decimal strings).
pub const HETZNER_PRICES_META_KEY: &str = "usage.hetzner_prices";

/// Prefix of the per-VM `meta` key holding the last UTC day (`YYYY-MM-DD`) with final records.
pub const ACCRUED_META_PREFIX: &str = "usage.accrued_through.";

/// The platform's side of accrual: the rate table and currency from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageSettings {
    /// Currency of the charges (config `currency`).
    pub currency: String,
    /// One rate per (tier, region, billing type) (config `[[prices]]`).
    pub charge: Vec<ChargeRate>,
}

impl UsageSettings {
    /// The rate table and currency of `config`.
    pub fn from_config(config: &Config) -> UsageSettings {
        UsageSettings {
            currency: config.currency.clone(),
            charge: config
                .prices
                .iter()
                .map(|p| ChargeRate {
                    tier: p.tier,
                    region: p.region,
                    billing_type: p.billing_type,
                    hourly: p.hourly,
                    monthly: p.monthly,
                })
                .collect(),
        }
    }

    /// These settings with Hetzner's prices: the [`Rates`] accrual uses.
    pub fn rates(&self, hetzner: BTreeMap<String, HetznerPrice>) -> Rates {
        Rates {
            currency: self.currency.clone(),
            charge: self.charge.clone(),
            hetzner,
        }
    }
}

impl Default for UsageSettings {
    /// The default config's table (EUR).
    fn default() -> Self {
        UsageSettings::from_config(&Config::default())
    }
}

/// Net Hetzner prices per `server_type@location` of the listed servers' types (every location
/// each type is sold in).
pub fn prices_from_servers(servers: &[Server]) -> BTreeMap<String, HetznerPrice> {
    let mut out = BTreeMap::new();
    for server in servers {
        for p in &server.server_type.prices {
            out.insert(
                hetzner_key(&server.server_type.name, &p.location),
                HetznerPrice {
                    hourly: p.price_hourly.net,
                    monthly: p.price_monthly.net,
                },
            );
        }
    }
    out
}

/// The cached Hetzner prices (empty when none were cached yet).
/// Errors: [`StoreError::Corrupt`] when the cache does not decode.
pub fn load_hetzner_prices(store: &Store) -> Result<BTreeMap<String, HetznerPrice>, StoreError> {
    match store.meta_get(HETZNER_PRICES_META_KEY)? {
        None => Ok(BTreeMap::new()),
        Some(text) => serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
            tree: "meta",
            key: HETZNER_PRICES_META_KEY.into(),
            detail: e.to_string(),
        }),
    }
}

/// Merges `prices` into the cache (newer prices replace older ones for the same key; other
/// keys are kept, e.g. those of destroyed VMs' types). Returns true when the cache changed.
pub fn save_hetzner_prices(
    store: &Store,
    prices: &BTreeMap<String, HetznerPrice>,
) -> Result<bool, StoreError> {
    let mut cache = load_hetzner_prices(store)?;
    let before = cache.clone();
    cache.extend(prices.iter().map(|(k, v)| (k.clone(), *v)));
    if cache == before {
        return Ok(false);
    }
    let text = serde_json::to_string(&cache)
        .map_err(|e| StoreError::Io(format!("encoding Hetzner prices: {e}")))?;
    store.meta_set(HETZNER_PRICES_META_KEY, &text)?;
    Ok(true)
}

/// The [`Rates`] for `settings` with the cached Hetzner prices.
pub fn rates(store: &Store, settings: &UsageSettings) -> Result<Rates, StoreError> {
    Ok(settings.rates(load_hetzner_prices(store)?))
}

/// What one [`accrue`] run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Accrual {
    /// VMs with at least one day recomputed.
    pub vms: usize,
    /// (VM, day) pairs recomputed.
    pub days: usize,
    /// Records written.
    pub records: usize,
}

fn accrued_key(vm_id: uuid::Uuid) -> String {
    format!("{ACCRUED_META_PREFIX}{vm_id}")
}

/// Accrues usage for every VM record up to `now` (UTC): see the module docs. Blocking (sled):
/// call it from `spawn_blocking` in async code. Flushes before returning.
///
/// Errors: store errors; a corrupt per-VM `meta` day is [`StoreError::Corrupt`].
pub fn accrue(store: &Store, now: DateTime<Utc>, rates: &Rates) -> Result<Accrual, StoreError> {
    let today = now.date_naive();
    let mut done = Accrual::default();
    for vm in store.vms()? {
        let Some(start) = billable_start(&vm) else {
            continue;
        };
        let key = accrued_key(vm.id);
        let through = match store.meta_get(&key)? {
            Some(text) => Some(NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(
                |e| StoreError::Corrupt {
                    tree: "meta",
                    key: key.clone(),
                    detail: e.to_string(),
                },
            )?),
            None => None,
        };
        let from = match through {
            Some(d) => (d + Duration::days(1)).max(start.date_naive()),
            None => start.date_naive(),
        };
        let mut last = today;
        if let Some(destroyed) = vm.destroyed_at {
            last = last.min(destroyed.date_naive());
        }
        if from > last {
            continue;
        }
        let mut records = vm_records(&vm, from, last, now, rates);
        // Without Hetzner's price for its server type the cost is unknown (not zero): the days
        // stay provisional and are recomputed once a sync has cached the price.
        let priced = rates.hetzner_price(&vm).is_some();
        if !priced {
            for r in &mut records {
                r.is_final = false;
            }
        }
        store.replace_usage(vm.id, from, last, &records)?;
        done.days += usize::try_from((last - from).num_days() + 1).unwrap_or(0);
        done.records += records.len();
        done.vms += 1;
        // Final through the day before today, or through the destruction day.
        let final_through = if last < today {
            last
        } else {
            today - Duration::days(1)
        };
        if priced && through.is_none_or(|d| final_through > d) {
            store.meta_set(&key, &final_through.format("%Y-%m-%d").to_string())?;
        }
    }
    store.flush()?;
    Ok(done)
}

/// Answers the Usage pane's `query` (`src/view/usage.rs` `usage`) from `snapshot` (its window
/// of records, VMs and prices) and, for periods older than the window, the store's records of
/// the period. The store read and the sums run on a blocking thread; a failed read is answered
/// with the error in words.
pub async fn answer(
    store: &Store,
    snapshot: crate::protocol::Snapshot,
    query: crate::protocol::UsageQuery,
) -> crate::protocol::UsageView {
    use crate::view::usage::{failed, needs_store, usage};
    let store = store.clone();
    let q = query.clone();
    let done = tokio::task::spawn_blocking(move || {
        let stored;
        let records: &[crate::domain::UsageRecord] = if needs_store(&q) {
            match store.usage(q.from, q.to) {
                Ok(r) => {
                    stored = r;
                    &stored
                }
                Err(e) => {
                    let e = format!("reading usage {} to {}: {e}", q.from, q.to);
                    tracing::warn!(error = %e, "usage range read failed");
                    return failed(&q, e);
                }
            }
        } else {
            &snapshot.usage
        };
        usage(
            &q,
            records,
            &snapshot.usage,
            &snapshot.vms,
            &snapshot.hetzner_prices,
        )
    })
    .await;
    match done {
        Ok(view) => view,
        Err(e) => failed(&query, format!("usage task failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        BillingPeriod, BillingType, ImageKey, OwnershipPeriod, Region, Tier, VmRecord, VmStatus,
    };
    use chrono::TimeZone;
    use rust_decimal::Decimal;
    use std::str::FromStr;
    use uuid::Uuid;

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap()
    }

    fn vm(n: u128, provisioned: DateTime<Utc>) -> VmRecord {
        VmRecord {
            id: Uuid::from_u128(n),
            name: format!("vm-{n}"),
            account: "acme".into(),
            tier: Tier::Small,
            region: Region::Eu,
            image: ImageKey::Debian12,
            billing_type: BillingType::Metered,
            status: VmStatus::Running,
            created_at: provisioned,
            provisioned_at: Some(provisioned),
            destroyed_at: None,
            hetzner_server_id: Some(1),
            hetzner_firewall_id: Some(2),
            server_type: "cpx22".into(),
            ipv4: None,
            ipv6: None,
            keys: vec![],
            ownership: vec![OwnershipPeriod {
                from: provisioned,
                account: "acme".into(),
            }],
            billing: vec![BillingPeriod {
                from: provisioned,
                billing_type: BillingType::Metered,
            }],
            failure: None,
        }
    }

    fn test_rates() -> Rates {
        let mut hetzner = BTreeMap::new();
        hetzner.insert(
            hetzner_key("cpx22", "hel1"),
            HetznerPrice {
                hourly: Decimal::from_str("0.0128").unwrap(),
                monthly: Decimal::from_str("7.99").unwrap(),
            },
        );
        UsageSettings::default().rates(hetzner)
    }

    #[test]
    fn twice_gives_identical_records_and_a_gap_is_caught_up() {
        let store = Store::open_temporary().unwrap();
        store.put_vm(&vm(1, at(1, 6))).unwrap();
        let rates = test_rates();
        let first = accrue(&store, at(5, 12), &rates).unwrap();
        assert_eq!(first.records, 5);
        let once = store
            .usage(at(1, 0).date_naive(), at(30, 0).date_naive())
            .unwrap();
        accrue(&store, at(5, 12), &rates).unwrap();
        let twice = store
            .usage(at(1, 0).date_naive(), at(30, 0).date_naive())
            .unwrap();
        assert_eq!(once, twice);
        assert_eq!(
            once.iter()
                .map(|r| (r.seconds, r.is_final))
                .collect::<Vec<_>>(),
            vec![
                (64_800, true),
                (86_400, true),
                (86_400, true),
                (86_400, true),
                (43_200, false)
            ]
        );
        // Closed for ten days: the next run catches up the 5th (now final) to the 15th.
        let later = accrue(&store, at(15, 12), &rates).unwrap();
        assert_eq!((later.days, later.records), (11, 11));
        let all = store
            .usage(at(1, 0).date_naive(), at(30, 0).date_naive())
            .unwrap();
        assert_eq!(all.len(), 15);
        assert_eq!(all[0].seconds, 64_800);
        assert!(all[1..14].iter().all(|r| r.is_final && r.seconds == 86_400));
        assert_eq!((all[14].seconds, all[14].is_final), (43_200, false));
        // The same as computing the whole range at once.
        let direct = vm_records(
            &vm(1, at(1, 6)),
            at(1, 0).date_naive(),
            at(15, 0).date_naive(),
            at(15, 12),
            &rates,
        );
        assert_eq!(all, direct);
        assert_eq!(
            store
                .meta_get(&accrued_key(Uuid::from_u128(1)))
                .unwrap()
                .as_deref(),
            Some("2026-11-14")
        );
    }

    #[test]
    fn a_stale_provisional_part_is_replaced_and_destroyed_vms_keep_their_records() {
        let store = Store::open_temporary().unwrap();
        let mut v = vm(2, at(1, 0));
        store.put_vm(&v).unwrap();
        let rates = test_rates();
        accrue(&store, at(3, 6), &rates).unwrap();
        // Switched to subscription at 08:00 today, destroyed at 12:00.
        v.billing.push(BillingPeriod {
            from: at(3, 8),
            billing_type: BillingType::Subscription,
        });
        v.destroyed_at = Some(at(3, 12));
        v.status = VmStatus::Deleted;
        store.put_vm(&v).unwrap();
        accrue(&store, at(9, 0), &rates).unwrap();
        let day3: Vec<(BillingType, u32, bool)> = store
            .usage(at(3, 0).date_naive(), at(3, 0).date_naive())
            .unwrap()
            .iter()
            .map(|r| (r.billing_type, r.seconds, r.is_final))
            .collect();
        assert_eq!(
            day3,
            vec![
                (BillingType::Metered, 28_800, true),
                (BillingType::Subscription, 14_400, true)
            ]
        );
        // Nothing after the destruction; later runs leave the records alone.
        let summary = accrue(&store, at(20, 0), &rates).unwrap();
        assert_eq!(summary, Accrual::default());
        assert_eq!(
            store
                .usage(at(1, 0).date_naive(), at(30, 0).date_naive())
                .unwrap()
                .len(),
            4
        );
    }

    #[test]
    fn days_without_a_known_price_stay_provisional_until_the_price_is_cached() {
        let store = Store::open_temporary().unwrap();
        store.put_vm(&vm(3, at(1, 0))).unwrap();
        // A kill between the synced VM records and their prices: no price is cached yet.
        let unpriced = UsageSettings::default().rates(BTreeMap::new());
        accrue(&store, at(3, 12), &unpriced).unwrap();
        let first = store
            .usage(at(1, 0).date_naive(), at(3, 0).date_naive())
            .unwrap();
        assert_eq!(
            first
                .iter()
                .map(|r| (r.cost, r.is_final))
                .collect::<Vec<_>>(),
            vec![(Decimal::ZERO, false); 3]
        );
        assert_eq!(
            store.meta_get(&accrued_key(Uuid::from_u128(3))).unwrap(),
            None
        );
        // Once a sync cached the price, every day is recomputed with its cost and final.
        accrue(&store, at(3, 12), &test_rates()).unwrap();
        let later = store
            .usage(at(1, 0).date_naive(), at(3, 0).date_naive())
            .unwrap();
        assert_eq!(
            later
                .iter()
                .map(|r| (r.cost.to_string(), r.is_final))
                .collect::<Vec<_>>(),
            vec![
                ("0.3072".to_string(), true),
                ("0.3072".to_string(), true),
                ("0.1536".to_string(), false)
            ]
        );
        assert_eq!(
            store
                .meta_get(&accrued_key(Uuid::from_u128(3)))
                .unwrap()
                .as_deref(),
            Some("2026-11-02")
        );
    }

    #[test]
    fn price_cache_merges() {
        let store = Store::open_temporary().unwrap();
        assert!(load_hetzner_prices(&store).unwrap().is_empty());
        let p = test_rates().hetzner;
        assert!(save_hetzner_prices(&store, &p).unwrap());
        assert!(!save_hetzner_prices(&store, &p).unwrap());
        assert_eq!(load_hetzner_prices(&store).unwrap(), p);
        assert_eq!(rates(&store, &UsageSettings::default()).unwrap().hetzner, p);
    }
}
