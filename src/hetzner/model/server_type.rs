//! Server types and prices: [`ServerType`], per-location prices, and the project [`Pricing`].

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::null_as_default;

/// CPU kind of a server type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpuType {
    /// Shared vCPU.
    Shared,
    /// Dedicated vCPU.
    Dedicated,
    /// A value this client does not know.
    #[serde(other)]
    Unknown,
}

/// CPU architecture of a server type or image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    /// x86-64.
    X86,
    /// ARM64.
    Arm,
    /// A value this client does not know.
    #[serde(other)]
    Unknown,
}

impl Architecture {
    /// Wire name (`x86`, `arm`), used as a list filter.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86 => "x86",
            Architecture::Arm => "arm",
            Architecture::Unknown => "unknown",
        }
    }
}

/// A server type (`GET /server_types`), e.g. `cpx22` (docs/hetzner-api.md §9.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerType {
    /// Server type ID.
    pub id: i64,
    /// Name, e.g. `cpx22`. Names change over generations: never hard-code the list.
    pub name: String,
    /// Description, e.g. `CPX22`.
    #[serde(default)]
    pub description: String,
    /// Category, e.g. `Shared vCPU`.
    #[serde(default)]
    pub category: Option<String>,
    /// Number of vCPUs.
    pub cores: u32,
    /// Memory in GB (may be fractional).
    pub memory: f64,
    /// Local disk in GB.
    pub disk: u64,
    /// Shared or dedicated vCPU.
    pub cpu_type: CpuType,
    /// CPU architecture.
    pub architecture: Architecture,
    /// `local` or `network`.
    #[serde(default)]
    pub storage_type: Option<String>,
    /// Deprecated flag (replaced by per-location `locations[].deprecation`).
    #[serde(default)]
    pub deprecated: Option<bool>,
    /// Prices, one entry per location where the type is sold.
    #[serde(default, deserialize_with = "null_as_default")]
    pub prices: Vec<LocationPrice>,
    /// Availability per location.
    #[serde(default, deserialize_with = "null_as_default")]
    pub locations: Vec<ServerTypeLocation>,
}

impl ServerType {
    /// The price entry for a location name (e.g. `hel1`), if the type is sold there.
    pub fn price_in(&self, location: &str) -> Option<&LocationPrice> {
        self.prices.iter().find(|p| p.location == location)
    }

    /// True when `locations[]` lists `location` as available (not sold out, not past its
    /// `unavailable_after`). Types that carry no `locations[]` fall back to having a price
    /// there.
    pub fn available_in(&self, location: &str, now: DateTime<Utc>) -> bool {
        if self.locations.is_empty() {
            return self.price_in(location).is_some();
        }
        self.locations.iter().any(|l| {
            l.name == location
                && l.available.unwrap_or(true)
                && l.deprecation
                    .as_ref()
                    .is_none_or(|d| d.unavailable_after > now)
        })
    }
}

/// A net/gross amount in the project's currency (EUR or USD; `Pricing::currency`), exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    /// Without VAT (up to 10 decimals on the wire).
    pub net: Decimal,
    /// With the account's VAT (up to 16 decimals on the wire).
    pub gross: Decimal,
}

/// The price of something in one location (`server_type.prices[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationPrice {
    /// Location name, e.g. `hel1`.
    pub location: String,
    /// Price per started hour.
    pub price_hourly: Price,
    /// Monthly cap: a month never costs more than this (docs/hetzner-api.md §9.3).
    pub price_monthly: Price,
    /// Traffic included per month, bytes.
    #[serde(default)]
    pub included_traffic: Option<u64>,
    /// Price per TB of traffic over the included amount.
    #[serde(default)]
    pub price_per_tb_traffic: Option<Price>,
}

/// Deprecation of a server type in a location (or of a server type as a whole).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deprecation {
    /// When the deprecation was announced, UTC.
    pub announced: DateTime<Utc>,
    /// After this instant (UTC) the type can no longer be ordered there.
    pub unavailable_after: DateTime<Utc>,
}

/// `server_type.locations[]`: where a server type can be ordered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerTypeLocation {
    /// Location ID.
    pub id: i64,
    /// Location name.
    pub name: String,
    /// `false` = temporarily sold out. `None` when Hetzner does not say.
    #[serde(default)]
    pub available: Option<bool>,
    /// Hetzner recommends this location for the type.
    #[serde(default)]
    pub recommended: Option<bool>,
    /// Deprecation in this location, if any.
    #[serde(default)]
    pub deprecation: Option<Deprecation>,
}

/// `GET /pricing` → `{"pricing": …}` (docs/hetzner-api.md §9.2). Only the parts this
/// console uses are typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pricing {
    /// Currency of all prices: `EUR` or `USD` (the project owner's).
    pub currency: String,
    /// VAT rate in percent, e.g. `19.00`.
    pub vat_rate: Decimal,
    /// Prices of every server type per location.
    #[serde(default, deserialize_with = "null_as_default")]
    pub server_types: Vec<ServerTypePricing>,
    /// Primary IP prices per type (`ipv4`/`ipv6`) and location.
    #[serde(default, deserialize_with = "null_as_default")]
    pub primary_ips: Vec<PrimaryIpPricing>,
    /// Backup surcharge.
    #[serde(default)]
    pub server_backup: Option<BackupPricing>,
}

/// `pricing.server_types[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerTypePricing {
    /// Server type ID.
    pub id: i64,
    /// Server type name.
    pub name: String,
    /// Prices per location.
    #[serde(default, deserialize_with = "null_as_default")]
    pub prices: Vec<LocationPrice>,
}

/// `pricing.primary_ips[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimaryIpPricing {
    /// `ipv4` or `ipv6`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Prices per location.
    #[serde(default, deserialize_with = "null_as_default")]
    pub prices: Vec<PrimaryIpLocationPrice>,
}

