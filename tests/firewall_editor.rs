//! The firewall rule editor (issue 5) at the app level: table edits with exact resulting rules,
//! text ↔ table without losing edits, errors with line numbers, discard asks, one apply per
//! confirmation, failures keep the edits; plus snapshots of the pane (rule set, errors, diff and
//! lockout warning) at 80×24 and 160×48.

mod common;

use chrono::TimeZone;
use crabglamp::app::panes::firewall::{FirewallEditor, Leave};
use crabglamp::app::{Model, Msg, Pane, Quit, update};
use crabglamp::domain::firewall::{WireRule, print_rules_text};
use crabglamp::hetzner::FieldError;
use crabglamp::protocol::firewall::{
    FailedStep, FirewallFailure, FirewallLoaded, FirewallState, LastChange, LoadCause,
};
use crabglamp::protocol::{Effect, WorkerEvent};
use crabglamp::ui::render;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn press(m: &mut Model, code: KeyCode) -> Vec<Effect> {
    update(m, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ch(m: &mut Model, c: char) -> Vec<Effect> {
    press(m, KeyCode::Char(c))
}

fn ctrl(m: &mut Model, c: char) -> Vec<Effect> {
    update(
        m,
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)),
    )
}

fn typed(m: &mut Model, s: &str) {
    for c in s.chars() {
        ch(m, c);
    }
}

fn ed(m: &Model) -> &FirewallEditor {
    m.fw.editor.as_ref().expect("editor open")
}

fn rules_text(m: &Model) -> String {
    print_rules_text(ed(m).current_rules())
}

fn wire(dir: &str, proto: &str, port: Option<&str>, src: &[&str], d: Option<&str>) -> WireRule {
    WireRule {
        direction: dir.into(),
        protocol: proto.into(),
        port: port.map(Into::into),
        source_ips: if dir == "in" {
            src.iter().map(|s| s.to_string()).collect()
        } else {
            vec![]
        },
        destination_ips: if dir == "out" {
            src.iter().map(|s| s.to_string()).collect()
        } else {
            vec![]
        },
        description: d.map(Into::into),
    }
}

/// What the worker would send for the selected VM (build-box): SSH, app ports, plus an ICMP
/// and an outbound rule v1 cannot edit.
fn hetzner_state(m: &Model, rules: Vec<WireRule>) -> FirewallState {
    let row = m.selected_vm().unwrap();
    let fw = row.firewall.as_ref().unwrap();
    FirewallState {
        id: fw.id,
        name: fw.name.clone(),
        rules,
        servers: vec![row.record.hetzner_server_id.unwrap()],
        label_selectors: vec![],
        last_change: Some(LastChange {
            command: "set_firewall_rules".into(),
            finished: chrono::Utc
                .with_ymd_and_hms(2026, 11, 29, 7, 30, 0)
                .unwrap(),
            status: "success".into(),
        }),
    }
}

fn standard_rules() -> Vec<WireRule> {
    vec![
        wire("in", "tcp", Some("22"), &["0.0.0.0/0", "::/0"], Some("ssh")),
        wire(
            "in",
            "tcp",
            Some("8000-8100"),
            &["198.51.100.0/24"],
            Some("app ports"),
        ),
    ]
}

/// The fixture model with the editor open on build-box and the worker's read delivered.
fn opened(extra: Vec<WireRule>) -> Model {
    let mut m = common::model();
    let fx = ch(&mut m, 'f');
    let vm = m.selected_vm().unwrap();
    assert_eq!(
        fx,
        vec![Effect::LoadFirewall {
            vm_id: vm.record.id,
            firewall_id: vm.firewall.as_ref().unwrap().id,
        }]
    );
    assert_eq!(m.pane, Pane::Firewall);
    let mut rules = standard_rules();
    rules.extend(extra);
    let state = hetzner_state(&m, rules);
    let vm_id = ed(&m).vm_id;
    update(
        &mut m,
        Msg::Worker(WorkerEvent::Firewall(Box::new(FirewallLoaded {
            vm_id,
            firewall: state,
            cause: LoadCause::Loaded,
        }))),
    );
    assert!(!ed(&m).loading);
    m
}

