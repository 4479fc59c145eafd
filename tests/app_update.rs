//! `app::update` with exact values: filtering, sorting, selection keys, text fields, commands and
//! the accounts form.

mod common;

use crabglamp::app::{Model, Msg, Overlay, Pane, Quit, update};
use crabglamp::domain::AccountKind;
use crabglamp::protocol::{Effect, Mode, WorkerEvent};
use crabglamp::view::vm_index::SortColumn;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

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

fn names(m: &Model) -> Vec<String> {
    m.visible_vms().map(|v| v.record.name.clone()).collect()
}

fn selected(m: &Model) -> Option<String> {
    m.selected_vm().map(|v| v.record.name.clone())
}

#[test]
fn default_sort_is_by_name() {
    let m = common::model();
    assert_eq!(
        names(&m),
        [
            "build-box",
            "db-main",
            "gpu-less",
            "legacy",
            "scratch",
            "stray",
            "web-01",
            "web-02"
        ]
    );
    assert_eq!(selected(&m).as_deref(), Some("build-box"));
}

#[test]
fn filter_narrows_case_insensitively_over_all_columns() {
    let mut m = common::model();
    typed(&mut m, "/WEB");
    assert_eq!(names(&m), ["web-01", "web-02"]);
    assert!(matches!(m.overlay, Some(Overlay::Filter(_))));
    // Enter keeps the filter and closes the line.
    press(&mut m, KeyCode::Enter);
    assert!(m.overlay.is_none());
    assert_eq!(m.vms.filter.text(), "WEB");
    // Another column: the region and the status, two terms that must both match.
    typed(&mut m, "/");
    ctrl(&mut m, 'u');
    typed(&mut m, "eu running");
    assert_eq!(names(&m), ["web-01"]);
    // An IPv4 fragment.
    ctrl(&mut m, 'u');
    typed(&mut m, "113.16");
    assert_eq!(names(&m), ["gpu-less"]);
    // Esc restores the filter from before the line was opened.
    press(&mut m, KeyCode::Esc);
    assert_eq!(m.vms.filter.text(), "WEB");
    assert_eq!(names(&m), ["web-01", "web-02"]);
    // Esc outside the line clears the filter.
    press(&mut m, KeyCode::Esc);
    assert_eq!(names(&m).len(), 8);
}

#[test]
fn unmanaged_and_vanished_are_searchable_words() {
    let mut m = common::model();
    typed(&mut m, "/unmanaged");
    assert_eq!(names(&m), ["stray"]);
    ctrl(&mut m, 'u');
    typed(&mut m, "vanished");
    assert_eq!(names(&m), ["legacy"]);
}

#[test]
fn sort_cycles_columns_and_reverses() {
    let mut m = common::model();
    press(&mut m, KeyCode::Char('o'));
    assert_eq!(m.vms.sort, SortColumn::Account);
    assert_eq!(
        names(&m),
        [
            "db-main",
            "web-01",
            "web-02",
            "legacy",
            "scratch",
            "build-box",
            "gpu-less",
            "stray"
        ]
    );
    press(&mut m, KeyCode::Char('O'));
    assert!(m.vms.reverse);
    assert_eq!(
        names(&m),
        [
            "stray",
            "gpu-less",
            "build-box",
            "scratch",
            "legacy",
            "web-02",
            "web-01",
            "db-main"
        ]
    );
    // Sort by IPv4, numerically, missing addresses last.
    for _ in 0..5 {
        press(&mut m, KeyCode::Char('o'));
    }
    assert_eq!(m.vms.sort, SortColumn::Ipv4);
    assert!(!m.vms.reverse);
    assert_eq!(
        names(&m),
        [
            "web-01",
            "web-02",
            "db-main",
            "build-box",
            "gpu-less",
            "legacy",
            "stray",
            "scratch"
        ]
    );
    // The selection follows the VM, not the position.
    assert_eq!(selected(&m).as_deref(), Some("build-box"));
}

