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

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
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

// ------------------------------------------------------------------------------------------
// Servers

/// Status of a server (docs/hetzner-api.md §6.1). A status this client does not know
/// (including Hetzner's own `unknown`) is [`ServerStatus::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerStatus {
    /// Powered on.
    Running,
    /// Being created.
    Initializing,
    /// Powering on.
    Starting,
    /// Powering off / shutting down.
    Stopping,
    /// Powered off (still billed: docs/product-rules.md §8).
    Off,
    /// Being deleted.
    Deleting,
    /// Changing server type.
    Migrating,
    /// Being rebuilt from an image.
    Rebuilding,
    /// Hetzner's `unknown`, or any status added after this client was written.
    #[serde(other)]
    Unknown,
}

impl ServerStatus {
    /// The wire name, e.g. `running`; used for the repeatable `status` list filter.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerStatus::Running => "running",
            ServerStatus::Initializing => "initializing",
            ServerStatus::Starting => "starting",
            ServerStatus::Stopping => "stopping",
            ServerStatus::Off => "off",
            ServerStatus::Deleting => "deleting",
            ServerStatus::Migrating => "migrating",
            ServerStatus::Rebuilding => "rebuilding",
            ServerStatus::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ServerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Hetzner Cloud server (`GET /servers/{id}` → `{"server": …}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Server {
    /// Server ID.
    pub id: i64,
    /// Name (RFC 1123 hostname, unique per project).
    pub name: String,
    /// Current status; unknown values become [`ServerStatus::Unknown`].
    pub status: ServerStatus,
    /// Creation time, UTC.
    pub created: DateTime<Utc>,
    /// Public addresses and attached firewalls.
    #[serde(default)]
    pub public_net: PublicNet,
    /// The full server type (cores, memory, disk, prices per location).
    pub server_type: ServerType,
    /// Location (current field). Prefer [`Server::location_name`], which also reads the
    /// deprecated `datacenter`.
    #[serde(default)]
    pub location: Option<Location>,
    /// Datacenter: deprecated by Hetzner (removal after 2026-07-01), kept as a fallback for
    /// the location.
    #[serde(default)]
    pub datacenter: Option<Datacenter>,
    /// Image the server was created from; `None` when it was deleted or for ISO installs.
    #[serde(default)]
    pub image: Option<Image>,
    /// Labels (`{}` when none).
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: Labels,
    /// Size of the primary disk in GB.
    #[serde(default)]
    pub primary_disk_size: u64,
    /// Outbound traffic in the current billing period, bytes.
    #[serde(default)]
    pub outgoing_traffic: Option<u64>,
    /// Inbound traffic in the current billing period, bytes.
    #[serde(default)]
    pub ingoing_traffic: Option<u64>,
    /// Traffic included in the current billing period, bytes.
    #[serde(default)]
    pub included_traffic: Option<u64>,
    /// True while an action locks the server (a new action gets `423 locked`).
    #[serde(default)]
    pub locked: bool,
    /// Delete/rebuild protection flags.
    #[serde(default)]
    pub protection: Protection,
}

impl Server {
    /// The server's location name (e.g. `hel1`): top-level `location` first, then the
    /// deprecated `datacenter.location` (docs/hetzner-api.md §6.1); `None` if neither is sent.
    pub fn location_name(&self) -> Option<&str> {
        self.location
            .as_ref()
            .map(|l| l.name.as_str())
            .or_else(|| self.datacenter.as_ref().map(|d| d.location.name.as_str()))
    }

    /// The public IPv4 address, if the server has one.
    pub fn ipv4(&self) -> Option<&str> {
        self.public_net.ipv4.as_ref().map(|v| v.ip.as_str())
    }

    /// The public IPv6 network in CIDR form (`2001:db8::/64`), if the server has one.
    pub fn ipv6_network(&self) -> Option<&str> {
        self.public_net.ipv6.as_ref().map(|v| v.ip.as_str())
    }
}

/// Delete/rebuild protection of a server (`protection`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protection {
    /// Delete protection: `DELETE` answers `423 protected`.
    #[serde(default)]
    pub delete: bool,
    /// Rebuild protection.
    #[serde(default)]
    pub rebuild: bool,
}

/// `public_net` of a server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicNet {
    /// Public IPv4; `None` when the server has no IPv4.
    #[serde(default)]
    pub ipv4: Option<Ipv4>,
    /// Public IPv6 network; `None` when the server has no IPv6.
    #[serde(default)]
    pub ipv6: Option<Ipv6>,
    /// Firewalls applied to the public interface, with their status.
    #[serde(default, deserialize_with = "null_as_default")]
    pub firewalls: Vec<ServerFirewall>,
}

/// `public_net.ipv4`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv4 {
    /// The address, e.g. `203.0.113.10`.
    pub ip: String,
    /// True when Hetzner's abuse team blocked it.
    #[serde(default)]
    pub blocked: bool,
}

/// `public_net.ipv6`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv6 {
    /// The /64 network in CIDR form, e.g. `2001:db8:1:2::/64` (host address is `<net>::1`).
    pub ip: String,
    /// True when Hetzner's abuse team blocked it.
    #[serde(default)]
    pub blocked: bool,
}

/// A firewall applied to a server (`public_net.firewalls[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerFirewall {
    /// Firewall ID.
    pub id: i64,
    /// `applied` or `pending`.
    pub status: FirewallApplyStatus,
}

/// Whether a firewall is in effect on a server yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FirewallApplyStatus {
    /// In effect.
    Applied,
    /// Being applied (the `apply_firewall` action is running).
    Pending,
    /// A value this client does not know.
    #[serde(other)]
    Unknown,
}

/// A datacenter (deprecated by Hetzner; only used to find a server's location).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Datacenter {
    /// Datacenter ID.
    pub id: i64,
    /// Name, e.g. `fsn1-dc14`.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// The location it belongs to.
    pub location: Location,
}

/// A location (`GET /locations`), e.g. `hel1` Helsinki or `hil` Hillsboro.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// Location ID.
    pub id: i64,
    /// Name, e.g. `hel1`.
    pub name: String,
    /// Description, e.g. `Helsinki DC Park 1`.
    #[serde(default)]
    pub description: String,
    /// ISO 3166-1 alpha-2 country code, e.g. `FI`.
    #[serde(default)]
    pub country: String,
    /// City name.
    #[serde(default)]
    pub city: String,
    /// Latitude, degrees.
    #[serde(default)]
    pub latitude: f64,
    /// Longitude, degrees.
    #[serde(default)]
    pub longitude: f64,
    /// Network zone, e.g. `eu-central`, `us-west`.
    #[serde(default)]
    pub network_zone: String,
}

