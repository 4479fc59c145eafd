//! The sim's fixed catalog: locations, datacenters, server types with per-location prices,
//! system images and the `/pricing` document.
//!
//! Shapes follow docs/hetzner-api.md §9-§10 and the OpenAPI response schemas. Figures are
//! realistic but made up (prices in EUR, VAT 19 %); the CrabGlamp tier defaults of docs/product-rules.md §2
//! (US `cpx21`/`cpx31`/`cpx41` in `hil`, EU `cpx22`/`cpx32`/`cpx42` in `hel1`) have the exact
//! vCPU / RAM / disk figures the spec gives.

use std::sync::LazyLock;

use rust_decimal::Decimal;
use serde_json::{Value, json};

/// VAT rate applied to net prices to get gross prices (19 %, as a decimal string in `/pricing`).
const VAT_PERCENT: i64 = 19;
/// 20 TiB in bytes: included monthly traffic in EU locations.
const TRAFFIC_EU: i64 = 21_990_232_555_520;
/// 1 TiB in bytes: included monthly traffic in US locations.
const TRAFFIC_US: i64 = 1_099_511_627_776;
/// 0.5 TiB in bytes: included monthly traffic in Singapore.
const TRAFFIC_SIN: i64 = 549_755_813_888;

/// A Hetzner location (`GET /locations`).
pub(crate) struct Location {
    pub id: i64,
    pub name: &'static str,
    pub description: &'static str,
    pub country: &'static str,
    pub city: &'static str,
    pub latitude: f64,
    pub longitude: f64,
    pub network_zone: &'static str,
    /// The one datacenter in this location (deprecated API object).
    pub datacenter_id: i64,
    pub datacenter_name: &'static str,
}

/// One price row of a server type: location name, monthly and hourly net EUR.
pub(crate) struct Price {
    pub location: &'static str,
    pub monthly_net: Decimal,
    pub hourly_net: Decimal,
}

/// A server type (`GET /server_types`).
pub(crate) struct ServerType {
    pub id: i64,
    pub name: &'static str,
    pub description: &'static str,
    pub category: &'static str,
    pub cores: i64,
    pub memory_gb: f64,
    pub disk_gb: i64,
    pub cpu_type: &'static str,
    pub architecture: &'static str,
    pub prices: Vec<Price>,
}

impl ServerType {
    /// True when the type is sold in `location` (a location name).
    pub fn sold_in(&self, location: &str) -> bool {
        self.prices.iter().any(|p| p.location == location)
    }
}

/// A system image (`GET /images`).
pub(crate) struct Image {
    pub id: i64,
    pub name: &'static str,
    pub description: &'static str,
    pub os_flavor: &'static str,
    pub os_version: &'static str,
    pub architecture: &'static str,
    pub disk_size: i64,
    pub created: &'static str,
    /// RFC 3339 deprecation time; deprecated images are hidden unless `include_deprecated`.
    pub deprecated: Option<&'static str>,
}

/// The whole catalog.
pub(crate) struct Catalog {
    pub locations: Vec<Location>,
    pub server_types: Vec<ServerType>,
    pub images: Vec<Image>,
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap_or(Decimal::ZERO)
}

