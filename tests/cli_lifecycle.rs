//! The real binary's lifecycle and audit commands (issue 4) against a standalone sim on
//! 127.0.0.1 with `HCLOUD_TOKEN`/`HCLOUD_ENDPOINT` and a `--data-dir`, so state persists across
//! invocations: create (with a one-time password that never reaches the store or the log, nor
//! does Hetzner's root password), stop/start, billing, transfer, destroy (refused without
//! `--yes`), `audit list/verify/export`, read-only refusals, and `audit verify` naming the
//! tampered event.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::harness::{
    Dirs, Options, add_demo_accounts, all_bytes, assert_one_line_failure as refused, cli,
    cli_against, contains, keys_of, ok, open_store, start_sim, text,
};
use crabglamp::sim::{SimConfig, SimHandle};
use crabglamp::store::Store;

struct Env {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    data: PathBuf,
    record: PathBuf,
    sim: SimHandle,
}

/// A sim (recording its responses) and a data directory whose live store holds the demo
/// accounts (acme, globex, initech: organizations; alice: personal) and their Vault keys.
async fn env() -> Env {
    let Dirs { tmp, home, data } = Dirs::create();
    std::fs::create_dir_all(&data).unwrap();
    let record = tmp.path().join("sim-record.jsonl");
    let sim = start_sim(SimConfig {
        record: Some(record.clone()),
        ..Options::default().sim_config()
    })
    .await;
    let store = open_store(&data.join("live.db"));
    add_demo_accounts(&store);
    store.flush().unwrap();
    drop(store);
    Env {
        _tmp: tmp,
        home,
        data,
        record,
        sim,
    }
}

impl Env {
    async fn run(&self, args: &[&str]) -> Output {
        cli_against(&self.sim, &self.home, &self.data)
            .env("RUST_LOG", "debug")
            .env("USER", "anna")
            .args(args)
            .output()
            .await
            .unwrap()
    }

    fn store(&self) -> Store {
        open_store(&self.data.join("live.db"))
    }