#[test]
fn keys_move_the_selection() {
    let mut m = common::model();
    press(&mut m, KeyCode::Char('j'));
    assert_eq!(selected(&m).as_deref(), Some("db-main"));
    press(&mut m, KeyCode::Down);
    assert_eq!(selected(&m).as_deref(), Some("gpu-less"));
    press(&mut m, KeyCode::Char('k'));
    assert_eq!(selected(&m).as_deref(), Some("db-main"));
    press(&mut m, KeyCode::Char('G'));
    assert_eq!(selected(&m).as_deref(), Some("web-02"));
    press(&mut m, KeyCode::Char('j'));
    assert_eq!(selected(&m).as_deref(), Some("web-02"));
    press(&mut m, KeyCode::Home);
    assert_eq!(selected(&m).as_deref(), Some("build-box"));
    press(&mut m, KeyCode::Up);
    assert_eq!(selected(&m).as_deref(), Some("build-box"));
    // Before any render the page is 2 rows: Ctrl-d moves one, PgDn two.
    ctrl(&mut m, 'd');
    assert_eq!(selected(&m).as_deref(), Some("db-main"));
    press(&mut m, KeyCode::PageDown);
    assert_eq!(selected(&m).as_deref(), Some("legacy"));
    press(&mut m, KeyCode::End);
    assert_eq!(selected(&m).as_deref(), Some("web-02"));
}

#[test]
fn panes_switch_by_tab_number_and_command() {
    let mut m = common::model();
    press(&mut m, KeyCode::Tab);
    assert_eq!(m.pane, Pane::Firewall);
    press(&mut m, KeyCode::BackTab);
    assert_eq!(m.pane, Pane::Vms);
    press(&mut m, KeyCode::BackTab);
    assert_eq!(m.pane, Pane::Audit);
    press(&mut m, KeyCode::Char('3'));
    assert_eq!(m.pane, Pane::Vault);
    typed(&mut m, ":usage");
    press(&mut m, KeyCode::Enter);
    assert_eq!(m.pane, Pane::Usage);
    assert!(m.overlay.is_none());
    typed(&mut m, ":fw");
    press(&mut m, KeyCode::Enter);
    assert_eq!(m.pane, Pane::Firewall);
}

#[test]
fn q_quits_and_ctrl_c_quits_outside_text_fields() {
    let mut m = common::model();
    press(&mut m, KeyCode::Char('q'));
    assert_eq!(m.quit, Quit::Now);
    let mut m = common::model();
    ctrl(&mut m, 'c');
    assert_eq!(m.quit, Quit::Now);
    let mut m = common::model();
    typed(&mut m, ":q");
    press(&mut m, KeyCode::Enter);
    assert_eq!(m.quit, Quit::Now);
}

#[test]
fn quitting_while_an_operation_runs_asks_again_and_names_it() {
    let mut m = common::model();
    let vm = m
        .snapshot
        .vms
        .iter()
        .find(|v| v.record.name == "db-main")
        .unwrap()
        .record
        .id;
    update(
        &mut m,
        Msg::Worker(WorkerEvent::Progress {
            vm_id: vm,
            percent: 60,
            step: "deleting firewall".into(),
        }),
    );
    press(&mut m, KeyCode::Char('q'));
    assert_ne!(m.quit, Quit::Now);
    assert_eq!(m.quit, Quit::Armed);
    assert_eq!(
        m.toasts.last().map(|t| (t.text.as_str(), t.error)),
        Some((
            "q again to quit and cut off: db-main (deleting firewall) (or wait for it to end)",
            true
        ))
    );
    // Any other key disarms: the next q asks again.
    press(&mut m, KeyCode::Char('j'));
    assert_ne!(m.quit, Quit::Armed);
    ctrl(&mut m, 'c');
    assert_ne!(m.quit, Quit::Now);
    // Asked twice in a row: quits.
    press(&mut m, KeyCode::Char('q'));
    assert_eq!(m.quit, Quit::Now);

    // `:q!` quits at once; once the operation has ended, q quits at once.
    let mut m2 = common::model();
    update(
        &mut m2,
        Msg::Worker(WorkerEvent::Progress {
            vm_id: vm,
            percent: 0,
            step: "deleting server".into(),
        }),
    );
    typed(&mut m2, ":q!");
    press(&mut m2, KeyCode::Enter);
    assert_eq!(m2.quit, Quit::Now);
    let mut m3 = common::model();
    update(
        &mut m3,
        Msg::Worker(WorkerEvent::Progress {
            vm_id: vm,
            percent: 0,
            step: "deleting server".into(),
        }),
    );
    update(
        &mut m3,
        Msg::Worker(WorkerEvent::OperationFailed {
            vm_id: vm,
            error: "destroying db-main failed".into(),
        }),
    );
    press(&mut m3, KeyCode::Char('q'));
    assert_eq!(m3.quit, Quit::Now);
}