#[test]
fn opening_reads_the_firewall_and_flags_rules_v1_cannot_edit() {
    let m = opened(vec![
        wire("in", "icmp", None, &["0.0.0.0/0", "::/0"], Some("ping")),
        wire("out", "tcp", Some("443"), &["0.0.0.0/0"], None),
    ]);
    let e = ed(&m);
    assert_eq!(
        rules_text(&m),
        "tcp 22 0.0.0.0/0,::/0 # ssh\ntcp 8000-8100 198.51.100.0/24 # app ports\n"
    );
    let reasons: Vec<&str> = e.foreign.iter().map(|f| f.reason.as_str()).collect();
    assert_eq!(
        reasons,
        vec![
            "protocol: icmp: v1 accepts tcp and udp only",
            "direction out: v1 edits inbound rules only"
        ]
    );
    assert_eq!(e.row_count(), 4);
    assert!(!e.dirty());
}

#[test]
fn table_add_edit_duplicate_delete_reorder_give_exact_rules() {
    let mut m = opened(vec![]);
    // Add below rule 1: port 443 from anywhere, described HTTPS.
    ch(&mut m, 'a');
    assert_eq!(
        ed(&m).form.as_ref().map(|f| f.focus),
        Some(0),
        "new rule: protocol first"
    );
    press(&mut m, KeyCode::Tab);
    typed(&mut m, "443");
    press(&mut m, KeyCode::Tab);
    typed(&mut m, "0.0.0.0/0, ::/0");
    press(&mut m, KeyCode::Tab);
    typed(&mut m, "HTTPS");
    press(&mut m, KeyCode::Enter);
    assert_eq!(
        rules_text(&m),
        "tcp 22 0.0.0.0/0,::/0 # ssh\n\
         tcp 443 0.0.0.0/0,::/0 # HTTPS\n\
         tcp 8000-8100 198.51.100.0/24 # app ports\n"
    );
    assert_eq!(m.fw.list.selected, 1);
    // Duplicate it, then edit the copy: udp 443, description QUIC.
    ch(&mut m, 'y');
    assert_eq!(m.fw.list.selected, 2);
    ch(&mut m, 'e');
    assert_eq!(
        ed(&m).form.as_ref().map(|f| f.focus),
        Some(0),
        "edit: protocol first"
    );
    ch(&mut m, ' '); // protocol field: Space toggles tcp → udp
    press(&mut m, KeyCode::BackTab); // to description
    ctrl(&mut m, 'u');
    typed(&mut m, "QUIC");
    press(&mut m, KeyCode::Enter);
    assert_eq!(
        rules_text(&m),
        "tcp 22 0.0.0.0/0,::/0 # ssh\n\
         tcp 443 0.0.0.0/0,::/0 # HTTPS\n\
         udp 443 0.0.0.0/0,::/0 # QUIC\n\
         tcp 8000-8100 198.51.100.0/24 # app ports\n"
    );
    // Move QUIC to the top (K twice), app ports up once (J from the top moves down).
    ch(&mut m, 'K');
    ch(&mut m, 'K');
    assert_eq!(m.fw.list.selected, 0);
    ch(&mut m, 'J');
    assert_eq!(
        rules_text(&m),
        "tcp 22 0.0.0.0/0,::/0 # ssh\n\
         udp 443 0.0.0.0/0,::/0 # QUIC\n\
         tcp 443 0.0.0.0/0,::/0 # HTTPS\n\
         tcp 8000-8100 198.51.100.0/24 # app ports\n"
    );
    // Delete the last rule.
    ch(&mut m, 'G');
    ch(&mut m, 'd');
    assert_eq!(
        rules_text(&m),
        "tcp 22 0.0.0.0/0,::/0 # ssh\n\
         udp 443 0.0.0.0/0,::/0 # QUIC\n\
         tcp 443 0.0.0.0/0,::/0 # HTTPS\n"
    );
    assert!(ed(&m).dirty());
    let changes: Vec<String> = ed(&m).changes().iter().map(|c| format!("{c:?}")).collect();
    assert_eq!(changes.len(), 3, "{changes:?}");
}

