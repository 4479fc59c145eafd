//! Whole rule sets: the one-rule-a-line text format (parse and print), the checks of a set built
//! field by field in the table editor, and the VM's default set.

use super::{
    Field, FieldError, LineError, MAX_RULES, PortRange, Protocol, Rule, parse_description,
    parse_port, parse_protocol, parse_source_tokens, source_count_error,
};
use ipnet::IpNet;

fn over_limit(rule_no: usize) -> FieldError {
    FieldError::new(
        Field::Rule,
        format!("rule {rule_no}: at most {MAX_RULES} rules per firewall"),
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
