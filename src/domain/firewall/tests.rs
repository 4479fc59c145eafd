//! Unit tests of the firewall rules: parsing, validation, wire conversion, diff and warnings.

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
    let text = "tcp 22 0.0.0.0/0\n\nicmp 85-80 10.0.0.1/24 # a\tb\ntcp 443\nudp 53 1.1.1.1 DNS\n";
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
        vec!["line 52, rule: rule 51: at most 50 rules per firewall"]
    );
    let many: Vec<Rule> = (1..=51)
        .map(|i| rule(Protocol::Tcp, i, i, &["0.0.0.0/0"], ""))
        .collect();
    assert_eq!(
        validate_rules(&many)
            .iter()
            .map(|e| e.for_row())
            .collect::<Vec<_>>(),
        vec!["rule 51, rule: rule 51: at most 50 rules per firewall"]
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
