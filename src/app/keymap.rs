//! The dashboard's keymap as data: which key does what, where, with a description.
//!
//! [`update`](super::update) looks keys up here, and the help overlay (`?`) is generated from
//! [`BINDINGS`], so the two can never disagree. Text fields (filter, command line, accounts form)
//! take their keys directly and are not listed here, except for the keys documented in
//! [`TEXT_FIELD_KEYS`].

use super::Pane;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Leave the console.
    Quit,
    /// Open the help overlay.
    Help,
    /// Open the command line (`:`).
    Command,
    /// Open the filter line (`/`), VMs pane.
    Filter,
    /// Clear the filter and the account filter.
    ClearFilter,
    /// Next pane (wraps).
    NextPane,
    /// Previous pane (wraps).
    PrevPane,
    /// Switch to this pane.
    GoPane(Pane),
    /// Selection one row down.
    Down,
    /// Selection one row up.
    Up,
    /// Selection to the first row.
    Top,
    /// Selection to the last row.
    Bottom,
    /// One page down.
    PageDown,
    /// One page up.
    PageUp,
    /// Half a page down.
    HalfPageDown,
    /// Half a page up.
    HalfPageUp,
    /// Sort the VM list by the next column.
    SortNext,
    /// Reverse the VM list's sort direction.
    SortReverse,
    /// Show or hide VMs with status `deleted` (hidden by default).
    ToggleDeleted,
    /// Cycle the account filter: all accounts, then each account in turn.
    CycleAccount,
    /// Open the accounts overlay (list, pick, add).
    Accounts,
    /// Ask the worker to sync with Hetzner now.
    Refresh,
    /// Vault pane: add a public key (dialog).
    VaultAdd,
    /// Vault pane: delete the selected key (dialog listing the live VMs that still hold it).
    VaultDelete,
    /// Vault pane: copy the selected key's fingerprint to the clipboard (OSC 52).
    VaultCopyFingerprint,
    /// Vault pane: copy the selected public key line to the clipboard (OSC 52).
    VaultCopyKey,
    /// Toggle mouse capture (off by default, so the terminal's own selection works).
    ToggleMouse,
    /// A firewall editor command (issue 5).
    Firewall(FwAction),
    /// A VM lifecycle command (issue 4): create, power, destroy, transfer, billing type.
    Life(LifeAction),
    /// Audit pane: edit the substring filter.
    AuditFilter,
    /// Audit pane: cycle the kind filter (all, destroy, transfer).
    AuditKind,
    /// Audit pane: open the selected event with every field.
    AuditDetail,
    /// Usage pane: the next preset period (this month, last month, last 30 days, last 90 days).
    UsagePeriod,
    /// Usage pane: the month before the shown one.
    UsageMonthBack,
    /// Usage pane: the month after the shown one (not past the current month).
    UsageMonthForward,
    /// Usage pane: the next grouping (account, VM, tier, region).
    UsageGroup,
}

/// Editor commands bound in the keymap (help overlay) for the Firewall pane's table mode, and
/// `Open` for the VM list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FwAction {
    /// Open the editor for the selected VM (VMs pane).
    Open,
    /// Add a rule below the selection (opens the row form).
    Add,
    /// Edit the selected rule field by field.
    Edit,
    /// Duplicate the selected rule below it.
    Duplicate,
    /// Delete the selected rule.
    Delete,
    /// Move the selected rule up.
    MoveUp,
    /// Move the selected rule down.
    MoveDown,
    /// Switch between table and text.
    ToggleText,
    /// Review the changes and apply.
    Apply,
    /// Discard unsaved edits (asks), or go back to the VM list when there are none.
    Discard,
    /// Read the firewall from Hetzner again (edits are kept).
    Reload,
}

/// A lifecycle key of the VM list (bound in [`BINDINGS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifeAction {
    /// `n`: open the create dialog.
    Create,
    /// `s`: power on the selected VM.
    Start,
    /// `S`: stop the selected VM (confirm; graceful or forced).
    Stop,
    /// `R`: reboot the selected VM (confirm).
    Reboot,
    /// `D`: destroy the selected VM (type its name).
    Destroy,
    /// `T`: transfer the selected VM to an organization (pick, then type its name).
    Transfer,
    /// `B`: switch the billing type (confirm).
    Billing,
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every pane (when no overlay is open).
    Global,
    /// Only in this pane.
    Pane(Pane),
}

