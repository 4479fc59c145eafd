//! Wire types of the Hetzner Cloud API (JSON shapes from docs/hetzner-api.md and Hetzner's
//! OpenAPI document `shared/hetzner/openapi.json`).
//!
//! Rules that hold for every type here:
//! - Unknown JSON fields are ignored, so new Hetzner fields never break a list.
//! - Enums that Hetzner may extend have an `Unknown` variant (`#[serde(other)]`): a new value
//!   shows as unknown instead of failing the whole response.
//! - Timestamps are [`DateTime<Utc>`]; both `+00:00` and `Z` offsets are accepted.
//! - Money is [`Decimal`] parsed from Hetzner's decimal strings (up to 16 decimals, exact);
//!   never a float. The only floats are memory/disk sizes in GB and coordinates.
//! - IDs are `i64` (Hetzner: 1 … 2^53−1).
//!
//! This file holds what every type uses (labels, `null`-as-default, list `meta`); each
//! resource kind has its own file, re-exported here.
//!
//! [`DateTime<Utc>`]: chrono::DateTime
//! [`Decimal`]: rust_decimal::Decimal

mod action;
mod envelope;
mod firewall;
mod image;
mod server;
mod server_type;
mod ssh_key;

pub use action::*;
pub(crate) use envelope::*;
pub use firewall::*;
pub use image::*;
pub use server::*;
pub use server_type::*;
pub use ssh_key::*;

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// Labels of a resource: `{key: value}`, ordered by key (docs/hetzner-api.md §11).
pub type Labels = BTreeMap<String, String>;

/// Deserialize `null` (or an absent field, with `#[serde(default)]`) as `T::default()`.
///
/// Hetzner marks many keys "required but nullable" (e.g. firewall rule `source_ips`), and
/// older clients send `"labels": null`.
pub fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

// ------------------------------------------------------------------------------------------
// Pagination

/// `meta` of a list response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Page information; absent on endpoints that are not paginated.
    #[serde(default)]
    pub pagination: Option<Pagination>,
}

/// `meta.pagination` (docs/hetzner-api.md §2). Pages start at 1.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pagination {
    /// Current page number (1-based).
    #[serde(default)]
    pub page: u64,
    /// Entries per page (Hetzner: default 25, max 50).
    #[serde(default)]
    pub per_page: u64,
    /// Previous page, `None` on the first page.
    #[serde(default)]
    pub previous_page: Option<u64>,
    /// Next page, `None` (or 0) on the last page.
    #[serde(default)]
    pub next_page: Option<u64>,
    /// Last page number when known.
    #[serde(default)]
    pub last_page: Option<u64>,
    /// Total number of entries when known.
    #[serde(default)]
    pub total_entries: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    #[test]
    fn timestamps_accept_plus_zero_and_z() {
        #[derive(Deserialize)]
        struct T {
            t: DateTime<Utc>,
        }
        let a: T = serde_json::from_str(r#"{"t":"2016-01-30T23:55:00+00:00"}"#).expect("+00:00");
        let b: T = serde_json::from_str(r#"{"t":"2016-01-30T23:55:00Z"}"#).expect("Z");
        assert_eq!(a.t, b.t);
        assert_eq!(a.t.to_rfc3339(), "2016-01-30T23:55:00+00:00");
        // A non-UTC offset is converted to UTC.
        let c: T = serde_json::from_str(r#"{"t":"2016-01-31T01:55:00+02:00"}"#).expect("+02:00");
        assert_eq!(c.t, a.t);
    }
}
