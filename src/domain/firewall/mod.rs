//! Firewall rules of a Plain VM: validation, the one-rule-a-line text format, conversion to and
//! from Hetzner's wire rule, diff, and the warnings shown before applying (issue 5).
//!
//! Rules (docs/product-rules.md §4, docs/hetzner-api.md §7):
//! - `direction` is always `in` at v1; it is never taken from input.
//! - `protocol` is `tcp` or `udp`; ICMP, ESP, GRE and anything else are refused.
//! - `port` is `N` or `LOW-HIGH` with 1 ≤ LOW ≤ HIGH ≤ 65535.
//! - `source_ips` are IPv4/IPv6 CIDRs without host bits, canonical (RFC 5952 for IPv6),
//!   deduplicated, order kept; 1 to [`MAX_SOURCES_PER_RULE`] per rule.
//! - `description` is any Unicode without control characters, at most
//!   [`MAX_DESCRIPTION_CHARS`] characters.
//! - At most [`MAX_RULES`] rules per firewall.
//!
//! Everything here is pure: no I/O. Errors name the rule (1-based line or row number) and the
//! field, e.g. `line 3, port: 85-80: low port is above high port`.
//!
//! This file holds the types, limits and the parsing and validation of single fields;
//! `ruleset.rs` whole rule sets (text format, table validation, default set), `wire.rs` the wire
//! conversion, `review.rs` the diff and the warnings, all re-exported here.

mod review;
mod ruleset;
mod wire;

pub use review::*;
pub use ruleset::*;
pub use wire::*;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// At most 50 rules per firewall: docs/product-rules.md §4, Hetzner `set_rules` `maxItems` (docs/hetzner-api.md §7.3).
pub const MAX_RULES: usize = 50;

/// At most 100 CIDRs in one rule's `source_ips`: Hetzner limit (docs/hetzner-api.md §7.2, §7.3).
pub const MAX_SOURCES_PER_RULE: usize = 100;

/// At most 255 characters (Unicode scalar values) in a rule description: Hetzner's bound
/// (docs/hetzner-api.md §7.2).
pub const MAX_DESCRIPTION_CHARS: usize = 255;

/// Ports whose exposure to the whole internet (`0.0.0.0/0` or `::/0`) earns a warning before
/// applying (issue 5), with the service usually behind each: SSH, RDP, PostgreSQL, MySQL, Redis,
/// MongoDB, Elasticsearch, memcached, the Docker daemon's plain-text API, VNC.
pub const SENSITIVE_PORTS: &[(u16, &str)] = &[
    (22, "SSH"),
    (3389, "RDP"),
    (5432, "PostgreSQL"),
    (3306, "MySQL"),
    (6379, "Redis"),
    (27017, "MongoDB"),
    (9200, "Elasticsearch"),
    (11211, "memcached"),
    (2375, "Docker API"),
    (5900, "VNC"),
];

/// Transport protocol of a rule. v1 accepts `tcp` and `udp` only (docs/product-rules.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// `tcp`
    Tcp,
    /// `udp`
    Udp,
}

impl Protocol {
    /// Hetzner's spelling: `tcp` or `udp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_protocol(s)
    }
}

/// An inclusive port range, 1 ≤ `low` ≤ `high` ≤ 65535. A single port has `low == high`.
///
/// Displayed as Hetzner writes it: `"22"` for a single port, `"8000-8100"` for a range.
/// Build one with [`parse_port`] or [`PortRange::new`] so the bounds hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "PortRangeWire", into = "PortRangeWire")]
pub struct PortRange {
    /// Lowest port, 1..=65535.
    pub low: u16,
    /// Highest port, `low..=65535`.
    pub high: u16,
}

/// [`PortRange`] as it crosses a socket: checked again on the way in.
#[derive(Serialize, Deserialize)]
struct PortRangeWire {
    low: u16,
    high: u16,
}

impl TryFrom<PortRangeWire> for PortRange {
    type Error = String;
    fn try_from(w: PortRangeWire) -> Result<PortRange, String> {
        PortRange::new(w.low, w.high)
            .ok_or_else(|| format!("port: {}-{} is not a range within 1-65535", w.low, w.high))
    }
}

impl From<PortRange> for PortRangeWire {
    fn from(p: PortRange) -> PortRangeWire {
        PortRangeWire {
            low: p.low,
            high: p.high,
        }
    }
}

impl PortRange {
    /// A range from `low` to `high` inclusive; `None` when `low` is 0 or above `high`.
    pub fn new(low: u16, high: u16) -> Option<PortRange> {
        (low >= 1 && low <= high).then_some(PortRange { low, high })
    }