/// One key chord: a key code plus modifiers. Shift is ignored for characters (`G` is `G`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The key.
    pub code: KeyCode,
    /// Required modifiers (`NONE` or `CONTROL`).
    pub mods: KeyModifiers,
}

const fn k(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::NONE,
    }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::CONTROL,
    }
}

const fn code(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::NONE,
    }
}

/// One entry of the keymap: keys, scope, action, and the description shown in the help overlay.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// Keys that trigger the action (the first is the one shown first).
    pub keys: &'static [Key],
    /// Where it applies.
    pub scope: Scope,
    /// What it does.
    pub action: Action,
    /// Help text.
    pub description: &'static str,
}

const fn b(
    keys: &'static [Key],
    scope: Scope,
    action: Action,
    description: &'static str,
) -> Binding {
    Binding {
        keys,
        scope,
        action,
        description,
    }
}

/// The keymap, in help-overlay order: the keys of every pane first (moving, panes, filters,
/// quitting), then each pane's own keys in [`Pane::ALL`] order. A pane-scoped binding wins over
/// a global one for the same key ([`lookup`]); the global one's description names the pane
/// where its key means something else (checked by a test).
pub const BINDINGS: &[Binding] = &[
    b(
        &[k('j'), code(KeyCode::Down)],
        Scope::Global,
        Action::Down,
        "move down",
    ),
    b(
        &[k('k'), code(KeyCode::Up)],
        Scope::Global,
        Action::Up,
        "move up",
    ),
    b(
        &[k('g'), code(KeyCode::Home)],
        Scope::Global,
        Action::Top,
        "first row (Usage pane: g groups, Home is first row)",
    ),
    b(
        &[k('G'), code(KeyCode::End)],
        Scope::Global,
        Action::Bottom,
        "last row",
    ),
    b(
        &[ctrl('d')],
        Scope::Global,
        Action::HalfPageDown,
        "half a page down",
    ),
    b(
        &[ctrl('u')],
        Scope::Global,
        Action::HalfPageUp,
        "half a page up",
    ),
    b(
        &[code(KeyCode::PageDown), ctrl('f')],
        Scope::Global,
        Action::PageDown,
        "page down",
    ),
    b(
        &[code(KeyCode::PageUp), ctrl('b')],
        Scope::Global,
        Action::PageUp,
        "page up",
    ),
    b(
        &[code(KeyCode::Tab), k('l'), code(KeyCode::Right)],
        Scope::Global,
        Action::NextPane,
        "next pane",
    ),
    b(
        &[code(KeyCode::BackTab), k('h'), code(KeyCode::Left)],
        Scope::Global,
        Action::PrevPane,
        "previous pane",
    ),
    b(
        &[k('1')],
        Scope::Global,
        Action::GoPane(Pane::Vms),
        "VMs pane",
    ),
    b(
        &[k('2')],
        Scope::Global,
        Action::GoPane(Pane::Firewall),
        "Firewall pane (selected VM)",
    ),
    b(
        &[k('3')],
        Scope::Global,
        Action::GoPane(Pane::Vault),
        "Vault pane",
    ),
    b(
        &[k('4')],
        Scope::Global,
        Action::GoPane(Pane::Usage),
        "Usage pane",
    ),
    b(
        &[k('5')],
        Scope::Global,
        Action::GoPane(Pane::Audit),
        "Audit pane",
    ),
    b(
        &[code(KeyCode::Esc)],
        Scope::Global,
        Action::ClearFilter,
        "clear the filters (Firewall pane: discard)",
    ),
    b(
        &[k('a')],
        Scope::Global,
        Action::CycleAccount,
        "cycle the account filter (Firewall, Vault pane: add)",
    ),
    b(
        &[k('A')],
        Scope::Global,
        Action::Accounts,
        "accounts: list, pick, add",
    ),
    b(&[k('q'), ctrl('c')], Scope::Global, Action::Quit, "quit"),
    b(&[k('?')], Scope::Global, Action::Help, "this help"),
    b(&[k(':')], Scope::Global, Action::Command, "command line"),
    b(
        &[k('r')],
        Scope::Global,
        Action::Refresh,
        "sync with Hetzner now (Firewall pane: re-read)",
    ),
    b(
        &[k('m')],
        Scope::Global,
        Action::ToggleMouse,
        "toggle mouse capture",
    ),
    b(
        &[k('f'), code(KeyCode::Enter)],
        Scope::Pane(Pane::Vms),
        Action::Firewall(FwAction::Open),
        "edit the VM's firewall",
    ),
    b(
        &[k('n')],
        Scope::Pane(Pane::Vms),
        Action::Life(LifeAction::Create),
        "create a VM (dialog; also :create)",
    ),
    b(
        &[k('s')],
        Scope::Pane(Pane::Vms),
        Action::Life(LifeAction::Start),
        "start the VM",
    ),
    b(
        &[k('S')],
        Scope::Pane(Pane::Vms),
        Action::Life(LifeAction::Stop),
        "stop the VM (confirm; F forces poweroff)",
    ),
    b(
        &[k('R')],
        Scope::Pane(Pane::Vms),
        Action::Life(LifeAction::Reboot),
        "reboot the VM (confirm)",
    ),
    b(
        &[k('D')],
        Scope::Pane(Pane::Vms),
        Action::Life(LifeAction::Destroy),
        "destroy the VM (type its name)",
    ),
    b(
        &[k('T')],
        Scope::Pane(Pane::Vms),
        Action::Life(LifeAction::Transfer),
        "transfer the VM to an organization",
    ),
    b(
        &[k('B')],
        Scope::Pane(Pane::Vms),
        Action::Life(LifeAction::Billing),
        "switch billing metered ↔ subscription",
    ),
    b(
        &[k('o')],
        Scope::Pane(Pane::Vms),
        Action::SortNext,
        "sort by the next column",
    ),
    b(
        &[k('O')],
        Scope::Pane(Pane::Vms),
        Action::SortReverse,
        "reverse the sort direction",
    ),
    b(
        &[k('d')],
        Scope::Pane(Pane::Vms),
        Action::ToggleDeleted,
        "show / hide deleted VMs",
    ),
    b(
        &[k('/')],
        Scope::Pane(Pane::Vms),
        Action::Filter,
        "filter VMs (substring, all columns)",
    ),
    b(
        &[k('a')],
        Scope::Pane(Pane::Firewall),
        Action::Firewall(FwAction::Add),
        "add a rule",
    ),
    b(
        &[k('e'), code(KeyCode::Enter)],
        Scope::Pane(Pane::Firewall),
        Action::Firewall(FwAction::Edit),
        "edit the rule, field by field",
    ),
    b(
        &[k('y')],
        Scope::Pane(Pane::Firewall),
        Action::Firewall(FwAction::Duplicate),
        "duplicate the rule",
    ),
    b(
        &[k('d'), code(KeyCode::Delete)],
        Scope::Pane(Pane::Firewall),
        Action::Firewall(FwAction::Delete),
        "delete the rule",
    ),
    b(
        &[k('K')],
        Scope::Pane(Pane::Firewall),
        Action::Firewall(FwAction::MoveUp),
        "move the rule up",
    ),
    b(
        &[k('J')],
        Scope::Pane(Pane::Firewall),
        Action::Firewall(FwAction::MoveDown),
        "move the rule down",
    ),
    b(
        &[k('t'), ctrl('t')],
        Scope::Pane(Pane::Firewall),
        Action::Firewall(FwAction::ToggleText),
        "text ↔ table (Esc in text)",
    ),
    b(
        &[k('w'), ctrl('s')],
        Scope::Pane(Pane::Firewall),
        Action::Firewall(FwAction::Apply),
        "review the diff, apply",
    ),
    b(
        &[code(KeyCode::Esc)],
        Scope::Pane(Pane::Firewall),
        Action::Firewall(FwAction::Discard),
        "discard edits (asks)",
    ),
    b(
        &[k('r')],
        Scope::Pane(Pane::Firewall),
        Action::Firewall(FwAction::Reload),
        "re-read (edits kept)",
    ),
    b(
        &[k('a')],
        Scope::Pane(Pane::Vault),
        Action::VaultAdd,
        "add a public key (paste, or a file path)",
    ),
    b(
        &[k('d')],
        Scope::Pane(Pane::Vault),
        Action::VaultDelete,
        "delete the key (shows the VMs that keep it)",
    ),
    b(
        &[k('c')],
        Scope::Pane(Pane::Vault),
        Action::VaultCopyFingerprint,
        "copy the fingerprint (OSC 52)",
    ),
    b(
        &[k('C')],
        Scope::Pane(Pane::Vault),
        Action::VaultCopyKey,
        "copy the public key (OSC 52)",
    ),
    b(
        &[k('p')],
        Scope::Pane(Pane::Usage),
        Action::UsagePeriod,
        "period: this month, last month, 30 d, 90 d",
    ),
    b(
        &[k('[')],
        Scope::Pane(Pane::Usage),
        Action::UsageMonthBack,
        "previous month",
    ),
    b(
        &[k(']')],
        Scope::Pane(Pane::Usage),
        Action::UsageMonthForward,
        "next month (up to the current one)",
    ),
    b(
        &[k('g')],
        Scope::Pane(Pane::Usage),
        Action::UsageGroup,
        "group by: account, VM, tier, region",
    ),
    b(
        &[k('/')],
        Scope::Pane(Pane::Audit),
        Action::AuditFilter,
        "filter events (VM, account, actor, outcome)",
    ),
    b(
        &[k('K')],
        Scope::Pane(Pane::Audit),
        Action::AuditKind,
        "cycle kind: all, destroy, transfer",
    ),
    b(
        &[code(KeyCode::Enter)],
        Scope::Pane(Pane::Audit),
        Action::AuditDetail,
        "event detail (seq, id, hashes)",
    ),
];