#[test]
fn a_quit_in_the_same_burst_as_the_destroy_it_follows_still_asks() {
    let mut m = common::model();
    let id = m.selected_vm().unwrap().record.id;
    assert_eq!(m.selected_vm().unwrap().record.name, "build-box");
    press(&mut m, KeyCode::Char('D'));
    typed(&mut m, "build-box");
    assert_eq!(
        press(&mut m, KeyCode::Enter),
        vec![Effect::Destroy { vm_id: id }]
    );
    // No progress event from the worker yet.
    press(&mut m, KeyCode::Char('q'));
    assert_ne!(m.quit, Quit::Now);
    assert_eq!(
        m.toasts.last().map(|t| t.text.as_str()),
        Some("q again to quit and cut off: build-box (starting) (or wait for it to end)")
    );
    // The worker refused it (e.g. read-only): nothing runs, q quits at once.
    update(
        &mut m,
        Msg::Worker(WorkerEvent::Refused {
            reason: "read-only".into(),
        }),
    );
    press(&mut m, KeyCode::Char('j'));
    press(&mut m, KeyCode::Char('q'));
    assert_eq!(m.quit, Quit::Now);
}

#[test]
fn ctrl_c_in_a_text_field_clears_then_cancels_and_never_quits() {
    let mut m = common::model();
    typed(&mut m, "/web");
    assert_eq!(names(&m).len(), 2);
    ctrl(&mut m, 'c');
    assert_ne!(m.quit, Quit::Now);
    assert_eq!(m.vms.filter.text(), "");
    assert_eq!(names(&m).len(), 8);
    assert!(matches!(m.overlay, Some(Overlay::Filter(_))));
    ctrl(&mut m, 'c');
    assert_ne!(m.quit, Quit::Now);
    assert!(m.overlay.is_none());
    // Same in the command line; `q` typed there is text, not quit.
    typed(&mut m, ":q");
    ctrl(&mut m, 'c');
    assert_ne!(m.quit, Quit::Now);
    match &m.overlay {
        Some(Overlay::Command(c)) => assert_eq!(c.input, ""),
        other => panic!("expected the command line, got {other:?}"),
    }
    ctrl(&mut m, 'c');
    assert!(m.overlay.is_none());
    assert_ne!(m.quit, Quit::Now);
}

#[test]
fn unknown_command_shows_an_error_and_keeps_the_text() {
    let mut m = common::model();
    typed(&mut m, ":bogus");
    let fx = press(&mut m, KeyCode::Enter);
    assert!(fx.is_empty());
    match &m.overlay {
        Some(Overlay::Command(c)) => {
            assert_eq!(c.input, "bogus");
            assert_eq!(
                c.error.as_deref(),
                Some(
                    "unknown command ':bogus' (known: :vms :fw :vault :usage :audit :accounts :refresh :create :help :q)"
                )
            );
        }
        other => panic!("expected the command line, got {other:?}"),
    }
    // Editing clears the error; fixing the text runs it.
    press(&mut m, KeyCode::Backspace);
    match &m.overlay {
        Some(Overlay::Command(c)) => {
            assert_eq!((c.input.text(), c.error.as_deref()), ("bogu", None))
        }
        other => panic!("expected the command line, got {other:?}"),
    }
    for _ in 0..4 {
        press(&mut m, KeyCode::Backspace);
    }
    typed(&mut m, "audit");
    press(&mut m, KeyCode::Enter);
    assert_eq!(m.pane, Pane::Audit);
    assert!(m.overlay.is_none());
}

#[test]
fn colon_after_a_failed_command_starts_a_fresh_line() {
    let mut m = common::model();
    typed(&mut m, ":frobnicate");
    press(&mut m, KeyCode::Enter);
    typed(&mut m, ":fw");
    match &m.overlay {
        Some(Overlay::Command(c)) => {
            assert_eq!((c.input.text(), c.error.as_deref()), ("fw", None))
        }
        other => panic!("expected the command line, got {other:?}"),
    }
    // Without an error, `:` is text like any other character.
    typed(&mut m, ":x");
    match &m.overlay {
        Some(Overlay::Command(c)) => assert_eq!(c.input, "fw:x"),
        other => panic!("expected the command line, got {other:?}"),
    }
}

#[test]
fn refresh_sends_the_effect() {
    let mut m = common::model();
    assert_eq!(press(&mut m, KeyCode::Char('r')), vec![Effect::Refresh]);
}