/// `pricing.primary_ips[].prices[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimaryIpLocationPrice {
    /// Location name.
    pub location: String,
    /// Price per started hour.
    #[serde(default)]
    pub price_hourly: Option<Price>,
    /// Monthly cap.
    #[serde(default)]
    pub price_monthly: Option<Price>,
}

/// `pricing.server_backup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupPricing {
    /// Surcharge in percent of the server price, e.g. `20.00`.
    pub percentage: Decimal,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hetzner::model::PricingEnvelope;
    use std::str::FromStr;

    #[test]
    fn prices_with_sixteen_decimals_are_exact() {
        let json = r#"{"location": "hel1",
            "price_hourly": {"net": "0.0060000000", "gross": "0.0071400000000001"},
            "price_monthly": {"net": "3.7900000000", "gross": "12.3456789012345678"},
            "included_traffic": 21990232555520,
            "price_per_tb_traffic": {"net": "1.0000000000", "gross": "1.1900000000000000"}}"#;
        let p: LocationPrice = serde_json::from_str(json).expect("price parses");
        assert_eq!(
            p.price_monthly.gross,
            Decimal::from_str("12.3456789012345678").expect("decimal")
        );
        // 18 significant digits survive exactly (an f64 keeps about 15–17).
        assert_eq!(p.price_monthly.gross.to_string(), "12.3456789012345678");
        assert_eq!(p.price_hourly.gross.to_string(), "0.0071400000000001");
        assert_eq!(p.price_hourly.net, Decimal::new(6, 3));
        // 720 hours at the hourly gross price, exactly.
        assert_eq!(
            (p.price_hourly.gross * Decimal::from(720)).to_string(),
            "5.1408000000000720"
        );
        assert_eq!(p.included_traffic, Some(21_990_232_555_520));
        // Serialised back as the same decimal strings.
        let back = serde_json::to_value(&p).expect("serialise");
        assert_eq!(back["price_monthly"]["gross"], "12.3456789012345678");
        // A JSON number is not a price (Hetzner always sends strings).
        let bad = r#"{"net": 1.5, "gross": "1.0"}"#;
        assert!(serde_json::from_str::<Price>(bad).is_err());
    }

    #[test]
    fn server_type_availability() {
        let json = r#"{"id": 9, "name": "cpx22", "description": "CPX22", "cores": 2, "memory": 0.5,
            "disk": 80, "cpu_type": "dedicated", "architecture": "arm", "category": null,
            "prices": [{"location": "hel1",
                "price_hourly": {"net": "0.01", "gross": "0.0119"},
                "price_monthly": {"net": "6.00", "gross": "7.14"}}],
            "locations": [
              {"id": 1, "name": "hel1", "available": true, "recommended": true, "deprecation": null},
              {"id": 2, "name": "fsn1", "available": false},
              {"id": 3, "name": "nbg1", "available": true,
               "deprecation": {"announced": "2025-01-01T00:00:00+00:00",
                               "unavailable_after": "2025-04-01T00:00:00Z"}}]}"#;
        let t: ServerType = serde_json::from_str(json).expect("server type");
        assert_eq!(t.memory, 0.5);
        assert_eq!(t.cpu_type, CpuType::Dedicated);
        assert_eq!(t.architecture, Architecture::Arm);
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        assert!(t.available_in("hel1", now));
        assert!(!t.available_in("fsn1", now));
        assert!(!t.available_in("nbg1", now));
        assert!(!t.available_in("ash", now));
        assert_eq!(
            t.price_in("hel1")
                .map(|p| p.price_monthly.gross.to_string()),
            Some("7.14".into())
        );
        let unknown: CpuType = serde_json::from_str("\"quantum\"").expect("unknown cpu");
        assert_eq!(unknown, CpuType::Unknown);
    }

    #[test]
    fn pricing_from_openapi_sample() {
        let json = r#"{"pricing":{"currency":"EUR","vat_rate":"19.00",
          "primary_ips":[{"type":"ipv4","prices":[{"location":"fsn1",
             "price_hourly":{"net":"1.0000","gross":"1.1900"},
             "price_monthly":{"net":"1.0000","gross":"1.1900"}}]}],
          "floating_ips":[{"type":"ipv4","prices":[{"location":"fsn1","price_monthly":{"net":"1.0000","gross":"1.1900"}}]}],
          "image":{"price_per_gb_month":{"net":"1.0000","gross":"1.1900"}},
          "volume":{"price_per_gb_month":{"net":"1.0000","gross":"1.1900"}},
          "server_backup":{"percentage":"20.00"},
          "server_types":[{"id":104,"name":"cpx22","prices":[{"location":"fsn1",
             "price_hourly":{"net":"1.0000","gross":"1.1900"},
             "price_monthly":{"net":"1.0000","gross":"1.1900"},"included_traffic":654321,
             "price_per_tb_traffic":{"net":"1.0000","gross":"1.1900"}}]}],
          "load_balancer_types":[],
          "floating_ip":{"price_monthly":{"net":"1.0000","gross":"1.1900"}}}}"#;
        let p: PricingEnvelope = serde_json::from_str(json).expect("pricing");
        let p = p.pricing;
        assert_eq!(p.currency, "EUR");
        assert_eq!(p.vat_rate, Decimal::new(1900, 2));
        assert_eq!(p.server_types[0].name, "cpx22");
        assert_eq!(
            p.server_types[0].prices[0].price_hourly.gross,
            Decimal::new(119, 2)
        );
        assert_eq!(p.primary_ips[0].kind, "ipv4");
        assert_eq!(
            p.server_backup.map(|b| b.percentage),
            Some(Decimal::new(20, 0))
        );
    }
}
