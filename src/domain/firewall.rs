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

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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

fn over_limit(rule_no: usize) -> FieldError {
    FieldError::new(
        Field::Rule,
        format!("rule {rule_no}: at most {MAX_RULES} rules per firewall (docs/product-rules.md §4)"),
    )
}

/// Parses one non-comment line of the text format: `PROTOCOL PORT SOURCES [# DESCRIPTION]`.
/// Sources are separated by commas or spaces; everything after the first `#` is the
/// description. Returns every field error of the line.
pub fn parse_rule_line(line: &str) -> Result<Rule, Vec<FieldError>> {
    let (head, description) = match line.split_once('#') {
        Some((h, d)) => (h, d),
        None => (line, ""),
    };
    let mut tokens = head.split_whitespace();
    let protocol = parse_protocol(tokens.next().unwrap_or(""));
    let port = parse_port(tokens.next().unwrap_or(""));
    let sources = parse_source_tokens(tokens);
    let description = parse_description(description);
    match (protocol, port, sources, description) {
        (Ok(protocol), Ok(port), Ok(source_ips), Ok(description)) => Ok(Rule {
            protocol,
            port,
            source_ips,
            description,
        }),
        (p, o, s, d) => Err([p.err(), o.err(), s.err(), d.err()]
            .into_iter()
            .flatten()
            .collect()),
    }
}

/// Parses the text format, one rule a line, e.g. `tcp 443 0.0.0.0/0,::/0 # HTTPS` or
/// `udp 60000-61000 203.0.113.7 # mosh`. Blank lines and lines starting with `#` are ignored.
///
/// Returns the valid rules (in order) and every error, each with its 1-based line number and
/// field, so an editor can show them beside the lines while typing. Rule lines past the 50th
/// get a `rule` error each and are not returned (docs/product-rules.md §4).
pub fn parse_rules_text(text: &str) -> (Vec<Rule>, Vec<LineError>) {
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    let mut count = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        count += 1;
        match parse_rule_line(line) {
            Ok(rule) if count <= MAX_RULES => rules.push(rule),
            Ok(_) => errors.push(over_limit(count).at(line_no)),
            Err(errs) => {
                errors.extend(errs.into_iter().map(|e| e.at(line_no)));
                if count > MAX_RULES {
                    errors.push(over_limit(count).at(line_no));
                }
            }
        }
    }
    (rules, errors)
}

/// Prints rules in the text format, one a line, each ending in `\n`. Parsing the result with
/// [`parse_rules_text`] gives the same rules back.
pub fn print_rules_text(rules: &[Rule]) -> String {
    let mut out = String::new();
    for r in rules {
        out.push_str(&r.to_line());
        out.push('\n');
    }
    out
}

/// Checks rules built field by field (the table editor): at most 50 rules, and each rule's
/// port bounds, sources (canonical, no duplicates, 1..=100) and description. Errors carry the
/// 1-based row number; show them with [`LineError::for_row`].
pub fn validate_rules(rules: &[Rule]) -> Vec<LineError> {
    let mut errors = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let row = i + 1;
        if row > MAX_RULES {
            errors.push(over_limit(row).at(row));
        }
        if PortRange::new(r.port.low, r.port.high).is_none() {
            errors.push(
                FieldError::new(
                    Field::Port,
                    format!(
                        "{}-{}: ports must satisfy 1 <= low <= high",
                        r.port.low, r.port.high
                    ),
                )
                .at(row),
            );
        }
        for n in &r.source_ips {
            if *n != n.trunc() {
                errors.push(
                    FieldError::new(
                        Field::SourceIps,
                        format!("{n}: host bits are set; the network is {}", n.trunc()),
                    )
                    .at(row),
                );
            }
        }
        let mut sorted = r.source_ips.clone();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            errors.push(
                FieldError::new(Field::SourceIps, "duplicate sources; remove the repeats").at(row),
            );
        }
        if let Some(e) = source_count_error(r.source_ips.len()) {
            errors.push(e.at(row));
        }
        match parse_description(&r.description) {
            Ok(d) if d != r.description => errors.push(
                FieldError::new(
                    Field::Description,
                    "leading or trailing whitespace; trim it",
                )
                .at(row),
            ),
            Ok(_) => {}
            Err(e) => errors.push(e.at(row)),
        }
    }
    errors
}

