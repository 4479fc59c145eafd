//! The firewall editor against the fake Hetzner API (`sim`) on 127.0.0.1 (issue 5): the app
//! model drives the real worker; apply → the read-back equals the new set; a 422 is shown with
//! its field; exactly one `set_rules` per apply however often the key is pressed; the worker
//! refuses a second apply of the same firewall while one runs; read-only mode refuses; and the
//! headless `firewall show` / `firewall set` against a standalone sim.

mod common;

use chrono::Utc;
use common::harness::{
    Dirs, Harness, Options, Worker, cli_against, client, spawn, start_sim, text, vm_labels,
};
use crabglamp::app::{Model, Msg, update};
use crabglamp::domain::firewall::{PortRange, Protocol, Rule, print_rules_text};
use crabglamp::protocol::firewall::{FailedStep, LoadCause};
use crabglamp::protocol::{Effect, Mode, WorkerEvent};
use crabglamp::sim::{FirewallSeed, ServerSeed, SimHandle};
use crabglamp::ui::render;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

const VM: &str = "0a000000-0000-4000-8000-0000000000f1";
const SET_RULES: &str = "POST /firewalls/{id}/actions/set_rules";

/// A labelled server `web-1` with its own firewall (SSH from anywhere + app ports). Returns the
/// firewall id.
fn seed(sim: &SimHandle) -> i64 {
    let labels = vm_labels(VM, "acme", "small", "eu", "debian-12", "metered");
    let fw = sim.add_firewall(FirewallSeed {
        name: "crabglamp-web-1".into(),
        labels: labels.clone(),
        rules: json!([
            {"direction": "in", "protocol": "tcp", "port": "22",
             "source_ips": ["0.0.0.0/0", "::/0"], "description": "SSH"},
            {"direction": "in", "protocol": "tcp", "port": "8000-8100",
             "source_ips": ["198.51.100.0/24"], "description": "app"}
        ]),
        applied_to: vec![],
    });
    sim.add_server(ServerSeed {
        name: "web-1".into(),
        server_type: "cpx22".into(),
        location: "hel1".into(),
        image: "debian-12".into(),
        labels,
        created: Utc::now(),
        status: "running".into(),
        firewall_ids: vec![fw],
    });
    fw
}

/// Feeds worker events into the model until `pred` matches one (that one included), sending
/// every effect the model returns to the worker.
async fn pump(m: &mut Model, h: &mut Worker, mut pred: impl FnMut(&WorkerEvent) -> bool) {
    loop {
        let ev = h.next().await;
        let done = pred(&ev);
        for fx in update(m, Msg::Worker(ev)) {
            h.send(fx);
        }
        if done {
            return;
        }
    }
}

