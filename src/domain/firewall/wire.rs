//! Conversion between a [`Rule`] and Hetzner's wire rule ([`WireRule`]), and the rules v1 can
//! show but not edit ([`ForeignRule`]).

use super::{PortRange, Rule, dedup_sources, parse_description, parse_port, parse_protocol};
use ipnet::IpNet;

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