    /// A single port; `None` for port 0.
    pub fn single(port: u16) -> Option<PortRange> {
        PortRange::new(port, port)
    }

    /// True when `port` is inside the range.
    pub fn contains(self, port: u16) -> bool {
        self.low <= port && port <= self.high
    }

    /// True when every port of `self` is inside `other`.
    pub fn is_within(self, other: PortRange) -> bool {
        other.low <= self.low && self.high <= other.high
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.low == self.high {
            write!(f, "{}", self.low)
        } else {
            write!(f, "{}-{}", self.low, self.high)
        }
    }
}

impl FromStr for PortRange {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_port(s)
    }
}

/// One inbound firewall rule as v1 edits it. `direction` is always `in` and so is not stored.
///
/// Built by [`parse_rules_text`], the per-field parsers, or [`from_wire`]; those guarantee the
/// invariants in the module documentation. [`validate_rules`] checks rules built by hand.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rule {
    /// `tcp` or `udp`.
    pub protocol: Protocol,
    /// Port or range.
    pub port: PortRange,
    /// Source CIDRs: canonical, deduplicated, in the order given, 1..=100 of them.
    pub source_ips: Vec<IpNet>,
    /// Free text, may be empty (sent as `null`).
    pub description: String,
}

impl Rule {
    /// The rule's identity for [`diff`]: (protocol, port).
    pub fn key(&self) -> (Protocol, PortRange) {
        (self.protocol, self.port)
    }

    /// Source CIDRs sorted, for order-insensitive comparison.
    fn sorted_sources(&self) -> Vec<IpNet> {
        let mut s = self.source_ips.clone();
        s.sort();
        s
    }

    /// Same traffic and description, ignoring the order of sources.
    fn same_as(&self, other: &Rule) -> bool {
        self.key() == other.key()
            && self.description == other.description
            && self.sorted_sources() == other.sorted_sources()
    }

    /// True when this rule lets TCP traffic to `port` in from `ip` (any source when `ip` is
    /// `None`).
    pub fn allows_tcp_from(&self, port: u16, ip: Option<IpAddr>) -> bool {
        self.protocol == Protocol::Tcp
            && self.port.contains(port)
            && match ip {
                None => !self.source_ips.is_empty(),
                Some(ip) => self.source_ips.iter().any(|n| n.contains(&ip)),
            }
    }

    /// The rule as one line of the text format, e.g. `tcp 443 0.0.0.0/0,::/0 # HTTPS`.
    pub fn to_line(&self) -> String {
        let sources: Vec<String> = self.source_ips.iter().map(|n| n.to_string()).collect();
        let mut line = format!("{} {} {}", self.protocol, self.port, sources.join(","));
        if !self.description.is_empty() {
            line.push_str(" # ");
            line.push_str(&self.description);
        }
        line
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_line())
    }
}

/// The field an error is about, named as Hetzner names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `protocol`
    Protocol,
    /// `port`
    Port,
    /// `source_ips`
    SourceIps,
    /// `description`
    Description,
    /// The rule as a whole (e.g. the 51st rule).
    Rule,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Protocol => "protocol",
            Field::Port => "port",
            Field::SourceIps => "source_ips",
            Field::Description => "description",
            Field::Rule => "rule",
        })
    }
}

/// A refused field value: which field and why. Display: `port: 85-80: low port is above high
/// port`. The message starts with the offending input (or `missing`) where there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field.
    pub field: Field,
    /// Why, in words, starting with the input.
    pub message: String,
}

impl FieldError {
    fn new(field: Field, message: impl Into<String>) -> FieldError {
        FieldError {
            field,
            message: message.into(),
        }
    }

    /// Places the error on a line or rule row (1-based).
    pub fn at(self, line: usize) -> LineError {
        LineError {
            line,
            field: self.field,
            message: self.message,
        }
    }
}

/// A refused field on a given line of the text format, or a given row (1-based) of the table
/// editor. Display: `line 3, port: 85-80: low port is above high port`; [`LineError::for_row`]
/// says `rule 3, …` instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, {field}: {message}")]
pub struct LineError {
    /// 1-based line number (text) or rule number (table).
    pub line: usize,
    /// The field.
    pub field: Field,
    /// Why, in words, starting with the input.
    pub message: String,
}

impl LineError {
    /// The error worded for the table editor: `rule 3, port: 85-80: low port is above high port`.
    pub fn for_row(&self) -> String {
        format!("rule {}, {}: {}", self.line, self.field, self.message)
    }
}

