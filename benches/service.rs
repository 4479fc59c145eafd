//! `crabglamp serve` measured on purpose (issue 12 "Measured"), not part of the test run:
//! `nice -n 10 cargo bench --bench service`. A sim with 1,000 servers (the 15 demo servers and
//! 985 bulk ones), the real service (release build), one console in a pseudo-terminal and 19
//! raw protocol clients that only read frames; then one embedded console alone on the same
//! sim for comparison. Prints one table:
//!
//! - (a) drawn latency: for Vault adds from a headless client, the time from the snapshot
//!   update's arrival at a raw client (the service has finished the operation and broadcast
//!   it) to the first screen of the console's pty showing the new key; median and p99.
//! - (b) service CPU (utime + stime from /proc/PID/stat) over an idle minute, 20 clients.
//! - (c) bytes per snapshot update per client (4-byte prefix included): the first, full one;
//!   after a Vault add; after a sync where nothing changed.
//! - (d) API requests at the sim per hour (an idle minute × 60): the service with 20 clients,
//!   and one embedded console alone.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/service_support/mod.rs"]
mod service_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::harness::{Dirs, Options, TOKEN, cli_blocking, ok, start_sim, vm_labels};
use crabglamp::protocol::Effect;
use crabglamp::protocol::wire::{ClientFrame, ServiceFrame};
use crabglamp::sim::{Seed, ServerSeed, SimConfig};
use futures::{SinkExt, StreamExt};
use service_support::{Service, Tui, client_frame, ed25519_line, raw_connect, run, send_hello};

/// One frame a raw client received: when, its size on the wire, its kind, and the Vault
/// labels of a snapshot update that carries the Vault.
#[derive(Clone, Debug)]
struct Seen {
    at: Instant,
    bytes: usize,
    kind: &'static str,
    labels: Option<Vec<String>>,
    /// The snapshot update's parts that were sent (not null).
    parts: Vec<String>,
}

/// The non-null parts of a snapshot update frame (`prebuilt.*` for the prebuilt views).
fn parts(frame: &[u8]) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(frame).unwrap_or_default();
    let mut out = Vec::new();
    if let Some(obj) = v["Snapshot"].as_object() {
        for (k, val) in obj {
            if k == "prebuilt" {
                for (pk, pv) in val.as_object().into_iter().flatten() {
                    if !pv.is_null() {
                        out.push(format!("prebuilt.{pk}"));
                    }
                }
            } else if !val.is_null()
                && !matches!(k.as_str(), "usage_currency" | "stale" | "audit_verified")
            {
                out.push(k.clone());
            }
        }
    }
    out
}

