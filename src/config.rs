//! Configuration file (TOML) and platform paths.
//!
//! The file lives at `<config dir>/config.toml` (Linux: `~/.config/crabglamp/config.toml`, from
//! `directories::ProjectDirs::from("cloud", "crabglamp", "crabglamp")`). Every key is optional;
//! unknown keys are refused so that a typo is not silently ignored. Example:
//!
//! ```toml
//! socket = "/run/crabglamp/crabglamp.sock"   # attach to a team's `crabglamp serve`
//! sync_interval_seconds = 30        # seconds, at least 5
//! theme = "mono"                    # "default" | "mono"
//! currency = "EUR"
//!
//! [server_types.eu]                 # region ("us" | "eu") → tier → Hetzner server type
//! small = "cpx22"
//!
//! [[prices]]                        # the platform's own prices (docs/product-rules.md §8 [ours])
//! tier = "small"
//! region = "eu"
//! billing_type = "metered"
//! hourly = "0.0250"                 # decimal string (a TOML number is accepted too)
//!
//! [audit]                           # signed checkpoints of the audit log
//! witness_file = "/var/lib/witness/crabglamp.txt"
//! witness_command = "logger -t crabglamp-audit"
//! ```
//!
//! `server_types` and `prices` entries given in the file replace the default for the same
//! (region, tier) or (tier, region, billing type); the others keep their defaults.
//!
//! A service's config may also have `[access]` (see [`Access`]):
//!
//! ```toml
//! [access]
//! operators = ["alice", "group:ops"]
//! readers = ["group:audit"]
//! ```

use crate::domain::{BillingType, Region, Tier, default_server_type};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Default seconds between two syncs with Hetzner.
pub const DEFAULT_SYNC_INTERVAL_SECONDS: u64 = 30;
/// Lowest accepted sync interval in seconds (ours: keeps well inside Hetzner's 3600 requests per
/// hour budget); lower values are raised to it with a warning.
pub const MIN_SYNC_INTERVAL_SECONDS: u64 = 5;

/// Errors reading the config or locating paths. `Display` is one line naming the file and,
/// for a bad file, the key and line (from the TOML parser).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// An explicitly given config file does not exist.
    #[error("config file {path} does not exist")]
    NotFound {
        /// The file.
        path: String,
    },
    /// The file exists but could not be read.
    #[error("config file {path} could not be read: {detail}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        detail: String,
    },
    /// The file is not valid TOML or has a key of the wrong type or an unknown key.
    #[error("config file {path}: {detail}")]
    Parse {
        /// The file.
        path: String,
        /// The TOML parser's message (line, column, key), flattened to one line.
        detail: String,
    },
    /// Parsed, but a value breaks a rule (named).
    #[error("config file {path}: {detail}")]
    Invalid {
        /// The file.
        path: String,
        /// Which entry and why.
        detail: String,
    },
    /// No home directory to derive default paths from, and no override given.
    #[error("no home directory found: pass --data-dir and --config")]
    NoHome,
}

/// Colour theme of the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    /// Colours.
    #[default]
    Default,
    /// No colours: bold/reverse only (also good for screenshots and `NO_COLOR`).
    Mono,
}

/// The platform's price for one (tier, region, billing type) (docs/product-rules.md §8: configuration
/// [ours]). Metered entries carry `hourly`, subscription entries `monthly`, in
/// [`Config::currency`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceEntry {
    /// Tier.
    pub tier: Tier,
    /// Region.
    pub region: Region,
    /// Billing type.
    pub billing_type: BillingType,
    /// Price per hour (metered).
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub hourly: Option<Decimal>,
    /// Flat price per calendar month (subscription).
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub monthly: Option<Decimal>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum DecimalInput {
    Text(String),
    Float(f64),
    Int(i64),
}

fn de_opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let input = Option::<DecimalInput>::deserialize(d)?;
    match input {
        None => Ok(None),
        Some(DecimalInput::Text(s)) => Decimal::from_str(s.trim())
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("'{s}' is not a decimal: {e}"))),
        Some(DecimalInput::Float(f)) => Decimal::from_str(&f.to_string())
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("{f} is not a decimal: {e}"))),
        Some(DecimalInput::Int(i)) => Ok(Some(Decimal::from(i))),
    }
}

