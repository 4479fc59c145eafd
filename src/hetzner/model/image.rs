//! Images: [`Image`], its type and status.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::server_type::Architecture;
use super::{Labels, null_as_default};

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