fn key(m: &mut Model, h: &Worker, code: KeyCode) -> usize {
    let fx = update(m, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    let n = fx.len();
    for e in fx {
        h.send(e);
    }
    n
}

fn typed(m: &mut Model, h: &Worker, s: &str) {
    for c in s.chars() {
        key(m, h, KeyCode::Char(c));
    }
}

/// A model synced with the sim and the editor open on web-1 (its firewall read).
async fn open_editor(h: &mut Worker) -> Model {
    let mut m = Model::new(Mode::Demo, false, false, "test", common::now());
    pump(&mut m, h, |e| matches!(e, WorkerEvent::SyncOk { .. })).await;
    assert_eq!(m.selected_vm().unwrap().record.name, "web-1");
    assert_eq!(key(&mut m, h, KeyCode::Char('f')), 1, "LoadFirewall");
    pump(&mut m, h, |e| matches!(e, WorkerEvent::Firewall(_))).await;
    let ed = m.fw.editor.as_ref().unwrap();
    assert_eq!(
        print_rules_text(&ed.rules),
        "tcp 22 0.0.0.0/0,::/0 # SSH\ntcp 8000-8100 198.51.100.0/24 # app\n"
    );
    m
}

async fn hetzner_rules(sim: &SimHandle, fw: i64) -> Vec<Rule> {
    let f = client(sim).get_firewall(fw).await.unwrap();
    f.rules
        .iter()
        .map(|r| {
            crabglamp::domain::firewall::from_wire(&crabglamp::worker::firewall::wire_of(r))
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn apply_sends_one_set_rules_and_shows_the_read_back() {
    let options = Options::default();
    let (sim, store, _dir) = Harness::new(options.clone()).await.into_parts();
    let fw = seed(&sim);
    let mut h = spawn(&sim, &store, &options);
    let mut m = open_editor(&mut h).await;
    // Add HTTPS from anywhere below SSH, delete the app ports rule.
    key(&mut m, &h, KeyCode::Char('a'));
    key(&mut m, &h, KeyCode::Tab); // the form starts on protocol
    typed(&mut m, &h, "443");
    key(&mut m, &h, KeyCode::Tab);
    typed(&mut m, &h, "0.0.0.0/0, ::/0");
    key(&mut m, &h, KeyCode::Tab);
    typed(&mut m, &h, "HTTPS");
    key(&mut m, &h, KeyCode::Enter);
    key(&mut m, &h, KeyCode::Char('G'));
    key(&mut m, &h, KeyCode::Char('d'));
    sim.reset_counters();
    let before_apply = Utc::now() - chrono::Duration::seconds(1);
    // Review, then the apply key pressed twice (and the review key again): one effect.
    assert_eq!(key(&mut m, &h, KeyCode::Char('w')), 0);
    let sent = key(&mut m, &h, KeyCode::Char('y'))
        + key(&mut m, &h, KeyCode::Char('y'))
        + key(&mut m, &h, KeyCode::Char('w'))
        + key(&mut m, &h, KeyCode::Enter);
    assert_eq!(sent, 1);
    pump(
        &mut m,
        &mut h,
        |e| matches!(e, WorkerEvent::Firewall(l) if l.cause == LoadCause::Applied),
    )
    .await;
    let counts = sim.request_counts();
    assert_eq!(counts.get(SET_RULES), Some(&1), "{counts:?}");
    let expected = "tcp 22 0.0.0.0/0,::/0 # SSH\ntcp 443 0.0.0.0/0,::/0 # HTTPS\n";
    let ed = m.fw.editor.as_ref().unwrap();
    assert!(!ed.applying && !ed.dirty());
    assert_eq!(print_rules_text(&ed.rules), expected);
    assert_eq!(print_rules_text(&hetzner_rules(&sim, fw).await), expected);
    // Last changed: the actions of this apply (set_firewall_rules, apply_firewall).
    let last = ed.server.as_ref().unwrap().last_change.clone().unwrap();
    assert!(
        ["set_firewall_rules", "apply_firewall"].contains(&last.command.as_str()),
        "{last:?}"
    );
    assert!(last.finished >= before_apply, "{last:?}");
    h.shutdown().await;
}

#[tokio::test]
async fn a_422_is_shown_with_its_field_and_the_edits_stay() {
    let options = Options::default();
    let (sim, store, _dir) = Harness::new(options.clone()).await.into_parts();
    let fw = seed(&sim);
    let mut h = spawn(&sim, &store, &options);
    let mut m = open_editor(&mut h).await;
    key(&mut m, &h, KeyCode::Char('d'));
    let vm_id = m.fw.editor.as_ref().unwrap().vm_id;
    // A rule built by hand, past the editor's validation: port 9-3.
    let bad = Rule {
        protocol: Protocol::Udp,
        port: PortRange { low: 9, high: 3 },
        source_ips: vec!["10.0.0.0/8".parse().unwrap()],
        description: String::new(),
    };
    h.send(Effect::ApplyFirewall {
        vm_id,
        firewall_id: fw,
        rules: vec![bad],
    });
    // The editor marks itself in flight as the app would have.
    m.fw.editor.as_mut().unwrap().applying = true;
    pump(&mut m, &mut h, |e| {
        matches!(e, WorkerEvent::FirewallFailed(_))
    })
    .await;
    let ed = m.fw.editor.as_ref().unwrap();
    let f = ed.failure.as_ref().unwrap();
    assert_eq!(f.step, FailedStep::SetRules);
    assert_eq!(
        (f.status, f.code.as_deref()),
        (Some(422), Some("invalid_input"))
    );
    assert_eq!(f.fields[0].name, "rules[0].port");
    assert!(!ed.applying);
    assert_eq!(
        print_rules_text(&ed.rules),
        "tcp 8000-8100 198.51.100.0/24 # app\n",
        "the edit is kept"
    );
    let mut t = Terminal::new(TestBackend::new(160, 30)).unwrap();
    t.draw(|f| render(f, &m)).unwrap();
    let buf = t.backend().buffer();
    let screen: String = (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(screen.contains("invalid_input (422)"), "{screen}");
    assert!(screen.contains("rule 1 port"), "{screen}");
    // Nothing changed at Hetzner.
    assert_eq!(hetzner_rules(&sim, fw).await.len(), 2);
    h.shutdown().await;
}

#[tokio::test]
async fn the_worker_refuses_a_second_apply_of_the_same_firewall_while_one_runs() {
    let options = Options::default();
    let (sim, store, _dir) = Harness::new(options.clone()).await.into_parts();
    let fw = seed(&sim);
    let mut h = spawn(&sim, &store, &options);
    let mut m = open_editor(&mut h).await;
    let vm_id = m.fw.editor.as_ref().unwrap().vm_id;
    let rules = m.fw.editor.as_ref().unwrap().rules[..1].to_vec();
    sim.reset_counters();
    for _ in 0..2 {
        h.send(Effect::ApplyFirewall {
            vm_id,
            firewall_id: fw,
            rules: rules.clone(),
        });
    }
    let mut busy = 0;
    pump(&mut m, &mut h, |e| {
        if matches!(e, WorkerEvent::FirewallFailed(f) if f.step == FailedStep::Busy) {
            busy += 1;
        }
        matches!(e, WorkerEvent::Firewall(l) if l.cause == LoadCause::Applied)
    })
    .await;
    assert_eq!(busy, 1);
    assert_eq!(sim.request_counts().get(SET_RULES), Some(&1));
    assert_eq!(hetzner_rules(&sim, fw).await, rules);
    h.shutdown().await;
}

#[tokio::test]
async fn read_only_mode_refuses_and_nothing_is_sent() {
    let options = Options {
        read_only: true,
        ..Options::default()
    };
    let (sim, store, _dir) = Harness::new(options.clone()).await.into_parts();
    let fw = seed(&sim);
    let mut h = spawn(&sim, &store, &options);
    let mut m = open_editor(&mut h).await;
    key(&mut m, &h, KeyCode::Char('j'));
    key(&mut m, &h, KeyCode::Char('d'));
    sim.reset_counters();
    key(&mut m, &h, KeyCode::Char('w'));
    assert_eq!(key(&mut m, &h, KeyCode::Char('y')), 1);
    pump(&mut m, &mut h, |e| matches!(e, WorkerEvent::Refused { .. })).await;
    let ed = m.fw.editor.as_ref().unwrap();
    assert!(!ed.applying);
    assert!(ed.dirty(), "edits kept");
    assert_eq!(
        ed.message.as_deref(),
        Some(&*format!(
            "not applied: read-only mode: applying rules to firewall {fw} is not allowed; your edits are kept"
        ))
    );
    assert_eq!(sim.request_counts().get(SET_RULES), None);
    h.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Headless

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_show_and_set_against_a_standalone_sim() {
    let sim = start_sim(Options::default().sim_config()).await;
    let fw = seed(&sim);
    let Dirs { tmp, home, data } = Dirs::create();

    // show --json: CrabGlamp's field names.
    let out = cli_against(&sim, &home, &data)
        .args(["firewall", "show", "web-1", "--json"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["vm"], "web-1");
    assert_eq!(v["firewallId"], fw);
    assert_eq!(
        v["rules"][0],
        json!({"direction": "in", "protocol": "tcp", "port": "22",
               "sourceIps": ["0.0.0.0/0", "::/0"], "description": "SSH"})
    );
    assert_eq!(v["appliedTo"][0]["type"], "server");
    assert_eq!(v["appliedTo"][0]["vm"], "web-1");

    // set with a bad file: line-numbered errors, nothing sent.
    let bad = tmp.path().join("bad.txt");
    std::fs::write(&bad, "tcp 22 0.0.0.0/0\n# comment\nicmp 85-80 10.0.0.0/8\n").unwrap();
    sim.reset_counters();
    let out = cli_against(&sim, &home, &data)
        .args(["firewall", "set", "web-1", "--file"])
        .arg(&bad)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.txt:3: protocol: icmp: v1 accepts tcp and udp only"),
        "{err}"
    );
    assert!(
        err.contains("bad.txt:3: port: 85-80: low port is above high port"),
        "{err}"
    );
    assert_eq!(sim.request_count(), 0, "refused before any API call");

    // Lockout (operator from SSH_CONNECTION not allowed on 22) without --yes: refused.
    let rules = tmp.path().join("rules.txt");
    std::fs::write(
        &rules,
        "tcp 22 203.0.113.0/24 # office\nudp 60000-61000 203.0.113.7 # mosh\n",
    )
    .unwrap();
    let out = cli_against(&sim, &home, &data)
        .env("SSH_CONNECTION", "198.51.100.9 50000 10.0.0.2 22")
        .args(["firewall", "set", "web-1", "--file"])
        .arg(&rules)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("refusing: these rules would lock you out of SSH; nothing was sent"),
        "{err}"
    );
    assert_eq!(sim.request_counts().get(SET_RULES), None);

    // With --yes: applied, and the read-back is printed.
    let out = cli_against(&sim, &home, &data)
        .env("SSH_CONNECTION", "198.51.100.9 50000 10.0.0.2 22")
        .args(["firewall", "set", "web-1", "--yes", "--json", "--file"])
        .arg(&rules)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["rules"],
        json!([
            {"direction": "in", "protocol": "tcp", "port": "22",
             "sourceIps": ["203.0.113.0/24"], "description": "office"},
            {"direction": "in", "protocol": "udp", "port": "60000-61000",
             "sourceIps": ["203.0.113.7/32"], "description": "mosh"}
        ])
    );
    assert_eq!(sim.request_counts().get(SET_RULES), Some(&1));
    assert_eq!(
        print_rules_text(&hetzner_rules(&sim, fw).await),
        "tcp 22 203.0.113.0/24 # office\nudp 60000-61000 203.0.113.7/32 # mosh\n"
    );
}

/// A firewall effect names the VM; a firewall id that is not that VM's own (another firewall of
/// the project) is refused before any request reaches Hetzner.
#[tokio::test]
async fn a_firewall_that_is_not_the_vms_own_is_refused() {
    let options = Options::default();
    let (sim, store, _dir) = Harness::new(options.clone()).await.into_parts();
    let fw = seed(&sim);
    let other = sim.add_firewall(FirewallSeed {
        name: "prod-db-not-crabglamp".into(),
        labels: Default::default(),
        rules: json!([]),
        applied_to: vec![],
    });
    let mut h = spawn(&sim, &store, &options);
    h.first_sync().await;
    let vm = store.vm_by_name("web-1").unwrap().unwrap();
    assert_eq!(vm.hetzner_firewall_id, Some(fw));
    sim.reset_counters();
    for effect in [
        Effect::LoadFirewall {
            vm_id: vm.id,
            firewall_id: other,
        },
        Effect::ApplyFirewall {
            vm_id: vm.id,
            firewall_id: other,
            rules: vec![],
        },
    ] {
        h.send(effect);
        let events = h.until(|e| matches!(e, WorkerEvent::Refused { .. })).await;
        let Some(WorkerEvent::Refused { reason }) = events.last() else {
            panic!("{events:?}");
        };
        assert_eq!(
            reason,
            &format!("firewall {other} is not VM 'web-1''s firewall")
        );
    }
    let counts = sim.request_counts();
    assert!(counts.is_empty(), "no request reached Hetzner: {counts:?}");
    h.shutdown().await;
}