#[test]
fn add_account_only_for_a_valid_new_slug() {
    let mut m = common::model();
    press(&mut m, KeyCode::Char('A'));
    press(&mut m, KeyCode::Char('n'));
    typed(&mut m, "Bad_Slug");
    let fx = press(&mut m, KeyCode::Enter);
    assert!(fx.is_empty());
    let form = |m: &Model| match &m.overlay {
        Some(Overlay::Accounts(a)) => a.form.clone(),
        _ => None,
    };
    let f = form(&m).unwrap();
    assert_eq!(f.slug, "Bad_Slug");
    assert_eq!(
        f.error.as_deref(),
        Some("account slug: 'B' not allowed (lowercase letters, digits, hyphens only)")
    );
    // An existing slug is refused too.
    ctrl(&mut m, 'u');
    typed(&mut m, "acme");
    assert!(press(&mut m, KeyCode::Enter).is_empty());
    assert_eq!(
        form(&m).unwrap().error.as_deref(),
        Some("account slug: 'acme' already exists")
    );
    // Ctrl-C clears the field (no quit), Tab switches the kind.
    ctrl(&mut m, 'c');
    assert_ne!(m.quit, Quit::Now);
    assert_eq!(form(&m).unwrap().slug, "");
    typed(&mut m, "initech");
    press(&mut m, KeyCode::Tab);
    assert_eq!(form(&m).unwrap().kind, AccountKind::Personal);
    press(&mut m, KeyCode::Tab);
    let fx = press(&mut m, KeyCode::Enter);
    assert_eq!(
        fx,
        vec![Effect::AddAccount {
            slug: "initech".into(),
            kind: AccountKind::Organization
        }]
    );
    assert!(form(&m).is_none());
}

#[test]
fn account_filter_cycles_and_applies_to_every_pane() {
    let mut m = common::model();
    press(&mut m, KeyCode::Char('a'));
    assert_eq!(m.account_filter.as_deref(), Some("acme"));
    assert_eq!(names(&m), ["db-main", "web-01", "web-02"]);
    assert_eq!(m.vault_ui.rows.len(), 2);
    assert_eq!(m.audit_ui.rows.len(), 1);
    press(&mut m, KeyCode::Char('a'));
    assert_eq!(m.account_filter.as_deref(), Some("alice"));
    assert_eq!(names(&m), ["legacy", "scratch"]);
    // The transfer from alice to globex shows for both.
    assert_eq!(m.audit_ui.rows.len(), 1);
    press(&mut m, KeyCode::Char('a'));
    press(&mut m, KeyCode::Char('a'));
    assert_eq!(m.account_filter, None);
    assert_eq!(names(&m).len(), 8);
}

#[test]
fn vault_shows_deleted_keys_still_on_live_vms() {
    let m = common::model();
    let rows: Vec<(String, bool, Vec<String>)> = m
        .vault_ui
        .rows
        .iter()
        .map(|r| {
            let e = m.vault_entry(r).unwrap();
            (e.label.clone(), e.deleted_at.is_some(), r.holders.clone())
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                "ops-laptop".into(),
                false,
                vec!["db-main".into(), "web-01".into(), "web-02".into()]
            ),
            ("old-ci".into(), true, vec!["web-01".into()]),
            // legacy is vanished (not live): only scratch holds alice's key.
            ("alice@home".into(), false, vec!["scratch".into()]),
            (
                "deploy".into(),
                false,
                vec!["build-box".into(), "gpu-less".into()]
            ),
        ]
    );
}

#[test]
fn usage_sums_this_month_by_account() {
    let m = common::model();
    let u = &m.usage_ui.view;
    let r = u.report.as_ref().unwrap();
    // This month (2026-11), every day of it, the last 7 with usage.
    assert_eq!(r.daily.len(), 30);
    assert_eq!(r.daily.last().unwrap().1.seconds, 4 * 9 * 3600);
    assert_eq!(r.daily[r.daily.len() - 2].1.seconds, 4 * 86_400);
    let acme = r.groups.iter().find(|g| g.key == "acme").unwrap();
    assert_eq!(acme.totals.seconds, 3 * (6 * 86_400 + 9 * 3600));
    assert!(u.month_end.is_some());
}

#[test]
fn status_words_and_errors() {
    let mut m = common::model();
    assert_eq!(m.badges(), ["DEMO"]);
    assert_eq!(m.sync_label(), "synced 12s ago");
    update(
        &mut m,
        Msg::Worker(WorkerEvent::SyncFailed {
            error: "connection refused".into(),
            offline: true,
        }),
    );
    assert_eq!(m.badges(), ["DEMO", "OFFLINE"]);
    assert_eq!(m.last_error.as_deref(), Some("connection refused"));
    update(
        &mut m,
        Msg::Tick {
            now: common::now() + chrono::Duration::minutes(10),
        },
    );
    assert_eq!(m.sync_label(), "stale (synced 10m ago)");
    update(
        &mut m,
        Msg::Worker(WorkerEvent::Refused {
            reason: "read-only mode".into(),
        }),
    );
    assert_eq!(m.toasts.len(), 1);
    assert_eq!(m.toasts[0].text, "refused: read-only mode");
    // Toasts go after 4 s.
    update(
        &mut m,
        Msg::Tick {
            now: common::now() + chrono::Duration::minutes(10) + chrono::Duration::seconds(5),
        },
    );
    assert!(m.toasts.is_empty());
}

