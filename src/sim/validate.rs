//! Request validation shared by the sim's endpoints: server names (RFC 1123), labels
//! (docs/hetzner-api.md §11) and firewall rules (§7.2). Errors are `(field, message)` pairs that
//! become `422 invalid_input` with `details.fields`.

use std::collections::BTreeMap;

use ipnet::IpNet;
use serde_json::{Map, Value, json};

/// At most 50 rules per firewall: docs/hetzner-api.md §7, Hetzner `maxItems`.
pub(crate) const MAX_RULES: usize = 50;
/// At most 100 CIDRs per `source_ips` / `destination_ips`: docs/hetzner-api.md §7.2.
pub(crate) const MAX_CIDRS: usize = 100;
/// Rule description limit (characters): OpenAPI `maxLength: 255`.
pub(crate) const MAX_DESCRIPTION: usize = 255;

/// A field error: `(field path, message)`.
pub(crate) type FieldError = (String, String);

/// A validated firewall rule; `port` is `None` for icmp/esp/gre.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Rule {
    pub direction: String,
    pub protocol: String,
    pub port: Option<String>,
    pub source_ips: Vec<String>,
    pub destination_ips: Vec<String>,
    pub description: Option<String>,
}

impl Rule {
    /// The response shape: all six keys present.
    pub fn json(&self) -> Value {
        json!({
            "direction": self.direction, "protocol": self.protocol, "port": self.port,
            "source_ips": self.source_ips, "destination_ips": self.destination_ips,
            "description": self.description,
        })
    }
}

/// RFC 1123 hostname: dot-separated labels of letters, digits and `-` (1-63 chars, not starting
/// or ending with `-`), at most 253 characters in total.
pub(crate) fn valid_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn label_part_ok(s: &str, max: usize) -> bool {
    let b = s.as_bytes();
    !s.is_empty()
        && s.len() <= max
        && b.first().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.last().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Validate a label key (`[prefix/]name`) per docs/hetzner-api.md §11.
pub(crate) fn valid_label_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => {
            prefix != "hetzner.cloud" && label_part_ok(prefix, 253) && label_part_ok(name, 63)
        }
        None => label_part_ok(key, 63),
    }
}

/// Validate a label value (empty allowed) per docs/hetzner-api.md §11.
pub(crate) fn valid_label_value(value: &str) -> bool {
    value.is_empty() || label_part_ok(value, 63)
}

/// Parse a `labels` JSON value (object of strings; `null` → `None`).
pub(crate) fn labels(v: Option<&Value>) -> Result<Option<BTreeMap<String, String>>, FieldError> {
    let obj = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(("labels".into(), "must be an object".into())),
    };
    let mut out = BTreeMap::new();
    for (k, v) in obj {
        let Some(v) = v.as_str() else {
            return Err(("labels".into(), format!("value of '{k}' must be a string")));
        };
        if !valid_label_key(k) {
            return Err(("labels".into(), format!("label key '{k}' is invalid")));
        }
        if !valid_label_value(v) {
            return Err(("labels".into(), format!("label value '{v}' is invalid")));
        }
        out.insert(k.clone(), v.to_string());
    }
    Ok(Some(out))
}

fn validate_port(port: &str) -> Result<(), String> {
    if port == "any" {
        return Ok(());
    }
    let num = |s: &str| -> Option<u32> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 5 {
            return None;
        }
        s.parse::<u32>().ok().filter(|p| (1..=65535).contains(p))
    };
    match port.split_once('-') {
        Some((lo, hi)) => match (num(lo), num(hi)) {
            (Some(l), Some(h)) if l <= h => Ok(()),
            (Some(_), Some(_)) => Err(format!(
                "port range '{port}' must have the lower bound first"
            )),
            _ => Err(format!(
                "port '{port}' must be a port (1-65535), a range 'low-high' or 'any'"
            )),
        },
        None => num(port).map(|_| ()).ok_or_else(|| {
            format!("port '{port}' must be a port (1-65535), a range 'low-high' or 'any'")
        }),
    }
}

