//! The Vault pane through the app (issue 6): every refusal's exact message in the add dialog
//! (typed text kept), the offers (strip options, add each), bracketed paste that never submits,
//! a pasted private key cleared at once and absent from the model, the effects and the screen,
//! answers from a real worker (file paths it reads, duplicates, read-only), the delete dialog
//! with the VMs that keep the key, OSC 52 copy, and snapshots of the dialogs.

mod common;

use std::time::Duration;

use crabglamp::app::panes::vault::{AddFocus, VaultDialog};
use crabglamp::app::{Model, Msg, Pane, update};
use crabglamp::domain::sshkey::KeyError;
use crabglamp::hetzner::{Client, Token};
use crabglamp::protocol::{Effect, KeySource, Mode};
use crabglamp::sim::{self, SimConfig};
use crabglamp::store::Store;
use crabglamp::ui::render;
use crabglamp::worker::{self, WorkerConfig};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const GUARD: Duration = Duration::from_secs(60);

const ED25519: &str = include_str!("../assets/demo-keys/alice-laptop.pub");
const DEPLOY: &str = include_str!("../assets/demo-keys/acme-deploy.pub");
const BOB: &str = include_str!("../assets/demo-keys/initech-milton.pub");
const RSA_1024: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDNDsFQZtkfy8rvX1M7ZyxKHmzK5GgfY4/tkdbVn1bVBGYjvbmSMq2LNGkRpgr1M6Oe4uh1TjKjxDO0Q9AY0VxTG71ZH0/FlkQFdG+ksfiuoFKrO3bGnai6mYcO3Gcs30F1xbiPpEm19eYnt8YH1kY8b1xIRyIfvf4iRkqTp6fCHw== small@rsa";
const PRIVATE_MARK: &str = "Zm9yYmlkZGVuLXByaXZhdGUta2V5LW1hcmtlcg";

fn private_key() -> String {
    format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA{PRIVATE_MARK}\n{PRIVATE_MARK}AAAA\n-----END OPENSSH PRIVATE KEY-----\n"
    )
}

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

fn paste(m: &mut Model, text: &str) -> Vec<Effect> {
    update(m, Msg::Paste(text.to_string()))
}

/// The demo model on the Vault pane, account filter `acme`, add dialog open.
fn add_dialog() -> Model {
    let mut m = common::demo_model();
    m.pane = Pane::Vault;
    m.pane = Pane::Vms;
    for _ in 0..10 {
        if m.account_filter.as_deref() == Some("acme") {
            break;
        }
        ch(&mut m, 'a');
    }
    assert_eq!(m.account_filter.as_deref(), Some("acme"));
    m.pane = Pane::Vault;
    assert!(ch(&mut m, 'a').is_empty());
    m
}

fn dialog_error(m: &Model) -> Option<String> {
    match &m.vault_ui.dialog {
        Some(VaultDialog::Add(d)) => d.error.clone(),
        Some(VaultDialog::Delete(d)) => d.error.clone(),
        None => None,
    }
}

fn dialog_text(m: &Model) -> String {
    match &m.vault_ui.dialog {
        Some(VaultDialog::Add(d)) => d.input.text(),
        _ => panic!("no add dialog"),
    }
}

/// Pastes `text`, presses Enter: the refusal message (the dialog stays open, effects none).
fn refusal(text: &str) -> (Model, String) {
    let mut m = add_dialog();
    assert!(paste(&mut m, text).is_empty());
    let fx = press(&mut m, KeyCode::Enter);
    assert!(fx.is_empty(), "no effect for a refused key: {fx:?}");
    let e = dialog_error(&m).expect("an error in the dialog");
    (m, e)
}

fn screen(m: &Model, w: u16, h: u16) -> (Terminal<TestBackend>, String) {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render(f, m)).unwrap();
    let buf = t.backend().buffer().clone();
    let s = (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n");
    (t, s)
}

