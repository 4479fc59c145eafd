//! The VM lifecycle dialogs (issue 4, UI half) through `app::update` with exact values, and
//! their snapshots at 80×24 and 160×48.

mod common;

use crabglamp::app::lifecycle::LifeDialog;
use crabglamp::app::{Model, Msg, update};
use crabglamp::domain::{BillingType, ImageKey, Region, Tier};
use crabglamp::protocol::{
    Effect, PowerAction, ProvisionRequest, ProvisionResult, Secret, WorkerEvent,
};
use crabglamp::ui::render;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use uuid::Uuid;

const FAKE_PASSWORD: &str = "Fake-Once-7q2Wx9";

fn press(m: &mut Model, code: KeyCode) -> Vec<Effect> {
    update(m, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ctrl(m: &mut Model, c: char) -> Vec<Effect> {
    update(
        m,
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)),
    )
}

fn typed(m: &mut Model, s: &str) -> Vec<Effect> {
    s.chars().flat_map(|c| press(m, KeyCode::Char(c))).collect()
}

fn draw(model: &Model, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render(f, model)).unwrap();
    t
}

fn screen_text(model: &Model, w: u16, h: u16) -> String {
    let t = draw(model, w, h);
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

fn create_errors(m: &Model) -> Vec<String> {
    match &m.life.dialog {
        Some(LifeDialog::Create(d)) => d.errors.clone(),
        other => panic!("expected the create dialog, got {other:?}"),
    }
}

fn confirm_error(m: &Model) -> Option<String> {
    match &m.life.dialog {
        Some(LifeDialog::Confirm(d)) => d.error.clone(),
        other => panic!("expected a confirmation, got {other:?}"),
    }
}

/// The create dialog with a bad name and no key picked, as the snapshot shows it.
fn create_with_errors() -> Model {
    let mut m = common::model();
    assert_eq!(press(&mut m, KeyCode::Char('n')), vec![]);
    typed(&mut m, "Web_1");
    assert_eq!(press(&mut m, KeyCode::Enter), vec![]);
    m
}

#[test]
fn invalid_fields_are_named_and_the_input_is_kept() {
    let m = create_with_errors();
    assert_eq!(
        create_errors(&m),
        [
            "name: 'W' is not allowed (lowercase letters, digits and hyphens only)",
            "keys: pick at least one Vault key (Space)",
        ]
    );
    match &m.life.dialog {
        Some(LifeDialog::Create(d)) => {
            assert_eq!(d.name, "Web_1");
            assert_eq!(d.account, "globex");
            assert!(!d.in_flight);
        }
        other => panic!("{other:?}"),
    }
    // A live VM's name is taken.
    let mut m = common::model();
    press(&mut m, KeyCode::Char('n'));
    typed(&mut m, "web-01");
    press(&mut m, KeyCode::Enter);
    assert_eq!(
        create_errors(&m)[0],
        "name: web-01 is already used in this project"
    );
}

#[test]
fn create_sends_provision_once_with_the_chosen_fields() {
    let mut m = common::model();
    press(&mut m, KeyCode::Char('n'));
    typed(&mut m, "web-03");
    press(&mut m, KeyCode::Tab); // account (globex)
    press(&mut m, KeyCode::Tab); // region
    press(&mut m, KeyCode::Right); // EU → US
    press(&mut m, KeyCode::Tab); // tier
    press(&mut m, KeyCode::Right); // small → medium
    press(&mut m, KeyCode::Tab); // image
    press(&mut m, KeyCode::Left); // ubuntu-24.04 → alma-10 (wraps)
    press(&mut m, KeyCode::Tab); // billing
    press(&mut m, KeyCode::Right); // metered → subscription
    press(&mut m, KeyCode::Tab); // keys
    press(&mut m, KeyCode::Char(' ')); // pick "deploy"
    press(&mut m, KeyCode::Tab); // password
    press(&mut m, KeyCode::Char(' '));
    let fx = press(&mut m, KeyCode::Enter);
    let deploy = common::key(4, "globex", "deploy", false).id;
    assert_eq!(
        fx,
        vec![Effect::Provision(ProvisionRequest {
            name: "web-03".into(),
            account: "globex".into(),
            region: Region::Us,
            tier: Tier::Medium,
            image: ImageKey::Alma10,
            billing_type: BillingType::Subscription,
            key_ids: vec![deploy],
            one_time_password: true,
        })]
    );
    // A repeated Enter sends nothing more while the first is in flight.
    assert_eq!(press(&mut m, KeyCode::Enter), vec![]);
    assert_eq!(press(&mut m, KeyCode::Enter), vec![]);
    // A refusal re-enables the dialog with the reason and keeps the input.
    update(
        &mut m,
        Msg::Worker(WorkerEvent::Refused {
            reason: "name: cannot check it with Hetzner: offline".into(),
        }),
    );
    assert_eq!(
        create_errors(&m),
        ["name: cannot check it with Hetzner: offline"]
    );
    assert_eq!(press(&mut m, KeyCode::Enter).len(), 1);
}

#[test]
fn progress_shows_in_the_list_and_detail() {
    let mut m = common::model();
    let scratch = m
        .snapshot
        .vms
        .iter()
        .find(|v| v.record.name == "scratch")
        .unwrap()
        .record
        .id;
    update(
        &mut m,
        Msg::Worker(WorkerEvent::Progress {
            vm_id: scratch,
            percent: 40,
            step: "creating server".into(),
        }),
    );
    typed(&mut m, "/scratch");
    press(&mut m, KeyCode::Enter);
    let text = screen_text(&m, 160, 48);
    assert!(text.contains("40% provisi…"), "{text}");
    assert!(text.contains("40% creating server"), "{text}");
    update(
        &mut m,
        Msg::Worker(WorkerEvent::OperationFailed {
            vm_id: scratch,
            error: "server create failed".into(),
        }),
    );
    assert!(m.life.progress.is_empty());
}

fn provisioned(password: bool) -> WorkerEvent {
    WorkerEvent::Provisioned(Box::new(ProvisionResult {
        vm_id: Uuid::from_u128(99),
        name: "web-03".into(),
        account: "globex".into(),
        ipv4: Some("203.0.113.30".into()),
        ipv6: Some("2001:db8:30::/64".into()),
        default_user: "root".into(),
        ssh_command: "ssh root@203.0.113.30".into(),
        key_fingerprints: vec!["SHA256:00000000000000k4fingerprintAbCdEf".into()],
        one_time_password: password.then(|| Secret::new(FAKE_PASSWORD)),
    }))
}

#[test]
fn the_one_time_password_is_shown_once_then_dropped() {
    let mut m = common::model();
    update(&mut m, Msg::Worker(provisioned(true)));
    assert!(screen_text(&m, 160, 48).contains(FAKE_PASSWORD));
    assert!(screen_text(&m, 80, 24).contains(FAKE_PASSWORD));
    // Debug of the model never shows it, even while the view is open.
    assert!(!format!("{m:?}").contains(FAKE_PASSWORD));
    press(&mut m, KeyCode::Esc);
    assert!(m.life.dialog.is_none());
    for (w, h) in [(80, 24), (160, 48)] {
        assert!(!screen_text(&m, w, h).contains(FAKE_PASSWORD));
    }
    assert!(!format!("{m:?}").contains(FAKE_PASSWORD));
    assert!(!format!("{m:#?}").contains(FAKE_PASSWORD));
}

#[test]
fn destroy_needs_the_exact_name() {
    let mut m = common::model();
    let id = m.selected_vm().unwrap().record.id;
    assert_eq!(m.selected_vm().unwrap().record.name, "build-box");
    assert_eq!(press(&mut m, KeyCode::Char('D')), vec![]);
    // Stray keys only type; y and Enter on a mismatch never confirm.
    assert_eq!(typed(&mut m, "y"), vec![]);
    assert_eq!(press(&mut m, KeyCode::Enter), vec![]);
    assert_eq!(
        confirm_error(&m).as_deref(),
        Some("the name does not match: type build-box exactly (Esc cancels)")
    );
    ctrl(&mut m, 'u');
    typed(&mut m, "build-bo");
    assert_eq!(press(&mut m, KeyCode::Enter), vec![]);
    typed(&mut m, "xx");
    assert_eq!(press(&mut m, KeyCode::Enter), vec![]);
    press(&mut m, KeyCode::Backspace);
    press(&mut m, KeyCode::Backspace);
    typed(&mut m, "x");
    assert_eq!(
        press(&mut m, KeyCode::Enter),
        vec![Effect::Destroy { vm_id: id }]
    );
    assert!(m.life.dialog.is_none());
    assert_eq!(
        m.toasts.last().map(|t| t.text.as_str()),
        Some("destroying build-box — this cannot be cancelled")
    );
}

#[test]
fn transfer_to_a_personal_account_is_refused() {
    let mut m = common::model();
    let id = m.selected_vm().unwrap().record.id;
    press(&mut m, KeyCode::Char('T'));
    // Destinations: acme (org), alice (personal).
    press(&mut m, KeyCode::Char('j'));
    assert_eq!(press(&mut m, KeyCode::Enter), vec![]);
    assert_eq!(
        confirm_error(&m).as_deref(),
        Some("to: alice is a personal account; a VM moves only to an organization")
    );
    press(&mut m, KeyCode::Char('k'));
    assert_eq!(press(&mut m, KeyCode::Enter), vec![]);
    assert_eq!(typed(&mut m, "build-box"), vec![]);
    assert_eq!(
        press(&mut m, KeyCode::Enter),
        vec![Effect::Transfer {
            vm_id: id,
            to: "acme".into()
        }]
    );
}

#[test]
fn power_and_billing_confirm() {
    let mut m = common::model();
    let id = m.selected_vm().unwrap().record.id;
    // build-box is running: start is refused, stop asks first.
    assert_eq!(press(&mut m, KeyCode::Char('s')), vec![]);
    assert!(m.toasts.last().unwrap().error);
    assert_eq!(press(&mut m, KeyCode::Char('S')), vec![]);
    assert!(screen_text(&m, 80, 24).contains("stopped time bills the same as running"));
    assert_eq!(
        press(&mut m, KeyCode::Char('F')),
        vec![Effect::Power {
            vm_id: id,
            action: PowerAction::Stop { force: true }
        }]
    );
    press(&mut m, KeyCode::Char('R'));
    assert_eq!(
        press(&mut m, KeyCode::Enter),
        vec![Effect::Power {
            vm_id: id,
            action: PowerAction::Reboot
        }]
    );
    press(&mut m, KeyCode::Char('B'));
    assert_eq!(
        press(&mut m, KeyCode::Char('y')),
        vec![Effect::SetBilling {
            vm_id: id,
            billing_type: BillingType::Subscription
        }]
    );
}

#[test]
fn read_only_dialogs_say_so() {
    let mut m = common::model();
    m.read_only = true;
    press(&mut m, KeyCode::Char('n'));
    assert!(screen_text(&m, 160, 48).contains("Create a Plain VM (read-only"));
}

#[test]
fn create_dialog_with_errors_snapshots() {
    let m = create_with_errors();
    for (w, h) in [(80, 24), (160, 48)] {
        insta::assert_snapshot!(format!("create_errors_{w}x{h}"), draw(&m, w, h).backend());
    }
}

#[test]
fn success_view_snapshots() {
    let mut m = common::model();
    update(&mut m, Msg::Worker(provisioned(true)));
    for (w, h) in [(80, 24), (160, 48)] {
        insta::assert_snapshot!(format!("success_{w}x{h}"), draw(&m, w, h).backend());
    }
}

#[test]
fn destroy_confirm_snapshots() {
    let mut m = common::model();
    press(&mut m, KeyCode::Char('D'));
    typed(&mut m, "build");
    press(&mut m, KeyCode::Enter);
    for (w, h) in [(80, 24), (160, 48)] {
        insta::assert_snapshot!(format!("destroy_{w}x{h}"), draw(&m, w, h).backend());
    }
}

fn audit_seqs(m: &Model) -> Vec<u64> {
    m.audit_ui
        .rows
        .iter()
        .map(|&i| m.snapshot.audit[i].seq)
        .collect()
}

#[test]
fn audit_filters_by_kind_and_substring_and_opens_the_detail() {
    let mut m = common::model();
    press(&mut m, KeyCode::Char('5'));
    assert_eq!(audit_seqs(&m), [2, 1]);
    press(&mut m, KeyCode::Char('K'));
    assert_eq!(audit_seqs(&m), [1]);
    press(&mut m, KeyCode::Char('K'));
    assert_eq!(audit_seqs(&m), [2]);
    press(&mut m, KeyCode::Char('K'));
    assert_eq!(audit_seqs(&m), [2, 1]);
    typed(&mut m, "/old-web");
    assert_eq!(audit_seqs(&m), [1]);
    press(&mut m, KeyCode::Enter);
    assert!(!m.audit_ui.editing);
    assert_eq!(m.audit_ui.filter.text(), "old-web");
    press(&mut m, KeyCode::Enter);
    assert!(m.audit_ui.detail);
    let hash = m.snapshot.audit[0].hash.clone();
    let text = screen_text(&m, 160, 48);
    assert!(text.contains(&hash), "{text}");
    press(&mut m, KeyCode::Esc);
    assert!(!m.audit_ui.detail);
    typed(&mut m, "/");
    press(&mut m, KeyCode::Esc);
    assert_eq!(audit_seqs(&m), [2, 1]);
}

#[test]
fn audit_pane_snapshots() {
    let mut m = common::model();
    press(&mut m, KeyCode::Char('5'));
    press(&mut m, KeyCode::Char('K'));
    press(&mut m, KeyCode::Char('K'));
    for (w, h) in [(80, 24), (160, 48)] {
        insta::assert_snapshot!(format!("audit_filtered_{w}x{h}"), draw(&m, w, h).backend());
    }
    press(&mut m, KeyCode::Char('K'));
    press(&mut m, KeyCode::Enter);
    for (w, h) in [(80, 24), (160, 48)] {
        insta::assert_snapshot!(format!("audit_detail_{w}x{h}"), draw(&m, w, h).backend());
    }
}

/// The inside of the create dialog (between its side borders), trimmed at the end.
fn create_box(s: &str) -> Vec<String> {
    let top = s
        .lines()
        .find(|l| l.contains("Create a Plain VM"))
        .expect("the create dialog");
    let at = top[..top.find("Create a Plain VM").unwrap()]
        .chars()
        .count();
    let x = top
        .chars()
        .take(at)
        .collect::<Vec<_>>()
        .iter()
        .rposition(|c| *c == '╭')
        .unwrap();
    let w = top.chars().skip(x).position(|c| c == '╮').unwrap();
    s.lines()
        .skip_while(|l| !l.contains("Create a Plain VM"))
        .map(|l| l.chars().skip(x).take(w + 1).collect::<String>())
        .take_while(|l| !l.starts_with('╰'))
        .map(|l| {
            l.trim_end_matches(['│', ' '])
                .trim_start_matches('│')
                .to_string()
        })
        .collect()
}

/// No line of the create dialog wraps to its left border: key lines align with the first, the
/// one-time password note goes under the checkbox; at the minimum size (60×15) the fields
/// scroll so that the focused one, the errors and the key hint stay visible.
#[test]
fn the_create_dialog_aligns_and_fits_the_minimum_size() {
    let mut m = common::demo_model();
    press(&mut m, KeyCode::Char('n'));
    press(&mut m, KeyCode::Enter);
    assert_eq!(
        create_box(&screen_text(&m, 80, 24)),
        [
            "╭ Create a Plain VM ───────────────────────────────────────────────────────╮",
            "› name     ▏",
            "  account  acme",
            "  region   EU  Hetzner hel1",
            "  tier     small  2 vCPU · 4 GB RAM · 80 GB disk",
            "  image    ubuntu-24.04  Ubuntu 24.04 LTS · user ubuntu",
            "  billing  metered",
            "  keys     [ ] CI deploy SHA256:SAep4c4qaKHrecguX+28wexpwMtvdVKk5YwJwax0N…",
            "           [ ] ops (RSA) SHA256:XKUqAUrMx6UFY6GxsyctcOcIQPP0dP36NvE750r02…",
            "           [ ] bob's MacBook SHA256:xbdMmOEqVx1go6JasGzA/BzWZbgbVC/ele80S…",
            "  password [ ] one-time password for ubuntu",
            "           (shown once, change forced at first login)",
            "",
            "✗ name: must not be empty",
            "✗ keys: pick at least one Vault key (Space)",
            "Tab/↑↓ · ←→ · Space pick · Enter create · Esc cancel",
        ]
    );
    // 60×15: the fields scroll, the errors and the key hint stay.
    assert_eq!(
        create_box(&screen_text(&m, 60, 15)),
        [
            "╭ Create a Plain VM · ↓ more ──────────────────────────╮",
            "› name     ▏",
            "  account  acme",
            "  region   EU  Hetzner hel1",
            "  tier     small  2 vCPU · 4 GB RAM · 80 GB disk",
            "  image    ubuntu-24.04  Ubuntu 24.04 LTS · user ubun…",
            "  billing  metered",
            "  keys     [ ] CI deploy SHA256:SAep4c4qaKHrecguX+28w…",
            "           [ ] ops (RSA) SHA256:XKUqAUrMx6UFY6Gxsyctc…",
            "✗ name: must not be empty",
            "✗ keys: pick at least one Vault key (Space)",
            "Tab/↑↓ · ←→ · Space pick · Enter create · Esc cancel",
        ]
    );
    // Focus on the last field (password): the window follows it.
    for _ in 0..7 {
        press(&mut m, KeyCode::Tab);
    }
    assert_eq!(
        create_box(&screen_text(&m, 60, 15)),
        [
            "╭ Create a Plain VM · ↑ more ──────────────────────────╮",
            "  tier     small  2 vCPU · 4 GB RAM · 80 GB disk",
            "  image    ubuntu-24.04  Ubuntu 24.04 LTS · user ubun…",
            "  billing  metered",
            "  keys     [ ] CI deploy SHA256:SAep4c4qaKHrecguX+28w…",
            "           [ ] ops (RSA) SHA256:XKUqAUrMx6UFY6Gxsyctc…",
            "           [ ] bob's MacBook SHA256:xbdMmOEqVx1go6Jas…",
            "› password ‹ [ ] one-time password for ubuntu ›",
            "           (shown once, change forced at first login)",
            "✗ name: must not be empty",
            "✗ keys: pick at least one Vault key (Space)",
            "Tab/↑↓ · ←→ · Space pick · Enter create · Esc cancel",
        ]
    );
}

fn create_name(m: &Model) -> String {
    match &m.life.dialog {
        Some(LifeDialog::Create(d)) => d.name.text().to_string(),
        other => panic!("expected the create dialog, got {other:?}"),
    }
}

#[test]
fn a_paste_goes_into_the_create_dialogs_name() {
    let mut m = common::model();
    press(&mut m, KeyCode::Char('n'));
    typed(&mut m, "web");
    // Bracketed paste: inserted at once; the trailing newline never submits, and no control
    // character is inserted.
    assert_eq!(update(&mut m, Msg::Paste("-03\n".into())), vec![]);
    assert_eq!(create_name(&m), "web-03");
    update(&mut m, Msg::Paste("\tx\u{1b}".into()));
    assert_eq!(create_name(&m), "web-03 x ");
    ctrl(&mut m, 'u');
    update(&mut m, Msg::Paste("web-04".into()));
    assert_eq!(create_name(&m), "web-04");
    // Another field focused: the paste is not typed into the name.
    press(&mut m, KeyCode::Tab);
    update(&mut m, Msg::Paste("zzz".into()));
    assert_eq!(create_name(&m), "web-04");
}

#[test]
fn a_paste_confirms_a_destroy_then_enter_destroys() {
    let mut m = common::model();
    let id = m.selected_vm().unwrap().record.id;
    press(&mut m, KeyCode::Char('D'));
    assert_eq!(update(&mut m, Msg::Paste("build-box\n".into())), vec![]);
    assert!(m.life.dialog.is_some(), "a pasted newline never confirms");
    assert_eq!(
        press(&mut m, KeyCode::Enter),
        vec![Effect::Destroy { vm_id: id }]
    );
    assert!(m.life.dialog.is_none());
}

#[test]
fn esc_on_a_create_dialog_with_a_name_asks_first() {
    let mut m = common::model();
    press(&mut m, KeyCode::Char('n'));
    // Nothing typed: Esc closes at once.
    press(&mut m, KeyCode::Esc);
    assert!(m.life.dialog.is_none());
    press(&mut m, KeyCode::Char('n'));
    typed(&mut m, "web-03");
    press(&mut m, KeyCode::Esc);
    assert!(
        matches!(&m.life.dialog, Some(LifeDialog::Create(d)) if d.confirm_discard),
        "Esc with a name typed asks"
    );
    assert!(screen_text(&m, 80, 24).contains("Discard the create dialog and the name typed?"));
    insta::assert_snapshot!("create_discard_80x24", draw(&m, 80, 24).backend());
    // The rest of a split arrow-key sequence (`[A`) changes nothing while asking.
    typed(&mut m, "[A");
    assert_eq!(create_name(&m), "web-03");
    // `n` keeps everything typed and goes on editing.
    press(&mut m, KeyCode::Char('n'));
    assert!(matches!(&m.life.dialog, Some(LifeDialog::Create(d)) if !d.confirm_discard));
    assert_eq!(create_name(&m), "web-03");
    typed(&mut m, "x");
    assert_eq!(create_name(&m), "web-03x");
    // Esc again asks again; Esc on the question keeps too.
    press(&mut m, KeyCode::Esc);
    press(&mut m, KeyCode::Esc);
    assert_eq!(create_name(&m), "web-03x");
    // `y` discards.
    press(&mut m, KeyCode::Esc);
    press(&mut m, KeyCode::Char('y'));
    assert!(m.life.dialog.is_none());
}

fn provisioned_as(name: &str, password: &str, n: u128) -> WorkerEvent {
    WorkerEvent::Provisioned(Box::new(ProvisionResult {
        vm_id: Uuid::from_u128(n),
        name: name.into(),
        account: "globex".into(),
        ipv4: Some("203.0.113.30".into()),
        ipv6: None,
        default_user: "root".into(),
        ssh_command: "ssh root@203.0.113.30".into(),
        key_fingerprints: vec![],
        one_time_password: Some(Secret::new(password)),
    }))
}

fn success_name(m: &Model) -> Option<String> {
    match &m.life.dialog {
        Some(LifeDialog::Success(r)) => Some(r.name.clone()),
        _ => None,
    }
}

#[test]
fn a_second_success_view_waits_until_the_first_is_closed() {
    let mut m = common::model();
    update(
        &mut m,
        Msg::Worker(provisioned_as("web-06", "First-Once-1111", 96)),
    );
    update(
        &mut m,
        Msg::Worker(provisioned_as("web-07", "Second-Once-2222", 97)),
    );
    assert_eq!(success_name(&m).as_deref(), Some("web-06"));
    assert!(screen_text(&m, 160, 48).contains("First-Once-1111"));
    press(&mut m, KeyCode::Enter);
    assert_eq!(success_name(&m).as_deref(), Some("web-07"));
    assert!(screen_text(&m, 160, 48).contains("Second-Once-2222"));
    press(&mut m, KeyCode::Enter);
    assert!(m.life.dialog.is_none());
    assert!(m.life.waiting.is_empty());
}

#[test]
fn a_success_view_does_not_replace_a_half_typed_confirmation() {
    let mut m = common::model();
    press(&mut m, KeyCode::Char('D'));
    typed(&mut m, "build");
    update(
        &mut m,
        Msg::Worker(provisioned_as("web-08", "Third-Once-3333", 98)),
    );
    match &m.life.dialog {
        Some(LifeDialog::Confirm(d)) => assert_eq!(d.typed.text(), "build"),
        other => panic!("expected the destroy confirmation, got {other:?}"),
    }
    assert_eq!(
        m.toasts.last().map(|t| t.text.as_str()),
        Some("web-08 provisioned: its details open when this dialog closes")
    );
    press(&mut m, KeyCode::Esc);
    assert_eq!(success_name(&m).as_deref(), Some("web-08"));
}

#[test]
fn a_vm_left_destroying_by_a_cut_off_destroy_can_be_destroyed_again() {
    let mut snap = common::snapshot();
    let i = snap
        .vms
        .iter()
        .position(|v| v.record.name == "build-box")
        .unwrap();
    snap.vms[i].record.status = crabglamp::domain::VmStatus::Destroying;
    let mut m = common::model_with(snap, false);
    assert_eq!(m.selected_vm().unwrap().record.name, "build-box");
    let id = m.selected_vm().unwrap().record.id;
    press(&mut m, KeyCode::Char('D'));
    typed(&mut m, "build-box");
    assert_eq!(
        press(&mut m, KeyCode::Enter),
        vec![Effect::Destroy { vm_id: id }]
    );
    // While this console's destroy runs, a second one is refused.
    press(&mut m, KeyCode::Char('D'));
    assert!(m.life.dialog.is_none());
    assert!(
        m.toasts
            .last()
            .is_some_and(|t| t.text.contains("already destroyed or being destroyed"))
    );
}

#[test]
fn an_audit_filter_matching_nothing_says_so_not_that_the_log_is_empty() {
    let mut m = common::model();
    press(&mut m, KeyCode::Char('5'));
    typed(&mut m, "/no-such-vm");
    assert_eq!(audit_seqs(&m), Vec::<u64>::new());
    let text = screen_text(&m, 120, 30);
    assert!(
        text.contains("no event matches the filters (2 events in all)"),
        "{text}"
    );
    assert!(!text.contains("no audit events"), "{text}");
}

#[test]
fn esc_in_the_audit_pane_clears_its_filters() {
    let mut m = common::model();
    press(&mut m, KeyCode::Char('5'));
    typed(&mut m, "/old-web");
    press(&mut m, KeyCode::Enter);
    press(&mut m, KeyCode::Char('K'));
    assert_eq!(audit_seqs(&m), [1]);
    press(&mut m, KeyCode::Esc);
    assert_eq!(m.audit_ui.filter.text(), "");
    assert_eq!(m.audit_ui.kind, None);
    assert_eq!(audit_seqs(&m), [2, 1]);
}
