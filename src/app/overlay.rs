//! The overlays drawn over any pane: key help (`?`), the command line (`:`), the VM filter line
//! (`/`) and the accounts list with its add form (`A`). While open, an overlay takes every key
//! and every paste ([`super::focus`]).

use super::input::{Edit, LineInput, is_ctrl, plain_char};
use super::keymap::{self, Action};
use super::{Model, Pane, go, lifecycle, panes, request_quit};
use crate::domain::{AccountKind, validate_account_slug};
use crate::protocol::Effect;
use crossterm::event::{KeyCode, KeyEvent};

/// The command line (`:`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandLine {
    /// What was typed after the `:`.
    pub input: LineInput,
    /// Error of the last run, in words; the input is kept so it can be corrected.
    pub error: Option<String>,
}

/// The filter line (`/`): edits [`super::VmsView::filter`] live.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterLine {
    /// The filter before the line was opened (restored by Esc).
    pub previous: String,
}

/// The form that adds an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountForm {
    /// Slug typed so far.
    pub slug: LineInput,
    /// Personal or organization (Tab switches).
    pub kind: AccountKind,
    /// Why the last submit was refused; the input is kept.
    pub error: Option<String>,
}

/// The accounts overlay: the account list, optionally with the add form open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountsOverlay {
    /// Selected account (index into the sorted account list).
    pub selected: usize,
    /// The add form, when open.
    pub form: Option<AccountForm>,
}

/// An overlay drawn over the current pane; it takes every key while open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    /// Key help generated from [`keymap::BINDINGS`].
    Help {
        /// First help line shown.
        scroll: usize,
    },
    /// The `:` command line.
    Command(CommandLine),
    /// The `/` filter line.
    Filter(FilterLine),
    /// Accounts list and add form.
    Accounts(AccountsOverlay),
}

impl Overlay {
    /// True when the overlay is a text field (Ctrl-C clears or cancels instead of quitting).
    pub fn is_text_field(&self) -> bool {
        match self {
            Overlay::Command(_) | Overlay::Filter(_) => true,
            Overlay::Accounts(a) => a.form.is_some(),
            Overlay::Help { .. } => false,
        }
    }
}

/// Number of lines of the help overlay's body (for scroll clamping): a heading per section
/// (keys in every pane, each pane with keys of its own, text fields, commands), a blank line
/// between sections, and one line per binding, text-field key and command.
pub fn help_line_count() -> usize {
    let pane_sections = Pane::ALL
        .iter()
        .filter(|p| {
            keymap::BINDINGS
                .iter()
                .any(|b| b.scope == keymap::Scope::Pane(**p))
        })
        .count();
    let sections = 1 + pane_sections + 2;
    keymap::BINDINGS.len()
        + keymap::TEXT_FIELD_KEYS.len()
        + keymap::COMMANDS.len()
        + sections
        + (sections - 1)
}

/// Runs a command-line command. `Err` carries the message shown under the kept input.
fn run_command(model: &mut Model, input: &str, effects: &mut Vec<Effect>) -> Result<(), String> {
    let cmd = input.trim().trim_start_matches(':').trim();
    match cmd {
        "" => {}
        "vms" | "vm" => go(model, Pane::Vms, effects),
        "fw" | "firewall" => go(model, Pane::Firewall, effects),
        "vault" => go(model, Pane::Vault, effects),
        "usage" => go(model, Pane::Usage, effects),
        "audit" => go(model, Pane::Audit, effects),
        "q" | "quit" | "qa" => request_quit(model),
        // Vim's "quit, whatever is running".
        "q!" | "qa!" => super::exit(model),
        "r" | "refresh" => super::apply(model, Action::Refresh, effects),
        "create" | "new" => {
            model.overlay = None;
            lifecycle::open_create(model);
            return Ok(());
        }
        "help" | "h" => {
            model.overlay = Some(Overlay::Help { scroll: 0 });
            return Ok(());
        }
        fw if fw.starts_with("fw ") || fw.starts_with("firewall ") => {
            let name = fw.split_once(' ').map_or("", |(_, n)| n);
            panes::firewall::open_by_name(model, name, effects)?;
        }
        "accounts" | "account" => {
            model.overlay = Some(Overlay::Accounts(AccountsOverlay::default()));
            return Ok(());
        }
        other => {
            let known: Vec<&str> = keymap::COMMANDS.iter().map(|(c, _)| *c).collect();
            return Err(format!(
                "unknown command ':{other}' (known: {})",
                known.join(" ")
            ));
        }
    }
    model.overlay = None;
    Ok(())
}

/// Pasted text into the open overlay's text field, if any (see [`LineInput::paste`]).
pub(super) fn paste(model: &mut Model, text: &str) {
    match &mut model.overlay {
        Some(Overlay::Command(c)) => {
            let changed = c.input.paste(text) == Edit::Changed;
            if changed {
                c.error = None;
            }
        }
        Some(Overlay::Filter(_)) => {
            let changed = model.vms.filter.paste(text) == Edit::Changed;
            if changed {
                model.refilter();
            }
        }
        Some(Overlay::Accounts(AccountsOverlay {
            form: Some(form), ..
        })) => {
            let changed = form.slug.paste(text.trim()) == Edit::Changed;
            if changed {
                form.error = None;
            }
        }
        _ => {}
    }
}