#[test]
fn every_refusal_has_its_own_message_and_keeps_the_text() {
    let cases: Vec<(String, String)> = vec![
        (
            " \n ".into(),
            KeyError::Empty.to_string(),
        ),
        (
            "---- BEGIN SSH2 PUBLIC KEY ----\nComment: \"x\"\nAAAAB3NzaC1yc2E=\n---- END SSH2 PUBLIC KEY ----".into(),
            "public key: this is a PuTTY/SSH2-format public key; convert it to one OpenSSH line with `ssh-keygen -i -f KEYFILE` (or PuTTYgen's \"Public key for pasting into OpenSSH authorized_keys file\")".into(),
        ),
        (
            format!("from=\"10.0.0.0/8\",no-pty {BOB}"),
            "public key: authorized_keys options in front of the key are not stored; add the key without them?".into(),
        ),
        (
            "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29t x".into(),
            "public key: ssh-ed25519-cert-v01@openssh.com is an OpenSSH certificate, not a public key; add the key it certifies (the .pub file without -cert)".into(),
        ),
        (
            "ssh-dss AAAAB3NzaC1kc3MAAACBAP= me".into(),
            "public key: ssh-dss (DSA) keys are refused: too weak, and disabled by OpenSSH since 7.0; use ssh-ed25519".into(),
        ),
        (
            format!("{BOB}{ED25519}"),
            "public key: 2 lines pasted (2 of them keys); add one key at a time".into(),
        ),
        (
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSq me".into(),
            "public key: the base64 body is corrupt or does not match the key type ssh-ed25519".into(),
        ),
        (
            "ssh-ed448 AAAA me".into(),
            "public key: type ssh-ed448 is not accepted; accepted: ssh-rsa, ssh-ed25519, ecdsa-sha2-nistp256/384/521, sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com".into(),
        ),
        (
            RSA_1024.into(),
            "public key: ssh-rsa key of 1024 bits is too short: at least 2048 bits are required (shorter RSA keys are within reach of factoring; NIST SP 800-131A)".into(),
        ),
        (
            "hello world".into(),
            "public key: not an OpenSSH public key line (expected `TYPE BASE64 [COMMENT]`)".into(),
        ),
        (
            DEPLOY.into(),
            "public key: already in acme's Vault as 'CI deploy' (SHA256:SAep4c4qaKHrecguX+28wexpwMtvdVKk5YwJwax0NiM)".into(),
        ),
    ];
    for (input, expected) in cases {
        let (m, got) = refusal(&input);
        assert_eq!(got, expected, "for {input:?}");
        // The typed text is kept for correction.
        assert_eq!(
            dialog_text(&m),
            input.replace("\r\n", "\n"),
            "kept: {input:?}"
        );
    }
    // A label that is too long.
    let mut m = add_dialog();
    paste(&mut m, BOB);
    press(&mut m, KeyCode::Tab);
    paste(&mut m, &"x".repeat(101));
    assert!(press(&mut m, KeyCode::Enter).is_empty());
    assert_eq!(
        dialog_error(&m).as_deref(),
        Some("label: 101 characters, at most 100")
    );
}

#[test]
fn offers_are_accepted_with_one_key() {
    // Options in front: y sends the stripped key.
    let (mut m, _) = refusal(&format!("no-pty {BOB}"));
    let fx = ch(&mut m, 'y');
    assert_eq!(
        fx,
        vec![Effect::AddVaultKey {
            account: "acme".into(),
            label: None,
            source: KeySource::Text(BOB.trim().into()),
        }]
    );
    // Several keys: Enter adds each.
    let (mut m, _) = refusal(&format!("{BOB}\n# a comment\n{ED25519}"));
    let fx = press(&mut m, KeyCode::Enter);
    assert_eq!(fx.len(), 2);
    assert_eq!(
        fx[1],
        Effect::AddVaultKey {
            account: "acme".into(),
            label: None,
            source: KeySource::Text(ED25519.trim().into()),
        }
    );
    // Any other key dismisses the offer and edits.
    let (mut m, _) = refusal(&format!("no-pty {BOB}"));
    assert!(ch(&mut m, 'x').is_empty());
    assert_eq!(dialog_error(&m), None);
    assert!(dialog_text(&m).ends_with('x'));
}