/// Parses a protocol: `tcp` or `udp` (any case, surrounding whitespace ignored).
///
/// Errors (field `protocol`): `missing: give tcp or udp`; `<input>: v1 accepts tcp and udp only`
/// (ICMP, ESP, GRE and anything else: docs/product-rules.md §4).
pub fn parse_protocol(input: &str) -> Result<Protocol, FieldError> {
    let s = input.trim();
    match s.to_ascii_lowercase().as_str() {
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        "" => Err(FieldError::new(Field::Protocol, "missing: give tcp or udp")),
        _ => Err(FieldError::new(
            Field::Protocol,
            format!("{s}: v1 accepts tcp and udp only"),
        )),
    }
}

fn port_number(s: &str, whole: &str) -> Result<u16, FieldError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(
            Field::Port,
            format!("{whole}: not a port number; give N or LOW-HIGH with ports 1-65535"),
        ));
    }
    // All digits: only overflow can fail; treat any overflow as "above 65535".
    match s.parse::<u32>() {
        Ok(0) => Err(FieldError::new(
            Field::Port,
            format!("{whole}: port 0 is not allowed; ports are 1-65535"),
        )),
        Ok(n) if n <= 65535 => Ok(n as u16),
        _ => Err(FieldError::new(
            Field::Port,
            format!("{whole}: {s} is above 65535, the highest port"),
        )),
    }
}

/// Parses a port: `N` or `LOW-HIGH`, 1 ≤ LOW ≤ HIGH ≤ 65535 (docs/product-rules.md §4). `80-80` is port 80.
///
/// Errors (field `port`), each with its own reason:
/// - empty: `missing: give N or LOW-HIGH with ports 1-65535`
/// - `any`: `any: v1 needs a port or range; write 1-65535 for every port`
/// - `80:85`: `80:85: write a range with a hyphen, e.g. 80-85`
/// - `0`: `0: port 0 is not allowed; ports are 1-65535`
/// - `65536`: `65536: 65536 is above 65535, the highest port`
/// - `85-80`: `85-80: low port is above high port`
/// - anything else: `<input>: not a port number; give N or LOW-HIGH with ports 1-65535`
pub fn parse_port(input: &str) -> Result<PortRange, FieldError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(FieldError::new(
            Field::Port,
            "missing: give N or LOW-HIGH with ports 1-65535",
        ));
    }
    if s.eq_ignore_ascii_case("any") {
        return Err(FieldError::new(
            Field::Port,
            format!("{s}: v1 needs a port or range; write 1-65535 for every port"),
        ));
    }
    if let Some((a, b)) = s.split_once(':') {
        let hint = if a.bytes().all(|c| c.is_ascii_digit()) && b.bytes().all(|c| c.is_ascii_digit())
        {
            format!("{s}: write a range with a hyphen, e.g. {a}-{b}")
        } else {
            format!("{s}: write a range with a hyphen, e.g. 8000-8100")
        };
        return Err(FieldError::new(Field::Port, hint));
    }
    match s.split_once('-') {
        None => {
            let p = port_number(s, s)?;
            Ok(PortRange { low: p, high: p })
        }
        Some((a, b)) => {
            let low = port_number(a, s)?;
            let high = port_number(b, s)?;
            if low > high {
                return Err(FieldError::new(
                    Field::Port,
                    format!("{s}: low port is above high port"),
                ));
            }
            Ok(PortRange { low, high })
        }
    }
}

/// An address, parsed by the one std parser its form calls for (IPv6 has a `:`, IPv4 never).
fn parse_addr(s: &str) -> Option<IpAddr> {
    if s.contains(':') {
        s.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        s.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
    }
}

/// Parses one source: an IPv4 or IPv6 address or CIDR. A bare address becomes `/32` or `/128`.
/// The result is canonical (IPv6 in RFC 5952 form via `std`'s Display), so equal networks
/// compare equal whatever way they were written.
///
/// Errors (field `source_ips`):
/// - host bits set: `10.0.0.1/24: host bits are set; the network is 10.0.0.0/24`
/// - prefix too long: `10.0.0.0/33: prefix /33 is longer than 32`
/// - anything else: `<input>: not an IPv4 or IPv6 address or CIDR`
pub fn parse_source(input: &str) -> Result<IpNet, FieldError> {
    let s = input.trim();
    let bad = || {
        FieldError::new(
            Field::SourceIps,
            format!("{s}: not an IPv4 or IPv6 address or CIDR"),
        )
    };
    let (addr, prefix) = match s.split_once('/') {
        None => {
            let addr = parse_addr(s).ok_or_else(bad)?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            (addr, max)
        }
        Some((a, p)) => {
            let addr = parse_addr(a).ok_or_else(bad)?;
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let max: u32 = if addr.is_ipv4() { 32 } else { 128 };
            let prefix: u32 = p.parse().unwrap_or(u32::MAX);
            if prefix > max {
                return Err(FieldError::new(
                    Field::SourceIps,
                    format!("{s}: prefix /{p} is longer than {max}"),
                ));
            }
            (addr, prefix as u8)
        }
    };
    let net = IpNet::new(addr, prefix).map_err(|_| bad())?;
    if net != net.trunc() {
        return Err(FieldError::new(
            Field::SourceIps,
            format!("{s}: host bits are set; the network is {}", net.trunc()),
        ));
    }
    Ok(net)
}

