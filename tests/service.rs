//! `crabglamp serve` with real processes and real sockets (issue 12 "Tests"): the service is
//! the real binary against a sim on 127.0.0.1 (started in-process, seeded with the demo
//! servers); consoles run in pseudo-terminals, headless commands as processes, bad clients as
//! raw connections on the Unix socket in a temporary directory. Every process is killed when
//! its guard drops, also on failure.
//!
//! - Two clients: a Vault key added headless appears in the TUI; a destroy from the TUI is in
//!   the other client's `audit list`, which works while the TUI is attached; `shared ·`.
//! - Identity: `$USER`, a config `operator` and `SSH_CONNECTION` never name the actor; uid
//!   65534 is refused, read-only or an operator as `[access]` says (as root only).
//! - A TUI killed with SIGKILL right after confirming a destroy: the destroy completes, its
//!   audit event names that client's user and a request time before the kill.
//! - A service restart with two consoles attached: both go OFFLINE keeping their data, come
//!   back on their own, nothing is lost.
//! - Bad clients (random bytes, truncated, oversized, a future protocol, one that never
//!   reads) are dropped alone; a good client keeps working.
//! - Modes of the data directory, the store, the socket; a loose store is tightened.
//!
//! Waits are bounded by the harness's guard time; nothing here measures time.

