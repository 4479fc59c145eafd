//! Snapshot tests of every pane through ratatui's `TestBackend` (issue 3 "Tests"), plus the
//! help overlay, an active filter, a too-small terminal, NO_COLOR and a CJK/emoji row.

mod common;

use crabglamp::app::{Model, Msg, Pane, update};
use crabglamp::ui::render;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;

fn draw(model: &Model, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render(f, model)).unwrap();
    t
}

fn key(m: &mut Model, c: char) {
    update(
        m,
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
    );
}

fn line(buf: &Buffer, y: u16) -> String {
    (0..buf.area.width)
        .map(|x| buf[(x, y)].symbol().to_string())
        .collect()
}

fn screen(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    (0..buf.area.height)
        .map(|y| line(buf, y))
        .collect::<Vec<_>>()
        .join("\n")
}

macro_rules! pane_snapshots {
    ($name:ident, $pane:expr) => {
        #[test]
        fn $name() {
            let mut m = common::demo_model();
            m.pane = $pane;
            for (w, h) in [(80, 24), (160, 48)] {
                let t = draw(&m, w, h);
                insta::assert_snapshot!(format!("{}_{w}x{h}", stringify!($name)), t.backend());
            }
        }
    };
}

pane_snapshots!(vms_pane, Pane::Vms);
pane_snapshots!(firewall_pane, Pane::Firewall);
pane_snapshots!(vault_pane, Pane::Vault);
pane_snapshots!(usage_pane, Pane::Usage);
pane_snapshots!(audit_pane, Pane::Audit);

#[test]
fn help_overlay() {
    let mut m = common::demo_model();
    key(&mut m, '?');
    let t = draw(&m, 100, 40);
    let s = screen(&t);
    assert!(s.contains("Help"), "{s}");
    // The keys of every pane first, moving first; then each pane's own keys. The help box is
    // 80 columns wide: its inside, trimmed.
    let inside = |s: &str| -> Vec<String> {
        let top = s.lines().find(|l| l.contains("Help · j/k scroll")).unwrap();
        let chars: Vec<char> = top.chars().collect();
        let help_at = top[..top.find("Help").unwrap()].chars().count();
        let x = chars[..help_at].iter().rposition(|c| *c == '╭').unwrap();
        s.lines()
            .map(|l| {
                l.chars()
                    .skip(x + 1)
                    .take(78)
                    .collect::<String>()
                    .trim_end()
                    .to_string()
            })
            .collect()
    };
    let inside_s = inside(&s);
    let rows: Vec<String> = inside_s
        .iter()
        .skip_while(|l| !l.contains("Help · j/k scroll"))
        .skip(1)
        .take(6)
        .cloned()
        .collect();
    assert_eq!(
        rows,
        [
            "Keys in every pane",
            "j ↓                   move down",
            "k ↑                   move up",
            "g Home                first row (Usage pane: g groups, Home is first row)",
            "G End                 last row",
            "Ctrl-d                half a page down",
        ]
    );
    assert!(s.contains("q Ctrl-c              quit"), "{s}");
    // Further down (a taller terminal shows it without scrolling), the Usage pane's keys.
    let tall = inside(&screen(&draw(&m, 100, 90)));
    let usage: Vec<String> = tall
        .iter()
        .skip_while(|l| *l != "Usage pane")
        .take(5)
        .cloned()
        .collect();
    assert_eq!(
        usage,
        [
            "Usage pane",
            "p                     period: this month, last month, 30 d, 90 d",
            "[                     previous month",
            "]                     next month (up to the current one)",
            "g                     group by: account, VM, tier, region",
        ]
    );
    insta::assert_snapshot!(t.backend());
}

#[test]
fn filter_active() {
    let mut m = common::model();
    key(&mut m, '/');
    for c in "web".chars() {
        key(&mut m, c);
    }
    let t = draw(&m, 120, 30);
    let s = screen(&t);
    assert!(s.contains("/web█"), "{s}");
    assert!(s.contains("2 of 8 VMs"), "{s}");
    insta::assert_snapshot!(t.backend());
}

#[test]
fn too_small_terminal() {
    let m = common::model();
    let t = draw(&m, 50, 10);
    let s = screen(&t);
    assert!(
        s.contains("terminal too small (need 60×15, have 50×10)"),
        "{s}"
    );
    insta::assert_snapshot!(t.backend());
}

#[test]
fn a_tiny_terminal_still_shows_the_sizes() {
    let m = common::model();
    let t = draw(&m, 20, 5);
    let s = screen(&t);
    assert!(s.contains("(need 60×15, have"), "{s}");
    assert!(s.contains("20×5)"), "{s}");
    assert!(s.contains("terminal too small"), "{s}");
}