fn validate_cidrs(field: &str, v: Option<&Value>, errs: &mut Vec<FieldError>) -> Vec<String> {
    let arr = match v {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(a)) => a,
        Some(_) => {
            errs.push((field.into(), "must be an array of CIDR strings".into()));
            return Vec::new();
        }
    };
    if arr.len() > MAX_CIDRS {
        errs.push((
            field.into(),
            format!("must not contain more than {MAX_CIDRS} CIDRs"),
        ));
    }
    let mut out = Vec::new();
    for (j, item) in arr.iter().enumerate() {
        let f = format!("{field}[{j}]");
        let Some(s) = item.as_str() else {
            errs.push((f, "must be a string".into()));
            continue;
        };
        match s.parse::<IpNet>() {
            Ok(net) if net != net.trunc() => errs.push((
                f,
                format!(
                    "'{s}' is not the start of the cidr block (did you mean {}?)",
                    net.trunc()
                ),
            )),
            Ok(net) => out.push(net.to_string()),
            Err(_) => errs.push((f, format!("'{s}' is not a valid CIDR"))),
        }
    }
    out
}

/// Validate one rule object at index `i`, collecting errors on `rules[i].<field>`.
fn rule(i: usize, v: &Value, errs: &mut Vec<FieldError>) -> Option<Rule> {
    let before = errs.len();
    let f = |name: &str| format!("rules[{i}].{name}");
    let empty = Map::new();
    let obj = match v.as_object() {
        Some(o) => o,
        None => {
            errs.push((format!("rules[{i}]"), "must be an object".into()));
            &empty
        }
    };
    let direction = match obj.get("direction").and_then(Value::as_str) {
        Some(d @ ("in" | "out")) => d.to_string(),
        Some(d) => {
            errs.push((f("direction"), format!("'{d}' is not one of in, out")));
            String::new()
        }
        None => {
            errs.push((f("direction"), "is required".into()));
            String::new()
        }
    };
    let protocol = match obj.get("protocol").and_then(Value::as_str) {
        Some(p @ ("tcp" | "udp" | "icmp" | "esp" | "gre")) => p.to_string(),
        Some(p) => {
            errs.push((
                f("protocol"),
                format!("'{p}' is not one of tcp, udp, icmp, esp, gre"),
            ));
            String::new()
        }
        None => {
            errs.push((f("protocol"), "is required".into()));
            String::new()
        }
    };
    let port = match obj.get("port") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errs.push((f("port"), "must be a string".into()));
            None
        }
    };
    match (protocol.as_str(), &port) {
        ("tcp" | "udp", None) => {
            errs.push((f("port"), format!("is required for protocol {protocol}")))
        }
        ("tcp" | "udp", Some(p)) => {
            if let Err(m) = validate_port(p) {
                errs.push((f("port"), m));
            }
        }
        ("icmp" | "esp" | "gre", Some(_)) => {
            errs.push((f("port"), format!("is not allowed for protocol {protocol}")))
        }
        _ => {}
    }
    let source_ips = validate_cidrs(&f("source_ips"), obj.get("source_ips"), errs);
    let destination_ips = validate_cidrs(&f("destination_ips"), obj.get("destination_ips"), errs);
    match direction.as_str() {
        "in" => {
            if source_ips.is_empty() && !errs.iter().any(|(n, _)| n.starts_with(&f("source_ips"))) {
                errs.push((f("source_ips"), "is required for direction in".into()));
            }
            if !destination_ips.is_empty() {
                errs.push((
                    f("destination_ips"),
                    "is not allowed for direction in".into(),
                ));
            }
        }
        "out" => {
            if destination_ips.is_empty()
                && !errs
                    .iter()
                    .any(|(n, _)| n.starts_with(&f("destination_ips")))
            {
                errs.push((f("destination_ips"), "is required for direction out".into()));
            }
            if !source_ips.is_empty() {
                errs.push((f("source_ips"), "is not allowed for direction out".into()));
            }
        }
        _ => {}
    }
    let description = match obj.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            if s.chars().count() > MAX_DESCRIPTION {
                errs.push((
                    f("description"),
                    format!("must be at most {MAX_DESCRIPTION} characters"),
                ));
            }
            Some(s.clone())
        }
        Some(_) => {
            errs.push((f("description"), "must be a string".into()));
            None
        }
    };
    (errs.len() == before).then_some(Rule {
        direction,
        protocol,
        port,
        source_ips,
        destination_ips,
        description,
    })
}