mod common;
mod service_support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::harness::{
    BIN, Dirs, Options, TOKEN, cli_blocking, cli_blocking_home, ok, start_sim, text,
};
use crabglamp::protocol::wire::{ClientFrame, Hello, ServiceFrame};
use crabglamp::protocol::{Effect, KeySource, VaultEvent, WorkerEvent};
use crabglamp::sim::{Seed, SimConfig, SimHandle};
use futures::SinkExt;
use serde_json::Value;
use service_support::{
    Raw, Service, Tui, client_frame, ed25519_line, next_frame, raw_connect, run, send_hello,
    wait_until,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A sim, a temporary directory with a home, the service's data directory and socket path.
struct Team {
    rt: tokio::runtime::Runtime,
    sim: SimHandle,
    dirs: Dirs,
    /// The service's `--data-dir`.
    svc_data: PathBuf,
    /// The service's socket (explicit `--socket`).
    socket: PathBuf,
}

impl Team {
    /// A demo-seeded sim whose actions take `action`.
    fn new(action: Duration) -> Team {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let config = SimConfig {
            seed: Seed::Demo,
            ..Options {
                action_duration: action,
                ..Options::default()
            }
            .sim_config()
        };
        let sim = rt.block_on(start_sim(config));
        let dirs = Dirs::create();
        let svc_data = dirs.tmp.path().join("svc");
        let socket = dirs.tmp.path().join("sock").join("crabglamp.sock");
        Team {
            rt,
            sim,
            dirs,
            svc_data,
            socket,
        }
    }

    /// `crabglamp serve --socket SOCKET` live against the sim, with `config` when given.
    fn serve_cmd(&self, config: Option<&Path>) -> Command {
        let mut c = cli_blocking(&self.dirs.home, &self.svc_data);
        c.env("HCLOUD_TOKEN", TOKEN)
            .env("HCLOUD_ENDPOINT", self.sim.endpoint());
        if let Some(cfg) = config {
            c.arg("--config").arg(cfg);
        }
        c.arg("serve").arg("--socket").arg(&self.socket);
        c
    }

    fn serve(&self) -> Service {
        Service::start(self.serve_cmd(None), &self.socket, &self.svc_data)
    }

    /// A client (headless with `args`, the dashboard without) attached to the socket.
    fn client(&self, args: &[&str]) -> Command {
        let mut c = cli_blocking(&self.dirs.home, &self.dirs.data);
        c.arg("--socket").arg(&self.socket).args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        run(self.client(args))
    }

    /// A public key file for `n` labelled by its comment `comment`.
    fn key_file(&self, n: u64, comment: &str) -> PathBuf {
        let p = self.dirs.tmp.path().join(format!("{comment}.pub"));
        std::fs::write(&p, format!("{}\n", ed25519_line(n, comment))).unwrap();
        p
    }

    /// Waits until the service has synced the sim's servers (`vms` lists `name`).
    fn wait_synced(&self, name: &str) {
        wait_until(
            &format!("{name} in `vms`"),
            || {
                let out = self.run(&["vms"]);
                (out.status.success() && text(&out.stdout).contains(name)).then_some(())
            },
            || text(&self.run(&["vms"]).stderr),
        );
    }

    /// The audit events (`audit list --json`).
    fn audit(&self) -> Vec<Value> {
        let out = self.run(&["audit", "list", "--json"]);
        serde_json::from_str::<Vec<Value>>(&ok(&out)).expect("audit JSON")
    }

    /// Waits for the audit event of `kind` on `vm`.
    fn wait_audit(&self, kind: &str, vm: &str) -> Value {
        wait_until(
            &format!("a {kind} event for {vm}"),
            || {
                self.audit()
                    .into_iter()
                    .find(|e| e["kind"] == kind && e["vmName"] == vm)
            },
            || format!("{:#?}", self.audit()),
        )
    }
}

/// The user name the kernel gives this process (`id -un`): the actor every event must name.
fn me() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    text(&out.stdout).trim().to_string()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// The dashboard attached, showing the VM list with `vm`.
fn tui(team: &Team, vm: &str) -> Tui {
    let mut t = Tui::start(&team.client(&[]));
    t.wait_for("the VM list", |s| s.contains(vm) && s.contains("shared ·"));
    t
}

/// In the VM list: filter to `vm`, `D`, type its name, Enter.
fn destroy_from_tui(t: &mut Tui, vm: &str) {
    t.keys("1");
    t.keys(&format!("/{vm}\r"));
    t.wait_for("the filtered list", |s| s.contains(&format!("› {vm}")));
    t.keys("D");
    t.wait_for("the destroy dialog", |s| {
        s.contains("type the VM's name to confirm")
    });
    t.keys(vm);
    t.wait_for("the typed name", |s| {
        s.contains(&format!("type the VM's name to confirm: {vm}"))
    });
    t.keys("\r");
}

#[test]
fn a_headless_vault_add_shows_in_the_tui_and_a_tui_destroy_in_audit_list() {
    let team = Team::new(Duration::from_millis(200));
    let _svc = team.serve();
    team.wait_synced("acme-vpn");
    let mut t = tui(&team, "acme-vpn");
    let s = t.screen();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert!(
        s.contains(&format!("shared · {}:", host.trim())),
        "status bar names the service:\n{s}"
    );
    assert!(!s.contains("local"), "{s}");

    // The Vault pane first, then the key from the other client.
    t.keys("3");
    t.wait_for("the Vault pane", |s| s.contains("Vault"));
    let key = team.key_file(1, "teamkey-one");
    let added = ok(&team.run(&["vault", "add", "--account", "acme", key.to_str().unwrap()]));
    assert!(
        added.starts_with("added 'teamkey-one' to acme's Vault"),
        "{added}"
    );
    let s = t.wait_for("the key in the TUI", |s| s.contains("teamkey-one"));
    assert!(s.contains("acme"), "{s}");

    // A destroy from the TUI, in the other client's audit list.
    destroy_from_tui(&mut t, "acme-vpn");
    t.wait_for("the destroy toast", |s| s.contains("destroying acme-vpn"));
    let event = team.wait_audit("destroy", "acme-vpn");
    assert_eq!(event["actor"], me());
    assert_eq!(event["outcome"], "ok");
    assert_eq!(event["account"], "acme");
    // The table form too, with the TUI still attached.
    let table = ok(&team.run(&["audit", "list"]));
    let row = table
        .lines()
        .find(|l| l.contains("acme-vpn"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.contains("destroy") && row.contains(&me()) && row.contains("ok"),
        "{row}"
    );
    t.wait_for("the destroyed VM gone from the TUI", |s| {
        !s.contains("› acme-vpn")
    });
    t.quit();
}

#[test]
fn the_actor_is_the_kernels_user_whatever_user_operator_or_ssh_say() {
    let team = Team::new(Duration::from_millis(100));
    let _svc = team.serve();
    team.wait_synced("acme-vpn");
    let cfg = team.dirs.tmp.path().join("client.toml");
    std::fs::write(&cfg, "operator = \"mallory\"\n").unwrap();
    let mut c = team.client(&[
        "--config",
        cfg.to_str().unwrap(),
        "vm",
        "destroy",
        "acme-vpn",
    ]);
    c.arg("--yes")
        .env("USER", "mallory")
        .env("LOGNAME", "mallory")
        .env("SSH_CONNECTION", "203.0.113.77 50022 10.0.0.1 22");
    let out = ok(&run(c));
    assert!(out.starts_with("acme-vpn destroyed"), "{out}");
    let mut c = team.client(&["vm", "destroy", "acme-ci", "--yes"]);
    c.env("USER", "root from 1.2.3.4");
    ok(&run(c));

    let events = team.audit();
    assert_eq!(events.len(), 2, "{events:#?}");
    for e in &events {
        assert_eq!(e["actor"], me(), "{e:#?}");
    }
    assert_eq!(events[0]["vmName"], "acme-vpn");
    // The SSH address is kept apart, as the client reported it.
    assert_eq!(events[0]["origin"], "203.0.113.77");
    assert!(events[1]["origin"].is_null(), "{:#?}", events[1]);
    assert!(!text(&team.run(&["audit", "list"]).stdout).contains("mallory"));
}

/// The name of uid 65534 in the user database (`getent passwd`), or the number.
fn name_of_65534() -> String {
    let out = Command::new("getent")
        .args(["passwd", "65534"])
        .output()
        .unwrap();
    text(&out.stdout)
        .split(':')
        .next()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("65534")
        .to_string()
}

/// `cmd` run as uid and gid 65534 with no supplementary groups (`setpriv`).
fn as_nobody(cmd: Command) -> Command {
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid",
        "65534",
        "--regid",
        "65534",
        "--clear-groups",
        "--",
    ])
    .arg(cmd.get_program())
    .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c
}