#[test]
fn the_row_form_shows_field_errors_and_keeps_the_row_until_valid() {
    let mut m = opened(vec![]);
    ch(&mut m, 'a');
    press(&mut m, KeyCode::Tab); // the form starts on protocol
    typed(&mut m, "85-80");
    press(&mut m, KeyCode::Tab);
    typed(&mut m, "10.0.0.1/24");
    press(&mut m, KeyCode::Enter);
    let form = ed(&m).form.clone().expect("form stays open");
    assert_eq!(
        form.errors,
        [
            None,
            Some("85-80: low port is above high port".into()),
            Some("10.0.0.1/24: host bits are set; the network is 10.0.0.0/24".into()),
            None
        ]
    );
    assert_eq!(form.focus, 1, "focus jumps to the first bad field");
    assert_eq!(ed(&m).rules.len(), 2);
    press(&mut m, KeyCode::Esc);
    assert!(ed(&m).form.is_none());
    assert!(!ed(&m).dirty());
}

#[test]
fn text_and_table_switch_without_losing_edits_and_errors_have_line_numbers() {
    let mut m = opened(vec![]);
    ch(&mut m, 'd'); // delete rule 1 in the table first
    ch(&mut m, 't');
    assert!(ed(&m).text.is_some());
    assert_eq!(
        ed(&m).text.as_ref().unwrap().text(),
        "tcp 8000-8100 198.51.100.0/24 # app ports\n"
    );
    // Paste two lines on the empty last line (bracketed paste: inserted, newlines kept).
    update(
        &mut m,
        Msg::Paste("tcp 22 203.0.113.0/24 # office\nudp 85-80 10.0.0.1/24".into()),
    );
    let t = ed(&m).text.as_ref().unwrap();
    let errors: Vec<String> = t.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        errors,
        vec![
            "line 3, port: 85-80: low port is above high port",
            "line 3, source_ips: 10.0.0.1/24: host bits are set; the network is 10.0.0.0/24",
        ]
    );
    // Text with errors stays text, and says why.
    press(&mut m, KeyCode::Esc);
    assert!(ed(&m).text.is_some());
    assert_eq!(
        ed(&m).message.as_deref(),
        Some(
            "staying in text mode: 2 errors to fix first (line 3, port: 85-80: low port is above high port); Esc again discards the text edits"
        )
    );
    // Applying is refused too.
    assert_eq!(ctrl(&mut m, 's'), vec![]);
    assert!(ed(&m).review.is_none());
    // Fix line 3 by typing: delete it and write a good one.
    for _ in 0.."udp 85-80 10.0.0.1/24".len() {
        press(&mut m, KeyCode::Backspace);
    }
    typed(&mut m, "udp 60000-61000 203.0.113.7 # mosh");
    assert_eq!(ed(&m).text.as_ref().unwrap().errors, vec![]);
    press(&mut m, KeyCode::Esc);
    assert!(ed(&m).text.is_none());
    assert_eq!(
        rules_text(&m),
        "tcp 8000-8100 198.51.100.0/24 # app ports\n\
         tcp 22 203.0.113.0/24 # office\n\
         udp 60000-61000 203.0.113.7/32 # mosh\n"
    );
    // And back to text: the same three rules.
    ch(&mut m, 't');
    assert_eq!(
        ed(&m).text.as_ref().unwrap().text(),
        "tcp 8000-8100 198.51.100.0/24 # app ports\n\
         tcp 22 203.0.113.0/24 # office\n\
         udp 60000-61000 203.0.113.7/32 # mosh\n"
    );
}