/// Request body of `POST /servers` (docs/hetzner-api.md §6.3).
///
/// `user_data` may hold a one-time password (docs/product-rules.md §3), so `Debug` prints only its length.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateServerRequest {
    /// Server name (RFC 1123 hostname; unique → `409 uniqueness_error`).
    pub name: String,
    /// Server type name or ID as a string, e.g. `cpx22`.
    pub server_type: String,
    /// Image name or ID as a string, e.g. `debian-12`.
    pub image: String,
    /// Location name, e.g. `hel1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Power on after creation (Hetzner default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_after_create: Option<bool>,
    /// SSH key IDs to install for root (empty → Hetzner generates a root password).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssh_keys: Vec<i64>,
    /// Firewalls applied at creation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub firewalls: Vec<FirewallRef>,
    /// cloud-init user data, plain UTF-8 (not base64), at most 32 KiB (docs/product-rules.md §3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
}

impl fmt::Debug for CreateServerRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateServerRequest")
            .field("name", &self.name)
            .field("server_type", &self.server_type)
            .field("image", &self.image)
            .field("location", &self.location)
            .field("start_after_create", &self.start_after_create)
            .field("ssh_keys", &self.ssh_keys)
            .field("firewalls", &self.firewalls)
            .field(
                "user_data",
                &self
                    .user_data
                    .as_ref()
                    .map(|u| format!("<{} bytes>", u.len())),
            )
            .field("labels", &self.labels)
            .finish()
    }
}

/// `{"firewall": <id>}` entry of `CreateServerRequest::firewalls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallRef {
    /// Firewall ID.
    pub firewall: i64,
}

/// Response of `POST /servers` (201).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateServerResponse {
    /// The new server (status `initializing`).
    pub server: Server,
    /// The `create_server` action.
    pub action: Action,
    /// Follow-up actions, e.g. `start_server`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub next_actions: Vec<Action>,
    /// Generated root password when no SSH key was given. A secret: never log or store it.
    #[serde(default)]
    pub root_password: Option<Secret>,
}

