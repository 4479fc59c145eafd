//! Reviewing a rule set before applying: the [`diff`] against the current set, and the
//! warnings (lockout, sensitive ports open to the internet, duplicate and shadowed rules).

use super::{PortRange, Protocol, Rule, SENSITIVE_PORTS};
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::IpAddr;

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