/// The console's configuration. `Debug` never prints the token.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Accepted for older config files and ignored: the audit actor is the Unix user as the
    /// kernel names it (docs/product-rules.md §10), never a name from a config.
    pub operator: Option<String>,
    /// The service's socket (`crabglamp serve` listens there; consoles and headless commands
    /// attach to it). `--socket` and `CRABGLAMP_SOCKET` win.
    pub socket: Option<PathBuf>,
    /// Who may use the service, and how (`[access]`): read by `crabglamp serve` only.
    pub access: Access,
    /// Hetzner API token (lowest precedence: see [`resolve_token`]). Never printed.
    pub token: Option<String>,
    /// Hetzner API base URL (default `https://api.hetzner.cloud/v1`; `HCLOUD_ENDPOINT` wins).
    pub endpoint: Option<String>,
    /// Seconds between syncs; default 30, at least [`MIN_SYNC_INTERVAL_SECONDS`].
    pub sync_interval_seconds: u64,
    /// Colour theme.
    pub theme: Theme,
    /// Currency of [`Config::prices`] (charges); Hetzner's cost is in the project's currency.
    pub currency: String,
    /// Hetzner server type per region and tier (docs/product-rules.md §2 [ours]); defaults from
    /// [`default_server_type`].
    pub server_types: BTreeMap<Region, BTreeMap<Tier, String>>,
    /// The platform's price table, one entry per (tier, region, billing type).
    pub prices: Vec<PriceEntry>,
    /// `[audit]`: where signed checkpoints of the audit log go ([`AuditConfig`]).
    pub audit: AuditConfig,
    /// Warnings produced while loading (e.g. a raised sync interval), for the log and a toast.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// `[access]`: the roles of the service's callers, by Unix user name or `group:NAME`
/// (docs/product-rules.md §10). A caller in neither list is refused at hello. With no
/// `[access]` table at all, the service's own user is its only operator (a personal service).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Access {
    /// Set when the file has an `[access]` table.
    #[serde(skip)]
    pub configured: bool,
    /// May do everything.
    pub operators: Vec<String>,
    /// May read everything and change nothing.
    pub readers: Vec<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("operator", &self.operator)
            .field("socket", &self.socket)
            .field("access", &self.access)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("endpoint", &self.endpoint)
            .field("sync_interval_seconds", &self.sync_interval_seconds)
            .field("theme", &self.theme)
            .field("currency", &self.currency)
            .field("server_types", &self.server_types)
            .field("prices", &self.prices)
            .field("audit", &self.audit)
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// `[audit]` (docs/product-rules.md §11): where each new signed checkpoint of the audit log is
/// published. Every key is optional.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// File each checkpoint is appended to; default `live-audit-checkpoints.txt` beside the
    /// log file (outside the store directory).
    pub witness_file: Option<PathBuf>,
    /// Shell command (`sh -c`) that gets each checkpoint on stdin, e.g. `logger -t crabglamp`;
    /// not run in demo mode.
    pub witness_command: Option<String>,
    /// Instance name in the checkpoint origin `crabglamp/<instance>` of a new key (default: the
    /// host name); an existing key keeps its name.
    pub instance: Option<String>,
}

fn dec(text: &str) -> Decimal {
    // Only called on the literals of the default table below, which all parse.
    Decimal::from_str(text).unwrap_or_default()
}

/// The default price table (EUR, [ours]): metered per hour, subscription per month.
pub fn default_prices() -> Vec<PriceEntry> {
    // (tier, region, hourly, monthly)
    let table = [
        (Tier::Small, Region::Us, "0.0300", "17.90"),
        (Tier::Medium, Region::Us, "0.0520", "31.90"),
        (Tier::Large, Region::Us, "0.0950", "58.90"),
        (Tier::Small, Region::Eu, "0.0250", "14.90"),
        (Tier::Medium, Region::Eu, "0.0450", "27.90"),
        (Tier::Large, Region::Eu, "0.0850", "52.90"),
    ];
    let mut out = Vec::new();
    for (tier, region, hourly, monthly) in table {
        out.push(PriceEntry {
            tier,
            region,
            billing_type: BillingType::Metered,
            hourly: Some(dec(hourly)),
            monthly: None,
        });
        out.push(PriceEntry {
            tier,
            region,
            billing_type: BillingType::Subscription,
            hourly: None,
            monthly: Some(dec(monthly)),
        });
    }
    out
}