#[test]
fn a_pasted_newline_never_submits_and_enter_sends_the_canonical_line() {
    let mut m = add_dialog();
    assert!(paste(&mut m, &format!("  {BOB}\r\n")).is_empty());
    assert!(m.vault_ui.dialog.is_some());
    let fx = press(&mut m, KeyCode::Enter);
    assert_eq!(
        fx,
        vec![Effect::AddVaultKey {
            account: "acme".into(),
            label: None,
            source: KeySource::Text(BOB.trim().into()),
        }]
    );
    // A path goes to the worker as a path.
    let mut m = add_dialog();
    for c in "~/.ssh/id_ed25519.pub".chars() {
        ch(&mut m, c);
    }
    press(&mut m, KeyCode::Tab);
    for c in "laptop".chars() {
        ch(&mut m, c);
    }
    let fx = press(&mut m, KeyCode::Enter);
    assert_eq!(
        fx,
        vec![Effect::AddVaultKey {
            account: "acme".into(),
            label: Some("laptop".into()),
            source: KeySource::Path("~/.ssh/id_ed25519.pub".into()),
        }]
    );
}

#[test]
fn a_pasted_label_with_control_characters_is_refused_and_a_trailing_newline_trimmed() {
    let mut m = add_dialog();
    paste(&mut m, BOB);
    press(&mut m, KeyCode::Tab);
    paste(&mut m, "lab\u{1b}[31mel\u{7}");
    assert_eq!(
        dialog_error(&m).as_deref(),
        Some(
            "label: control characters (tabs, newlines, escapes) are not allowed; \
             the paste was not inserted"
        )
    );
    paste(&mut m, "laptop\n");
    let fx = press(&mut m, KeyCode::Enter);
    assert_eq!(
        fx,
        vec![Effect::AddVaultKey {
            account: "acme".into(),
            label: Some("laptop".into()),
            source: KeySource::Text(BOB.trim().into()),
        }]
    );
}

#[test]
fn a_pasted_private_key_is_cleared_at_once_and_never_kept_sent_or_shown() {
    let mut m = add_dialog();
    paste(&mut m, "some text first ");
    let fx = paste(&mut m, &private_key());
    assert!(fx.is_empty());
    assert_eq!(dialog_text(&m), "");
    assert_eq!(
        dialog_error(&m).as_deref(),
        Some(
            "public key: this is a PRIVATE key; it was not stored. Paste the public key instead (the .pub file, or the output of `ssh-keygen -y -f KEYFILE`)"
        )
    );
    let debug = format!("{m:?}");
    assert!(!debug.contains(PRIVATE_MARK));
    assert!(!debug.contains("BEGIN OPENSSH"));
    for (w, h) in [(80, 24), (160, 48)] {
        let (t, s) = screen(&m, w, h);
        assert!(!s.contains("Zm9yYmlk"), "private key on screen:\n{s}");
        assert!(!s.contains("BEGIN OPENSSH"), "{s}");
        assert!(s.contains("PRIVATE key"), "the reason is shown:\n{s}");
        drop(t);
    }
    // Undo cannot bring it back; Enter sends nothing.
    assert!(ctrl(&mut m, 'z').is_empty());
    assert_eq!(dialog_text(&m), "");
    assert!(press(&mut m, KeyCode::Enter).is_empty());
    // A PuTTY private key file is cleared the same way.
    let mut m = add_dialog();
    paste(
        &mut m,
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPrivate-Lines: 1\nAAAAIBA=",
    );
    assert_eq!(dialog_text(&m), "");
}

#[test]
fn copy_puts_the_fingerprint_or_key_on_the_clipboard() {
    let mut m = common::demo_model();
    m.pane = Pane::Vault;
    ch(&mut m, 'c');
    let e = m.selected_vault_entry().unwrap().clone();
    assert_eq!(
        m.vault_ui.clipboard.as_deref(),
        Some(e.fingerprint_sha256.as_str())
    );
    m.vault_ui.clipboard = None;
    ch(&mut m, 'C');
    assert_eq!(m.vault_ui.clipboard.as_deref(), Some(e.public_key.as_str()));
    assert!(
        m.toasts
            .iter()
            .any(|t| t.text == format!("copied the public key of '{}' (OSC 52 clipboard)", e.label))
    );
    assert_eq!(crabglamp::ui::vault::osc52("ab"), "\u{1b}]52;c;YWI=\u{7}");
}

