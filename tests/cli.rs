//! The real binary, headless: demo `vms --json`, account commands, live mode against a sim on
//! 127.0.0.1, expected errors as one line on stderr (bad slug, read-only, API unreachable,
//! database in use) and no terminal escape sequences when the store is in use.

mod common;

use std::path::Path;
use std::process::Output;

use chrono::Utc;
use common::harness::{
    Dirs, add_org, assert_one_line_failure, cli as cmd, cli_against, open_store, start_sim, text,
    vm_labels,
};
use crabglamp::sim::{ServerSeed, SimConfig};

async fn run(mut c: tokio::process::Command, args: &[&str]) -> Output {
    c.args(args).output().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_vms_json_lists_the_demo_vms_with_documented_keys() {
    let Dirs {
        tmp: _tmp,
        home,
        data,
    } = Dirs::create();
    let out = run(cmd(&home, &data), &["vms", "--json"]).await;
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let vms: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        (12..=20).contains(&vms.len()),
        "about 15 VMs, got {}",
        vms.len()
    );
    for key in [
        "id",
        "name",
        "account",
        "tier",
        "region",
        "image",
        "billingType",
        "status",
        "ipv4",
        "ipv6",
        "provisionedAt",
        "serverType",
        "hetznerServerId",
        "hetznerFirewallId",
        "managed",
    ] {
        assert!(vms.iter().all(|v| v.get(key).is_some()), "key {key}");
    }
    let running: Vec<&serde_json::Value> =
        vms.iter().filter(|v| v["status"] == "running").collect();
    assert!(!running.is_empty());
    assert!(running.iter().all(|v| v["ipv4"].is_string()));
    assert!(running.iter().all(|v| v["managed"] == true));
    let regions: std::collections::BTreeSet<&str> =
        vms.iter().filter_map(|v| v["region"].as_str()).collect();
    assert_eq!(regions, ["eu", "us"].into_iter().collect());
    assert!(data.join("demo.db").exists());
    assert!(
        !data.join("live.db").exists(),
        "demo never opens the live database"
    );

    // A second run shows the same demo (wiped and reseeded), and a table without --json.
    let out = run(cmd(&home, &data), &["vms"]).await;
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let table = text(&out.stdout);
    assert_eq!(table.lines().count(), vms.len() + 1);
    assert!(table.starts_with("NAME"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_add_refuses_a_bad_slug_and_read_only() {
    let Dirs {
        tmp: _tmp,
        home,
        data,
    } = Dirs::create();
    let out = run(
        cmd(&home, &data),
        &["account", "add", "bad_Slug", "--kind", "org"],
    )
    .await;
    assert_one_line_failure(&out, "bad_Slug");
    assert!(text(&out.stderr).contains("account slug"));

    let out = run(
        cmd(&home, &data),
        &[
            "--read-only",
            "account",
            "add",
            "zeta",
            "--kind",
            "personal",
        ],
    )
    .await;
    assert_one_line_failure(&out, "read-only mode: adding account 'zeta' is not allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_mode_against_a_sim_adds_lists_and_syncs() {
    let Dirs {
        tmp: _tmp,
        home,
        data,
    } = Dirs::create();
    let sim = start_sim(SimConfig::default()).await;
    let vm_id = "0f000000-0000-4000-8000-00000000000f";
    let server_labels = vm_labels(vm_id, "globex", "small", "us", "rocky-10", "metered");
    let server_id = sim.add_server(ServerSeed {
        name: "build-1".into(),
        server_type: "cpx21".into(),
        location: "hil".into(),
        image: "rocky-10".into(),
        labels: server_labels,
        created: Utc::now(),
        status: "running".into(),
        firewall_ids: vec![],
    });
    let live = || cli_against(&sim, &home, &data);

    let out = run(live(), &["account", "add", "acme", "--kind", "org"]).await;
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "account 'acme' added (org)\n");
    let out = run(live(), &["account", "add", "acme", "--kind", "personal"]).await;
    assert_one_line_failure(&out, "account 'acme' already exists");

    // A fresh store rebuilds the VM record from the server's labels (adopted, account created).
    let out = run(live(), &["vms", "--json"]).await;
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let vms: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(vms.len(), 1);
    let v = &vms[0];
    assert_eq!(v["id"], vm_id);
    assert_eq!(v["name"], "build-1");
    assert_eq!(v["account"], "globex");
    assert_eq!(v["region"], "us");
    assert_eq!(v["status"], "running");
    assert_eq!(v["billingType"], "metered");
    assert_eq!(v["serverType"], "cpx21");
    assert_eq!(v["hetznerServerId"], server_id);
    assert_eq!(v["defaultUser"], "root");
    assert_eq!(v["managed"], true);

    let out = run(live(), &["account", "list", "--json"]).await;
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let accounts: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let slugs: Vec<&str> = accounts.iter().filter_map(|a| a["slug"].as_str()).collect();
    assert_eq!(slugs, vec!["acme", "globex"]);
    assert_eq!(accounts[0]["kind"], "org");
    assert!(data.join("live.db").exists());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_api_is_one_line() {
    let Dirs {
        tmp: _tmp,
        home,
        data,
    } = Dirs::create();
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = cmd(&home, &data);
    c.env("HCLOUD_TOKEN", "secret-test-token")
        .env("HCLOUD_ENDPOINT", format!("http://127.0.0.1:{port}/v1"));
    let out = run(c, &["vms"]).await;
    assert_one_line_failure(&out, "Hetzner API unreachable");
    assert!(!text(&out.stderr).contains("secret-test-token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_in_use_is_one_line_before_the_terminal_is_touched() {
    let Dirs {
        tmp: _tmp,
        home,
        data,
    } = Dirs::create();
    std::fs::create_dir_all(&data).unwrap();
    let held = open_store(&data.join("demo.db"));
    for args in [&[][..], &["vms"][..], &["account", "list"][..]] {
        let out = run(cmd(&home, &data), args).await;
        assert_one_line_failure(
            &out,
            "in use by another running crabglamp console or service",
        );
        assert!(!out.stderr.contains(&0x1b), "no escape sequences on stderr");
        assert!(!out.stdout.contains(&0x1b), "no escape sequences on stdout");
    }
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_list_of_an_unknown_account_is_refused() {
    let Dirs {
        tmp: _tmp,
        home,
        data,
    } = Dirs::create();
    let out = run(cmd(&home, &data), &["vault", "list", "--account", "nosuch"]).await;
    assert_eq!(
        (out.status.code(), text(&out.stdout), text(&out.stderr)),
        (
            Some(1),
            String::new(),
            "crabglamp: --account: 'nosuch' does not exist\n".to_string()
        )
    );
    let out = run(cmd(&home, &data), &["vault", "list", "--account", "acme"]).await;
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("ID  "),
        "{}",
        text(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_without_its_subcommand_is_one_line() {
    let Dirs {
        tmp: _tmp,
        home,
        data,
    } = Dirs::create();
    let out = run(cmd(&home, &data), &["vm"]).await;
    assert_eq!(
        (out.status.code(), text(&out.stdout), text(&out.stderr)),
        (
            Some(2),
            String::new(),
            "crabglamp: vm needs a subcommand: create, start, stop, reboot, destroy, transfer, \
             billing; see crabglamp vm --help\n"
                .to_string()
        )
    );
}

/// A live-mode command on `data` whose API would be an unused loopback port (the store is
/// opened, and refused, before any request).
fn live_offline(home: &Path, data: &Path) -> tokio::process::Command {
    let mut c = cmd(home, data);
    c.env("HCLOUD_TOKEN", "test-token")
        .env("HCLOUD_ENDPOINT", "http://127.0.0.1:9/v1");
    c
}

/// A live database at `data/live.db` with three accounts, closed.
fn seeded_live_db(data: &Path) -> std::path::PathBuf {
    let db = data.join("live.db");
    let store = open_store(&db);
    for slug in ["acme", "globex", "initech"] {
        add_org(&store, slug);
    }
    store.flush().unwrap();
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_database_is_one_line_naming_it() {
    let Dirs {
        tmp: _tmp,
        home,
        data,
    } = Dirs::create();
    let db = seeded_live_db(&data);
    let out = run(live_offline(&home, &data), &["account", "list"]).await;
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let expected = format!(
        "crabglamp: database {} is damaged (sled found a corrupt storage file); move it aside \
         to start afresh or restore a backup\n",
        db.display()
    );
    let file = db.join("db");
    let good = std::fs::read(&file).unwrap();
    // Cut short (a full disk, a copy interrupted), then overwritten with garbage.
    std::fs::write(&file, &good[..100]).unwrap();
    let out = run(live_offline(&home, &data), &["account", "list"]).await;
    assert_eq!(
        (out.status.code(), text(&out.stdout), text(&out.stderr)),
        (Some(1), String::new(), expected.clone())
    );
    let mut garbage = good.clone();
    garbage[100..164].fill(0xff);
    std::fs::write(&file, &garbage).unwrap();
    let out = run(live_offline(&home, &data), &["account", "list"]).await;
    assert_eq!(
        (out.status.code(), text(&out.stdout), text(&out.stderr)),
        (Some(1), String::new(), expected)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_database_is_one_line_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    let Dirs {
        tmp: _tmp,
        home,
        data,
    } = Dirs::create();
    let db = seeded_live_db(&data);
    let read_only = |p: &Path| {
        let mut perm = std::fs::metadata(p).unwrap().permissions();
        perm.set_mode(if p.is_dir() { 0o555 } else { 0o444 });
        std::fs::set_permissions(p, perm).unwrap();
    };
    for entry in std::fs::read_dir(&db).unwrap() {
        read_only(&entry.unwrap().path());
    }
    read_only(&db);
    // Root (CAP_DAC_OVERRIDE) writes through the mode bits, so the refusal can only be seen
    // as another user: probe by writing, and skip the assertion when the write succeeds (the
    // message itself is also checked in `store::tests`, which runs as any user).
    let privileged = std::fs::write(db.join("probe"), b"x").is_ok();
    let out = run(live_offline(&home, &data), &["account", "list"]).await;
    if privileged {
        eprintln!("running with root privileges: mode bits do not block; assertion skipped");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    } else {
        assert_eq!(
            (out.status.code(), text(&out.stdout), text(&out.stderr)),
            (
                Some(1),
                String::new(),
                format!(
                    "crabglamp: database {}: permission denied (os error 13)\n",
                    db.display()
                )
            )
        );
    }
    // Let the temporary directory be removed.
    for p in [db.clone(), data.clone()] {
        let mut perm = std::fs::metadata(&p).unwrap().permissions();
        perm.set_mode(0o755);
        std::fs::set_permissions(&p, perm).unwrap();
    }
}