/// Request body of `PUT /servers/{id}` and `PUT /firewalls/{id}`: fields left `None` are
/// unchanged; `labels` replaces the whole label set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateRequest {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New complete label set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
}

/// A secret string from the API (e.g. a root password). `Debug` prints `Secret(***)`; read
/// it with [`Secret::expose`] only to show it once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret text. Never log, store or put it in an error.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

// ------------------------------------------------------------------------------------------
// Server types and prices

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

// ------------------------------------------------------------------------------------------
// Images

/// Kind of image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageType {
    /// Operating system image provided by Hetzner.
    System,
    /// App image provided by Hetzner.
    App,
    /// A snapshot.
    Snapshot,
    /// A backup.
    Backup,
    /// Temporary image.
    Temporary,
    /// A value this client does not know.
    #[serde(other)]
    Unknown,
}

impl ImageType {
    /// Wire name, used as a list filter.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageType::System => "system",
            ImageType::App => "app",
            ImageType::Snapshot => "snapshot",
            ImageType::Backup => "backup",
            ImageType::Temporary => "temporary",
            ImageType::Unknown => "unknown",
        }
    }
}

/// Availability of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageStatus {
    /// Can be used.
    Available,
    /// Being created.
    Creating,
    /// Cannot be used.
    Unavailable,
    /// A value this client does not know.
    #[serde(other)]
    Unknown,
}

impl ImageStatus {
    /// Wire name, used as a list filter.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageStatus::Available => "available",
            ImageStatus::Creating => "creating",
            ImageStatus::Unavailable => "unavailable",
            ImageStatus::Unknown => "unknown",
        }
    }
}

/// An image (`GET /images`), e.g. `debian-12` (docs/hetzner-api.md §10).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// Image ID.
    pub id: i64,
    /// Kind of image.
    #[serde(rename = "type")]
    pub kind: ImageType,
    /// Availability.
    pub status: ImageStatus,
    /// Name, e.g. `ubuntu-24.04`; `None` for snapshots and backups.
    #[serde(default)]
    pub name: Option<String>,
    /// Description, e.g. `Debian 12`.
    #[serde(default)]
    pub description: String,
    /// Minimum disk size in GB (a JSON number in Hetzner's schema).
    #[serde(default)]
    pub disk_size: f64,
    /// Creation time, UTC.
    #[serde(default)]
    pub created: Option<DateTime<Utc>>,
    /// OS flavor: ubuntu, debian, fedora, rocky, alma, … or unknown.
    #[serde(default)]
    pub os_flavor: String,
    /// OS version, e.g. `12`.
    #[serde(default)]
    pub os_version: Option<String>,
    /// Deprecation time (UTC) when the image is deprecated.
    #[serde(default)]
    pub deprecated: Option<DateTime<Utc>>,
    /// Labels.
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: Labels,
    /// CPU architecture the image runs on.
    pub architecture: Architecture,
}

// ------------------------------------------------------------------------------------------
// Firewalls

/// Direction of a firewall rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Inbound traffic (uses `source_ips`).
    In,
    /// Outbound traffic (uses `destination_ips`).
    Out,
    /// A value this client does not know.
    #[serde(other)]
    Unknown,
}

/// Protocol of a firewall rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// TCP (needs a `port`).
    Tcp,
    /// UDP (needs a `port`).
    Udp,
    /// ICMP (no port).
    Icmp,
    /// ESP (no port).
    Esp,
    /// GRE (no port).
    Gre,
    /// A value this client does not know.
    #[serde(other)]
    Unknown,
}

/// A firewall rule (docs/hetzner-api.md §7.2). Responses always carry all six keys; this type
/// also serialises all six (`port`/`description` as `null` when absent), which Hetzner accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallRule {
    /// `in` or `out`.
    pub direction: Direction,
    /// Protocol.
    pub protocol: Protocol,
    /// Port `"80"`, range `"1024-5000"` or `"any"`; `None` for icmp/esp/gre.
    #[serde(default)]
    pub port: Option<String>,
    /// Source CIDRs (in rules; at most 100).
    #[serde(default, deserialize_with = "null_as_default")]
    pub source_ips: Vec<String>,
    /// Destination CIDRs (out rules; at most 100).
    #[serde(default, deserialize_with = "null_as_default")]
    pub destination_ips: Vec<String>,
    /// Free text, at most 255 characters.
    #[serde(default)]
    pub description: Option<String>,
}