#[test]
fn another_uid_is_refused_read_only_or_an_operator_as_access_says() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: running as uid 65534 needs root (setpriv); CI runs as root");
        return;
    }
    let team = Team::new(Duration::from_millis(100));
    let nobody = name_of_65534();
    // uid 65534 must traverse the temporary directory to the socket; its own home is its.
    std::fs::set_permissions(team.dirs.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let sock_dir = team.socket.parent().unwrap();
    std::fs::create_dir_all(sock_dir).unwrap();
    std::fs::set_permissions(sock_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let nobody_home = team.dirs.tmp.path().join("nobody");
    std::fs::create_dir_all(&nobody_home).unwrap();
    std::os::unix::fs::chown(&nobody_home, Some(65534), Some(65534)).unwrap();
    let nobody_run = |args: &[&str]| {
        let mut c = cli_blocking(&nobody_home, &nobody_home.join("data"));
        c.arg("--socket").arg(&team.socket).args(args);
        run(as_nobody(c))
    };
    let key = team.key_file(7, "nobodykey");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    // The service keeps uid 0 but runs with group 65534: its 0660 socket is that group's.
    let service = |access: &str| {
        let cfg = team.dirs.tmp.path().join("svc.toml");
        std::fs::write(&cfg, format!("[access]\n{access}\n")).unwrap();
        let serve = team.serve_cmd(Some(&cfg));
        let mut c = Command::new("setpriv");
        c.args(["--regid", "65534", "--clear-groups", "--"])
            .arg(serve.get_program())
            .args(serve.get_args());
        for (k, v) in serve.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        Service::start(c, &team.socket, &team.svc_data)
    };

    // Not listed: refused at hello, named.
    let mut svc = service("operators = [\"root\"]");
    let meta = std::fs::metadata(&team.socket).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(meta.gid(), 65534);
    team.wait_synced("acme-vpn");
    let out = nobody_run(&["vms"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "user '{nobody}' (uid 65534) may not use this service"
        )),
        "{err}"
    );
    assert!(err.contains("[access]"), "{err}");
    assert_eq!(text(&out.stdout), "");
    assert!(svc.terminate().success());

    // A reader: reads, every change refused naming the role; nothing changed.
    let mut svc = service(&format!("operators = [\"root\"]\nreaders = [\"{nobody}\"]"));
    let listed = ok(&nobody_run(&["vms"]));
    assert!(listed.contains("acme-vpn"), "{listed}");
    let out = nobody_run(&["vm", "destroy", "acme-vpn", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "{nobody} is a reader (read-only access): destroying VM 'acme-vpn' is not allowed"
        )),
        "{err}"
    );
    let out = nobody_run(&["vault", "add", "--account", "acme", key.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is a reader"),
        "{}",
        text(&out.stderr)
    );
    assert!(ok(&team.run(&["vms"])).contains("acme-vpn"));
    assert!(team.audit().is_empty());
    assert!(ok(&nobody_run(&["audit", "list"])).contains("SEQ"));
    assert!(svc.terminate().success());

    // An operator: the destroy happens and names uid 65534's user.
    let _svc = service(&format!("operators = [\"root\", \"{nobody}\"]"));
    let out = ok(&nobody_run(&["vm", "destroy", "acme-vpn", "--yes"]));
    assert!(out.starts_with("acme-vpn destroyed"), "{out}");
    let events = team.audit();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["actor"], nobody.as_str());
    ok(&nobody_run(&[
        "vault",
        "add",
        "--account",
        "acme",
        key.to_str().unwrap(),
    ]));
    assert!(ok(&team.run(&["vault", "list"])).contains("nobodykey"));
}