    fn key_label(&self, account: &str) -> String {
        keys_of(&self.store(), account).remove(0).label
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_shows_the_password_once_and_no_secret_reaches_store_or_log() {
    let env = env().await;
    let label = env.key_label("acme");
    let out = env
        .run(&[
            "vm",
            "create",
            "--name",
            "web-1",
            "--account",
            "acme",
            "--region",
            "us",
            "--tier",
            "medium",
            "--image",
            "ubuntu-24.04",
            "--billing",
            "metered",
            "--key",
            &label,
            "--one-time-password",
            "--json",
        ])
        .await;
    let created: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(created["name"], "web-1");
    assert_eq!(created["account"], "acme");
    assert_eq!(created["region"], "us");
    assert_eq!(created["status"], "running");
    assert_eq!(created["defaultUser"], "ubuntu");
    let ipv4 = created["ipv4"].as_str().unwrap().to_string();
    assert_eq!(created["sshCommand"], format!("ssh ubuntu@{ipv4}"));
    assert_eq!(created["keyFingerprints"].as_array().unwrap().len(), 1);
    let password = created["oneTimePassword"].as_str().unwrap().to_string();
    assert_eq!(password.len(), 20);

    // The server Hetzner built: location hil, server type cpx31 (docs/product-rules.md §2 medium US).
    let vms = ok(&env.run(&["vms", "--json"]).await);
    let vms: Vec<serde_json::Value> = serde_json::from_str(&vms).unwrap();
    assert_eq!(vms.len(), 1);
    assert_eq!(vms[0]["status"], "running");
    assert_eq!(vms[0]["location"], "hil");
    assert_eq!(vms[0]["serverType"], "cpx31");
    assert!(vms[0]["provisionedAt"].is_string());

    // Hetzner's generated root password (no SSH key is given to Hetzner: keys go through
    // cloud-init), as the sim recorded it in its response.
    let recorded = std::fs::read_to_string(&env.record).unwrap();
    let root_password = recorded
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["method"] == "POST" && l["path"] == "/servers")
        .and_then(|l| l["body"]["root_password"].as_str().map(str::to_string))
        .expect("the sim returned a root password");
    assert!(root_password.len() >= 8);

    let bytes = all_bytes(&env.data);
    let log = std::fs::read_to_string(env.data.join("crabglamp.log")).unwrap();
    assert!(log.contains("provisioned"), "the log was written: {log}");
    assert!(
        !contains(&bytes, &password),
        "one-time password in the data directory"
    );
    assert!(
        !contains(&bytes, &root_password),
        "root password in the data directory"
    );
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_across_invocations_with_audit_list_verify_and_export() {
    let env = env().await;
    let label = env.key_label("acme");
    let out = env
        .run(&[
            "vm",
            "create",
            "--name",
            "app-1",
            "--account",
            "acme",
            "--region",
            "eu",
            "--tier",
            "small",
            "--image",
            "debian-12",
            "--billing",
            "subscription",
            "--key",
            &label,
        ])
        .await;
    let shown = ok(&out);
    assert!(
        shown.starts_with("app-1 is running (acme, eu, small, debian-12, subscription)\n"),
        "{shown}"
    );
    assert!(shown.contains("Default user: debian"), "{shown}");
    assert!(!shown.contains("One-time password"), "{shown}");

    let stopped = ok(&env.run(&["vm", "stop", "app-1"]).await);
    assert_eq!(stopped, "app-1: stop done; now stopped\n");
    let started = ok(&env.run(&["vm", "start", "app-1"]).await);
    assert_eq!(started, "app-1: start done; now running\n");
    let billing = ok(&env.run(&["vm", "billing", "app-1", "metered"]).await);
    assert!(
        billing.starts_with("app-1 is now billed metered"),
        "{billing}"
    );

    refused(
        &env.run(&["vm", "transfer", "app-1", "--to", "alice", "--yes"])
            .await,
        "'alice' is a personal account",
    );
    refused(
        &env.run(&["vm", "transfer", "app-1", "--to", "globex"])
            .await,
        "without --yes",
    );
    let out = env
        .run(&["vm", "transfer", "app-1", "--to", "globex", "--yes"])
        .await;
    assert!(
        ok(&out).starts_with("app-1 transferred from 'acme' to 'globex'"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("Vault keys of account 'acme' stay"),
        "{}",
        text(&out.stderr)
    );

    refused(&env.run(&["vm", "destroy", "app-1"]).await, "without --yes");
    refused(
        &env.run(&["--read-only", "vm", "destroy", "app-1", "--yes"])
            .await,
        "read-only mode",
    );
    let destroyed = ok(&env.run(&["vm", "destroy", "app-1", "--yes"]).await);
    assert_eq!(destroyed, "app-1 destroyed; audit event 2 recorded\n");
    refused(
        &env.run(&["vm", "start", "nope"]).await,
        "no VM named 'nope'",
    );

    let list = ok(&env.run(&["audit", "list", "--json"]).await);
    let events: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["seq"], 1);
    assert_eq!(events[0]["kind"], "transfer");
    assert_eq!(events[0]["account"], "acme");
    assert_eq!(events[0]["toAccount"], "globex");
    // `USER=anna` names nobody: the actor is the Unix user the kernel says runs the command.
    assert_eq!(
        events[0]["actor"],
        crabglamp::service::identity::own_user_name().as_str()
    );
    assert_eq!(events[1]["kind"], "destroy");
    assert_eq!(events[1]["account"], "globex");
    assert_eq!(events[1]["vmName"], "app-1");
    assert_eq!(events[1]["prevHash"], events[0]["hash"]);
    assert!(events[1]["hetznerServerId"].is_i64());

    let table = ok(&env.run(&["audit", "list"]).await);
    assert!(table.starts_with("SEQ  AT"), "{table}");
    assert_eq!(table.lines().count(), 3);

    assert_eq!(
        ok(&env.run(&["audit", "verify"]).await),
        format!(
            "audit log verified: 2 events, hash chain intact, consistent with checkpoint #2 \
             signed by {}\n",
            ok(&env.run(&["audit", "key"]).await)
                .split('+')
                .next()
                .unwrap()
        )
    );
    let jsonl = ok(&env.run(&["audit", "export", "--format", "jsonl"]).await);
    let lines: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, events);
    let csv = ok(&env.run(&["audit", "export", "--format", "csv"]).await);
    let rows: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert_eq!(rows.len(), 3);
    assert!(
        rows[0].starts_with("seq,id,at,kind,vmId,vmName,"),
        "{}",
        rows[0]
    );
    assert!(rows[2].starts_with("2,"), "{}", rows[2]);

    // Tamper with event 1 directly in the database files (no store API can): verify names it.
    {
        let db = sled::open(env.data.join("live.db")).unwrap();
        let tree = db.open_tree("audit").unwrap();
        let key = 1u64.to_be_bytes();
        let raw = tree.get(key).unwrap().unwrap();
        let edited = String::from_utf8(raw.to_vec())
            .unwrap()
            .replace("\"toAccount\":\"globex\"", "\"toAccount\":\"globey\"");
        assert_ne!(edited.as_bytes(), &raw[..]);
        tree.insert(key, edited.as_bytes()).unwrap();
        db.flush().unwrap();
    }
    let out = env.run(&["audit", "verify"]).await;
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(
        lines[0],
        "crabglamp: audit log does not verify (2 problems):"
    );
    assert!(lines[1].starts_with("  event 1: was modified: "), "{said}");
    assert!(
        lines[2].starts_with("  event 1: is not the event checkpoint #1 signed"),
        "{said}"
    );

    // Read-only still lists and verifies (nothing mutating there).
    let out = env.run(&["--read-only", "audit", "list", "--json"]).await;
    assert_eq!(
        serde_json::from_str::<Vec<serde_json::Value>>(&ok(&out))
            .unwrap()
            .len(),
        2
    );
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_creates_and_reports_without_a_token() {
    let Dirs {
        tmp: _tmp,
        home,
        data,
    } = Dirs::create();
    let out = cli(&home, &data)
        .args([
            "vm",
            "create",
            "--name",
            "demo-new",
            "--account",
            "globex",
            "--region",
            "eu",
            "--tier",
            "large",
            "--image",
            "fedora-43",
            "--billing",
            "metered",
            "--key",
            "hank",
            "--json",
        ])
        .output()
        .await
        .unwrap();
    let created: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(created["name"], "demo-new");
    assert_eq!(created["defaultUser"], "root");
    assert!(created.get("oneTimePassword").is_none());
}