/// The default server type table: every (region, tier) from [`default_server_type`].
pub fn default_server_types() -> BTreeMap<Region, BTreeMap<Tier, String>> {
    Region::ALL
        .iter()
        .map(|&region| {
            let tiers = Tier::ALL
                .iter()
                .map(|&tier| (tier, default_server_type(tier, region).to_string()))
                .collect();
            (region, tiers)
        })
        .collect()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            operator: None,
            socket: None,
            access: Access::default(),
            token: None,
            endpoint: None,
            sync_interval_seconds: DEFAULT_SYNC_INTERVAL_SECONDS,
            theme: Theme::Default,
            currency: "EUR".into(),
            server_types: default_server_types(),
            prices: default_prices(),
            audit: AuditConfig::default(),
            warnings: Vec::new(),
        }
    }
}

impl Config {
    /// The Hetzner server type configured for (tier, region), falling back to
    /// [`default_server_type`].
    pub fn server_type(&self, tier: Tier, region: Region) -> &str {
        self.server_types
            .get(&region)
            .and_then(|t| t.get(&tier))
            .map(String::as_str)
            .unwrap_or_else(|| default_server_type(tier, region))
    }

    /// The price entry for (tier, region, billing type), if configured.
    pub fn price(&self, tier: Tier, region: Region, billing: BillingType) -> Option<&PriceEntry> {
        self.prices
            .iter()
            .find(|p| p.tier == tier && p.region == region && p.billing_type == billing)
    }

    /// Parses a config document (TOML text), merges it over the defaults and applies the
    /// rules (sync floor, price shapes). `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let path = origin.display().to_string();
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.clone(),
            detail: one_line(&e.to_string()),
        })?;
        config.access.configured = toml::from_str::<toml::Table>(text)
            .map(|t| t.contains_key("access"))
            .unwrap_or(false);
        for (list, entries) in [
            ("operators", &config.access.operators),
            ("readers", &config.access.readers),
        ] {
            if let Some(bad) = entries
                .iter()
                .find(|e| e.trim().is_empty() || e.trim() == "group:")
            {
                return Err(ConfigError::Invalid {
                    path,
                    detail: format!("access.{list}: '{bad}' names no user or group"),
                });
            }
        }
        if config.operator.is_some() {
            config.warnings.push(
                "operator: ignored; the audit actor is the Unix user running the console".into(),
            );
        }
        // Merge server types over the defaults.
        let mut server_types = default_server_types();
        for (region, tiers) in std::mem::take(&mut config.server_types) {
            for (tier, name) in tiers {
                if name.trim().is_empty() {
                    return Err(ConfigError::Invalid {
                        path,
                        detail: format!("server_types.{region}.{tier}: must not be empty"),
                    });
                }
                server_types.entry(region).or_default().insert(tier, name);
            }
        }
        config.server_types = server_types;
        // Validate and merge prices over the defaults.
        let mut seen = std::collections::BTreeSet::new();
        for (i, p) in config.prices.iter().enumerate() {
            let name = format!("prices[{i}] ({} {} {})", p.tier, p.region, p.billing_type);
            let fail = |why: &str| ConfigError::Invalid {
                path: path.clone(),
                detail: format!("{name}: {why}"),
            };
            if !seen.insert((p.tier, p.region, p.billing_type)) {
                return Err(fail("listed twice"));
            }
            match p.billing_type {
                BillingType::Metered if p.hourly.is_none() => {
                    return Err(fail("a metered price needs `hourly`"));
                }
                BillingType::Subscription if p.monthly.is_none() => {
                    return Err(fail("a subscription price needs `monthly`"));
                }
                _ => {}
            }
            if p.hourly.is_some_and(|d| d.is_sign_negative())
                || p.monthly.is_some_and(|d| d.is_sign_negative())
            {
                return Err(fail("prices must not be negative"));
            }
        }
        let mut prices = default_prices();
        for p in std::mem::take(&mut config.prices) {
            prices.retain(|d| {
                !(d.tier == p.tier && d.region == p.region && d.billing_type == p.billing_type)
            });
            prices.push(p);
        }
        config.prices = prices;
        if config.currency.trim().is_empty() {
            return Err(ConfigError::Invalid {
                path,
                detail: "currency: must not be empty".into(),
            });
        }
        if config.sync_interval_seconds < MIN_SYNC_INTERVAL_SECONDS {
            config.warnings.push(format!(
                "sync_interval_seconds = {} is below the minimum; using {MIN_SYNC_INTERVAL_SECONDS} s",
                config.sync_interval_seconds
            ));
            config.sync_interval_seconds = MIN_SYNC_INTERVAL_SECONDS;
        }
        Ok(config)
    }
}

fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "|")
        .collect::<Vec<_>>()
        .join(" ")
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("cloud", "crabglamp", "crabglamp")
}