/// Keys inside text fields (filter, command line, accounts form), for the help overlay:
/// `(keys, description)`.
pub const TEXT_FIELD_KEYS: &[(&str, &str)] = &[
    ("Enter", "apply / run / add"),
    ("Esc", "cancel"),
    (
        "Ctrl-c",
        "clear the field, or cancel when empty (never quits)",
    ),
    ("Ctrl-u", "clear the field"),
    ("Tab", "accounts form: switch personal / org"),
];

/// Commands of the command line (`:`), for the help overlay and the error message:
/// `(command, description)`.
pub const COMMANDS: &[(&str, &str)] = &[
    (":vms", "VMs pane"),
    (":fw", "Firewall pane; :fw NAME edits VM NAME's firewall"),
    (":vault", "Vault pane"),
    (":usage", "Usage pane"),
    (":audit", "Audit pane"),
    (":accounts", "accounts overlay"),
    (":refresh", "sync with Hetzner now"),
    (":create", "create a VM (dialog)"),
    (":help", "this help"),
    (":q", "quit"),
];

fn normalize(event: &KeyEvent) -> Key {
    let mut mods = event.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
    // BackTab arrives with SHIFT; characters carry their case already.
    if let KeyCode::Char(c) = event.code {
        if mods.contains(KeyModifiers::CONTROL) {
            return Key {
                code: KeyCode::Char(c.to_ascii_lowercase()),
                mods,
            };
        }
    } else if event.code != KeyCode::BackTab {
        mods |= event.modifiers & KeyModifiers::SHIFT;
    }
    Key {
        code: event.code,
        mods,
    }
}