/// A key while an overlay is open.
pub(super) fn key(model: &mut Model, key: KeyEvent, effects: &mut Vec<Effect>) {
    let Some(overlay) = model.overlay.take() else {
        return;
    };
    model.overlay = match overlay {
        Overlay::Help { scroll } => help_key(model, scroll, key),
        Overlay::Command(c) => command_key(model, c, key, effects),
        Overlay::Filter(f) => {
            filter_key(model, f, key);
            return;
        }
        Overlay::Accounts(a) => {
            accounts_key(model, a, key, effects);
            return;
        }
    };
}

fn help_key(model: &mut Model, scroll: usize, key: KeyEvent) -> Option<Overlay> {
    let scroll = match key.code {
        KeyCode::Char('j') | KeyCode::Down => scroll + 1,
        KeyCode::Char('k') | KeyCode::Up => scroll.saturating_sub(1),
        KeyCode::PageDown => scroll + 10,
        KeyCode::PageUp => scroll.saturating_sub(10),
        KeyCode::Char('g') | KeyCode::Home => 0,
        _ if is_ctrl(&key, 'c') => {
            // Quitting may close the help (to ask about unsaved firewall edits).
            model.overlay = Some(Overlay::Help { scroll });
            request_quit(model);
            return model.overlay.take();
        }
        _ => return None,
    };
    Some(Overlay::Help {
        scroll: scroll.min(help_line_count()),
    })
}

fn command_key(
    model: &mut Model,
    mut c: CommandLine,
    key: KeyEvent,
    effects: &mut Vec<Effect>,
) -> Option<Overlay> {
    if c.error.is_some() && plain_char(&key) == Some(':') {
        // After a failed command, `:` starts a fresh line (no `:cmd:cmd`).
        return Some(Overlay::Command(CommandLine::default()));
    }
    match c.input.on_key(&key) {
        Edit::Changed => {
            c.error = None;
            Some(Overlay::Command(c))
        }
        Edit::Cancel => None,
        // Backspace on an empty line closes it.
        Edit::Ignored if key.code == KeyCode::Backspace => None,
        Edit::Ignored => Some(Overlay::Command(c)),
        Edit::Submit => {
            let input = c.input.text().to_string();
            // The command decides what is open afterwards (it may open another overlay).
            model.overlay = Some(Overlay::Command(c.clone()));
            match run_command(model, &input, effects) {
                Ok(()) => model.overlay.take(),
                Err(e) => {
                    c.error = Some(e);
                    Some(Overlay::Command(c))
                }
            }
        }
    }
}

fn filter_key(model: &mut Model, f: FilterLine, key: KeyEvent) {
    model.overlay = Some(Overlay::Filter(f));
    if is_ctrl(&key, 'c') && model.vms.filter.is_empty() {
        model.overlay = None;
        return;
    }
    match model.vms.filter.on_key(&key) {
        Edit::Changed => model.refilter(),
        Edit::Cancel => {
            if let Some(Overlay::Filter(f)) = model.overlay.take() {
                model.vms.filter.set(&f.previous);
            }
            model.refilter();
        }
        Edit::Submit => model.overlay = None,
        Edit::Ignored => match key.code {
            KeyCode::Down => model.move_selection(Action::Down),
            KeyCode::Up => model.move_selection(Action::Up),
            _ => {}
        },
    }
}

fn accounts_key(
    model: &mut Model,
    mut a: AccountsOverlay,
    key: KeyEvent,
    effects: &mut Vec<Effect>,
) {
    let slugs = model.account_slugs();
    if let Some(mut form) = a.form.take() {
        match form.slug.on_key(&key) {
            Edit::Changed => {
                form.error = None;
                a.form = Some(form);
            }
            Edit::Cancel => a.form = None,
            Edit::Ignored => {
                if matches!(key.code, KeyCode::Tab | KeyCode::BackTab) {
                    form.kind = match form.kind {
                        AccountKind::Personal => AccountKind::Organization,
                        AccountKind::Organization => AccountKind::Personal,
                    };
                }
                a.form = Some(form);
            }
            Edit::Submit => {
                let slug = form.slug.text().trim().to_string();
                let check = validate_account_slug(&slug).and_then(|()| {
                    if slugs.contains(&slug) {
                        Err(format!("account slug: '{slug}' already exists"))
                    } else {
                        Ok(())
                    }
                });
                match check {
                    Ok(()) => {
                        effects.push(Effect::AddAccount {
                            slug: slug.clone(),
                            kind: form.kind,
                        });
                        model.toast(format!("adding account {slug} ({})", form.kind), false);
                    }
                    Err(e) => {
                        form.error = Some(e);
                        a.form = Some(form);
                    }
                }
            }
        }
        model.overlay = Some(Overlay::Accounts(a));
        return;
    }
    if is_ctrl(&key, 'c') {
        model.overlay = Some(Overlay::Accounts(a));
        request_quit(model);
        return;
    }
    match key.code {
        KeyCode::Char('j') | KeyCode::Down => {
            a.selected = (a.selected + 1).min(slugs.len().saturating_sub(1));
        }
        KeyCode::Char('k') | KeyCode::Up => a.selected = a.selected.saturating_sub(1),
        KeyCode::Char('n') | KeyCode::Char('+') => {
            a.form = Some(AccountForm {
                slug: LineInput::default(),
                kind: AccountKind::Organization,
                error: None,
            });
        }
        KeyCode::Enter => {
            let pick = slugs.get(a.selected).cloned();
            let pick = if pick == model.account_filter {
                None
            } else {
                pick
            };
            model.set_account_filter(pick);
            return;
        }
        KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('A') => return,
        _ => {}
    }
    model.overlay = Some(Overlay::Accounts(a));
}