/// `{"selector": "env=prod"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelSelector {
    /// Label selector expression (docs/hetzner-api.md §2 grammar).
    pub selector: String,
}

/// `{"id": 42}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRef {
    /// Resource ID.
    pub id: i64,
}

/// Something a firewall is applied to (`applied_to[]`, and the `apply_to` / `remove_from`
/// request lists). Unknown `type`s (Hetzner may add some) become [`FirewallResource::Unknown`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FirewallResource {
    /// A single server: `{"type":"server","server":{"id":42}}`.
    Server {
        /// The server.
        server: IdRef,
    },
    /// All servers matching a label selector.
    LabelSelector {
        /// The selector.
        label_selector: LabelSelector,
        /// Read-only: the servers currently matched (responses only).
        #[serde(
            default,
            deserialize_with = "null_as_default",
            skip_serializing_if = "Vec::is_empty"
        )]
        applied_to_resources: Vec<FirewallResource>,
    },
    /// A resource type this client does not know.
    #[serde(other)]
    Unknown,
}

impl FirewallResource {
    /// `{"type":"server","server":{"id":id}}`.
    pub fn server(id: i64) -> Self {
        FirewallResource::Server {
            server: IdRef { id },
        }
    }

    /// `{"type":"label_selector","label_selector":{"selector":…}}`.
    pub fn label_selector(selector: impl Into<String>) -> Self {
        FirewallResource::LabelSelector {
            label_selector: LabelSelector {
                selector: selector.into(),
            },
            applied_to_resources: Vec::new(),
        }
    }
}

/// A Hetzner Cloud Firewall (`GET /firewalls/{id}` → `{"firewall": …}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firewall {
    /// Firewall ID.
    pub id: i64,
    /// Name (unique per project, at most 128 characters).
    pub name: String,
    /// Labels.
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: Labels,
    /// Creation time, UTC.
    pub created: DateTime<Utc>,
    /// Rules (at most 50: Hetzner `maxItems`, docs/product-rules.md §4).
    #[serde(default, deserialize_with = "null_as_default")]
    pub rules: Vec<FirewallRule>,
    /// What it is applied to.
    #[serde(default, deserialize_with = "null_as_default")]
    pub applied_to: Vec<FirewallResource>,
}

impl Firewall {
    /// IDs of servers the firewall is applied to directly (not via label selector).
    pub fn server_ids(&self) -> Vec<i64> {
        self.applied_to
            .iter()
            .filter_map(|r| match r {
                FirewallResource::Server { server } => Some(server.id),
                _ => None,
            })
            .collect()
    }
}

/// Request body of `POST /firewalls`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateFirewallRequest {
    /// Name (unique per project, at most 128 characters).
    pub name: String,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    /// Initial rules (at most 50).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<FirewallRule>,
    /// Resources to apply it to at creation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apply_to: Vec<FirewallResource>,
}

/// Response of `POST /firewalls` (201).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateFirewallResponse {
    /// The new firewall.
    pub firewall: Firewall,
    /// Actions started by the creation (`set_firewall_rules`, `apply_firewall`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub actions: Vec<Action>,
}

// ------------------------------------------------------------------------------------------
// SSH keys

/// An SSH key stored at Hetzner (`GET /ssh_keys`), installed into root's `authorized_keys`
/// at server creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshKey {
    /// SSH key ID.
    pub id: i64,
    /// Name (unique per project).
    pub name: String,
    /// MD5 fingerprint, colon-separated hex (Hetzner's format, docs/hetzner-api.md §8).
    pub fingerprint: String,
    /// OpenSSH public key text.
    pub public_key: String,
    /// Labels.
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: Labels,
    /// Creation time, UTC.
    pub created: DateTime<Utc>,
}

/// Request body of `POST /ssh_keys`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateSshKeyRequest {
    /// Name (unique per project).
    pub name: String,
    /// OpenSSH public key text (a trailing newline is accepted).
    pub public_key: String,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
}

// ------------------------------------------------------------------------------------------
// Actions

/// Status of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Still in progress.
    Running,
    /// Finished successfully.
    Success,
    /// Finished with an error (see `Action::error`).
    Error,
    /// A value this client does not know.
    #[serde(other)]
    Unknown,
}