#[test]
fn a_destroy_completes_after_its_console_is_killed_and_names_who_asked() {
    // Long actions: the destroy is still running at Hetzner when the console dies.
    let team = Team::new(Duration::from_secs(5));
    let svc = team.serve();
    team.wait_synced("acme-db");
    let mut t = tui(&team, "acme-db");
    destroy_from_tui(&mut t, "acme-db");
    // Right after the service took the request.
    svc.wait_log("operation requested user=");
    let killed_at: DateTime<Utc> = Utc::now();
    t.kill9();
    assert!(
        !svc.log().contains("destroyed; audit event recorded"),
        "the destroy ended before the console was killed:\n{}",
        svc.log()
    );
    svc.wait_log("client detached");

    let event = team.wait_audit("destroy", "acme-db");
    assert_eq!(event["actor"], me(), "{event:#?}");
    assert_eq!(event["outcome"], "ok", "{event:#?}");
    let at: DateTime<Utc> = event["at"].as_str().unwrap().parse().unwrap();
    let requested: DateTime<Utc> = event["requestedAt"]
        .as_str()
        .unwrap_or_else(|| event["at"].as_str().unwrap())
        .parse()
        .unwrap();
    assert!(
        requested <= killed_at,
        "{requested} after the kill at {killed_at}"
    );
    assert!(
        at >= killed_at,
        "recorded at {at}, before the kill at {killed_at}"
    );
    let vms = ok(&team.run(&["vms"]));
    let row = vms.lines().find(|l| l.starts_with("acme-db ")).unwrap();
    assert_eq!(row.split_whitespace().nth(5), Some("deleted"), "{vms}");
}

/// Waits until every console's screen has satisfied `ok` at least once.
fn wait_all(tuis: &mut [&mut Tui], what: &str, ok: impl Fn(&str) -> bool) {
    let mut seen = vec![false; tuis.len()];
    wait_until(
        what,
        || {
            for (i, t) in tuis.iter().enumerate() {
                if ok(&t.screen()) {
                    seen[i] = true;
                }
            }
            seen.iter().all(|s| *s).then_some(())
        },
        || {
            tuis.iter()
                .map(|t| t.screen())
                .collect::<Vec<_>>()
                .join("\n-----\n")
        },
    );
}

#[test]
fn two_consoles_ride_out_a_service_restart_and_nothing_is_lost() {
    let team = Team::new(Duration::from_millis(100));
    let mut svc = team.serve();
    team.wait_synced("acme-vpn");
    ok(&team.run(&["account", "add", "beta", "--kind", "org"]));
    let key = team.key_file(3, "restartkey");
    ok(&team.run(&["vault", "add", "--account", "acme", key.to_str().unwrap()]));
    ok(&team.run(&["vm", "destroy", "acme-vpn", "--yes"]));
    let mut a = tui(&team, "acme-db");
    let mut b = tui(&team, "acme-db");
    a.keys("3");
    b.keys("3");
    wait_all(&mut [&mut a, &mut b], "the key in both consoles", |s| {
        s.contains("restartkey")
    });

    assert!(svc.terminate().success(), "{}", svc.stderr_text());
    wait_all(
        &mut [&mut a, &mut b],
        "both consoles offline, data kept",
        |s| s.contains("OFFLINE") && s.contains("service unreachable") && s.contains("restartkey"),
    );

    let _svc = team.serve();
    wait_all(&mut [&mut a, &mut b], "both consoles reconnected", |s| {
        s.contains("reconnected to the service")
    });
    wait_all(&mut [&mut a, &mut b], "both consoles online", |s| {
        !s.contains("OFFLINE") && s.contains("restartkey") && s.contains("shared ·")
    });

    let accounts = ok(&team.run(&["account", "list"]));
    assert!(
        accounts.lines().any(|l| l.starts_with("beta ")),
        "{accounts}"
    );
    assert!(ok(&team.run(&["vault", "list"])).contains("restartkey"));
    let events = team.audit();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["vmName"], "acme-vpn");
    assert_eq!(ok(&team.run(&["audit", "verify"])).lines().count(), 1);
    a.keys("5");
    a.wait_for("the destroy in the Audit pane", |s| {
        s.contains("acme-vpn") && s.contains("destroy")
    });
    a.quit();
    b.quit();
}

