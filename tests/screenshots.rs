//! The screenshots under `screenshots/` are rendered from the real rendering code (issue 3
//! item 8): each pane at 120×36 with `demo::snapshot` at a fixed time, through `TestBackend`,
//! to SVG with `ui::screenshot::buffer_to_svg`. This test fails when a committed SVG differs;
//! `UPDATE_SCREENSHOTS=1 cargo test --test screenshots` rewrites them.

mod common;

use crabglamp::app::{Model, Msg, Pane, update};
use crabglamp::ui::render;
use crabglamp::ui::screenshot::buffer_to_svg;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::PathBuf;

const W: u16 = 120;
const H: u16 = 36;

fn svg_of(model: &Model) -> String {
    let mut t = Terminal::new(TestBackend::new(W, H)).unwrap();
    t.draw(|f| render(f, model)).unwrap();
    buffer_to_svg(t.backend().buffer())
}

fn shots() -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (name, pane) in [
        ("vms", Pane::Vms),
        ("firewall", Pane::Firewall),
        ("vault", Pane::Vault),
        ("usage", Pane::Usage),
        ("audit", Pane::Audit),
    ] {
        let mut m = common::demo_model();
        m.pane = pane;
        out.push((name, svg_of(&m)));
    }
    let mut m = common::demo_model();
    update(
        &mut m,
        Msg::Key(KeyEvent::new(KeyCode::Char('?'), KeyModifiers::NONE)),
    );
    out.push(("help", svg_of(&m)));
    out
}

#[test]
fn committed_screenshots_are_current() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("screenshots");
    let update = std::env::var_os("UPDATE_SCREENSHOTS").is_some_and(|v| v == "1");
    if update {
        std::fs::create_dir_all(&dir).unwrap();
    }
    let mut stale = Vec::new();
    for (name, svg) in shots() {
        let path = dir.join(format!("{name}.svg"));
        if update {
            std::fs::write(&path, &svg).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != svg {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "screenshots are stale: run `UPDATE_SCREENSHOTS=1 cargo test --test screenshots` ({})",
        stale.join(", ")
    );
}

#[test]
fn screenshots_show_the_demo_data() {
    let shots = shots();
    let vms = &shots.iter().find(|(n, _)| *n == "vms").unwrap().1;
    assert!(vms.starts_with(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1008.0\" height=\"612.0\""
    ));
    assert!(
        vms.contains(">DEMO<") || vms.contains("> DEMO <"),
        "badge missing"
    );
    assert!(vms.contains("acme-web-1"));
}