#[test]
fn a_tick_redraws_only_when_something_shown_changes() {
    let mut m = common::model();
    m.dirty = false;
    // Same second: nothing changes.
    update(&mut m, Msg::Tick { now: common::now() });
    assert!(!m.dirty);
    update(
        &mut m,
        Msg::Tick {
            now: common::now() + chrono::Duration::seconds(1),
        },
    );
    assert!(m.dirty);
}

#[test]
fn a_new_snapshot_keeps_the_selected_vm() {
    let mut m = common::model();
    press(&mut m, KeyCode::Char('G'));
    assert_eq!(selected(&m).as_deref(), Some("web-02"));
    let mut snap = common::snapshot();
    snap.vms.retain(|v| v.record.name != "db-main");
    update(&mut m, Msg::Worker(WorkerEvent::Snapshot(Box::new(snap))));
    assert_eq!(selected(&m).as_deref(), Some("web-02"));
    assert_eq!(m.vms.list.selected, 6);
}

#[test]
fn deleted_vms_are_hidden_until_d() {
    let mut snap = common::snapshot();
    snap.vms[2].record.status = crabglamp::domain::VmStatus::Deleted;
    let mut m = common::model_with(snap, false);
    assert_eq!(
        names(&m),
        [
            "build-box",
            "gpu-less",
            "legacy",
            "scratch",
            "stray",
            "web-01",
            "web-02"
        ]
    );
    press(&mut m, KeyCode::Char('d'));
    assert_eq!(names(&m).len(), 8);
    assert!(names(&m).contains(&"db-main".to_string()));
}

/// A console opened on a store that synced in an earlier session starts with that time (from
/// the store) and a stale snapshot: the label names it; without one, "never synced".
#[test]
fn the_status_bar_names_an_earlier_sessions_last_sync() {
    let mut m = Model::new(Mode::Live, false, false, "ops", common::now());
    m.last_sync = Some(common::now() - chrono::Duration::minutes(125));
    let mut snap = common::snapshot();
    snap.stale = true;
    update(&mut m, Msg::Worker(WorkerEvent::Snapshot(Box::new(snap))));
    assert_eq!(m.sync_label(), "stale (synced 2h ago)");
    let fresh = Model::new(Mode::Live, false, false, "ops", common::now());
    assert_eq!(fresh.sync_label(), "stale (never synced)");
}

#[test]
fn an_audit_filter_keystroke_re_derives_only_the_audit_timeline() {
    let mut m = common::demo_model();
    let (vault, usage, audit) = (m.vault_ui.derives, m.usage_ui.derives, m.audit_ui.derives);
    let usage_view = m.usage_ui.view.clone();
    press(&mut m, KeyCode::Char('5'));
    press(&mut m, KeyCode::Char('/'));
    for c in "web".chars() {
        press(&mut m, KeyCode::Char(c));
    }
    update(&mut m, Msg::Paste("-0".into()));
    press(&mut m, KeyCode::Backspace);
    assert_eq!(m.audit_ui.filter.text(), "web-");
    assert_eq!(
        m.audit_ui.derives,
        audit + 5,
        "one audit derive per keystroke"
    );
    assert_eq!(
        m.vault_ui.derives, vault,
        "the Vault holders are not recomputed"
    );
    assert_eq!(
        m.usage_ui.derives, usage,
        "the usage report is not recomputed"
    );
    assert_eq!(m.usage_ui.view, usage_view);
}

#[test]
fn attached_to_a_service_quitting_during_a_destroy_quits_at_once() {
    // The service runs the destroy to its end whoever quits: nothing to cut off.
    let mut m = common::model();
    m.attachment = crabglamp::protocol::wire::Attachment::Shared {
        host: "ops1".into(),
        socket: "/run/crabglamp/crabglamp.sock".into(),
    };
    let vm = m.selected_vm().unwrap().record.id;
    update(
        &mut m,
        Msg::Worker(WorkerEvent::Progress {
            vm_id: vm,
            percent: 60,
            step: "deleting firewall".into(),
        }),
    );
    press(&mut m, KeyCode::Char('q'));
    assert_eq!(m.quit, Quit::Now);
}