/// The VM's default rule set (docs/product-rules.md §3): inbound TCP/22 from `0.0.0.0/0` and `::/0` only,
/// described `SSH`.
pub fn default_rules() -> Vec<Rule> {
    vec![Rule {
        protocol: Protocol::Tcp,
        port: PortRange { low: 22, high: 22 },
        source_ips: vec![
            IpNet::V4(ipnet::Ipv4Net::default()),
            IpNet::V6(ipnet::Ipv6Net::default()),
        ],
        description: "SSH".to_string(),
    }]
}

// ---------------------------------------------------------------------------------------------
// Wire conversion

/// Hetzner's rule as it travels in JSON (docs/hetzner-api.md §7.1, §7.2): all six keys. Kept here, as plain
/// strings, so `domain` does not depend on the HTTP client.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WireRule {
    /// `in` or `out`.
    pub direction: String,
    /// `tcp`, `udp`, `icmp`, `esp`, `gre`.
    pub protocol: String,
    /// `"80"`, `"1024-5000"`, `"any"`; `None` for icmp/esp/gre.
    pub port: Option<String>,
    /// Source CIDRs (in rules).
    #[serde(default)]
    pub source_ips: Vec<String>,
    /// Destination CIDRs (out rules).
    #[serde(default)]
    pub destination_ips: Vec<String>,
    /// Free text or `None`.
    pub description: Option<String>,
}

/// A rule Hetzner holds that v1 can show but not edit (an `out` rule, ICMP/ESP/GRE, or values
/// the editor would refuse), with the reason in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignRule {
    /// The rule exactly as Hetzner returned it.
    pub wire: WireRule,
    /// Why v1 cannot edit it, e.g. `direction out: v1 edits inbound rules only`.
    pub reason: String,
}

/// The wire form of a rule: direction `in`, the port as `"22"` or `"8000-8100"`, canonical
/// source CIDRs, no destination, an empty description sent as `null`.
pub fn to_wire(rule: &Rule) -> WireRule {
    WireRule {
        direction: "in".to_string(),
        protocol: rule.protocol.as_str().to_string(),
        port: Some(rule.port.to_string()),
        source_ips: rule.source_ips.iter().map(|n| n.to_string()).collect(),
        destination_ips: Vec::new(),
        description: (!rule.description.is_empty()).then(|| rule.description.clone()),
    }
}