#[test]
fn text_mode_types_a_new_rule_and_never_traps_the_operator() {
    let mut m = opened(vec![]);
    let before = rules_text(&m);
    ch(&mut m, 't');
    // Typing at once makes a new rule, not the tail of the last rule's description.
    typed(&mut m, "tcp 9999 0.0.0.0/0");
    let t = ed(&m).text.as_ref().unwrap();
    assert_eq!(t.errors, vec![]);
    assert_eq!(
        print_rules_text(&t.rules),
        format!("{before}tcp 9999 0.0.0.0/0\n")
    );
    // Ctrl-z undoes typing.
    for _ in 0..3 {
        ctrl(&mut m, 'z');
    }
    assert_eq!(
        ed(&m).text.as_ref().unwrap().text(),
        format!("{before}tcp 9999 0.0.0.")
    );
    // A bad line keeps text mode on the first Esc; the second Esc discards the text edits.
    typed(&mut m, "0/0 and more");
    assert_eq!(ed(&m).text.as_ref().unwrap().errors.len(), 1);
    press(&mut m, KeyCode::Esc);
    assert!(ed(&m).text.is_some());
    press(&mut m, KeyCode::Esc);
    assert!(ed(&m).text.is_none());
    assert_eq!(rules_text(&m), before);
    assert_eq!(
        ed(&m).message.as_deref(),
        Some("text edits discarded: back to the table")
    );
}

#[test]
fn leaving_quitting_or_discarding_with_edits_asks_first() {
    let mut m = opened(vec![]);
    ch(&mut m, 'd');
    // Another pane: asks, stays.
    ch(&mut m, '1');
    assert_eq!(m.pane, Pane::Firewall);
    assert_eq!(ed(&m).leave, Some(Leave::Pane(Pane::Vms)));
    ch(&mut m, 'n');
    assert_eq!(ed(&m).leave, None);
    assert_eq!(ed(&m).rules.len(), 1, "edits kept");
    // Quit: asks.
    ch(&mut m, 'q');
    assert_ne!(m.quit, Quit::Now);
    assert_eq!(ed(&m).leave, Some(Leave::Quit));
    press(&mut m, KeyCode::Esc);
    assert_ne!(m.quit, Quit::Now);
    // Esc: asks; y discards and stays.
    press(&mut m, KeyCode::Esc);
    assert_eq!(ed(&m).leave, Some(Leave::Discard));
    ch(&mut m, 'y');
    assert!(!ed(&m).dirty());
    assert_eq!(ed(&m).rules.len(), 2);
    // Without edits, leaving just goes.
    ch(&mut m, '1');
    assert_eq!(m.pane, Pane::Vms);
    // With edits, y on the question goes where asked.
    ch(&mut m, '2');
    ch(&mut m, 'd');
    ch(&mut m, '3');
    ch(&mut m, 'y');
    assert_eq!(m.pane, Pane::Vault);
    assert!(!ed(&m).dirty());
}