/// A resource an action works on (`resources[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResource {
    /// Resource ID.
    pub id: i64,
    /// Resource type, a free string: `server`, `firewall`, `image`, …
    #[serde(rename = "type")]
    pub kind: String,
}

/// `error` of a failed action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionError {
    /// Error code, e.g. `action_failed`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

/// An asynchronous Hetzner action (docs/hetzner-api.md §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// Action ID.
    pub id: i64,
    /// Command, an opaque string such as `create_server` or `set_firewall_rules`.
    pub command: String,
    /// Running, success or error.
    pub status: ActionStatus,
    /// Progress in percent, 0–100.
    #[serde(default)]
    pub progress: u32,
    /// Start time, UTC.
    pub started: DateTime<Utc>,
    /// End time (UTC); `None` while running.
    #[serde(default)]
    pub finished: Option<DateTime<Utc>>,
    /// Resources the action works on.
    #[serde(default, deserialize_with = "null_as_default")]
    pub resources: Vec<ActionResource>,
    /// Set when `status` is `error`.
    #[serde(default)]
    pub error: Option<ActionError>,
}

// ------------------------------------------------------------------------------------------
// Envelopes (private wire wrappers)

/// A page of any list endpoint: the list under its resource root plus `meta`.
#[derive(Debug, Deserialize)]
pub(crate) struct Page<T> {
    #[serde(
        alias = "servers",
        alias = "firewalls",
        alias = "server_types",
        alias = "locations",
        alias = "images",
        alias = "ssh_keys",
        alias = "actions"
    )]
    pub(crate) items: Vec<T>,
    #[serde(default)]
    pub(crate) meta: Option<Meta>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ServerEnvelope {
    pub(crate) server: Server,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FirewallEnvelope {
    pub(crate) firewall: Firewall,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ServerTypeEnvelope {
    pub(crate) server_type: ServerType,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ActionEnvelope {
    pub(crate) action: Action,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ActionsEnvelope {
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) actions: Vec<Action>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PricingEnvelope {
    pub(crate) pricing: Pricing,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SshKeyEnvelope {
    pub(crate) ssh_key: SshKey,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    /// A server as Hetzner's OpenAPI examples describe it (synthesised from the schema's
    /// `example` values with jq), with `+00:00` offsets as the real API sends.
    const SERVER_JSON: &str = r#"{
      "id": 42, "name": "my-resource", "status": "running",
      "created": "2016-01-30T23:55:00+00:00",
      "public_net": {
        "ipv4": {"id": 42, "ip": "1.2.3.4", "blocked": false, "dns_ptr": "server01.example.com"},
        "ipv6": {"id": 42, "ip": "2001:db8::/64", "blocked": false,
                 "dns_ptr": [{"ip": "2001:db8::1", "dns_ptr": "server.example.com"}]},
        "floating_ips": [], "firewalls": [{"id": 42, "status": "applied"}]
      },
      "private_net": [],
      "server_type": {"id": 1, "name": "cpx22", "description": "CPX22", "cores": 2, "memory": 4,
        "disk": 80, "deprecated": false,
        "prices": [{"location": "fsn1",
          "price_hourly": {"net": "1.0000", "gross": "1.1900"},
          "price_monthly": {"net": "1.0000", "gross": "1.1900"},
          "included_traffic": 654321,
          "price_per_tb_traffic": {"net": "1.0000", "gross": "1.1900"}}],
        "storage_type": null, "cpu_type": "shared", "category": "Shared vCPU", "architecture": "x86",
        "deprecation": null,
        "locations": [{"id": 42, "name": "fsn1", "deprecation": null, "recommended": false, "available": true}]},
      "datacenter": {"id": 42, "name": "fsn1-dc8", "description": "Falkenstein DC Park 8",
        "location": {"id": 42, "name": "fsn1", "description": "Falkenstein DC Park 1", "country": "DE",
          "city": "Falkenstein", "latitude": 50.47612, "longitude": 12.370071, "network_zone": "eu-central"},
        "server_types": {"supported": [1], "available": [1], "available_for_migration": [1]}},
      "location": {"id": 43, "name": "hel1", "description": "Helsinki DC Park 1", "country": "FI",
          "city": "Helsinki", "latitude": 60.169855, "longitude": 24.938379, "network_zone": "eu-central"},
      "image": {"id": 42, "type": "system", "status": "available", "name": "ubuntu-24.04",
        "description": "Ubuntu 24.04 Standard 64 bit", "image_size": 2.3, "disk_size": 10,
        "created": "2016-01-30T23:55:00Z", "created_from": {"id": 1, "name": "Server"},
        "bound_to": null, "os_flavor": "ubuntu", "os_version": "24.04", "rapid_deploy": false,
        "protection": {"delete": false}, "deprecated": "2018-02-28T00:00:00Z", "deleted": null,
        "labels": {"environment": "prod"}, "architecture": "x86"},
      "iso": null, "rescue_enabled": false, "locked": false, "backup_window": "22-02",
      "outgoing_traffic": 123456, "ingoing_traffic": null, "included_traffic": 654321,
      "protection": {"delete": true, "rebuild": false},
      "labels": {"environment": "prod", "example.com/my": "label", "just-a-key": ""},
      "volumes": [], "load_balancers": [], "primary_disk_size": 50, "placement_group": null,
      "a_field_from_the_future": {"x": 1}
    }"#;

    fn server_value() -> serde_json::Value {
        serde_json::from_str(SERVER_JSON).expect("sample is JSON")
    }

    fn parse_server(v: serde_json::Value) -> Server {
        serde_json::from_value(v).expect("server parses")
    }

    #[test]
    fn server_from_openapi_sample() {
        let s = parse_server(server_value());
        assert_eq!(s.id, 42);
        assert_eq!(s.name, "my-resource");
        assert_eq!(s.status, ServerStatus::Running);
        assert_eq!(s.created.timestamp(), 1_454_198_100);
        assert_eq!(s.ipv4(), Some("1.2.3.4"));
        assert_eq!(s.ipv6_network(), Some("2001:db8::/64"));
        assert_eq!(
            s.public_net.firewalls,
            vec![ServerFirewall {
                id: 42,
                status: FirewallApplyStatus::Applied
            }]
        );
        assert_eq!(s.server_type.name, "cpx22");
        assert_eq!(s.server_type.cores, 2);
        assert_eq!(s.server_type.memory, 4.0);
        assert_eq!(s.server_type.disk, 80);
        assert_eq!(s.server_type.cpu_type, CpuType::Shared);
        assert_eq!(s.server_type.architecture, Architecture::X86);
        assert_eq!(
            s.labels.get("example.com/my").map(String::as_str),
            Some("label")
        );
        assert_eq!(s.labels.len(), 3);
        assert_eq!(s.primary_disk_size, 50);
        assert_eq!(s.outgoing_traffic, Some(123_456));
        assert_eq!(s.ingoing_traffic, None);
        assert_eq!(s.included_traffic, Some(654_321));
        assert!(s.protection.delete);
        let image = s.image.as_ref().expect("image present");
        assert_eq!(image.kind, ImageType::System);
        assert_eq!(image.name.as_deref(), Some("ubuntu-24.04"));
        assert_eq!(image.disk_size, 10.0);
    }

    #[test]
    fn location_prefers_top_level_then_datacenter() {
        // Both present: the top-level location wins.
        let s = parse_server(server_value());
        assert_eq!(s.location_name(), Some("hel1"));

        // `location` absent: fall back to datacenter.location.
        let mut v = server_value();
        v.as_object_mut().expect("object").remove("location");
        let s = parse_server(v);
        assert!(s.location.is_none());
        assert_eq!(s.location_name(), Some("fsn1"));

        // `datacenter` absent (after Hetzner removes it): location alone.
        let mut v = server_value();
        v.as_object_mut().expect("object").remove("datacenter");
        let s = parse_server(v);
        assert!(s.datacenter.is_none());
        assert_eq!(s.location_name(), Some("hel1"));

        // Neither.
        let mut v = server_value();
        let o = v.as_object_mut().expect("object");
        o.remove("datacenter");
        o.insert("location".into(), serde_json::Value::Null);
        assert_eq!(parse_server(v).location_name(), None);
    }

    #[test]
    fn unknown_status_and_null_ipv4() {
        let mut v = server_value();
        v["status"] = "frobnicating".into();
        v["public_net"]["ipv4"] = serde_json::Value::Null;
        v["labels"] = serde_json::Value::Null;
        let s = parse_server(v);
        assert_eq!(s.status, ServerStatus::Unknown);
        assert_eq!(s.public_net.ipv4, None);
        assert_eq!(s.ipv4(), None);
        assert!(s.labels.is_empty());

        let mut v = server_value();
        v["status"] = "unknown".into();
        assert_eq!(parse_server(v).status, ServerStatus::Unknown);
    }

    #[test]
    fn all_server_statuses_round_trip() {
        for st in [
            ServerStatus::Running,
            ServerStatus::Initializing,
            ServerStatus::Starting,
            ServerStatus::Stopping,
            ServerStatus::Off,
            ServerStatus::Deleting,
            ServerStatus::Migrating,
            ServerStatus::Rebuilding,
            ServerStatus::Unknown,
        ] {
            let json = serde_json::to_string(&st).expect("serialise");
            assert_eq!(json, format!("\"{}\"", st.as_str()));
            let back: ServerStatus = serde_json::from_str(&json).expect("parse");
            assert_eq!(back, st);
        }
    }

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
    fn firewall_with_typed_and_unknown_resources() {
        let json = r#"{"id": 7, "name": "web-fw", "labels": {}, "created": "2024-05-01T10:00:00+00:00",
          "rules": [
            {"direction": "in", "protocol": "tcp", "port": "22",
             "source_ips": ["0.0.0.0/0", "::/0"], "destination_ips": [], "description": "ssh"},
            {"direction": "in", "protocol": "icmp", "port": null,
             "source_ips": ["0.0.0.0/0"], "destination_ips": null, "description": null},
            {"direction": "sideways", "protocol": "sctp", "port": null,
             "source_ips": [], "destination_ips": [], "description": null}],
          "applied_to": [
            {"type": "server", "server": {"id": 42}},
            {"type": "label_selector", "label_selector": {"selector": "env=prod"},
             "applied_to_resources": [{"type": "server", "server": {"id": 43}}]},
            {"type": "load_balancer", "load_balancer": {"id": 5}}]}"#;
        let fw: Firewall = serde_json::from_str(json).expect("firewall");
        assert_eq!(fw.rules.len(), 3);
        assert_eq!(
            fw.rules[0],
            FirewallRule {
                direction: Direction::In,
                protocol: Protocol::Tcp,
                port: Some("22".into()),
                source_ips: vec!["0.0.0.0/0".into(), "::/0".into()],
                destination_ips: vec![],
                description: Some("ssh".into()),
            }
        );
        assert_eq!(fw.rules[1].protocol, Protocol::Icmp);
        assert_eq!(fw.rules[1].port, None);
        assert!(fw.rules[1].destination_ips.is_empty());
        assert_eq!(fw.rules[2].direction, Direction::Unknown);
        assert_eq!(fw.rules[2].protocol, Protocol::Unknown);
        assert_eq!(fw.applied_to[0], FirewallResource::server(42));
        assert_eq!(
            fw.applied_to[1],
            FirewallResource::LabelSelector {
                label_selector: LabelSelector {
                    selector: "env=prod".into()
                },
                applied_to_resources: vec![FirewallResource::server(43)],
            }
        );
        assert_eq!(fw.applied_to[2], FirewallResource::Unknown);
        assert_eq!(fw.server_ids(), vec![42]);
    }

    #[test]
    fn firewall_request_shapes() {
        let rule = FirewallRule {
            direction: Direction::In,
            protocol: Protocol::Tcp,
            port: Some("22".into()),
            source_ips: vec!["0.0.0.0/0".into()],
            destination_ips: vec![],
            description: None,
        };
        assert_eq!(
            serde_json::to_value(&rule).expect("rule"),
            serde_json::json!({"direction":"in","protocol":"tcp","port":"22",
                "source_ips":["0.0.0.0/0"],"destination_ips":[],"description":null})
        );
        assert_eq!(
            serde_json::to_value(FirewallResource::server(42)).expect("res"),
            serde_json::json!({"type":"server","server":{"id":42}})
        );
        assert_eq!(
            serde_json::to_value(FirewallResource::label_selector("env=prod")).expect("res"),
            serde_json::json!({"type":"label_selector","label_selector":{"selector":"env=prod"}})
        );
    }

    #[test]
    fn action_states() {
        let json = r#"{"id": 13, "command": "start_server", "status": "running", "progress": 0,
            "started": "2016-01-30T23:50:00+00:00", "finished": null,
            "resources": [{"id": 42, "type": "server"}], "error": null}"#;
        let a: Action = serde_json::from_str(json).expect("action");
        assert_eq!(a.status, ActionStatus::Running);
        assert_eq!(a.finished, None);
        assert_eq!(
            a.resources,
            vec![ActionResource {
                id: 42,
                kind: "server".into()
            }]
        );
        let json = r#"{"id": 42, "command": "start_resource", "status": "error",
            "started": "2016-01-30T23:55:00Z", "finished": "2016-01-30T23:55:00Z", "progress": 100,
            "resources": [{"id": 42, "type": "server"}],
            "error": {"code": "action_failed", "message": "Action failed"}}"#;
        let a: Action = serde_json::from_str(json).expect("failed action");
        assert_eq!(a.status, ActionStatus::Error);
        assert_eq!(a.progress, 100);
        assert_eq!(
            a.error,
            Some(ActionError {
                code: "action_failed".into(),
                message: "Action failed".into()
            })
        );
        let s: ActionStatus = serde_json::from_str("\"cancelled\"").expect("unknown status");
        assert_eq!(s, ActionStatus::Unknown);
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

    #[test]
    fn page_envelope_reads_any_list_root_and_meta() {
        let json = r#"{"locations":[{"id":1,"name":"hel1","description":"Helsinki DC Park 1",
            "country":"FI","city":"Helsinki","latitude":60.169855,"longitude":24.938379,
            "network_zone":"eu-central"}],
            "meta":{"pagination":{"page":1,"per_page":50,"previous_page":null,"next_page":null,
            "last_page":1,"total_entries":1}}}"#;
        let p: Page<Location> = serde_json::from_str(json).expect("page");
        assert_eq!(p.items.len(), 1);
        assert_eq!(p.items[0].name, "hel1");
        let pg = p.meta.and_then(|m| m.pagination).expect("pagination");
        assert_eq!(pg.next_page, None);
        assert_eq!(pg.total_entries, Some(1));
        // Missing list root: an error, not an empty list.
        assert!(serde_json::from_str::<Page<Location>>(r#"{"meta":{}}"#).is_err());
    }

    #[test]
    fn ssh_key_and_image_samples() {
        let json = r#"{"id": 9, "name": "laptop", "fingerprint": "d0:10:5b:e7:db:1d:19:47:c3:20:7e:f1:d9:bf:5e:aa",
            "public_key": "ssh-ed25519 AAAAC3Nza user@host", "labels": {},
            "created": "2024-05-01T10:00:00+00:00"}"#;
        let k: SshKey = serde_json::from_str(json).expect("ssh key");
        assert_eq!(k.name, "laptop");
        assert_eq!(
            k.fingerprint,
            "d0:10:5b:e7:db:1d:19:47:c3:20:7e:f1:d9:bf:5e:aa"
        );
        let json = r#"{"id": 114690387, "type": "system", "status": "available", "name": "debian-12",
            "description": "Debian 12", "image_size": null, "disk_size": 5, "created": "2023-06-13T06:00:02+00:00",
            "created_from": null, "bound_to": null, "os_flavor": "debian", "os_version": "12",
            "rapid_deploy": true, "protection": {"delete": false}, "deprecated": null, "deleted": null,
            "labels": {}, "architecture": "x86"}"#;
        let i: Image = serde_json::from_str(json).expect("image");
        assert_eq!(i.name.as_deref(), Some("debian-12"));
        assert_eq!(i.os_flavor, "debian");
        assert_eq!(i.deprecated, None);
        assert_eq!(i.architecture, Architecture::X86);
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let req = CreateServerRequest {
            name: "vm-1".into(),
            server_type: "cpx22".into(),
            image: "debian-12".into(),
            user_data: Some("#cloud-config\npassword: hunter2\n".into()),
            ..Default::default()
        };
        let dbg = format!("{req:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("user_data: Some(\"<32 bytes>\")"), "{dbg}");
        let s = Secret::new("root-pass-123");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), "root-pass-123");
        // Serialising the request still sends the user data.
        let v = serde_json::to_value(&req).expect("serialise");
        assert_eq!(v["user_data"], "#cloud-config\npassword: hunter2\n");
        assert!(v.get("location").is_none());
    }
}
