//! Benchmark: a full listing of 1000 servers and 1000 firewalls from the sim, with our client
//! (`crabglamp::hetzner::Client`) and, side by side, with the official CLI (`hcloud server
//! list -o json`, Debian `hcloud-cli` 1.30.x) against the same sim.
//!
//! Run with `cargo bench --bench listing` (release build). Prints, for each measurement, the
//! median / min / max wall time of `RUNS` runs (milliseconds) and the HTTP requests of one run,
//! then the ratio (our servers + firewalls) ÷ (hcloud servers only). It checks, and fails
//! otherwise, that each listing returns all 1000 items in exactly 20 requests (1000 / 50 per
//! page, docs/hetzner-api.md §2). Without `hcloud` on `PATH` the CLI rows are skipped.
//! The sim listens on 127.0.0.1 (port 0) and stops when the benchmark ends.

use std::error::Error;
use std::time::{Duration, Instant};

use crabglamp::hetzner::{Client, ListParams, Token};
use crabglamp::sim::{self, SimConfig};

/// Servers and firewalls seeded into the sim.
const ITEMS: usize = 1000;
/// Requests one full listing must take: 1000 items at 50 per page.
const PAGES: u64 = 20;
/// Timed runs per measurement (after one untimed warm-up run).
const RUNS: usize = 10;
const TOKEN: &str = "bench-token";

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// One measurement: wall times of each run and the requests one run made.
struct Row {
    what: String,
    times: Vec<Duration>,
    requests: u64,
}

impl Row {
    fn median(&self) -> Duration {
        let mut t = self.times.clone();
        t.sort();
        match t.len() {
            0 => Duration::ZERO,
            n if n % 2 == 1 => t[n / 2],
            n => (t[n / 2 - 1] + t[n / 2]) / 2,
        }
    }

    fn min(&self) -> Duration {
        self.times.iter().copied().min().unwrap_or_default()
    }

    fn max(&self) -> Duration {
        self.times.iter().copied().max().unwrap_or_default()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn ensure(cond: bool, what: String) -> Result<()> {
    if cond { Ok(()) } else { Err(what.into()) }
}

/// Time `RUNS` runs of our client's listing (`kind` = "servers" or "firewalls").
async fn ours(client: &Client, sim: &sim::SimHandle, kind: &str) -> Result<Row> {
    let mut times = Vec::with_capacity(RUNS);
    let mut requests = 0;
    for run in 0..=RUNS {
        let before_client = client.requests_made();
        let before_sim = sim.request_count();
        let start = Instant::now();
        let n = match kind {
            "servers" => client.list_servers(&ListParams::new()).await?.len(),
            _ => client.list_firewalls(&ListParams::new()).await?.len(),
        };
        let took = start.elapsed();
        let sent = client.requests_made() - before_client;
        let seen = sim.request_count() - before_sim;
        ensure(
            n == ITEMS,
            format!("our {kind} listing returned {n} items, not {ITEMS}"),
        )?;
        ensure(
            sent == PAGES && seen == PAGES,
            format!("our {kind} listing took {sent} requests (sim saw {seen}), not {PAGES}"),
        )?;
        if run > 0 {
            times.push(took);
            requests = sent;
        }
    }
    Ok(Row {
        what: format!("crabglamp list_{kind}"),
        times,
        requests,
    })
}

/// Time `RUNS` runs of `hcloud server list -o json`; `None` when hcloud is not installed.
async fn hcloud(sim: &sim::SimHandle, config_dir: &std::path::Path) -> Result<Option<Row>> {
    let mut times = Vec::with_capacity(RUNS);
    let mut requests = 0;
    for run in 0..=RUNS {
        let before = sim.request_count();
        let start = Instant::now();
        let out = tokio::process::Command::new("hcloud")
            .args(["server", "list", "-o", "json"])
            .env("HCLOUD_ENDPOINT", sim.endpoint())
            .env("HCLOUD_TOKEN", TOKEN)
            .env("HCLOUD_CONFIG", config_dir.join("cli.toml"))
            .stdin(std::process::Stdio::null())
            .output()
            .await;
        let took = start.elapsed();
        let out = match out {
            Ok(o) => o,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        ensure(
            out.status.success(),
            format!(
                "hcloud server list failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        )?;
        let listed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)?;
        ensure(
            listed.len() == ITEMS,
            format!("hcloud listed {} servers, not {ITEMS}", listed.len()),
        )?;
        if run > 0 {
            times.push(took);
            requests = sim.request_count() - before;
        }
    }
    Ok(Some(Row {
        what: "hcloud server list -o json".into(),
        times,
        requests,
    }))
}

async fn run() -> Result<()> {
    let config = SimConfig {
        token: TOKEN.into(),
        rate_limit: 10_000_000,
        refill_per_second: 10_000_000.0,
        ..SimConfig::default()
    };
    let sim = sim::start(([127, 0, 0, 1], 0).into(), config).await?;
    sim.seed_bulk(ITEMS, ITEMS);
    let client = Client::new(sim.endpoint(), Token::new(TOKEN))?;
    let servers = ours(&client, &sim, "servers").await?;
    let firewalls = ours(&client, &sim, "firewalls").await?;
    let config_dir = tempfile::tempdir()?;
    let cli = hcloud(&sim, config_dir.path()).await?;

    println!("listing {ITEMS} servers / {ITEMS} firewalls from the sim (median of {RUNS} runs)");
    println!(
        "{:<34} {:>10} {:>10} {:>10} {:>9}",
        "what", "median ms", "min ms", "max ms", "requests"
    );
    let both = Row {
        what: "crabglamp servers + firewalls".into(),
        times: servers
            .times
            .iter()
            .zip(&firewalls.times)
            .map(|(a, b)| *a + *b)
            .collect(),
        requests: servers.requests + firewalls.requests,
    };
    let mut rows = vec![&servers, &firewalls, &both];
    if let Some(c) = &cli {
        rows.push(c);
    }
    for r in rows {
        println!(
            "{:<34} {:>10.1} {:>10.1} {:>10.1} {:>9}",
            r.what,
            ms(r.median()),
            ms(r.min()),
            ms(r.max()),
            r.requests
        );
    }
    match &cli {
        Some(c) => println!(
            "ratio (ours servers+firewalls / hcloud servers only): {:.3}",
            ms(both.median()) / ms(c.median())
        ),
        None => println!("hcloud not on PATH: CLI comparison skipped"),
    }
    sim.shutdown().await;
    Ok(())
}

fn main() -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run())
}