/// Validate a whole `rules` array (full replace semantics; `null`/absent → empty list).
/// Errors name `rules` (too many / not an array) or `rules[i].<field>`.
pub(crate) fn rules(v: Option<&Value>) -> Result<Vec<Rule>, Vec<FieldError>> {
    let arr = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(vec![("rules".into(), "must be an array".into())]),
    };
    if arr.len() > MAX_RULES {
        return Err(vec![(
            "rules".into(),
            format!("must not contain more than {MAX_RULES} rules"),
        )]);
    }
    let mut errs = Vec::new();
    let out: Vec<Rule> = arr
        .iter()
        .enumerate()
        .filter_map(|(i, r)| rule(i, r, &mut errs))
        .collect();
    if errs.is_empty() { Ok(out) } else { Err(errs) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames() {
        assert!(valid_hostname("web-1"));
        assert!(valid_hostname("web-1.example.com"));
        assert!(!valid_hostname("web_1"));
        assert!(!valid_hostname("-web"));
        assert!(!valid_hostname("web 1"));
        assert!(!valid_hostname(""));
        assert!(!valid_hostname(&"a".repeat(64)));
    }

    #[test]
    fn label_rules() {
        assert!(valid_label_key("crabglamp/vm-id"));
        assert!(valid_label_key("env"));
        assert!(!valid_label_key("hetzner.cloud/x"));
        assert!(!valid_label_key("-env"));
        assert!(valid_label_value(""));
        assert!(valid_label_value("a.b_c-d"));
        assert!(!valid_label_value("a b"));
    }

    #[test]
    fn valid_rules_are_normalised() {
        let v = json!([
            {"direction": "in", "protocol": "tcp", "port": "22",
             "source_ips": ["0.0.0.0/0", "2001:0db8:0000::/32"]},
            {"direction": "in", "protocol": "icmp", "source_ips": ["::/0"], "description": "ping"},
            {"direction": "out", "protocol": "udp", "port": "any", "destination_ips": ["10.0.0.0/8"]},
        ]);
        let r = rules(Some(&v)).unwrap();
        assert_eq!(r[0].source_ips, vec!["0.0.0.0/0", "2001:db8::/32"]);
        assert_eq!(r[1].port, None);
        assert_eq!(
            r[1].json(),
            json!({"direction": "in", "protocol": "icmp", "port": null,
                   "source_ips": ["::/0"], "destination_ips": [], "description": "ping"})
        );
        assert_eq!(r[2].port.as_deref(), Some("any"));
    }

    #[test]
    fn invalid_rules_name_their_fields() {
        let v = json!([
            {"direction": "in", "protocol": "tcp", "source_ips": ["0.0.0.0/0"]},
            {"direction": "sideways", "protocol": "icmp", "port": "1", "source_ips": ["10.0.0.1/8"]},
            {"direction": "in", "protocol": "tcp", "port": "90-80", "source_ips": ["x"]},
        ]);
        let errs = rules(Some(&v)).unwrap_err();
        let names: Vec<&str> = errs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "rules[0].port",
                "rules[1].direction",
                "rules[1].port",
                "rules[1].source_ips[0]",
                "rules[2].port",
                "rules[2].source_ips[0]",
            ]
        );
        assert!(errs[3].1.contains("did you mean 10.0.0.0/8"));
    }

    #[test]
    fn too_many_rules_and_cidrs() {
        let one =
            json!({"direction": "in", "protocol": "tcp", "port": "1", "source_ips": ["::/0"]});
        let v = Value::Array(vec![one; 51]);
        assert_eq!(rules(Some(&v)).unwrap_err()[0].0, "rules");
        let cidrs: Vec<String> = (0..101).map(|i| format!("10.0.{i}.0/24")).collect();
        let v = json!([{"direction": "in", "protocol": "tcp", "port": "1", "source_ips": cidrs}]);
        assert_eq!(rules(Some(&v)).unwrap_err()[0].0, "rules[0].source_ips");
    }

    #[test]
    fn ports() {
        assert!(validate_port("1").is_ok());
        assert!(validate_port("65535").is_ok());
        assert!(validate_port("1024-5000").is_ok());
        assert!(validate_port("any").is_ok());
        assert!(validate_port("0").is_err());
        assert!(validate_port("65536").is_err());
        assert!(validate_port("5000-1024").is_err());
        assert!(validate_port("22,80").is_err());
        assert!(validate_port("").is_err());
    }
}