/// Reads until the service closes the connection; panics if it sends a frame that does not
/// parse or keeps it open past the guard.
async fn closed_by_service(raw: &mut Raw) {
    while let Some(f) = next_frame(raw).await {
        let _ = f;
    }
}

/// Reads the raw stream until EOF (after a half-close or garbage, the framing may be off).
async fn eof(stream: &mut tokio::net::UnixStream) {
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(common::harness::GUARD, stream.read(&mut buf))
            .await
            .expect("the service closes within the guard time")
            .unwrap_or(0);
        if n == 0 {
            return;
        }
    }
}

#[test]
fn bad_clients_are_dropped_alone_and_a_good_one_keeps_working() {
    let team = Team::new(Duration::from_millis(100));
    let svc = team.serve();
    team.wait_synced("acme-vpn");
    let good = |team: &Team| {
        let out = ok(&team.run(&["account", "list"]));
        assert!(out.contains("acme"), "{out}");
    };
    let socket = team.socket.clone();

    // Random bytes.
    team.rt.block_on(async {
        let mut s = tokio::net::UnixStream::connect(&socket).await.unwrap();
        let junk: Vec<u8> = (0..4096).map(|_| rand::random::<u8>()).collect();
        let _ = s.write_all(&junk).await;
        eof(&mut s).await;
    });
    good(&team);

    // A truncated frame: the length says 100, 10 bytes come, then the end.
    team.rt.block_on(async {
        let mut s = tokio::net::UnixStream::connect(&socket).await.unwrap();
        s.write_all(&100u32.to_be_bytes()).await.unwrap();
        s.write_all(b"{\"Hello\":{").await.unwrap();
        s.shutdown().await.unwrap();
        eof(&mut s).await;
    });
    svc.wait_log("bytes remaining on stream");
    good(&team);

    // An oversized frame: refused on its length, without waiting for the bytes.
    team.rt.block_on(async {
        let mut s = tokio::net::UnixStream::connect(&socket).await.unwrap();
        s.write_all(&((1u32 << 20) + 1).to_be_bytes())
            .await
            .unwrap();
        // The service may have closed already (a broken pipe).
        let _ = s.write_all(&[b'x'; 1024]).await;
        eof(&mut s).await;
    });
    svc.wait_log("frame size too big");
    good(&team);

    // A hello of a future protocol: one line naming both versions, then closed.
    let refused = team.rt.block_on(async {
        let mut raw = raw_connect(&socket).await;
        raw.send(client_frame(&ClientFrame::Hello(Hello {
            protocol: 99,
            product: "9.9.9".into(),
            origin: None,
        })))
        .await
        .unwrap();
        let first = next_frame(&mut raw).await.expect("an answer");
        let frame: ServiceFrame = serde_json::from_slice(&first).unwrap();
        closed_by_service(&mut raw).await;
        frame
    });
    let ServiceFrame::Refused(line) = refused else {
        panic!("not refused: {refused:?}");
    };
    assert!(
        line.contains("the service speaks protocol 1 (crabglamp 0.1.0)"),
        "{line}"
    );
    assert!(
        line.contains("this client speaks protocol 99 (crabglamp 9.9.9)"),
        "{line}"
    );
    good(&team);

    // A client that says hello and never reads, while another adds key after key.
    let added = team.rt.block_on(async {
        let mut idle = raw_connect(&socket).await;
        send_hello(&mut idle).await;
        let mut busy = raw_connect(&socket).await;
        send_hello(&mut busy).await;
        let mut added = 0u64;
        let mut answered = 0u64;
        let log = svc.data.join("serve.log");
        let dropped = || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("not reading")
        };
        // Add one key, wait for its answer (reading everything else meanwhile).
        let add = async |busy: &mut Raw, n: u64| {
            busy.send(client_frame(&ClientFrame::Effect(Effect::AddVaultKey {
                account: "acme".into(),
                label: Some(format!("flood-{n}")),
                source: KeySource::Text(ed25519_line(1000 + n, "flood")),
            })))
            .await
            .unwrap();
            loop {
                let f = next_frame(busy)
                    .await
                    .expect("the busy client stays attached");
                if let Ok(ServiceFrame::Event(WorkerEvent::Vault(ev))) =
                    serde_json::from_slice::<ServiceFrame>(&f)
                {
                    assert!(matches!(ev, VaultEvent::Added { .. }), "{ev:?}");
                    return;
                }
            }
        };
        while !dropped() {
            assert!(added < 5000, "the idle client was never dropped");
            add(&mut busy, added).await;
            added += 1;
            answered += 1;
        }
        // Dropped means closed: the service lets go of it without waiting for it to read.
        wait_until(
            "the idle client's connection closed by the service",
            || {
                std::fs::read_to_string(&log)
                    .unwrap_or_default()
                    .contains("reason=dropped by the service")
                    .then_some(())
            },
            || std::fs::read_to_string(&log).unwrap_or_default(),
        );
        // What was already in its socket buffer, then the end.
        let drained =
            async { while let Some(Ok(_)) = futures::StreamExt::next(&mut idle).await {} };
        tokio::time::timeout(common::harness::GUARD, drained)
            .await
            .expect("the idle client's connection ends");
        // The busy client carries on.
        add(&mut busy, added).await;
        added += 1;
        answered += 1;
        assert_eq!(added, answered);
        added
    });
    let log = svc.log();
    assert_eq!(
        log.matches("client is not reading; dropped").count(),
        1,
        "{log}"
    );
    good(&team);
    let keys = ok(&team.run(&["vault", "list", "--account", "acme"]));
    assert_eq!(
        keys.lines().filter(|l| l.contains("flood-")).count() as u64,
        added,
        "{keys}"
    );
}