#[test]
fn delete_dialog_lists_the_vms_that_keep_the_key_and_confirms() {
    let mut m = common::demo_model();
    m.pane = Pane::Vault;
    // Select "ops (RSA)" (on two live VMs in the demo).
    let pos = m
        .vault_ui
        .rows
        .iter()
        .position(|r| m.vault_entry(r).unwrap().label == "ops (RSA)")
        .unwrap();
    m.vault_ui.list.selected = pos;
    assert!(ch(&mut m, 'd').is_empty());
    let Some(VaultDialog::Delete(d)) = &m.vault_ui.dialog else {
        panic!("no delete dialog");
    };
    let names: Vec<&str> = d.holders.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, vec!["acme-db", "reports-01"]);
    let id = d.entry.id;
    let (_, s) = screen(&m, 160, 48);
    assert!(
        s.contains(
            "Deleting a key from the Vault does NOT remove it from the VMs that received it."
        ),
        "{s}"
    );
    assert!(
        s.contains(&format!("acme-db     {}", d.holders[0].ssh_command)),
        "{s}"
    );
    assert!(s.contains(&d.entry.fingerprint_sha256), "{s}");
    assert_eq!(ch(&mut m, 'y'), vec![Effect::DeleteVaultKey { id }]);
    // Esc cancels without an effect.
    let mut m2 = common::demo_model();
    m2.pane = Pane::Vault;
    m2.vault_ui.list.selected = pos;
    ch(&mut m2, 'd');
    assert!(press(&mut m2, KeyCode::Esc).is_empty());
    assert!(m2.vault_ui.dialog.is_none());
}

#[test]
fn dialog_snapshots() {
    let (m, _) = refusal("ssh-dss AAAAB3NzaC1kc3MAAACBAP= me");
    for (w, h) in [(80, 24), (160, 48)] {
        let (t, _) = screen(&m, w, h);
        insta::assert_snapshot!(format!("add_dialog_error_{w}x{h}"), t.backend());
    }
    let mut m = common::demo_model();
    m.pane = Pane::Vault;
    m.vault_ui.list.selected = m
        .vault_ui
        .rows
        .iter()
        .position(|r| m.vault_entry(r).unwrap().label == "ops (RSA)")
        .unwrap();
    ch(&mut m, 'd');
    for (w, h) in [(80, 24), (160, 48)] {
        let (t, _) = screen(&m, w, h);
        insta::assert_snapshot!(format!("delete_dialog_{w}x{h}"), t.backend());
    }
}