/// Loads the config. `Some(path)`: that file, which must exist ([`ConfigError::NotFound`]).
/// `None`: the default file ([`paths`]); if it does not exist, the defaults. Returns the config
/// and the file it came from (or would have come from). A bad file gives
/// [`ConfigError::Parse`] naming the key and line, or [`ConfigError::Invalid`].
pub fn load(path: Option<&Path>) -> Result<(Config, PathBuf), ConfigError> {
    let (file, explicit) = match path {
        Some(p) => (p.to_path_buf(), true),
        None => match project_dirs() {
            Some(dirs) => (dirs.config_dir().join("config.toml"), false),
            None => {
                let mut config = Config::default();
                config
                    .warnings
                    .push("no home directory: using the default configuration".into());
                return Ok((config, PathBuf::new()));
            }
        },
    };
    match std::fs::read_to_string(&file) {
        Ok(text) => Ok((Config::from_toml(&text, &file)?, file)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if explicit {
                Err(ConfigError::NotFound {
                    path: file.display().to_string(),
                })
            } else {
                Ok((Config::default(), file))
            }
        }
        Err(e) => Err(ConfigError::Read {
            path: file.display().to_string(),
            detail: e.to_string(),
        }),
    }
}

/// Where the console keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The TOML config file.
    pub config_file: PathBuf,
    /// Directory for the databases.
    pub data_dir: PathBuf,
    /// sled database of live mode: `<data_dir>/live.db`.
    pub live_db: PathBuf,
    /// sled database of demo mode: `<data_dir>/demo.db` (separate: demo never touches live).
    pub demo_db: PathBuf,
    /// Log file: `<state dir>/crabglamp.log` (Linux `~/.local/state/crabglamp/`), or the cache
    /// dir where there is no state dir; `<data_dir>/crabglamp.log` when the data dir is
    /// overridden (so tests with a temporary data dir write nothing in the home directory).
    pub log_file: PathBuf,
}

/// Resolves the paths. Overrides win; otherwise `ProjectDirs::from("cloud", "crabglamp",
/// "crabglamp")` (Linux: `~/.config/crabglamp`, `~/.local/share/crabglamp`,
/// `~/.local/state/crabglamp`). Creates nothing. Errors: [`ConfigError::NoHome`] when a
/// default is needed and there is no home directory.
pub fn paths(
    data_dir_override: Option<&Path>,
    config_override: Option<&Path>,
) -> Result<Paths, ConfigError> {
    let dirs = project_dirs();
    let config_file = match (config_override, &dirs) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(d)) => d.config_dir().join("config.toml"),
        (None, None) => return Err(ConfigError::NoHome),
    };
    let (data_dir, log_file) = match (data_dir_override, &dirs) {
        (Some(p), _) => (p.to_path_buf(), p.join("crabglamp.log")),
        (None, Some(d)) => (
            d.data_dir().to_path_buf(),
            d.state_dir()
                .unwrap_or_else(|| d.cache_dir())
                .join("crabglamp.log"),
        ),
        (None, None) => return Err(ConfigError::NoHome),
    };
    Ok(Paths {
        config_file,
        live_db: data_dir.join("live.db"),
        demo_db: data_dir.join("demo.db"),
        data_dir,
        log_file,
    })
}

/// Where a token came from (shown in the status bar / `--help` diagnostics; never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// The `HCLOUD_TOKEN` environment variable.
    Env,
    /// The active context of the official `hcloud` CLI's config file.
    HcloudCli {
        /// The context's name.
        context: String,
    },
    /// The console's own config file (`token = …`).
    Config,
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Env => f.write_str("HCLOUD_TOKEN"),
            TokenSource::HcloudCli { context } => write!(f, "hcloud CLI context '{context}'"),
            TokenSource::Config => f.write_str("config file"),
        }
    }
}

/// The official `hcloud` CLI's config file: `$HCLOUD_CONFIG` if set, else
/// `<user config dir>/hcloud/cli.toml` (Linux `~/.config/hcloud/cli.toml`).
pub fn default_hcloud_cli_config() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HCLOUD_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    directories::BaseDirs::new().map(|b| b.config_dir().join("hcloud").join("cli.toml"))
}

#[derive(Deserialize)]
struct HcloudCliConfig {
    active_context: Option<String>,
    #[serde(default)]
    contexts: Vec<HcloudContext>,
}

#[derive(Deserialize)]
struct HcloudContext {
    name: String,
    token: Option<String>,
}