/// Removes duplicates (keeping the first), then checks there are 1..=100 sources.
///
/// Errors (field `source_ips`): `missing: at least one source per rule, e.g. 0.0.0.0/0,::/0`;
/// `<n> sources: at most 100 per rule (Hetzner limit)`.
pub fn dedup_sources(sources: Vec<IpNet>) -> Result<Vec<IpNet>, FieldError> {
    let out = without_duplicates(sources);
    match source_count_error(out.len()) {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The error for a rule with `n` distinct sources, if `n` is not 1..=100.
fn source_count_error(n: usize) -> Option<FieldError> {
    if n == 0 {
        Some(FieldError::new(
            Field::SourceIps,
            "missing: at least one source per rule, e.g. 0.0.0.0/0,::/0",
        ))
    } else if n > MAX_SOURCES_PER_RULE {
        Some(FieldError::new(
            Field::SourceIps,
            format!("{n} sources: at most {MAX_SOURCES_PER_RULE} per rule (Hetzner limit)"),
        ))
    } else {
        None
    }
}

/// Removes repeated CIDRs, keeping the first of each and the order. Sort-based (no hashing):
/// O(n log n) for the ≤ 100 sources of a rule.
fn without_duplicates(sources: Vec<IpNet>) -> Vec<IpNet> {
    if sources.len() < 2 {
        return sources;
    }
    // (address bits, family and prefix, position): plain integers compare fast; equal keys
    // are equal networks, and the position breaks ties so the first stays.
    let mut order: Vec<(u128, u16, usize)> = sources
        .iter()
        .enumerate()
        .map(|(i, n)| match n {
            IpNet::V4(v4) => (
                u128::from(u32::from(v4.addr())),
                u16::from(v4.prefix_len()),
                i,
            ),
            IpNet::V6(v6) => (u128::from(v6.addr()), 0x100 | u16::from(v6.prefix_len()), i),
        })
        .collect();
    order.sort_unstable();
    let mut keep = vec![true; sources.len()];
    for w in order.windows(2) {
        if (w[0].0, w[0].1) == (w[1].0, w[1].1) {
            keep[w[1].2] = false;
        }
    }
    sources
        .into_iter()
        .zip(keep)
        .filter_map(|(s, k)| k.then_some(s))
        .collect()
}

fn parse_source_tokens<'a>(
    tokens: impl Iterator<Item = &'a str>,
) -> Result<Vec<IpNet>, FieldError> {
    let nets = tokens
        .flat_map(|t| t.split(','))
        .filter(|t| !t.is_empty())
        .map(parse_source)
        .collect::<Result<Vec<_>, _>>()?;
    dedup_sources(nets)
}

/// Parses a list of sources separated by commas and/or whitespace (`0.0.0.0/0,::/0`), each by
/// [`parse_source`], then [`dedup_sources`]. Reports the first bad source.
pub fn parse_sources(input: &str) -> Result<Vec<IpNet>, FieldError> {
    parse_source_tokens(input.split_whitespace())
}

/// Checks a description: trimmed of surrounding whitespace; any Unicode except control
/// characters; at most 255 characters (Hetzner's bound). Empty is allowed.
///
/// Errors (field `description`): `control character U+0009 is not allowed`;
/// `<n> characters: at most 255`.
pub fn parse_description(input: &str) -> Result<String, FieldError> {
    let s = input.trim();
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(FieldError::new(
            Field::Description,
            format!("control character U+{:04X} is not allowed", c as u32),
        ));
    }
    let n = s.chars().count();
    if n > MAX_DESCRIPTION_CHARS {
        return Err(FieldError::new(
            Field::Description,
            format!("{n} characters: at most {MAX_DESCRIPTION_CHARS}"),
        ));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests;