#[test]
fn apply_sends_exactly_once_and_the_pane_shows_the_read_back() {
    let mut m = opened(vec![wire("out", "udp", Some("53"), &["0.0.0.0/0"], None)]);
    // Replace the app ports rule: edit the port only.
    ch(&mut m, 'j');
    ch(&mut m, 'e');
    press(&mut m, KeyCode::Tab);
    ctrl(&mut m, 'u');
    typed(&mut m, "9000");
    press(&mut m, KeyCode::Enter);
    assert_eq!(ch(&mut m, 'w'), vec![]);
    let review = ed(&m).review.clone().expect("review open");
    assert!(!review.lockout);
    assert_eq!(review.dropped.len(), 1, "the outbound rule is dropped");
    // y applies; held / repeated keys send nothing more.
    let fx = ch(&mut m, 'y');
    assert_eq!(fx.len(), 1);
    let Effect::ApplyFirewall { rules, .. } = &fx[0] else {
        panic!("{fx:?}")
    };
    assert_eq!(
        print_rules_text(rules),
        "tcp 22 0.0.0.0/0,::/0 # ssh\ntcp 9000 198.51.100.0/24 # app ports\n"
    );
    assert!(ed(&m).applying);
    for _ in 0..3 {
        assert_eq!(ch(&mut m, 'w'), vec![]);
        assert_eq!(ch(&mut m, 'y'), vec![]);
        assert_eq!(ctrl(&mut m, 's'), vec![]);
    }
    assert_eq!(
        ed(&m).message.as_deref(),
        Some("an apply is already running: wait for Hetzner's answer")
    );
    // Hetzner's read-back is what the pane shows (here with its own description).
    let back = vec![
        wire("in", "tcp", Some("22"), &["::/0", "0.0.0.0/0"], Some("ssh")),
        wire("in", "tcp", Some("9000"), &["198.51.100.0/24"], Some("app")),
    ];
    let state = hetzner_state(&m, back);
    let vm_id = ed(&m).vm_id;
    update(
        &mut m,
        Msg::Worker(WorkerEvent::Firewall(Box::new(FirewallLoaded {
            vm_id,
            firewall: state,
            cause: LoadCause::Applied,
        }))),
    );
    let e = ed(&m);
    assert!(!e.applying);
    assert!(!e.dirty());
    assert!(e.foreign.is_empty());
    assert_eq!(
        rules_text(&m),
        "tcp 22 ::/0,0.0.0.0/0 # ssh\ntcp 9000 198.51.100.0/24 # app\n"
    );
    assert_eq!(
        ed(&m).message.as_deref(),
        Some("applied, but Hetzner holds something else: showing its 2 rules")
    );
}

#[test]
fn lockout_needs_yes_typed() {
    let mut m = opened(vec![]);
    m.fw.operator_ip = Some("192.0.2.44".parse().unwrap());
    ch(&mut m, 'd'); // drop SSH from anywhere
    ch(&mut m, 'w');
    assert!(ed(&m).review.as_ref().unwrap().lockout);
    assert_eq!(press(&mut m, KeyCode::Enter), vec![]);
    assert_eq!(ch(&mut m, 'y'), vec![], "y is typed, not a confirmation");
    press(&mut m, KeyCode::Backspace);
    typed(&mut m, "yes");
    let fx = press(&mut m, KeyCode::Enter);
    assert!(matches!(fx.as_slice(), [Effect::ApplyFirewall { .. }]));
}

#[test]
fn failure_and_refusal_keep_every_edit() {
    let mut m = opened(vec![]);
    ch(&mut m, 'd');
    ch(&mut m, 't');
    typed(&mut m, "\nudp 53 192.0.2.0/24 # dns");
    let text = ed(&m).text.as_ref().unwrap().text();
    ctrl(&mut m, 's');
    m.fw.editor.as_mut().unwrap().review.as_mut().unwrap().typed = "yes".into();
    let fx = press(&mut m, KeyCode::Enter);
    assert_eq!(fx.len(), 1);
    let (vm_id, firewall_id) = (ed(&m).vm_id, ed(&m).firewall_id.unwrap());
    update(
        &mut m,
        Msg::Worker(WorkerEvent::FirewallFailed(Box::new(FirewallFailure {
            vm_id,
            firewall_id,
            apply: true,
            step: FailedStep::SetRules,
            status: Some(422),
            code: Some("invalid_input".into()),
            message: "invalid input in field 'rules[1].port'".into(),
            fields: vec![FieldError {
                name: "rules[1].port".into(),
                messages: vec!["is invalid".into()],
            }],
        }))),
    );
    let e = ed(&m);
    assert!(!e.applying);
    assert_eq!(e.text.as_ref().unwrap().text(), text, "text kept");
    assert_eq!(
        e.failure.as_ref().unwrap().summary(),
        "set_rules refused, nothing changed: invalid_input (422): rule 2 port: is invalid"
    );
    // Read-only: the worker refuses; the flag clears, the edits stay.
    ctrl(&mut m, 's');
    m.fw.editor.as_mut().unwrap().review.as_mut().unwrap().typed = "yes".into();
    assert_eq!(press(&mut m, KeyCode::Enter).len(), 1);
    update(
        &mut m,
        Msg::Worker(WorkerEvent::Refused {
            reason: "read-only mode: applying rules to firewall 90001 is not allowed".into(),
        }),
    );
    assert!(!ed(&m).applying);
    assert_eq!(ed(&m).text.as_ref().unwrap().text(), text);
    assert_eq!(
        ed(&m).message.as_deref(),
        Some(
            "not applied: read-only mode: applying rules to firewall 90001 is not allowed; your edits are kept"
        )
    );
}