/// The token of the active context in an `hcloud` CLI config file (`active_context = "x"` and
/// `[[contexts]] name = "x" token = "…"`), with the context's name. `None` when the file is
/// missing, unreadable, not that format, has no active context or the context has no token.
fn hcloud_cli_token(path: &Path) -> Option<(String, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    let cli: HcloudCliConfig = toml::from_str(&text).ok()?;
    let active = cli.active_context?;
    let context = cli.contexts.into_iter().find(|c| c.name == active)?;
    let token = context.token?.trim().to_string();
    (!token.is_empty()).then_some((token, active))
}

/// Picks the Hetzner API token (docs/ARCHITECTURE.md "Modes"): `env_token` (the value of `HCLOUD_TOKEN`),
/// then the active context of the `hcloud` CLI config at `hcloud_cli_toml` (default:
/// [`default_hcloud_cli_config`]), then `config.token`. Empty or blank values count as absent.
/// `None` means no token: demo mode. The token is returned as a `String`; never log it.
pub fn resolve_token(
    env_token: Option<String>,
    hcloud_cli_toml: Option<&Path>,
    config: &Config,
) -> Option<(String, TokenSource)> {
    if let Some(t) = env_token
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
    {
        return Some((t, TokenSource::Env));
    }
    let cli_path = match hcloud_cli_toml {
        Some(p) => Some(p.to_path_buf()),
        None => default_hcloud_cli_config(),
    };
    if let Some((token, context)) = cli_path.as_deref().and_then(hcloud_cli_token) {
        return Some((token, TokenSource::HcloudCli { context }));
    }
    config
        .token
        .as_ref()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .map(|t| (t, TokenSource::Config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn defaults() {
        let c = Config::default();
        assert_eq!(c.sync_interval_seconds, 30);
        assert_eq!(c.theme, Theme::Default);
        assert_eq!(c.currency, "EUR");
        assert_eq!(c.server_type(Tier::Small, Region::Us), "cpx21");
        assert_eq!(c.server_type(Tier::Large, Region::Eu), "cpx42");
        assert_eq!(c.server_types.len(), 2);
        assert_eq!(c.prices.len(), 12);
        let p = c
            .price(Tier::Medium, Region::Eu, BillingType::Metered)
            .unwrap();
        assert_eq!((p.hourly, p.monthly), (Some(d("0.0450")), None));
        let p = c
            .price(Tier::Large, Region::Us, BillingType::Subscription)
            .unwrap();
        assert_eq!((p.hourly, p.monthly), (None, Some(d("58.90"))));
        // An empty file is the defaults.
        assert_eq!(Config::from_toml("", Path::new("c.toml")).unwrap(), c);
    }

    #[test]
    fn sample_file() {
        let text = r#"
operator = "alice"
token = "secret-token-123"
endpoint = "http://127.0.0.1:4000/v1"
sync_interval_seconds = 60
theme = "mono"
currency = "USD"

[server_types.eu]
small = "cx23"

[[prices]]
tier = "small"
region = "eu"
billing_type = "metered"
hourly = "0.0199"

[[prices]]
tier = "large"
region = "us"
billing_type = "subscription"
monthly = 49.5
"#;
        let c = Config::from_toml(text, Path::new("/etc/x.toml")).unwrap();
        assert_eq!(c.operator.as_deref(), Some("alice"));
        assert_eq!(c.token.as_deref(), Some("secret-token-123"));
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:4000/v1"));
        assert_eq!(c.sync_interval_seconds, 60);
        assert_eq!(c.theme, Theme::Mono);
        assert_eq!(c.currency, "USD");
        assert_eq!(c.server_type(Tier::Small, Region::Eu), "cx23");
        assert_eq!(c.server_type(Tier::Medium, Region::Eu), "cpx32");
        assert_eq!(c.server_type(Tier::Small, Region::Us), "cpx21");
        assert_eq!(c.prices.len(), 12);
        assert_eq!(
            c.price(Tier::Small, Region::Eu, BillingType::Metered)
                .unwrap()
                .hourly,
            Some(d("0.0199"))
        );
        assert_eq!(
            c.price(Tier::Large, Region::Us, BillingType::Subscription)
                .unwrap()
                .monthly,
            Some(d("49.5"))
        );
        // `operator` is read (old files keep loading) but names nobody.
        assert_eq!(
            c.warnings,
            vec!["operator: ignored; the audit actor is the Unix user running the console"]
        );
        let debug = format!("{c:?}");
        assert!(!debug.contains("secret-token-123"), "{debug}");
        assert!(debug.contains("token: Some(\"<redacted>\")"), "{debug}");
    }

    #[test]
    fn sync_interval_floor_is_five_seconds() {
        let c = Config::from_toml("sync_interval_seconds = 1", Path::new("c.toml")).unwrap();
        assert_eq!(c.sync_interval_seconds, 5);
        assert_eq!(
            c.warnings,
            vec!["sync_interval_seconds = 1 is below the minimum; using 5 s".to_string()]
        );
        let c = Config::from_toml("sync_interval_seconds = 5", Path::new("c.toml")).unwrap();
        assert_eq!(c.sync_interval_seconds, 5);
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn bad_file_names_key_and_line() {
        let err = Config::from_toml(
            "theme = \"mono\"\nsync_interval_seconds = \"often\"\n",
            Path::new("/cfg/c.toml"),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("config file /cfg/c.toml: "), "{text}");
        assert!(text.contains("line 2"), "{text}");
        assert!(text.contains("sync_interval_seconds"), "{text}");
        assert!(!text.contains('\n'), "{text}");

        let err = Config::from_toml("them = \"mono\"\n", Path::new("c.toml")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("line 1"), "{text}");
        assert!(text.contains("unknown field `them`"), "{text}");

        let err = Config::from_toml(
            "[[prices]]\ntier = \"small\"\nregion = \"us\"\nbilling_type = \"metered\"\nmonthly = \"3\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "config file c.toml: prices[0] (small us metered): a metered price needs `hourly`"
        );
    }

    #[test]
    fn load_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        assert_eq!(
            load(Some(&missing)).unwrap_err(),
            ConfigError::NotFound {
                path: missing.display().to_string()
            }
        );
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "operator = \"bob\"\n").unwrap();
        let (c, used) = load(Some(&file)).unwrap();
        assert_eq!(c.operator.as_deref(), Some("bob"));
        assert_eq!(used, file);
    }

    #[test]
    fn paths_with_overrides() {
        let p = paths(Some(Path::new("/d")), Some(Path::new("/c/x.toml"))).unwrap();
        assert_eq!(
            p,
            Paths {
                config_file: PathBuf::from("/c/x.toml"),
                data_dir: PathBuf::from("/d"),
                live_db: PathBuf::from("/d/live.db"),
                demo_db: PathBuf::from("/d/demo.db"),
                log_file: PathBuf::from("/d/crabglamp.log"),
            }
        );
    }

    fn cli_file(dir: &Path) -> PathBuf {
        let file = dir.join("cli.toml");
        std::fs::write(
            &file,
            r#"active_context = "prod"

[[contexts]]
name = "staging"
token = "tok-staging"

[[contexts]]
name = "prod"
token = "tok-prod"
"#,
        )
        .unwrap();
        file
    }

    #[test]
    fn hcloud_cli_active_context_is_picked() {
        let dir = tempfile::tempdir().unwrap();
        let file = cli_file(dir.path());
        assert_eq!(
            resolve_token(None, Some(&file), &Config::default()),
            Some((
                "tok-prod".into(),
                TokenSource::HcloudCli {
                    context: "prod".into()
                }
            ))
        );
    }

    #[test]
    fn token_precedence_env_then_cli_then_config() {
        let dir = tempfile::tempdir().unwrap();
        let file = cli_file(dir.path());
        let missing = dir.path().join("missing.toml");
        let config = Config {
            token: Some("tok-config".into()),
            ..Config::default()
        };
        assert_eq!(
            resolve_token(Some("tok-env".into()), Some(&file), &config),
            Some(("tok-env".into(), TokenSource::Env))
        );
        assert_eq!(
            resolve_token(Some("  ".into()), Some(&file), &config).map(|t| t.0),
            Some("tok-prod".into())
        );
        assert_eq!(
            resolve_token(None, Some(&missing), &config),
            Some(("tok-config".into(), TokenSource::Config))
        );
        assert_eq!(
            resolve_token(None, Some(&missing), &Config::default()),
            None
        );
        // A CLI file whose active context is absent falls through to the config.
        let other = dir.path().join("other.toml");
        std::fs::write(
            &other,
            "active_context = \"gone\"\n[[contexts]]\nname = \"x\"\ntoken = \"t\"\n",
        )
        .unwrap();
        assert_eq!(
            resolve_token(None, Some(&other), &config),
            Some(("tok-config".into(), TokenSource::Config))
        );
    }
}