#[test]
fn no_color_uses_no_colours_and_keeps_selection_visible() {
    let m = common::model_with(common::snapshot(), true);
    let t = draw(&m, 120, 30);
    let buf = t.backend().buffer();
    for cell in buf.content() {
        assert_eq!(
            (cell.fg, cell.bg),
            (Color::Reset, Color::Reset),
            "a coloured cell in NO_COLOR"
        );
    }
    // The selected row (first VM by name: build-box) is reversed, and marked with `›`.
    let row = (0..buf.area.height)
        .find(|&y| line(buf, y).contains("› build-box"))
        .unwrap();
    let x = line(buf, row).find("build-box").unwrap();
    let col = line(buf, row)[..x].chars().count() as u16;
    assert!(
        buf[(col, row)]
            .modifier
            .contains(ratatui::style::Modifier::REVERSED)
    );
    insta::assert_snapshot!(t.backend());
}

#[test]
fn cjk_and_emoji_names_keep_columns_aligned() {
    let mut snap = common::snapshot();
    snap.vms[0].record.name = "東京-ウェブ-01".into();
    snap.vms[1].record.name = "crab-🦀-box".into();
    let m = common::model_with(snap, false);
    let t = draw(&m, 120, 30);
    let buf = t.backend().buffer();
    // The ACCOUNT column starts at the same screen column on every row.
    let header = (0..buf.area.height)
        .find(|&y| line(buf, y).contains("NAME"))
        .unwrap();
    let start_of = |y: u16, needle: &str| -> Option<u16> {
        // Walk cells (not chars) so that wide characters count as two columns.
        (0..buf.area.width).find(|&x| {
            let s: String = (x..buf.area.width.min(x + needle.len() as u16))
                .map(|i| buf[(i, y)].symbol().to_string())
                .collect();
            s == needle
        })
    };
    let account_col = start_of(header, "ACCOUNT").unwrap();
    let tokyo = (0..buf.area.height)
        .find(|&y| line(buf, y).contains("東"))
        .unwrap();
    let crab = (0..buf.area.height)
        .find(|&y| line(buf, y).contains("🦀"))
        .unwrap();
    assert_eq!(start_of(tokyo, "acme"), Some(account_col));
    assert_eq!(start_of(crab, "acme"), Some(account_col));
    insta::assert_snapshot!(t.backend());
}

/// The audit table never cuts a date or a header at any width from 80 up: the fixed columns
/// keep their width and spare columns go to VM, ACCOUNTS, ACTOR and OUTCOME.
#[test]
fn audit_columns_never_cut_a_date_or_a_header() {
    let mut m = common::demo_model();
    m.pane = Pane::Audit;
    let t = draw(&m, 120, 35);
    let s = screen(&t);
    let rows: Vec<&str> = s.lines().skip(2).take(3).collect();
    assert_eq!(
        rows,
        [
            "│  SEQ   TIME UTC         AGO     KIND     VM          ACCOUNTS      TIER REGION ACTOR                 OUTCOME         │",
            "│›   2 ✓ 2026-11-18 12:00 11d ago transfer reports-01  acme → globex medium eu   marta from 192.0.2.44 ok              │",
            "│    1 ✓ 2026-11-05 16:42 24d ago destroy  acme-legacy acme          medium us   marta from 192.0.2.44 ok              │",
        ]
    );
    let t = draw(&m, 80, 24);
    let s = screen(&t);
    let rows: Vec<&str> = s.lines().skip(2).take(3).collect();
    assert_eq!(
        rows,
        [
            "│  SEQ   TIME UTC    AGO     KIND     VM          ACCOUNTS      ACTOR   OUTCOME│",
            "│›   2 ✓ 11-18 12:00 11d ago transfer reports-01  acme → globex marta … ok     │",
            "│    1 ✓ 11-05 16:42 24d ago destroy  acme-legacy acme          marta … ok     │",
        ]
    );
    for w in 80..=200 {
        let s = screen(&draw(&m, w, 30));
        let head = s.lines().nth(2).unwrap();
        let words: Vec<&str> = head.trim_matches(['│', ' ']).split_whitespace().collect();
        for h in [
            "SEQ", "TIME", "UTC", "AGO", "KIND", "VM", "ACCOUNTS", "ACTOR", "OUTCOME",
        ] {
            assert!(words.contains(&h), "{w} columns: {head}");
        }
        let row = s.lines().nth(3).unwrap();
        assert!(
            row.contains("2026-11-18 12:00 11d ago") || row.contains("✓ 11-18 12:00 11d ago"),
            "{w} columns: {row}"
        );
    }
}

/// Lines of the screen from the one containing `from`, `n` of them.
fn lines_from(s: &str, from: &str, n: usize) -> Vec<String> {
    s.lines()
        .skip_while(|l| !l.contains(from))
        .take(n)
        .map(String::from)
        .collect()
}