#[allow(clippy::too_many_arguments)]
fn loc(
    id: i64,
    name: &'static str,
    description: &'static str,
    country: &'static str,
    city: &'static str,
    (latitude, longitude): (f64, f64),
    network_zone: &'static str,
    (datacenter_id, datacenter_name): (i64, &'static str),
) -> Location {
    Location {
        id,
        name,
        description,
        country,
        city,
        latitude,
        longitude,
        network_zone,
        datacenter_id,
        datacenter_name,
    }
}

const EU: &[&str] = &["fsn1", "nbg1", "hel1"];
const US: &[&str] = &["ash", "hil"];

fn prices(rows: &[(&[&'static str], &str, &str)]) -> Vec<Price> {
    rows.iter()
        .flat_map(|(locs, monthly, hourly)| {
            locs.iter().map(|l| Price {
                location: l,
                monthly_net: d(monthly),
                hourly_net: d(hourly),
            })
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn st(
    id: i64,
    name: &'static str,
    category: &'static str,
    (cores, memory_gb, disk_gb): (i64, f64, i64),
    cpu_type: &'static str,
    architecture: &'static str,
    description: &'static str,
    prices: Vec<Price>,
) -> ServerType {
    ServerType {
        id,
        name,
        description,
        category,
        cores,
        memory_gb,
        disk_gb,
        cpu_type,
        architecture,
        prices,
    }
}

fn build() -> Catalog {
    let locations = vec![
        loc(
            1,
            "fsn1",
            "Falkenstein DC Park 1",
            "DE",
            "Falkenstein",
            (50.47612, 12.370071),
            "eu-central",
            (4, "fsn1-dc14"),
        ),
        loc(
            2,
            "nbg1",
            "Nuremberg DC Park 1",
            "DE",
            "Nuremberg",
            (49.452102, 11.076665),
            "eu-central",
            (2, "nbg1-dc3"),
        ),
        loc(
            3,
            "hel1",
            "Helsinki DC Park 1",
            "FI",
            "Helsinki",
            (60.169855, 24.938379),
            "eu-central",
            (3, "hel1-dc2"),
        ),
        loc(
            4,
            "ash",
            "Ashburn, VA",
            "US",
            "Ashburn, VA",
            (39.045821, -77.487073),
            "us-east",
            (5, "ash-dc1"),
        ),
        loc(
            5,
            "hil",
            "Hillsboro, OR",
            "US",
            "Hillsboro, OR",
            (45.54222, -122.95194),
            "us-west",
            (6, "hil-dc1"),
        ),
        loc(
            6,
            "sin",
            "Singapore",
            "SG",
            "Singapore",
            (1.283333, 103.833333),
            "ap-southeast",
            (7, "sin-dc1"),
        ),
    ];
    let sin: &[&'static str] = &["sin"];
    let shared = "Shared vCPU";
    let server_types = vec![
        st(
            22,
            "cpx11",
            shared,
            (2, 2.0, 40),
            "shared",
            "x86",
            "CPX 11",
            prices(&[
                (EU, "4.4900000000", "0.0072000000"),
                (US, "5.4900000000", "0.0088000000"),
                (sin, "6.4900000000", "0.0104000000"),
            ]),
        ),
        st(
            23,
            "cpx21",
            shared,
            (3, 4.0, 80),
            "shared",
            "x86",
            "CPX 21",
            prices(&[
                (US, "9.9900000000", "0.0160000000"),
                (sin, "11.4900000000", "0.0184000000"),
            ]),
        ),
        st(
            24,
            "cpx31",
            shared,
            (4, 8.0, 160),
            "shared",
            "x86",
            "CPX 31",
            prices(&[
                (US, "17.9900000000", "0.0288000000"),
                (sin, "20.4900000000", "0.0328000000"),
            ]),
        ),
        st(
            25,
            "cpx41",
            shared,
            (8, 16.0, 240),
            "shared",
            "x86",
            "CPX 41",
            prices(&[
                (US, "33.4900000000", "0.0536000000"),
                (sin, "37.9900000000", "0.0608000000"),
            ]),
        ),
        st(
            45,
            "cax11",
            shared,
            (2, 4.0, 40),
            "shared",
            "arm",
            "CAX11",
            prices(&[(EU, "3.7900000000", "0.0061000000")]),
        ),
        st(
            96,
            "ccx13",
            "Dedicated vCPU",
            (2, 8.0, 80),
            "dedicated",
            "x86",
            "CCX13",
            prices(&[
                (EU, "12.4900000000", "0.0200000000"),
                (US, "14.4900000000", "0.0232000000"),
                (sin, "15.9900000000", "0.0256000000"),
            ]),
        ),
        st(
            104,
            "cx22",
            "Cost-Optimized",
            (2, 4.0, 40),
            "shared",
            "x86",
            "CX22",
            prices(&[(EU, "3.7900000000", "0.0060000000")]),
        ),
        st(
            108,
            "cpx22",
            "Regular Purpose",
            (2, 4.0, 80),
            "shared",
            "x86",
            "CPX 22",
            prices(&[(EU, "7.9900000000", "0.0128000000")]),
        ),
        st(
            109,
            "cpx32",
            "Regular Purpose",
            (4, 8.0, 160),
            "shared",
            "x86",
            "CPX 32",
            prices(&[(EU, "13.9900000000", "0.0224000000")]),
        ),
        st(
            110,
            "cpx42",
            "Regular Purpose",
            (8, 16.0, 320),
            "shared",
            "x86",
            "CPX 42",
            prices(&[(EU, "25.4900000000", "0.0408000000")]),
        ),
        st(
            114,
            "cx23",
            "Cost-Optimized",
            (2, 4.0, 40),
            "shared",
            "x86",
            "CX23",
            prices(&[(EU, "3.4900000000", "0.0056000000")]),
        ),
    ];
    let img =
        |id, name, description, os_flavor, os_version, architecture, created, deprecated| Image {
            id,
            name,
            description,
            os_flavor,
            os_version,
            architecture,
            disk_size: 5,
            created,
            deprecated,
        };
    let mut images = vec![img(
        45557056,
        "ubuntu-20.04",
        "Ubuntu 20.04",
        "ubuntu",
        "20.04",
        "x86",
        "2020-04-23T00:00:00+00:00",
        Some("2025-05-31T00:00:00+00:00"),
    )];
    // The seven supported images, x86 first (lower ids), then the same names for arm.
    let seven: [(&str, &str, &str, &str, &str); 7] = [
        (
            "ubuntu-24.04",
            "Ubuntu 24.04",
            "ubuntu",
            "24.04",
            "2024-04-25T13:26:27+00:00",
        ),
        (
            "ubuntu-22.04",
            "Ubuntu 22.04",
            "ubuntu",
            "22.04",
            "2022-04-21T13:32:38+00:00",
        ),
        (
            "debian-13",
            "Debian 13",
            "debian",
            "13",
            "2025-08-11T08:00:00+00:00",
        ),
        (
            "debian-12",
            "Debian 12",
            "debian",
            "12",
            "2023-06-13T06:00:02+00:00",
        ),
        (
            "fedora-43",
            "Fedora 43",
            "fedora",
            "43",
            "2025-10-29T10:00:00+00:00",
        ),
        (
            "rocky-10",
            "Rocky Linux 10",
            "rocky",
            "10",
            "2025-06-17T09:00:00+00:00",
        ),
        (
            "alma-10",
            "AlmaLinux 10",
            "alma",
            "10",
            "2025-06-17T09:05:00+00:00",
        ),
    ];
    for (arch, base) in [("x86", 161_547_269_i64), ("arm", 162_547_269_i64)] {
        for (k, (name, description, flavor, version, created)) in seven.iter().enumerate() {
            images.push(img(
                base + 17 * k as i64,
                name,
                description,
                flavor,
                version,
                arch,
                created,
                None,
            ));
        }
    }
    Catalog {
        locations,
        server_types,
        images,
    }
}

/// The process-wide catalog (built once).
pub(crate) static CATALOG: LazyLock<Catalog> = LazyLock::new(build);

/// Net EUR → `{"net": 10 decimals, "gross": 16 decimals}` at 19 % VAT.
pub(crate) fn money(net: Decimal) -> Value {
    let gross = net * Decimal::new(100 + VAT_PERCENT, 2);
    json!({"net": format!("{net:.10}"), "gross": format!("{gross:.16}")})
}

/// Included monthly traffic in bytes for a server in `location` (EU 20 TiB, US 1 TiB,
/// Singapore 0.5 TiB).
pub(crate) fn included_traffic(location: &str) -> i64 {
    match location {
        "ash" | "hil" => TRAFFIC_US,
        "sin" => TRAFFIC_SIN,
        _ => TRAFFIC_EU,
    }
}

/// Net EUR per TB of traffic beyond the included amount, per location.
fn per_tb(location: &str) -> Decimal {
    match location {
        "ash" | "hil" => d("1.2000000000"),
        "sin" => d("7.4000000000"),
        _ => d("1.0000000000"),
    }
}

impl Catalog {
    /// Location by name (`fsn1`).
    pub fn location_by_name(&self, name: &str) -> Option<&Location> {
        self.locations.iter().find(|l| l.name == name)
    }
    /// Location by id.
    pub fn location_by_id(&self, id: i64) -> Option<&Location> {
        self.locations.iter().find(|l| l.id == id)
    }
    /// Server type by name (`cx22`).
    #[cfg(test)]
    pub fn server_type_by_name(&self, name: &str) -> Option<&ServerType> {
        self.server_types.iter().find(|t| t.name == name)
    }
    /// Server type by id.
    pub fn server_type_by_id(&self, id: i64) -> Option<&ServerType> {
        self.server_types.iter().find(|t| t.id == id)
    }
    /// Image by id.
    pub fn image_by_id(&self, id: i64) -> Option<&Image> {
        self.images.iter().find(|i| i.id == id)
    }
    /// Image by name for an architecture (names are unique per architecture).
    #[cfg(test)]
    pub fn image_by_name(&self, name: &str, architecture: &str) -> Option<&Image> {
        self.images
            .iter()
            .find(|i| i.name == name && i.architecture == architecture)
    }
}

/// `Location` JSON (`GET /locations/{id}`).
pub(crate) fn location_json(l: &Location) -> Value {
    json!({
        "id": l.id, "name": l.name, "description": l.description, "country": l.country,
        "city": l.city, "latitude": l.latitude, "longitude": l.longitude,
        "network_zone": l.network_zone,
    })
}

/// Deprecated `Datacenter` JSON for the one datacenter of `l`.
pub(crate) fn datacenter_json(l: &Location) -> Value {
    let ids: Vec<i64> = CATALOG
        .server_types
        .iter()
        .filter(|t| t.sold_in(l.name))
        .map(|t| t.id)
        .collect();
    json!({
        "id": l.datacenter_id,
        "name": l.datacenter_name,
        "description": format!("{} virtual DC 1", l.city),
        "location": location_json(l),
        "server_types": {"supported": ids, "available": ids, "available_for_migration": ids},
    })
}

fn price_rows(t: &ServerType) -> Vec<Value> {
    t.prices
        .iter()
        .map(|p| {
            json!({
                "location": p.location,
                "price_hourly": money(p.hourly_net),
                "price_monthly": money(p.monthly_net),
                "included_traffic": included_traffic(p.location),
                "price_per_tb_traffic": money(per_tb(p.location)),
            })
        })
        .collect()
}

/// `ServerType` JSON: integers for `id`, `cores`, `disk`; `memory` as a float number.
pub(crate) fn server_type_json(t: &ServerType) -> Value {
    let locations: Vec<Value> = t
        .prices
        .iter()
        .filter_map(|p| CATALOG.location_by_name(p.location))
        .map(|l| {
            json!({"id": l.id, "name": l.name, "deprecation": null,
                   "available": true, "recommended": true})
        })
        .collect();
    json!({
        "id": t.id, "name": t.name, "description": t.description, "category": t.category,
        "cores": t.cores, "memory": t.memory_gb, "disk": t.disk_gb,
        "deprecated": false, "deprecation": null,
        "prices": price_rows(t),
        "storage_type": "local", "cpu_type": t.cpu_type, "architecture": t.architecture,
        "locations": locations,
    })
}

/// `Image` JSON (system image).
pub(crate) fn image_json(i: &Image) -> Value {
    json!({
        "id": i.id, "type": "system", "status": "available", "name": i.name,
        "description": i.description, "image_size": null, "disk_size": i.disk_size,
        "created": i.created, "created_from": null, "bound_to": null,
        "os_flavor": i.os_flavor, "os_version": i.os_version, "rapid_deploy": true,
        "protection": {"delete": false}, "deprecated": i.deprecated, "deleted": null,
        "labels": {}, "architecture": i.architecture,
    })
}

/// The `/pricing` document (`{"pricing": …}` is added by the caller).
pub(crate) fn pricing_json() -> Value {
    let ip_locs: Vec<&Location> = CATALOG.locations.iter().collect();
    let primary_v4: Vec<Value> = ip_locs
        .iter()
        .map(|l| {
            json!({"location": l.name, "price_hourly": money(d("0.0008000000")),
                   "price_monthly": money(d("0.5000000000"))})
        })
        .collect();
    let primary_v6: Vec<Value> = ip_locs
        .iter()
        .map(|l| {
            json!({"location": l.name, "price_hourly": money(Decimal::ZERO),
                   "price_monthly": money(Decimal::ZERO)})
        })
        .collect();
    let floating_v4: Vec<Value> = ip_locs
        .iter()
        .map(|l| json!({"location": l.name, "price_monthly": money(d("3.0000000000"))}))
        .collect();
    let floating_v6: Vec<Value> = ip_locs
        .iter()
        .map(|l| json!({"location": l.name, "price_monthly": money(d("3.0000000000"))}))
        .collect();
    let server_types: Vec<Value> = CATALOG
        .server_types
        .iter()
        .map(|t| json!({"id": t.id, "name": t.name, "prices": price_rows(t)}))
        .collect();
    let lb_prices: Vec<Value> = ip_locs
        .iter()
        .map(|l| {
            json!({"location": l.name, "price_hourly": money(d("0.0088000000")),
                   "price_monthly": money(d("5.3900000000")),
                   "included_traffic": included_traffic(l.name),
                   "price_per_tb_traffic": money(per_tb(l.name))})
        })
        .collect();
    json!({
        "currency": "EUR",
        "vat_rate": format!("{VAT_PERCENT}.00"),
        "primary_ips": [{"type": "ipv4", "prices": primary_v4},
                        {"type": "ipv6", "prices": primary_v6}],
        "floating_ips": [{"type": "ipv4", "prices": floating_v4},
                         {"type": "ipv6", "prices": floating_v6}],
        "image": {"price_per_gb_month": money(d("0.0110000000"))},
        "volume": {"price_per_gb_month": money(d("0.0440000000"))},
        "server_backup": {"percentage": "20.00"},
        "server_types": server_types,
        "load_balancer_types": [{"id": 1, "name": "lb11", "prices": lb_prices}],
        "floating_ip": {"price_monthly": money(d("3.0000000000"))},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier_defaults_have_spec_figures() {
        let want = [
            ("cpx21", "hil", 3, 4.0, 80),
            ("cpx31", "hil", 4, 8.0, 160),
            ("cpx41", "hil", 8, 16.0, 240),
            ("cpx22", "hel1", 2, 4.0, 80),
            ("cpx32", "hel1", 4, 8.0, 160),
            ("cpx42", "hel1", 8, 16.0, 320),
        ];
        for (name, location, cores, mem, disk) in want {
            let t = CATALOG.server_type_by_name(name).unwrap();
            assert_eq!(
                (t.cores, t.memory_gb, t.disk_gb),
                (cores, mem, disk),
                "{name}"
            );
            assert!(t.sold_in(location), "{name} in {location}");
        }
    }

    #[test]
    fn money_has_10_and_16_decimals() {
        assert_eq!(
            money(d("3.79")),
            json!({"net": "3.7900000000", "gross": "4.5101000000000000"})
        );
    }

    #[test]
    fn server_type_json_uses_integers() {
        let v = server_type_json(CATALOG.server_type_by_name("cx22").unwrap());
        assert!(v["cores"].is_i64());
        assert!(v["disk"].is_i64());
        assert!(v["memory"].is_f64());
        assert_eq!(v["prices"][0]["location"], "fsn1");
        assert_eq!(v["prices"][0]["price_hourly"]["net"], "0.0060000000");
    }

    #[test]
    fn x86_images_come_before_arm_and_all_seven_exist() {
        for name in [
            "ubuntu-24.04",
            "ubuntu-22.04",
            "debian-13",
            "debian-12",
            "fedora-43",
            "rocky-10",
            "alma-10",
        ] {
            let x = CATALOG.image_by_name(name, "x86").unwrap();
            let a = CATALOG.image_by_name(name, "arm").unwrap();
            assert!(x.id < a.id, "{name}");
        }
    }
}