/// Drives the model against a real worker: effects out, events back in, until the dialog is
/// no longer waiting.
async fn settle(m: &mut Model, h: &mut worker::WorkerHandle, fx: Vec<Effect>) {
    for e in fx {
        h.effects.send(e).unwrap();
    }
    loop {
        let waiting = match &m.vault_ui.dialog {
            Some(VaultDialog::Add(d)) => d.awaiting > 0,
            Some(VaultDialog::Delete(d)) => d.awaiting,
            None => false,
        };
        if !waiting {
            return;
        }
        let ev = tokio::time::timeout(GUARD, h.events.recv())
            .await
            .expect("worker event within the guard")
            .expect("worker running");
        for e in update(m, Msg::Worker(ev)) {
            h.effects.send(e).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_from_the_worker_land_in_the_dialog() {
    let sim = sim::start(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        SimConfig::default(),
    )
    .await
    .unwrap();
    let dir = tempfile::TempDir::new().unwrap();
    let store = Store::open(&dir.path().join("live.db")).unwrap();
    let data = crabglamp::demo::generate(common::now());
    for a in &data.accounts {
        store.add_account(a).unwrap();
    }
    for k in &data.vault {
        store.put_vault_entry(k).unwrap();
    }
    let client = Client::builder()
        .endpoint(sim.endpoint())
        .token(Token::new("sim-token"))
        .max_attempts(1)
        .build()
        .unwrap();
    let spawn = |read_only: bool| {
        worker::spawn(WorkerConfig {
            client: client.clone(),
            store: store.clone(),
            mode: Mode::Live,
            read_only,
            sync_interval: Duration::from_secs(3600),
            actor: "tester".into(),
            usage: Default::default(),
        })
    };
    let mut h = spawn(false);

    // A file path read by the worker: a private key there is refused with the path.
    let priv_path = dir.path().join("id_test");
    std::fs::write(&priv_path, private_key()).unwrap();
    let mut m = add_dialog();
    paste(&mut m, &priv_path.display().to_string());
    let fx = press(&mut m, KeyCode::Enter);
    settle(&mut m, &mut h, fx).await;
    assert_eq!(
        dialog_error(&m),
        Some(format!("{}: {}", priv_path.display(), KeyError::PrivateKey))
    );
    // A missing file.
    let mut m = add_dialog();
    paste(&mut m, "/nonexistent/k.pub");
    let fx = press(&mut m, KeyCode::Enter);
    settle(&mut m, &mut h, fx).await;
    assert_eq!(
        dialog_error(&m).as_deref(),
        Some("/nonexistent/k.pub: cannot read: No such file or directory (os error 2)")
    );
    // A good key from a file: added, dialog closed, toast, the store holds it.
    let pub_path = dir.path().join("bob.pub");
    std::fs::write(&pub_path, BOB).unwrap();
    let mut m = add_dialog();
    paste(&mut m, &pub_path.display().to_string());
    let fx = press(&mut m, KeyCode::Enter);
    settle(&mut m, &mut h, fx).await;
    assert!(m.vault_ui.dialog.is_none(), "{:?}", dialog_error(&m));
    assert!(m.toasts.iter().any(|t| {
        t.text
            .starts_with("added 'milton@initech' to acme's Vault (SHA256:")
    }));
    // Several keys, one already there: the other is added, the duplicate named.
    let mut m2 = add_dialog();
    // The model has no snapshot with bob in it: the worker is the one that refuses.
    paste(&mut m2, &format!("{BOB}{ED25519}"));
    press(&mut m2, KeyCode::Enter);
    let fx = ch(&mut m2, 'y');
    assert_eq!(fx.len(), 2);
    settle(&mut m2, &mut h, fx).await;
    let Some(VaultDialog::Add(d)) = &m2.vault_ui.dialog else {
        panic!("dialog kept for the refusal");
    };
    assert_eq!(d.added, vec!["alice@thinkpad".to_string()]);
    assert!(
        d.error
            .as_deref()
            .is_some_and(|e| e
                .starts_with("public key: already in acme's Vault as 'milton@initech' (SHA256:")),
        "{:?}",
        d.error
    );
    assert_eq!(
        store
            .vault(Some("acme"))
            .unwrap()
            .iter()
            .filter(|e| e.label == "milton@initech" || e.label == "alice@thinkpad")
            .count(),
        2
    );
    let _ = h.effects.send(Effect::Shutdown);
    let _ = tokio::time::timeout(GUARD, h.join).await;

    // Read-only: the worker refuses; the dialog says so.
    let mut h = spawn(true);
    let mut m = add_dialog();
    m.read_only = true;
    let (_, s) = screen(&m, 120, 30);
    assert!(
        s.contains("read-only mode: adding a key will be refused"),
        "{s}"
    );
    let pub2 = dir.path().join("laptop.pub");
    std::fs::write(&pub2, include_str!("../assets/demo-keys/globex-hank.pub")).unwrap();
    paste(&mut m, &pub2.display().to_string());
    let fx = press(&mut m, KeyCode::Enter);
    settle(&mut m, &mut h, fx).await;
    assert_eq!(
        dialog_error(&m).as_deref(),
        Some("read-only mode: adding a key to acme's Vault is not allowed")
    );
    if let Some(VaultDialog::Add(d)) = &m.vault_ui.dialog {
        assert_eq!(d.focus, AddFocus::Key);
    }
    let _ = h.effects.send(Effect::Shutdown);
    let _ = tokio::time::timeout(GUARD, h.join).await;

    // The private key never reached the store files.
    store.flush().unwrap();
    drop(store);
    let mut stack = vec![dir.path().join("live.db")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                assert!(
                    !bytes
                        .windows(PRIVATE_MARK.len())
                        .any(|w| w == PRIVATE_MARK.as_bytes()),
                    "private key in {}",
                    p.display()
                );
            }
        }
    }
    sim.shutdown().await;
}

#[test]
fn a_deleted_key_is_listed_only_while_a_live_vm_holds_it() {
    let mut snap = crabglamp::demo::snapshot(common::now());
    let id = snap
        .vault
        .iter()
        .find(|e| e.label == "ops (RSA)")
        .unwrap()
        .id;
    for e in snap.vault.iter_mut().filter(|e| e.id == id) {
        e.deleted_at = Some(common::now());
    }
    let listed = |snap: &crabglamp::protocol::Snapshot| {
        let m = common::model_with(snap.clone(), false);
        m.vault_ui
            .rows
            .iter()
            .any(|r| m.vault_entry(r).is_some_and(|e| e.id == id))
    };
    // Still on acme-db and reports-01: listed (exposed).
    assert!(listed(&snap));
    // Those VMs destroyed: gone from the pane (the store keeps the entry).
    for vm in snap.vms.iter_mut() {
        if vm.record.keys.iter().any(|k| k.vault_key_id == id) {
            vm.record.status = crabglamp::domain::VmStatus::Deleted;
        }
    }
    assert!(!listed(&snap));
}

/// The Vault title counts keys in good English: `1 key`, `3 keys`.
#[test]
fn the_title_says_1_key_not_1_keys() {
    let mut m = common::model();
    // `a` cycles the account filter in the VMs pane (in the Vault pane it adds a key).
    m.pane = Pane::Vms;
    for _ in 0..10 {
        if m.account_filter.as_deref() == Some("alice") {
            break;
        }
        ch(&mut m, 'a');
    }
    assert_eq!(m.account_filter.as_deref(), Some("alice"));
    m.pane = Pane::Vault;
    let (_t, s) = screen(&m, 100, 24);
    let title = s.lines().nth(1).unwrap();
    assert!(title.contains("Vault · 1 key · account alice"), "{title}");
    m.pane = Pane::Vms;
    for _ in 0..10 {
        ch(&mut m, 'a');
        if m.account_filter.is_none() {
            break;
        }
    }
    m.pane = Pane::Vault;
    let (_t, s) = screen(&m, 100, 24);
    let title = s.lines().nth(1).unwrap();
    assert!(title.contains("Vault · 4 keys"), "{title}");
}

fn discard_asked(m: &Model) -> bool {
    match &m.vault_ui.dialog {
        Some(VaultDialog::Add(d)) => d.confirm_discard,
        _ => panic!("no add dialog"),
    }
}

#[test]
fn esc_on_an_add_dialog_with_typed_content_asks_first() {
    // Nothing typed: Esc closes at once.
    let mut m = add_dialog();
    press(&mut m, KeyCode::Esc);
    assert!(m.vault_ui.dialog.is_none());
    // A pasted key: Esc asks; `n` keeps it.
    let mut m = add_dialog();
    paste(&mut m, ED25519);
    press(&mut m, KeyCode::Esc);
    assert!(discard_asked(&m));
    let (t, s) = screen(&m, 80, 24);
    assert!(s.contains("Discard the key and label typed?"), "{s}");
    insta::assert_snapshot!("vault_add_discard_80x24", t.backend());
    // Keys other than y / n / Esc (the rest of a split escape sequence) change nothing.
    ch(&mut m, '[');
    ch(&mut m, 'A');
    assert!(discard_asked(&m));
    assert_eq!(dialog_text(&m), ED25519);
    ch(&mut m, 'n');
    assert!(!discard_asked(&m));
    assert_eq!(dialog_text(&m), ED25519);
    // A label alone counts too; Esc on the question keeps; `y` discards.
    press(&mut m, KeyCode::Tab);
    ch(&mut m, 'x');
    press(&mut m, KeyCode::Esc);
    press(&mut m, KeyCode::Esc);
    assert!(!discard_asked(&m));
    assert_eq!(dialog_text(&m), ED25519);
    press(&mut m, KeyCode::Esc);
    ch(&mut m, 'y');
    assert!(m.vault_ui.dialog.is_none());
}