/// At 120 columns the detail's identity column gets the width it needs (nothing cut); at 160
/// the side panel does.
#[test]
fn the_vm_detail_gets_the_width_its_identity_lines_need() {
    let m = common::demo_model();
    let s = screen(&draw(&m, 120, 35));
    // The left column, cut before the right one starts.
    let left: Vec<String> = lines_from(&s, "╭ acme-ci-runner", 9)
        .iter()
        .skip(1)
        .map(|l| {
            l.chars()
                .take(64)
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect();
    assert_eq!(
        left,
        [
            "│status   stopped · Hetzner says off",
            "│server   cpx41 · 8 vCPU · 16 GB RAM · 240 GB disk · #10000010",
            "│location hil · US · Hillsboro, Oregon · tier large",
            "│image    Fedora 43 · default user root",
            "│ssh      ssh root@203.0.113.10",
            "│ipv6     2001:db8:1:9::/64",
            "│account  acme · metered · since 2026-10-20 17:37 UTC (40d ago)",
            "│charge   █████████████████████████████▃ 66.98 EUR/30d",
        ]
    );
    let s = screen(&draw(&m, 160, 48));
    let side: Vec<String> = s
        .lines()
        .skip(2)
        .take(7)
        .map(|l| l.chars().skip(95).collect())
        .collect();
    assert_eq!(
        side,
        [
            "││status   stopped · Hetzner says off                           │",
            "││server   cpx41 · 8 vCPU · 16 GB RAM · 240 GB disk · #10000010 │",
            "││location hil · US · Hillsboro, Oregon · tier large            │",
            "││image    Fedora 43 · default user root                        │",
            "││ssh      ssh root@203.0.113.10                                │",
            "││ipv6     2001:db8:1:9::/64                                    │",
            "││account  acme · metered · since 2026-10-20 17:37 UTC (40d ago)│",
        ]
    );
}

/// A deleted or vanished VM has no `ssh` line (no server to log in to); its former addresses
/// are shown as such.
#[test]
fn a_deleted_or_vanished_vm_shows_no_ssh_line() {
    let mut m = common::demo_model();
    key(&mut m, 'd');
    // By name: acme-ci-runner, acme-db, acme-legacy (deleted).
    key(&mut m, 'j');
    key(&mut m, 'j');
    let s = screen(&draw(&m, 120, 35));
    let left: Vec<String> = lines_from(&s, "╭ acme-legacy", 8)
        .iter()
        .map(|l| {
            l.chars()
                .take(72)
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect();
    assert_eq!(
        left,
        [
            "╭ acme-legacy ──────────────────────────────────────────────────────────",
            "│status   deleted",
            "│server   cpx31 · 4 vCPU · 8 GB RAM · 160 GB disk (catalogue) · #9876543",
            "│location hil · US · Hillsboro, Oregon · tier medium",
            "│image    Ubuntu 22.04 LTS · default user ubuntu",
            "│address  was 192.0.2.200 · 2001:db8:ffff::/64 (no server now)",
            "│account  acme · metered · since 2026-09-01 22:37 UTC (89d ago)",
            "│charge   ████▆························· 5.86 EUR/30d",
        ]
    );
    assert!(!s.contains("ssh ubuntu@"), "{s}");
    // A vanished VM (the store knows it, Hetzner has no server): the same.
    let mut snap = crabglamp::demo::snapshot(common::now());
    let web = snap
        .vms
        .iter_mut()
        .find(|v| v.record.name == "acme-web-1")
        .unwrap();
    web.record.status = crabglamp::domain::VmStatus::Vanished;
    let ip = web.record.ipv4.clone().unwrap();
    let mut m = common::model_with(snap, false);
    key(&mut m, '/');
    for c in "acme-web-1".chars() {
        key(&mut m, c);
    }
    update(
        &mut m,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let s = screen(&draw(&m, 120, 35));
    assert!(s.contains("VANISHED: the store knows it"), "{s}");
    assert!(s.contains(&format!("│address  was {ip} · ")), "{s}");
    assert!(!s.contains(&format!("ssh ubuntu@{ip}")), "{s}");
}

#[test]
fn the_status_bar_says_whether_the_console_is_local_or_shared() {
    let mut m = common::demo_model();
    let last = |t: &Terminal<TestBackend>| {
        let h = t.backend().buffer().area.height;
        line(t.backend().buffer(), h - 1)
    };
    assert!(last(&draw(&m, 80, 24)).starts_with(" DEMO  local │ synced"));
    m.attachment = crabglamp::protocol::wire::Attachment::Shared {
        host: "ops1".into(),
        socket: "/run/crabglamp/crabglamp.sock".into(),
    };
    let wide = last(&draw(&m, 160, 48));
    assert!(
        wide.starts_with(" DEMO  shared · ops1:/run/crabglamp/crabglamp.sock │ synced"),
        "{wide}"
    );
    // Narrow: the host only, so the budget and the key hint keep their room.
    let narrow = last(&draw(&m, 80, 24));
    assert!(
        narrow.starts_with(" DEMO  shared · ops1 │ synced"),
        "{narrow}"
    );
    assert!(narrow.contains("API 3580/3600"), "{narrow}");
}

#[test]
fn a_failing_audit_witness_is_said_in_the_status_bar() {
    let mut m = common::demo_model();
    let last = |m: &Model| {
        let t = draw(m, 160, 48);
        let h = t.backend().buffer().area.height;
        line(t.backend().buffer(), h - 1)
    };
    assert!(!last(&m).contains("witness"));
    m.snapshot.audit_status = Some(crabglamp::domain::evidence::AuditStatus {
        witness_error: Some("witness command exited with status 1".into()),
        ..Default::default()
    });
    let bar = last(&m);
    assert!(bar.contains("│ audit witness failing"), "{bar}");
}