#[test]
fn fw_command_opens_a_vm_by_name() {
    let mut m = common::model();
    ch(&mut m, ':');
    typed(&mut m, "fw web-02");
    let fx = press(&mut m, KeyCode::Enter);
    assert_eq!(m.pane, Pane::Firewall);
    assert_eq!(ed(&m).vm_name, "web-02");
    assert!(matches!(fx.as_slice(), [Effect::LoadFirewall { .. }]));
    ch(&mut m, ':');
    typed(&mut m, "fw nope");
    press(&mut m, KeyCode::Enter);
    match &m.overlay {
        Some(crabglamp::app::Overlay::Command(c)) => {
            assert_eq!(c.error.as_deref(), Some("no VM named 'nope'"))
        }
        other => panic!("{other:?}"),
    }
}

fn draw(m: &Model, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render(f, m)).unwrap();
    t
}

fn screen(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn snapshot_rule_set() {
    let mut m = opened(vec![wire("out", "tcp", Some("443"), &["0.0.0.0/0"], None)]);
    ch(&mut m, 'j');
    ch(&mut m, 'y');
    for (w, h) in [(80, 24), (160, 48)] {
        let t = draw(&m, w, h);
        let s = screen(&t);
        assert!(s.contains("Firewall · build-box"), "{s}");
        assert!(s.contains("8000-8100"), "{s}");
        insta::assert_snapshot!(format!("rule_set_{w}x{h}"), t.backend());
    }
}

#[test]
fn snapshot_text_with_errors() {
    let mut m = opened(vec![]);
    ch(&mut m, 't');
    update(
        &mut m,
        Msg::Paste("icmp 80:85 10.0.0.1/24 # ping\ntcp 443 0.0.0.0/0,::/0 # HTTPS".into()),
    );
    for (w, h) in [(80, 24), (160, 48)] {
        let t = draw(&m, w, h);
        let s = screen(&t);
        assert!(s.contains("✗ 3: protocol: icmp"), "{s}");
        insta::assert_snapshot!(format!("text_errors_{w}x{h}"), t.backend());
    }
}

#[test]
fn snapshot_review_with_diff_and_lockout() {
    let mut m = opened(vec![wire("in", "icmp", None, &["0.0.0.0/0"], None)]);
    m.fw.operator_ip = Some("192.0.2.44".parse().unwrap());
    ch(&mut m, 'd');
    ch(&mut m, 'a');
    press(&mut m, KeyCode::Tab); // the form starts on protocol
    typed(&mut m, "5432");
    press(&mut m, KeyCode::Tab);
    typed(&mut m, "0.0.0.0/0");
    press(&mut m, KeyCode::Tab);
    typed(&mut m, "postgres");
    press(&mut m, KeyCode::Enter);
    ch(&mut m, 'w');
    typed(&mut m, "ye");
    for (w, h) in [(80, 24), (160, 48)] {
        let t = draw(&m, w, h);
        let s = screen(&t);
        assert!(s.contains("LOCKOUT"), "{s}");
        insta::assert_snapshot!(format!("review_lockout_{w}x{h}"), t.backend());
    }
}