#[test]
fn the_store_the_data_directory_and_the_sockets_are_private() {
    let team = Team::new(Duration::from_millis(100));
    // A data directory left readable by an older console: 0755, files 0644.
    ok(&run({
        let mut c = cli_blocking(&team.dirs.home, &team.svc_data);
        c.env("HCLOUD_TOKEN", TOKEN)
            .env("HCLOUD_ENDPOINT", team.sim.endpoint())
            .args(["account", "list"]);
        c
    }));
    let db = team.svc_data.join("live.db");
    for e in common::harness::files_under(&team.svc_data) {
        std::fs::set_permissions(&e.0, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    for d in [&team.svc_data, &db] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    assert_eq!(mode(&db.join("db")), 0o644);

    // Explicit socket: 0660.
    let mut svc = team.serve();
    assert_eq!(mode(&team.socket), 0o660);
    let log = svc.wait_log("store was readable by others; tightened to 0700/0600");
    assert_eq!(log.matches("tightened to 0700/0600").count(), 1, "{log}");
    // The store's tree. (The data directory around it and its old log file are left as they
    // were, 0755/0644: reported, src/cli/session.rs `open_store` tightens only the store.)
    for (path, _) in common::harness::files_under(&db) {
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    assert_eq!(mode(&team.svc_data.join("serve.log")), 0o600);
    let mut dirs = vec![db.clone()];
    while let Some(d) = dirs.pop() {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            }
        }
    }
    assert!(svc.terminate().success());
    assert!(!team.socket.exists(), "the socket is removed at stop");

    // A personal service (no --socket): $XDG_RUNTIME_DIR/crabglamp/crabglamp.sock, 0600 in a
    // 0700 directory; a fresh data directory is 0700 with 0600 files.
    let fresh = team.dirs.tmp.path().join("fresh");
    let personal = team.dirs.home.join("run/crabglamp/crabglamp.sock");
    let mut c = cli_blocking(&team.dirs.home, &fresh);
    c.env("HCLOUD_TOKEN", TOKEN)
        .env("HCLOUD_ENDPOINT", team.sim.endpoint())
        .arg("serve");
    let _svc = Service::start(c, &personal, &fresh);
    assert_eq!(mode(&personal), 0o600);
    assert_eq!(mode(personal.parent().unwrap()), 0o700);
    assert_eq!(mode(&fresh), 0o700);
    assert_eq!(mode(&fresh.join("live.db")), 0o700);
    assert_eq!(mode(&fresh.join("live.db/db")), 0o600);
    assert_eq!(mode(&fresh.join("serve.log")), 0o600);
    // A headless command finds the personal service by itself (no --socket, no --data-dir).
    let default_store = team.dirs.home.join(".local/share/crabglamp");
    let out = run({
        let mut c = cli_blocking_home(&team.dirs.home);
        c.arg("account").arg("list");
        c
    });
    assert!(ok(&out).contains("acme"), "the service's accounts");
    assert!(
        !default_store.exists(),
        "attached: no store of its own; stderr: {}",
        text(&out.stderr)
    );
    // A --data-dir names a store to open: that one is used, not the personal service.
    let out = run({
        let mut c = cli_blocking(&team.dirs.home, &team.dirs.data);
        c.arg("account").arg("list");
        c
    });
    ok(&out);
    assert!(
        team.dirs.data.join("demo.db").exists(),
        "its own (demo) store"
    );
    // A socket left behind by a killed service: said on stderr, then the own store is used.
    drop(_svc);
    assert!(personal.exists(), "kill -9 leaves the socket file");
    let out = run({
        let mut c = cli_blocking_home(&team.dirs.home);
        c.arg("account").arg("list");
        c
    });
    ok(&out);
    assert!(
        text(&out.stderr).starts_with(&format!(
            "crabglamp: no service answers at {} (a socket left by a stopped service)",
            personal.display()
        )),
        "{}",
        text(&out.stderr)
    );
    let _ = BIN;
}

/// Attached, the audit commands check what the service sent with the same pure functions: the
/// service's newest checkpoint by default, a checkpoint kept elsewhere with `--checkpoint`; an
/// inclusion proof from `audit prove --json` verifies with the independent Python verifier; a
/// forged checkpoint fails.
#[test]
fn attached_audit_commands_prove_against_the_services_checkpoints() {
    let team = Team::new(Duration::from_millis(100));
    let _svc = team.serve();
    team.wait_synced("acme-vpn");
    ok(&team.run(&["vm", "destroy", "acme-vpn", "--yes"]));
    ok(&team.run(&["vm", "destroy", "acme-ci", "--yes"]));

    let verified = ok(&team.run(&["audit", "verify"]));
    assert!(
        verified.starts_with("audit log verified: 2 events")
            && verified.contains("consistent with checkpoint #2")
            && verified
                .trim_end()
                .ends_with("(checkpoint from the service)"),
        "{verified}"
    );
    // The service's witness file, kept outside its store directory (here: beside it).
    let witness = team.svc_data.join("live-audit-checkpoints.txt");
    let against = ok(&team.run(&["audit", "verify", "--checkpoint", witness.to_str().unwrap()]));
    assert!(
        against.contains("consistent with checkpoint #2")
            && against.contains(&format!("checkpoint from {}", witness.display())),
        "{against}"
    );

    let key = ok(&team.run(&["audit", "key"]));
    let proof = ok(&team.run(&["audit", "prove", "1", "--json"]));
    let parsed: Value = serde_json::from_str(&proof).unwrap();
    assert_eq!(parsed["key"], key.trim());
    assert_eq!(parsed["treeSize"], 2);
    assert_eq!(parsed["event"]["vmName"], "acme-vpn");
    let file = team.dirs.tmp.path().join("proof.json");
    std::fs::write(&file, &proof).unwrap();
    let py = std::process::Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/verify_audit_proof.py"))
        .arg(&file)
        .output()
        .unwrap();
    let said = text(&py.stdout);
    assert!(
        said.starts_with("ok: event 1 is in checkpoint #2"),
        "{said}{}",
        text(&py.stderr)
    );

    // A checkpoint whose tree size was edited no longer verifies: the signature covers it.
    let history = std::fs::read_to_string(&witness).unwrap();
    let forged_text = history.replacen("\n2\n", "\n1\n", 1);
    assert_ne!(forged_text, history);
    let forged = team.dirs.tmp.path().join("forged.txt");
    std::fs::write(&forged, forged_text).unwrap();
    let out = team.run(&["audit", "verify", "--checkpoint", forged.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("audit log does not verify"),
        "{}",
        text(&out.stderr)
    );

    // An export with its proof verifies elsewhere, without the service.
    let export = ok(&team.run(&["audit", "export", "--format", "jsonl", "--with-checkpoint"]));
    let exported = team.dirs.tmp.path().join("export.jsonl");
    std::fs::write(&exported, export).unwrap();
    let mut offline = cli_blocking(&team.dirs.home, &team.dirs.tmp.path().join("elsewhere"));
    offline.args(["audit", "verify", "--export"]).arg(&exported);
    let out = ok(&run(offline));
    assert!(out.starts_with("audit log verified: 2 events"), "{out}");
}

/// A client's own `--read-only` holds when attached: its changes are refused before they are
/// sent, reading still works, and nothing changed at the service.
#[test]
fn an_attached_read_only_client_changes_nothing() {
    let team = Team::new(Duration::from_millis(100));
    let _svc = team.serve();
    team.wait_synced("acme-vpn");
    let out = team.run(&["--read-only", "vm", "destroy", "acme-vpn", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim_end(),
        "crabglamp: read-only mode (--read-only): this change is not allowed; nothing was sent"
    );
    let key = team.key_file(7, "ro-test");
    let out = team.run(&[
        "--read-only",
        "vault",
        "add",
        "--account",
        "acme",
        key.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(ok(&team.run(&["--read-only", "vms"])).contains("acme-vpn"));
    assert!(team.audit().is_empty());
    assert!(!ok(&team.run(&["vault", "list"])).contains("ro-test"));
    let vms = ok(&team.run(&["vms"]));
    let line = vms.lines().find(|l| l.starts_with("acme-vpn ")).unwrap();
    assert!(line.contains("running"), "{line}");
}

/// A destroy cut off by a killed service is carried on when the service is back, in the name
/// of who asked and when: whether or not Hetzner got the delete before the kill, the VM ends
/// `deleted` with one destroy event naming the requester and the request time.
#[test]
fn a_destroy_cut_off_by_a_killed_service_is_finished_after_its_restart() {
    let team = Team::new(Duration::from_millis(100));
    let svc = team.serve();
    team.wait_synced("acme-vpn");
    // Slow answers: the service is killed while the delete is on its way.
    team.sim.set_faults(crabglamp::sim::Faults {
        latency: Some(Duration::from_secs(3)),
        ..Default::default()
    });
    let mut destroy = team.client(&["vm", "destroy", "acme-vpn", "--yes"]);
    destroy
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = destroy.spawn().unwrap();
    svc.wait_log("destroying");
    let killed_at: DateTime<Utc> = Utc::now();
    service_support::signal(svc.pid(), "KILL");
    let _ = child.wait();
    drop(svc);
    team.sim.set_faults(crabglamp::sim::Faults::default());
    let svc = team.serve();
    let event = team.wait_audit("destroy", "acme-vpn");
    // The sim answers nothing before its delay ends: the delete never reached it, so the
    // restarted service carried the destroy on itself.
    assert!(
        svc.log()
            .contains("carrying on a destroy cut off by a stop"),
        "{}",
        svc.log()
    );
    assert_eq!(event["actor"], me(), "{event:#?}");
    assert!(
        event["outcome"].as_str().unwrap().starts_with("ok"),
        "{event:#?}"
    );
    let requested: DateTime<Utc> = event["requestedAt"]
        .as_str()
        .expect("requestedAt")
        .parse()
        .unwrap();
    assert!(requested <= killed_at, "{requested} after {killed_at}");
    assert_eq!(
        team.audit()
            .iter()
            .filter(|e| e["vmName"] == "acme-vpn")
            .count(),
        1
    );
    wait_until(
        "acme-vpn deleted",
        || {
            let vms = text(&team.run(&["vms"]).stdout);
            vms.lines()
                .any(|l| l.starts_with("acme-vpn ") && l.contains("deleted"))
                .then_some(())
        },
        || text(&team.run(&["vms"]).stdout),
    );
}