/// The action bound to `event` in `pane`, if any. Pane-scoped bindings win over global ones.
pub fn lookup(event: &KeyEvent, pane: Pane) -> Option<Action> {
    let key = normalize(event);
    let find = |scope: Scope| {
        BINDINGS
            .iter()
            .filter(|b| b.scope == scope)
            .find(|b| b.keys.contains(&key))
            .map(|b| b.action)
    };
    find(Scope::Pane(pane)).or_else(|| find(Scope::Global))
}

/// How a key is written in the help overlay, e.g. `j`, `↓`, `Ctrl-d`, `PgDn`, `Shift-Tab`.
pub fn key_label(key: &Key) -> String {
    let base = match key.code {
        KeyCode::Char(' ') => "Space".to_string(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::Left => "←".into(),
        KeyCode::Right => "→".into(),
        KeyCode::Home => "Home".into(),
        KeyCode::End => "End".into(),
        KeyCode::PageUp => "PgUp".into(),
        KeyCode::PageDown => "PgDn".into(),
        KeyCode::Tab => "Tab".into(),
        KeyCode::BackTab => "Shift-Tab".into(),
        KeyCode::Esc => "Esc".into(),
        KeyCode::Enter => "Enter".into(),
        other => format!("{other:?}"),
    };
    if key.mods.contains(KeyModifiers::CONTROL) {
        format!("Ctrl-{base}")
    } else {
        base
    }
}

/// All keys of a binding joined for display, e.g. `j ↓`.
pub fn keys_label(binding: &Binding) -> String {
    binding
        .keys
        .iter()
        .map(key_label)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn lookups() {
        let none = KeyModifiers::NONE;
        assert_eq!(
            lookup(&ev(KeyCode::Char('j'), none), Pane::Vms),
            Some(Action::Down)
        );
        assert_eq!(
            lookup(&ev(KeyCode::Char('G'), KeyModifiers::SHIFT), Pane::Audit),
            Some(Action::Bottom)
        );
        assert_eq!(
            lookup(&ev(KeyCode::BackTab, KeyModifiers::SHIFT), Pane::Vms),
            Some(Action::PrevPane)
        );
        assert_eq!(
            lookup(&ev(KeyCode::Char('d'), KeyModifiers::CONTROL), Pane::Vms),
            Some(Action::HalfPageDown)
        );
        assert_eq!(
            lookup(&ev(KeyCode::Char('o'), none), Pane::Vms),
            Some(Action::SortNext)
        );
        assert_eq!(
            lookup(&ev(KeyCode::Char('s'), none), Pane::Vms),
            Some(Action::Life(LifeAction::Start))
        );
        assert_eq!(lookup(&ev(KeyCode::Char('s'), none), Pane::Vault), None);
        assert_eq!(
            lookup(&ev(KeyCode::Char('3'), none), Pane::Vms),
            Some(Action::GoPane(Pane::Vault))
        );
    }

    #[test]
    fn usage_keys_and_no_pane_binds_a_key_twice() {
        let none = KeyModifiers::NONE;
        let usage = |c: char| lookup(&ev(KeyCode::Char(c), none), Pane::Usage);
        assert_eq!(usage('p'), Some(Action::UsagePeriod));
        assert_eq!(usage('['), Some(Action::UsageMonthBack));
        assert_eq!(usage(']'), Some(Action::UsageMonthForward));
        // `g` groups in the Usage pane (Home still goes to the first row there); elsewhere `g`
        // is the first row.
        assert_eq!(usage('g'), Some(Action::UsageGroup));
        assert_eq!(
            lookup(&ev(KeyCode::Home, none), Pane::Usage),
            Some(Action::Top)
        );
        assert_eq!(
            lookup(&ev(KeyCode::Char('g'), none), Pane::Vms),
            Some(Action::Top)
        );
        assert_eq!(lookup(&ev(KeyCode::Char('p'), none), Pane::Vms), None);
        for pane in Pane::ALL {
            let mut seen: Vec<Key> = Vec::new();
            for b in BINDINGS.iter().filter(|b| b.scope == Scope::Pane(pane)) {
                for key in b.keys {
                    assert!(!seen.contains(key), "{key:?} bound twice in {pane:?}");
                    seen.push(*key);
                }
            }
        }
    }

    #[test]
    fn a_global_key_a_pane_rebinds_names_that_pane() {
        for g in BINDINGS.iter().filter(|b| b.scope == Scope::Global) {
            for pane in Pane::ALL {
                let shadowed = BINDINGS
                    .iter()
                    .filter(|b| b.scope == Scope::Pane(pane))
                    .any(|b| b.keys.iter().any(|k| g.keys.contains(k)));
                if shadowed {
                    assert!(
                        g.description.contains(pane.title()),
                        "{:?} ({}) is rebound in the {} pane",
                        g.action,
                        g.description,
                        pane.title()
                    );
                }
            }
        }
        // The global keys come first in the help, moving first.
        assert_eq!(BINDINGS[0].action, Action::Down);
        let first_pane = BINDINGS
            .iter()
            .position(|b| b.scope != Scope::Global)
            .unwrap_or(0);
        assert!(
            BINDINGS[first_pane..]
                .iter()
                .all(|b| b.scope != Scope::Global)
        );
    }

    #[test]
    fn labels() {
        assert_eq!(key_label(&ctrl('d')), "Ctrl-d");
        assert_eq!(key_label(&code(KeyCode::PageDown)), "PgDn");
        let down = BINDINGS.iter().find(|b| b.action == Action::Down);
        assert_eq!(down.map(keys_label).as_deref(), Some("j ↓"));
    }
}