/// Reads a rule Hetzner returned. Sources are canonicalised (so a read-back compares equal to
/// what was sent); port `any` becomes `1-65535`; a `null` description becomes empty.
///
/// Errors: a (boxed) [`ForeignRule`] with the reason when the rule is `out`, uses another protocol, or
/// holds a value the editor would refuse. Note that applying a rule set replaces the whole list
/// (docs/hetzner-api.md §7.3): the caller decides whether foreign rules are kept (send their `wire` along) or
/// dropped, and must say so.
pub fn from_wire(wire: &WireRule) -> Result<Rule, Box<ForeignRule>> {
    let foreign = |reason: String| {
        Box::new(ForeignRule {
            wire: wire.clone(),
            reason,
        })
    };
    if wire.direction != "in" {
        return Err(foreign(format!(
            "direction {}: v1 edits inbound rules only",
            wire.direction
        )));
    }
    let protocol = parse_protocol(&wire.protocol).map_err(|e| foreign(e.to_string()))?;
    let port = match wire.port.as_deref() {
        Some(p) if p.trim().eq_ignore_ascii_case("any") => PortRange {
            low: 1,
            high: 65535,
        },
        Some(p) => parse_port(p).map_err(|e| foreign(e.to_string()))?,
        None => return Err(foreign("port: missing for a tcp/udp rule".to_string())),
    };
    let nets = wire
        .source_ips
        .iter()
        .map(|s| {
            s.trim()
                .parse::<IpNet>()
                .map(|n| n.trunc())
                .map_err(|_| foreign(format!("source_ips: {s}: not a CIDR")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let source_ips = dedup_sources(nets).map_err(|e| foreign(e.to_string()))?;
    let description = parse_description(wire.description.as_deref().unwrap_or(""))
        .map_err(|e| foreign(e.to_string()))?;
    Ok(Rule {
        protocol,
        port,
        source_ips,
        description,
    })
}

// ---------------------------------------------------------------------------------------------
// Diff

/// One difference between the current rule set and a new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// In the new set only.
    Added(Rule),
    /// In the current set only.
    Removed(Rule),
    /// Same (protocol, port), different sources or description.
    Changed {
        /// As it is now.
        before: Rule,
        /// As it will be.
        after: Rule,
    },
}

/// Differences from `current` to `new`, matching rules by their (protocol, port) identity,
/// ignoring the order of rules and of sources (so a read-back in another order shows no
/// change). When several rules share an identity, identical ones cancel out first and the rest
/// pair up in order. Result order: by (protocol, port), then removed, changed, added.
pub fn diff(current: &[Rule], new: &[Rule]) -> Vec<Change> {
    type Group<'a> = (Vec<&'a Rule>, Vec<&'a Rule>);
    let mut groups: BTreeMap<(Protocol, PortRange), Group<'_>> = BTreeMap::new();
    for r in current {
        groups.entry(r.key()).or_default().0.push(r);
    }
    for r in new {
        groups.entry(r.key()).or_default().1.push(r);
    }
    let mut changes = Vec::new();
    for (_, (mut before, mut after)) in groups {
        // Cancel identical rules.
        let mut i = 0;
        while i < before.len() {
            if let Some(j) = after.iter().position(|a| a.same_as(before[i])) {
                before.remove(i);
                after.remove(j);
            } else {
                i += 1;
            }
        }
        let paired = before.len().min(after.len());
        let mut removed = Vec::new();
        let mut changed = Vec::new();
        let mut added = Vec::new();
        for (k, b) in before.iter().enumerate() {
            if k < paired {
                changed.push(Change::Changed {
                    before: (*b).clone(),
                    after: after[k].clone(),
                });
            } else {
                removed.push(Change::Removed((*b).clone()));
            }
        }
        for a in after.iter().skip(paired) {
            added.push(Change::Added((*a).clone()));
        }
        changes.extend(removed);
        changes.extend(changed);
        changes.extend(added);
    }
    changes
}

// ---------------------------------------------------------------------------------------------
// Warnings

/// The operator's own address from the `SSH_CONNECTION` environment value
/// (`client_ip client_port server_ip server_port`): the first field, with an IPv6 zone
/// (`%eth0`) dropped and an IPv4-mapped IPv6 address turned into IPv4. `None` when absent or
/// not an address.
pub fn operator_ip_from_ssh_connection(value: &str) -> Option<IpAddr> {
    let first = value.split_whitespace().next()?;
    let addr = first.split('%').next()?;
    addr.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// Lockout warning (issue 5): true when no rule lets TCP/22 in from the operator's address.
/// With no address known, any TCP rule covering port 22 counts as a way in.
pub fn lockout(rules: &[Rule], operator_ip: Option<IpAddr>) -> bool {
    let ip = operator_ip.map(|ip| ip.to_canonical());
    !rules.iter().any(|r| r.allows_tcp_from(22, ip))
}

/// A rule opening one or more [`SENSITIVE_PORTS`] to the whole internet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    /// 0-based index of the rule in the list given.
    pub index: usize,
    /// The sensitive ports inside the rule's range, with their services, in
    /// [`SENSITIVE_PORTS`] order.
    pub ports: Vec<(u16, &'static str)>,
    /// The whole-internet sources of the rule (`0.0.0.0/0`, `::/0`).
    pub sources: Vec<IpNet>,
}

/// Rules that open a sensitive port (ranges included) to `0.0.0.0/0` or `::/0`.
pub fn sensitive_exposed(rules: &[Rule]) -> Vec<Exposure> {
    rules
        .iter()
        .enumerate()
        .filter_map(|(index, r)| {
            let sources: Vec<IpNet> = r
                .source_ips
                .iter()
                .copied()
                .filter(|n| n.prefix_len() == 0)
                .collect();
            let ports: Vec<(u16, &'static str)> = SENSITIVE_PORTS
                .iter()
                .copied()
                .filter(|(p, _)| r.port.contains(*p))
                .collect();
            (!sources.is_empty() && !ports.is_empty()).then_some(Exposure {
                index,
                ports,
                sources,
            })
        })
        .collect()
}

/// Kind of redundancy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redundancy {
    /// Same protocol, port and set of sources as an earlier rule (descriptions may differ).
    Duplicate,
    /// Everything it lets in is already let in by another rule: same protocol, port range
    /// inside the other's, every source inside some source of the other.
    Shadowed,
}

/// A redundant rule: `index` is a duplicate of, or shadowed by, rule `by` (0-based indexes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedundantRule {
    /// The redundant rule.
    pub index: usize,
    /// The rule that already covers it.
    pub by: usize,
    /// Duplicate or shadowed.
    pub kind: Redundancy,
}

fn covers(outer: &Rule, inner: &Rule) -> bool {
    outer.protocol == inner.protocol
        && inner.port.is_within(outer.port)
        && inner
            .source_ips
            .iter()
            .all(|s| outer.source_ips.iter().any(|o| o.contains(s)))
}

/// Exact duplicates (the later one is reported, against the first) and rules entirely covered
/// by another rule, in rule order. Each redundant rule is reported once.
pub fn duplicates_and_shadowed(rules: &[Rule]) -> Vec<RedundantRule> {
    let sorted: Vec<Vec<IpNet>> = rules.iter().map(Rule::sorted_sources).collect();
    let same = |a: usize, b: usize| rules[a].key() == rules[b].key() && sorted[a] == sorted[b];
    let mut out = Vec::new();
    for i in 0..rules.len() {
        if let Some(j) = (0..i).find(|&j| same(i, j)) {
            out.push(RedundantRule {
                index: i,
                by: j,
                kind: Redundancy::Duplicate,
            });
            continue;
        }
        if let Some(j) =
            (0..rules.len()).find(|&j| j != i && !same(i, j) && covers(&rules[j], &rules[i]))
        {
            out.push(RedundantRule {
                index: i,
                by: j,
                kind: Redundancy::Shadowed,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn rule(p: Protocol, low: u16, high: u16, src: &[&str], d: &str) -> Rule {
        Rule {
            protocol: p,
            port: PortRange { low, high },
            source_ips: src.iter().map(|s| net(s)).collect(),
            description: d.into(),
        }
    }

    fn perr(s: &str) -> String {
        parse_port(s).unwrap_err().to_string()
    }

    #[test]
    fn protocols() {
        assert_eq!(parse_protocol("tcp"), Ok(Protocol::Tcp));
        assert_eq!(parse_protocol(" UDP "), Ok(Protocol::Udp));
        for p in ["icmp", "esp", "gre", "sctp"] {
            assert_eq!(
                parse_protocol(p).unwrap_err().to_string(),
                format!("protocol: {p}: v1 accepts tcp and udp only")
            );
        }
        assert_eq!(
            parse_protocol("").unwrap_err().to_string(),
            "protocol: missing: give tcp or udp"
        );
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port("22"), Ok(PortRange { low: 22, high: 22 }));
        assert_eq!(
            parse_port("8000-8100"),
            Ok(PortRange {
                low: 8000,
                high: 8100
            })
        );
        assert_eq!(parse_port("1-65535").unwrap().to_string(), "1-65535");
        assert_eq!(parse_port("80-80").unwrap().to_string(), "80");
        assert_eq!(parse_port("8000-8100").unwrap().to_string(), "8000-8100");
        assert_eq!(
            perr("80:85"),
            "port: 80:85: write a range with a hyphen, e.g. 80-85"
        );
        assert_eq!(
            perr("0"),
            "port: 0: port 0 is not allowed; ports are 1-65535"
        );
        assert_eq!(
            perr("65536"),
            "port: 65536: 65536 is above 65535, the highest port"
        );
        assert_eq!(perr("85-80"), "port: 85-80: low port is above high port");
        assert_eq!(
            perr(""),
            "port: missing: give N or LOW-HIGH with ports 1-65535"
        );
        assert_eq!(
            perr("any"),
            "port: any: v1 needs a port or range; write 1-65535 for every port"
        );
        assert_eq!(
            perr("http"),
            "port: http: not a port number; give N or LOW-HIGH with ports 1-65535"
        );
        assert_eq!(
            perr("+80"),
            "port: +80: not a port number; give N or LOW-HIGH with ports 1-65535"
        );
        assert_eq!(
            perr("0-80"),
            "port: 0-80: port 0 is not allowed; ports are 1-65535"
        );
        assert_eq!(
            perr("80-99999999999"),
            "port: 80-99999999999: 99999999999 is above 65535, the highest port"
        );
    }

    #[test]
    fn sources() {
        assert_eq!(parse_source("10.0.0.0/8"), Ok(net("10.0.0.0/8")));
        assert_eq!(
            parse_source("203.0.113.7").unwrap().to_string(),
            "203.0.113.7/32"
        );
        assert_eq!(
            parse_source("2001:db8::1").unwrap().to_string(),
            "2001:db8::1/128"
        );
        assert_eq!(
            parse_source("2001:0DB8:0000:0000:0000:0000:0000:0000/32")
                .unwrap()
                .to_string(),
            "2001:db8::/32"
        );
        assert_eq!(
            parse_source("10.0.0.1/24").unwrap_err().to_string(),
            "source_ips: 10.0.0.1/24: host bits are set; the network is 10.0.0.0/24"
        );
        assert_eq!(
            parse_source("2001:db8::1/64").unwrap_err().to_string(),
            "source_ips: 2001:db8::1/64: host bits are set; the network is 2001:db8::/64"
        );
        assert_eq!(
            parse_source("10.0.0.0/33").unwrap_err().to_string(),
            "source_ips: 10.0.0.0/33: prefix /33 is longer than 32"
        );
        assert_eq!(
            parse_source("::/129").unwrap_err().to_string(),
            "source_ips: ::/129: prefix /129 is longer than 128"
        );
        assert_eq!(
            parse_source("example.com").unwrap_err().to_string(),
            "source_ips: example.com: not an IPv4 or IPv6 address or CIDR"
        );
        assert_eq!(
            parse_source("10.0.0.0/").unwrap_err().to_string(),
            "source_ips: 10.0.0.0/: not an IPv4 or IPv6 address or CIDR"
        );
        // Duplicates (also written differently) removed, order kept.
        assert_eq!(
            parse_sources("::/0, 0.0.0.0/0,0:0::0/0 203.0.113.7,203.0.113.7/32").unwrap(),
            vec![net("::/0"), net("0.0.0.0/0"), net("203.0.113.7/32")]
        );
        assert_eq!(
            parse_sources(" ").unwrap_err().to_string(),
            "source_ips: missing: at least one source per rule, e.g. 0.0.0.0/0,::/0"
        );
        let many: Vec<String> = (0..101).map(|i| format!("10.0.{i}.0/24")).collect();
        assert_eq!(
            parse_sources(&many.join(",")).unwrap_err().to_string(),
            "source_ips: 101 sources: at most 100 per rule (Hetzner limit)"
        );
        assert_eq!(parse_sources(&many[..100].join(",")).unwrap().len(), 100);
    }

    #[test]
    fn descriptions() {
        assert_eq!(
            parse_description("  日本語 office "),
            Ok("日本語 office".into())
        );
        assert_eq!(parse_description(""), Ok(String::new()));
        assert_eq!(
            parse_description("a\tb").unwrap_err().to_string(),
            "description: control character U+0009 is not allowed"
        );
        assert_eq!(
            parse_description("a\u{7f}").unwrap_err().to_string(),
            "description: control character U+007F is not allowed"
        );
        let ok = "é".repeat(255);
        assert_eq!(parse_description(&ok), Ok(ok.clone()));
        assert_eq!(
            parse_description(&"é".repeat(256)).unwrap_err().to_string(),
            "description: 256 characters: at most 255"
        );
    }

    #[test]
    fn text_format() {
        let text = "# web server\n\
                    tcp 443 0.0.0.0/0,::/0 # HTTPS\n\
                    \n\
                    udp 60000-61000 203.0.113.7 # mosh\n\
                    tcp 22 2001:DB8::/32 10.0.0.0/8\n";
        let (rules, errors) = parse_rules_text(text);
        assert_eq!(errors, vec![]);
        assert_eq!(
            rules,
            vec![
                rule(Protocol::Tcp, 443, 443, &["0.0.0.0/0", "::/0"], "HTTPS"),
                rule(Protocol::Udp, 60000, 61000, &["203.0.113.7/32"], "mosh"),
                rule(Protocol::Tcp, 22, 22, &["2001:db8::/32", "10.0.0.0/8"], ""),
            ]
        );
        assert_eq!(
            print_rules_text(&rules),
            "tcp 443 0.0.0.0/0,::/0 # HTTPS\n\
             udp 60000-61000 203.0.113.7/32 # mosh\n\
             tcp 22 2001:db8::/32,10.0.0.0/8\n"
        );
        assert_eq!(parse_rules_text(&print_rules_text(&rules)), (rules, vec![]));
    }

    #[test]
    fn text_errors_name_line_and_field() {
        let text =
            "tcp 22 0.0.0.0/0\n\nicmp 85-80 10.0.0.1/24 # a\tb\ntcp 443\nudp 53 1.1.1.1 DNS\n";
        let (rules, errors) = parse_rules_text(text);
        assert_eq!(rules, vec![rule(Protocol::Tcp, 22, 22, &["0.0.0.0/0"], "")]);
        let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            shown,
            vec![
                "line 3, protocol: icmp: v1 accepts tcp and udp only",
                "line 3, port: 85-80: low port is above high port",
                "line 3, source_ips: 10.0.0.1/24: host bits are set; the network is 10.0.0.0/24",
                "line 3, description: control character U+0009 is not allowed",
                "line 4, source_ips: missing: at least one source per rule, e.g. 0.0.0.0/0,::/0",
                "line 5, source_ips: DNS: not an IPv4 or IPv6 address or CIDR",
            ]
        );
        assert_eq!(
            errors[1].for_row(),
            "rule 3, port: 85-80: low port is above high port"
        );
    }

    #[test]
    fn fifty_first_rule_refused() {
        let mut text = String::from("# header\n");
        for i in 1..=51 {
            text.push_str(&format!("tcp {i} 0.0.0.0/0\n"));
        }
        let (rules, errors) = parse_rules_text(&text);
        assert_eq!(rules.len(), 50);
        assert_eq!(rules[49].port, PortRange { low: 50, high: 50 });
        assert_eq!(
            errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            vec!["line 52, rule: rule 51: at most 50 rules per firewall (docs/product-rules.md §4)"]
        );
        let many: Vec<Rule> = (1..=51)
            .map(|i| rule(Protocol::Tcp, i, i, &["0.0.0.0/0"], ""))
            .collect();
        assert_eq!(
            validate_rules(&many)
                .iter()
                .map(|e| e.for_row())
                .collect::<Vec<_>>(),
            vec!["rule 51, rule: rule 51: at most 50 rules per firewall (docs/product-rules.md §4)"]
        );
        assert_eq!(validate_rules(&many[..50]), vec![]);
    }

    #[test]
    fn validate_hand_built_rules() {
        let bad = Rule {
            protocol: Protocol::Udp,
            port: PortRange { low: 9, high: 3 },
            source_ips: vec![net("10.0.0.1/24"), net("::/0"), net("::/0")],
            description: " x".into(),
        };
        let shown: Vec<String> = validate_rules(&[bad]).iter().map(|e| e.for_row()).collect();
        assert_eq!(
            shown,
            vec![
                "rule 1, port: 9-3: ports must satisfy 1 <= low <= high",
                "rule 1, source_ips: 10.0.0.1/24: host bits are set; the network is 10.0.0.0/24",
                "rule 1, source_ips: duplicate sources; remove the repeats",
                "rule 1, description: leading or trailing whitespace; trim it",
            ]
        );
        assert_eq!(validate_rules(&default_rules()), vec![]);
        let empty = Rule {
            source_ips: vec![],
            ..default_rules().remove(0)
        };
        assert_eq!(
            validate_rules(&[empty])[0].for_row(),
            "rule 1, source_ips: missing: at least one source per rule, e.g. 0.0.0.0/0,::/0"
        );
        let crowded = Rule {
            source_ips: (0..101u32)
                .map(|i| IpNet::from(IpAddr::from(std::net::Ipv4Addr::from(i << 8))))
                .collect(),
            ..default_rules().remove(0)
        };
        assert_eq!(
            validate_rules(&[crowded])[0].for_row(),
            "rule 1, source_ips: 101 sources: at most 100 per rule (Hetzner limit)"
        );
    }

    #[test]
    fn default_rule_set() {
        assert_eq!(
            print_rules_text(&default_rules()),
            "tcp 22 0.0.0.0/0,::/0 # SSH\n"
        );
    }

    #[test]
    fn wire_round_trip() {
        let r = rule(Protocol::Tcp, 8000, 8100, &["192.0.2.0/24"], "");
        let w = to_wire(&r);
        assert_eq!(
            serde_json::to_value(&w).unwrap(),
            serde_json::json!({"direction": "in", "protocol": "tcp", "port": "8000-8100",
                "source_ips": ["192.0.2.0/24"], "destination_ips": [], "description": null})
        );
        assert_eq!(from_wire(&w), Ok(r));
        let ssh = &default_rules()[0];
        assert_eq!(to_wire(ssh).description.as_deref(), Some("SSH"));
        assert_eq!(from_wire(&to_wire(ssh)).as_ref(), Ok(ssh));
    }

    #[test]
    fn wire_foreign_rules() {
        let base = WireRule {
            direction: "in".into(),
            protocol: "icmp".into(),
            port: None,
            source_ips: vec!["0.0.0.0/0".into(), "::/0".into()],
            destination_ips: vec![],
            description: None,
        };
        assert_eq!(
            from_wire(&base).unwrap_err().reason,
            "protocol: icmp: v1 accepts tcp and udp only"
        );
        let out = WireRule {
            direction: "out".into(),
            protocol: "tcp".into(),
            port: Some("443".into()),
            source_ips: vec![],
            destination_ips: vec!["0.0.0.0/0".into()],
            ..base.clone()
        };
        let f = from_wire(&out).unwrap_err();
        assert_eq!(f.reason, "direction out: v1 edits inbound rules only");
        assert_eq!(f.wire, out);
        let any = WireRule {
            protocol: "udp".into(),
            port: Some("any".into()),
            source_ips: vec!["2001:0db8::/32".into(), "2001:db8::/32".into()],
            ..base.clone()
        };
        assert_eq!(
            from_wire(&any),
            Ok(rule(Protocol::Udp, 1, 65535, &["2001:db8::/32"], ""))
        );
        let garbage = WireRule {
            protocol: "tcp".into(),
            port: Some("22".into()),
            source_ips: vec!["nope".into()],
            ..base.clone()
        };
        assert_eq!(
            from_wire(&garbage).unwrap_err().reason,
            "source_ips: nope: not a CIDR"
        );
        let no_port = WireRule {
            protocol: "tcp".into(),
            ..base
        };
        assert_eq!(
            from_wire(&no_port).unwrap_err().reason,
            "port: missing for a tcp/udp rule"
        );
    }

    #[test]
    fn diff_by_identity() {
        let ssh = rule(Protocol::Tcp, 22, 22, &["0.0.0.0/0", "::/0"], "SSH");
        let ssh_reordered = rule(Protocol::Tcp, 22, 22, &["::/0", "0.0.0.0/0"], "SSH");
        let ssh_office = rule(Protocol::Tcp, 22, 22, &["203.0.113.0/24"], "SSH");
        let https = rule(Protocol::Tcp, 443, 443, &["0.0.0.0/0"], "HTTPS");
        let dns = rule(Protocol::Udp, 53, 53, &["0.0.0.0/0"], "");
        assert_eq!(
            diff(
                &[ssh.clone(), https.clone()],
                &[https.clone(), ssh_reordered]
            ),
            vec![]
        );
        assert_eq!(
            diff(
                &[ssh.clone(), dns.clone()],
                &[https.clone(), ssh_office.clone()]
            ),
            vec![
                Change::Changed {
                    before: ssh.clone(),
                    after: ssh_office.clone()
                },
                Change::Added(https.clone()),
                Change::Removed(dns.clone()),
            ]
        );
        // Two rules with one identity: the identical one cancels, the other is removed.
        assert_eq!(
            diff(
                &[ssh.clone(), ssh_office.clone()],
                std::slice::from_ref(&ssh_office)
            ),
            vec![Change::Removed(ssh)]
        );
    }

    #[test]
    fn operator_address() {
        assert_eq!(
            operator_ip_from_ssh_connection("203.0.113.7 51234 10.0.0.2 22"),
            Some("203.0.113.7".parse().unwrap())
        );
        assert_eq!(
            operator_ip_from_ssh_connection("::ffff:203.0.113.7 51234 10.0.0.2 22"),
            Some("203.0.113.7".parse().unwrap())
        );
        assert_eq!(
            operator_ip_from_ssh_connection("fe80::1%eth0 5 fe80::2 22"),
            Some("fe80::1".parse().unwrap())
        );
        assert_eq!(operator_ip_from_ssh_connection(""), None);
        assert_eq!(operator_ip_from_ssh_connection("garbage 1 2 3"), None);
    }

    #[test]
    fn lockout_warning() {
        let me: IpAddr = "203.0.113.7".parse().unwrap();
        let office = rule(Protocol::Tcp, 22, 22, &["203.0.113.0/24"], "");
        let other = rule(Protocol::Tcp, 22, 22, &["198.51.100.0/24"], "");
        let range = rule(Protocol::Tcp, 1, 1024, &["0.0.0.0/0"], "");
        let udp = rule(Protocol::Udp, 22, 22, &["0.0.0.0/0"], "");
        assert!(!lockout(std::slice::from_ref(&office), Some(me)));
        assert!(lockout(std::slice::from_ref(&other), Some(me)));
        assert!(!lockout(std::slice::from_ref(&other), None));
        assert!(!lockout(&[range], Some(me)));
        assert!(lockout(&[udp], None));
        assert!(lockout(&[], None));
        assert!(!lockout(
            &default_rules(),
            Some("2001:db8::1".parse().unwrap())
        ));
    }

    #[test]
    fn sensitive_ports() {
        let rules = vec![
            rule(Protocol::Tcp, 443, 443, &["0.0.0.0/0"], ""),
            rule(Protocol::Tcp, 5432, 5432, &["10.0.0.0/8"], ""),
            rule(Protocol::Tcp, 3300, 3400, &["10.0.0.0/8", "::/0"], ""),
            default_rules().remove(0),
        ];
        assert_eq!(
            sensitive_exposed(&rules),
            vec![
                Exposure {
                    index: 2,
                    ports: vec![(3389, "RDP"), (3306, "MySQL")],
                    sources: vec![net("::/0")],
                },
                Exposure {
                    index: 3,
                    ports: vec![(22, "SSH")],
                    sources: vec![net("0.0.0.0/0"), net("::/0")],
                },
            ]
        );
    }

    #[test]
    fn redundancy() {
        let rules = vec![
            rule(Protocol::Tcp, 1000, 2000, &["10.0.0.0/8", "::/0"], "wide"),
            rule(Protocol::Tcp, 1500, 1500, &["10.1.0.0/16"], "inside"),
            rule(
                Protocol::Tcp,
                1500,
                1500,
                &["10.1.0.0/16", "192.0.2.0/24"],
                "partly out",
            ),
            rule(
                Protocol::Udp,
                1500,
                1500,
                &["10.1.0.0/16"],
                "other protocol",
            ),
            rule(
                Protocol::Tcp,
                1000,
                2000,
                &["::/0", "10.0.0.0/8"],
                "same again",
            ),
        ];
        assert_eq!(
            duplicates_and_shadowed(&rules),
            vec![
                RedundantRule {
                    index: 1,
                    by: 0,
                    kind: Redundancy::Shadowed
                },
                RedundantRule {
                    index: 4,
                    by: 0,
                    kind: Redundancy::Duplicate
                },
            ]
        );
    }

    fn arb_net() -> impl Strategy<Value = IpNet> {
        prop_oneof![
            (any::<[u8; 4]>(), 0u8..=32)
                .prop_map(|(a, p)| { IpNet::new(IpAddr::from(a), p).map(|n| n.trunc()).unwrap() }),
            (any::<[u16; 8]>(), 0u8..=128)
                .prop_map(|(a, p)| { IpNet::new(IpAddr::from(a), p).map(|n| n.trunc()).unwrap() }),
        ]
    }

    fn arb_rule() -> impl Strategy<Value = Rule> {
        (
            prop_oneof![Just(Protocol::Tcp), Just(Protocol::Udp)],
            (1u16..=65535, 1u16..=65535),
            prop::collection::vec(arb_net(), 1..8),
            "\\PC{0,40}",
        )
            .prop_map(|(protocol, (a, b), nets, d)| Rule {
                protocol,
                port: PortRange {
                    low: a.min(b),
                    high: a.max(b),
                },
                source_ips: dedup_sources(nets).unwrap(),
                description: parse_description(&d.chars().take(255).collect::<String>()).unwrap(),
            })
    }

    proptest! {
        #[test]
        fn any_valid_rule_set_round_trips(rules in prop::collection::vec(arb_rule(), 0..=MAX_RULES)) {
            prop_assert_eq!(validate_rules(&rules), vec![]);
            let text = print_rules_text(&rules);
            let (back, errors) = parse_rules_text(&text);
            prop_assert_eq!(errors, vec![]);
            prop_assert_eq!(&back, &rules);
            prop_assert_eq!(print_rules_text(&back), text);
            prop_assert_eq!(diff(&rules, &back), vec![]);
            let wire: Vec<Rule> = rules.iter().map(|r| from_wire(&to_wire(r)).unwrap()).collect();
            prop_assert_eq!(wire, rules);
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,60}") {
            let _ = parse_rules_text(&s);
            let _ = parse_port(&s);
            let _ = parse_source(&s);
        }
    }
}