const RAW_CLIENTS: usize = 19;
const OPS: usize = 25;
const IDLE: Duration = Duration::from_secs(60);

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn clock_ticks_per_second() -> f64 {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn median(v: &[usize]) -> usize {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        // `cargo test --benches` lists benches; this one only runs on purpose.
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sim = rt.block_on(start_sim(SimConfig {
        seed: Seed::Demo,
        ..Options::default().sim_config()
    }));
    // 985 more CrabGlamp-labelled servers (adopted as managed VMs at the first sync).
    for i in 0..985 {
        let (tier, region) = (
            ["small", "medium", "large"][i % 3],
            ["eu", "us"][(i / 3) % 2],
        );
        let ty = match (tier, region) {
            ("small", "us") => "cpx21",
            ("medium", "us") => "cpx31",
            ("large", "us") => "cpx41",
            ("small", _) => "cpx22",
            ("medium", _) => "cpx32",
            _ => "cpx42",
        };
        sim.add_server(ServerSeed {
            name: format!("bulk-{i:04}"),
            server_type: ty.into(),
            location: if region == "us" { "hil" } else { "hel1" }.into(),
            image: "debian-12".into(),
            labels: vm_labels(
                &uuid::Uuid::new_v4().to_string(),
                ["acme", "globex", "alice"][i % 3],
                tier,
                region,
                "debian-12",
                "metered",
            ),
            created: chrono::Utc::now() - chrono::Duration::hours(i as i64 + 1),
            status: "running".into(),
            firewall_ids: Vec::new(),
        });
    }
    let dirs = Dirs::create();
    let svc_data = dirs.tmp.path().join("svc");
    let socket = dirs.tmp.path().join("sock/crabglamp.sock");
    let mut serve = cli_blocking(&dirs.home, &svc_data);
    serve
        .env("HCLOUD_TOKEN", TOKEN)
        .env("HCLOUD_ENDPOINT", sim.endpoint())
        .arg("serve")
        .arg("--socket")
        .arg(&socket);
    let mut svc = Service::start(serve, &socket, &svc_data);
    let client = |args: &[&str]| {
        let mut c = cli_blocking(&dirs.home, &dirs.data);
        c.arg("--socket").arg(&socket).args(args);
        c
    };
    service_support::wait_until(
        "1,000 VMs in the service",
        || {
            let out = run(client(&["vms"]));
            (String::from_utf8_lossy(&out.stdout).lines().count() > 1000).then_some(())
        },
        || {
            let out = run(client(&["vms"]));
            format!(
                "{} lines; {}; {}",
                String::from_utf8_lossy(&out.stdout).lines().count(),
                String::from_utf8_lossy(&out.stderr),
                svc.log()
            )
        },
    );

    // 19 raw clients that read every frame.
    let logs: Vec<Arc<Mutex<Vec<Seen>>>> = (0..RAW_CLIENTS)
        .map(|_| Arc::new(Mutex::new(Vec::new())))
        .collect();
    let mut tasks = Vec::new();
    for log in &logs {
        let mut raw = rt.block_on(async {
            let mut raw = raw_connect(&socket).await;
            send_hello(&mut raw).await;
            raw
        });
        let log = Arc::clone(log);
        tasks.push(rt.spawn(async move {
            while let Some(Ok(f)) = raw.next().await {
                let at = Instant::now();
                let (kind, labels) = match serde_json::from_slice::<ServiceFrame>(&f) {
                    Ok(ServiceFrame::Snapshot(u)) => (
                        "snapshot",
                        u.vault
                            .as_ref()
                            .map(|v| v.iter().map(|k| k.label.clone()).collect()),
                    ),
                    Ok(ServiceFrame::Welcome(_)) => ("welcome", None),
                    Ok(ServiceFrame::Event(_)) => ("event", None),
                    _ => ("other", None),
                };
                let parts = if kind == "snapshot" {
                    parts(&f)
                } else {
                    Vec::new()
                };
                log.lock().unwrap().push(Seen {
                    at,
                    bytes: f.len() + 4,
                    kind,
                    labels,
                    parts,
                });
            }
        }));
    }
    // A sender for Refresh: its own attached connection (its frames are drained).
    let (refresh_sink, refresh_task) = rt.block_on(async {
        let mut raw = raw_connect(&socket).await;
        send_hello(&mut raw).await;
        let (sink, mut stream) = raw.split();
        let t = tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
        (sink, t)
    });
    let refresh_sink = Arc::new(tokio::sync::Mutex::new(refresh_sink));

    // The console, on the Vault pane.
    let mut tui = Tui::start_with(&client(&[]), true);
    tui.wait_for("the VM list", |s| {
        s.contains("bulk-") && s.contains("shared ·")
    });
    tui.keys("3");
    tui.wait_for("the Vault pane", |s| s.contains("Vault"));
    // 20 clients attached: 19 raw + the console (+ the Refresh sender, not counted).

    // (a) Vault adds from a headless client.
    let mut latencies = Vec::new();
    let mut from_service = Vec::new();
    let anchor = (Instant::now(), chrono::Utc::now());
    let mut add_bytes = Vec::new();
    for i in 0..OPS {
        let label = format!("bench-{i:02}");
        let key = dirs.tmp.path().join(format!("{label}.pub"));
        std::fs::write(&key, ed25519_line(50_000 + i as u64, &label)).unwrap();
        ok(&run(client(&[
            "vault",
            "add",
            "--account",
            "acme",
            key.to_str().unwrap(),
        ])));
        let arrival = |log: &Mutex<Vec<Seen>>| {
            log.lock().unwrap().iter().find_map(|s| {
                s.labels
                    .as_ref()
                    .filter(|l| l.contains(&label))
                    .map(|_| (s.at, s.bytes))
            })
        };
        // The earliest arrival among the raw clients, once every one has it.
        let arrived = service_support::wait_until(
            "the update at every raw client",
            || {
                let all: Option<Vec<_>> = logs.iter().map(|l| arrival(l)).collect();
                all.map(|v| v.into_iter().min_by_key(|a| a.0).unwrap())
            },
            String::new,
        );
        add_bytes.push(arrived.1);
        tui.wait_for("the key drawn", |s| s.contains(&label));
        let frames = tui.frames.as_ref().unwrap().lock().unwrap();
        let drawn = frames
            .iter()
            .find(|(_, s)| s.contains(&label))
            .map(|(t, _)| *t)
            .unwrap();
        latencies.push(drawn.saturating_duration_since(arrived.0).as_secs_f64() * 1000.0);
        // The service's "Vault changed" line (the store written) for this add: wall clock.
        let log = svc.log();
        let line = log
            .lines()
            .filter(|l| l.contains("Vault changed"))
            .nth(i)
            .expect("one Vault changed line per add");
        let finished: chrono::DateTime<chrono::Utc> =
            line.split_whitespace().next().unwrap().parse().unwrap();
        let drawn_wall = anchor.1 + chrono::Duration::from_std(drawn - anchor.0).unwrap();
        from_service.push((drawn_wall - finished).num_microseconds().unwrap() as f64 / 1000.0);
        drop(frames);
        std::thread::sleep(Duration::from_millis(200));
    }
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    from_service.sort_by(|a, b| a.partial_cmp(b).unwrap());

    // (c) a sync where nothing changed.
    let before = logs[0].lock().unwrap().len();
    rt.block_on(async {
        refresh_sink
            .lock()
            .await
            .send(client_frame(&ClientFrame::Effect(Effect::Refresh)))
            .await
            .unwrap();
    });
    let (idle_sync, idle_parts) = service_support::wait_until(
        "the sync's snapshot update",
        || {
            logs[0].lock().unwrap()[before..]
                .iter()
                .find(|s| s.kind == "snapshot")
                .map(|s| (s.bytes, s.parts.clone()))
        },
        String::new,
    );
    let full = logs[0]
        .lock()
        .unwrap()
        .iter()
        .find(|s| s.kind == "snapshot")
        .unwrap()
        .bytes;

    // (b) and (d): an idle minute with 20 clients.
    std::thread::sleep(Duration::from_secs(2));
    let hz = clock_ticks_per_second();
    let pid = svc.pid();
    let frames_before: usize = logs.iter().map(|l| l.lock().unwrap().len()).sum();
    sim.reset_counters();
    let cpu0 = cpu_ticks(pid);
    std::thread::sleep(IDLE);
    let cpu1 = cpu_ticks(pid);
    let service_requests = sim.request_count();
    let frames_after: usize = logs.iter().map(|l| l.lock().unwrap().len()).sum();
    let cpu_ms = (cpu1 - cpu0) as f64 / hz * 1000.0;
    let attached = logs
        .iter()
        .filter(|l| !l.lock().unwrap().is_empty())
        .count();

    tui.quit();
    drop(tui);
    svc.terminate();
    refresh_task.abort();
    for t in tasks {
        t.abort();
    }

    // (d) one embedded console alone, same window, after its first sync.
    let solo = Dirs::create();
    let mut c = cli_blocking(&solo.home, &solo.data);
    c.env("HCLOUD_TOKEN", TOKEN)
        .env("HCLOUD_ENDPOINT", sim.endpoint());
    let mut console = Tui::start(&c);
    console.wait_for("the embedded console synced", |s| {
        s.contains("bulk-") && s.contains("local")
    });
    std::thread::sleep(Duration::from_secs(2));
    sim.reset_counters();
    std::thread::sleep(IDLE);
    let solo_requests = sim.request_count();
    console.quit();

    let per_hour = |n: u64| n as f64 * 3600.0 / IDLE.as_secs_f64();
    println!();
    println!(
        "crabglamp serve, 1,000 VMs, {} raw clients + 1 console in a pty",
        attached
    );
    println!("{:<62} {:>14}", "measure", "value");
    println!(
        "{:<62} {:>11.1} ms",
        format!("(a) Vault add finished in the service → drawn, median (n={OPS})"),
        percentile(&from_service, 0.5)
    );
    println!(
        "{:<62} {:>11.1} ms",
        "(a) Vault add finished in the service → drawn, p99",
        percentile(&from_service, 0.99)
    );
    println!(
        "{:<62} {:>11.1} ms",
        format!("(a) update received (first raw client) → drawn, median"),
        percentile(&latencies, 0.5)
    );
    println!(
        "{:<62} {:>11.1} ms",
        "(a) update received → drawn in the pty, p99",
        percentile(&latencies, 0.99)
    );
    println!(
        "{:<62} {:>11.1} ms",
        "(b) service CPU per idle minute (utime+stime)", cpu_ms
    );
    println!(
        "{:<62} {:>14}",
        "(b) frames sent to the 19 raw clients in that minute",
        frames_after - frames_before
    );
    println!(
        "{:<62} {:>8} bytes",
        "(c) first (full) snapshot update, per client", full
    );
    println!(
        "{:<62} {:>8} bytes",
        "(c) snapshot update after a Vault add, per client (median)",
        median(&add_bytes)
    );
    println!(
        "{:<62} {:>8} bytes",
        "(c) snapshot update after a sync with no change, per client", idle_sync
    );
    println!(
        "    parts sent after the no-change sync: {}",
        idle_parts.join(", ")
    );
    println!(
        "{:<62} {:>10.0} /h",
        "(d) API requests at the sim, service + 20 clients",
        per_hour(service_requests)
    );
    println!(
        "{:<62} {:>10.0} /h",
        "(d) API requests at the sim, one embedded console",
        per_hour(solo_requests)
    );
    rt.block_on(sim.shutdown());
}
