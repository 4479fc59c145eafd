//! Benchmark (issue 5 "Measured"): validating a full firewall — 50 rules (the maximum,
//! docs/product-rules.md §4) with 100 source CIDRs each (Hetzner's maximum, docs/hetzner-api.md §7.3), IPv4 and IPv6 mixed —
//! must take at most 1 ms.
//!
//! Run with `cargo bench --bench firewall_validation`. Measures, on the same rule set:
//! parsing the text format (`parse_rules_text`: every field validated and canonicalised),
//! checking hand-built rules (`validate_rules`), and the pre-apply warnings (`lockout`,
//! `sensitive_exposed`, `duplicates_and_shadowed`) plus the diff against the default rule set.

use crabglamp::domain::firewall::{
    MAX_RULES, MAX_SOURCES_PER_RULE, default_rules, diff, duplicates_and_shadowed, lockout,
    parse_rules_text, sensitive_exposed, validate_rules,
};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

/// 50 lines, each `tcp|udp PORT 100 sources # description`; half the sources IPv6 written
/// long-hand so canonicalisation has work to do.
fn full_rule_set_text() -> String {
    let mut text = String::new();
    for r in 0..MAX_RULES {
        let protocol = if r % 2 == 0 { "tcp" } else { "udp" };
        let port = if r % 5 == 0 {
            format!("{}-{}", 8000 + r, 8100 + r)
        } else {
            format!("{}", 1000 + r)
        };
        let sources: Vec<String> = (0..MAX_SOURCES_PER_RULE)
            .map(|s| {
                if s % 2 == 0 {
                    format!("10.{r}.{s}.0/24")
                } else {
                    format!("2001:0db8:{r:04x}:{s:04x}:0000:0000:0000:0000/64")
                }
            })
            .collect();
        text.push_str(&format!(
            "{protocol} {port} {} # rule {r} ünïcödé\n",
            sources.join(",")
        ));
    }
    text
}

/// This thread's CPU time so far, from `/proc/thread-self/schedstat` (first field, ns); `None`
/// off Linux. Wall time on a shared, loaded machine overstates the work; CPU time does not.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Mean CPU time of one call of `f` over `n` calls, in microseconds.
fn cpu_us_per_call<T>(n: u32, mut f: impl FnMut() -> T) -> Option<f64> {
    let start = thread_cpu_ns()?;
    for _ in 0..n {
        black_box(f());
    }
    let end = thread_cpu_ns()?;
    Some((end - start) as f64 / 1000.0 / f64::from(n))
}

fn bench(c: &mut Criterion) {
    let text = full_rule_set_text();
    let (rules, errors) = parse_rules_text(&text);
    assert_eq!(errors, vec![], "the benchmark rule set must be valid");
    assert_eq!(rules.len(), MAX_RULES);
    assert!(
        rules
            .iter()
            .all(|r| r.source_ips.len() == MAX_SOURCES_PER_RULE)
    );
    let current = default_rules();

    if let (Some(parse), Some(validate)) = (
        cpu_us_per_call(500, || parse_rules_text(&text)),
        cpu_us_per_call(500, || validate_rules(&rules)),
    ) {
        println!(
            "CPU time per call (50 rules x 100 sources): parse_rules_text {parse:.0} us, validate_rules {validate:.0} us (budget 1000 us)"
        );
    }

    c.bench_function("parse_rules_text 50x100", |b| {
        b.iter(|| parse_rules_text(black_box(&text)))
    });
    c.bench_function("validate_rules 50x100", |b| {
        b.iter(|| validate_rules(black_box(&rules)))
    });
    c.bench_function("warnings+diff 50x100", |b| {
        b.iter(|| {
            let r = black_box(&rules);
            (
                lockout(
                    r,
                    Some(
                        "203.0.113.7"
                            .parse()
                            .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into()),
                    ),
                ),
                sensitive_exposed(r),
                duplicates_and_shadowed(r),
                diff(&current, r),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
