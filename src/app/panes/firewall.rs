//! The firewall rule editor's state machine (issue 5). No I/O.
//!
//! One editor at a time, bound to one VM's Hetzner Cloud Firewall:
//! - opened from the VM list (`f` / Enter), with `:fw NAME`, or by entering the Firewall pane
//!   (the selected VM); it starts from the snapshot's rules and asks the worker to read the
//!   firewall and its last change ([`Effect::LoadFirewall`]);
//! - the working copy is edited as a table (add, edit field by field, duplicate, delete,
//!   reorder) or as text (`ratatui-textarea`, one rule a line in the domain text format, errors
//!   with line numbers while typing); switching keeps the edits, and text with errors stays text;
//! - `w` / Ctrl-S opens the review: the diff against what Hetzner holds, rules v1 cannot keep
//!   (dropped), and warnings (lockout needs `yes` typed, sensitive ports open to the internet,
//!   duplicate or shadowed rules); confirming sends one [`Effect::ApplyFirewall`] and sets the
//!   in-flight flag, so a held or repeated key cannot send twice;
//! - the pane then shows what the worker read back from Hetzner; a failure shows Hetzner's code
//!   and field and keeps every edit;
//! - leaving the pane, quitting, or discarding (`Esc`) with unsaved edits asks first.

use crate::app::input::{Edit, LineInput, is_ctrl, plain_char};
use crate::app::keymap::FwAction;
use crate::app::list::ListState;
use crate::app::{Model, Pane};
use crate::domain::firewall::{
    Change, Exposure, ForeignRule, LineError, MAX_RULES, RedundantRule, Rule, WireRule, diff,
    duplicates_and_shadowed, from_wire, lockout, parse_description, parse_port, parse_protocol,
    parse_rules_text, parse_sources, print_rules_text, sensitive_exposed, validate_rules,
};
use crate::protocol::firewall::{FirewallFailure, FirewallLoaded, FirewallState, LoadCause};
use crate::protocol::{Effect, FirewallView};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui_textarea::TextArea;
use std::fmt;
use std::net::IpAddr;
use uuid::Uuid;

/// The word to type when applying would lock the operator out of SSH (issue 5: "explicit
/// second confirmation").
pub const LOCKOUT_CONFIRM_WORD: &str = "yes";

/// The four fields of a rule in the row form, in Tab order.
pub const FORM_FIELDS: [&str; 4] = ["protocol", "port", "sources", "description"];

/// The row form: one rule edited field by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleForm {
    /// Row being edited; `None` for a new rule (inserted at `insert_at`).
    pub row: Option<usize>,
    /// Where a new rule goes.
    pub insert_at: usize,
    /// Field texts: protocol, port, sources, description.
    pub fields: [LineInput; 4],
    /// Focused field (0..4).
    pub focus: usize,
    /// Error per field, recomputed while typing (empty fields of a new rule stay quiet until
    /// Enter).
    pub errors: [Option<String>; 4],
    /// Enter was pressed once: show every error.
    pub submitted: bool,
}

impl RuleForm {
    fn new(row: Option<usize>, insert_at: usize, rule: Option<&Rule>) -> RuleForm {
        let fields = match rule {
            Some(r) => [
                LineInput::new(&r.protocol.to_string()),
                LineInput::new(&r.port.to_string()),
                LineInput::new(
                    &r.source_ips
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                LineInput::new(&r.description),
            ],
            None => [
                LineInput::new("tcp"),
                LineInput::default(),
                LineInput::default(),
                LineInput::default(),
            ],
        };
        let mut f = RuleForm {
            row,
            insert_at,
            fields,
            focus: 0,
            errors: Default::default(),
            submitted: false,
        };
        f.check();
        f
    }

    /// The rule the fields make, or every field's error.
    pub fn rule(&self) -> Result<Rule, [Option<String>; 4]> {
        let p = parse_protocol(self.fields[0].text());
        let o = parse_port(self.fields[1].text());
        let s = parse_sources(self.fields[2].text());
        let d = parse_description(self.fields[3].text());
        match (p, o, s, d) {
            (Ok(protocol), Ok(port), Ok(source_ips), Ok(description)) => Ok(Rule {
                protocol,
                port,
                source_ips,
                description,
            }),
            (p, o, s, d) => Err([
                p.err().map(|e| e.message),
                o.err().map(|e| e.message),
                s.err().map(|e| e.message),
                d.err().map(|e| e.message),
            ]),
        }
    }

    fn check(&mut self) {
        let errs = match self.rule() {
            Ok(_) => Default::default(),
            Err(e) => e,
        };
        for (i, e) in errs.into_iter().enumerate() {
            let quiet = !self.submitted && self.fields[i].text().trim().is_empty();
            self.errors[i] = if quiet { None } else { e };
        }
    }
}

/// The text editor (`ratatui-textarea`) with its parse result, refreshed after every change.
#[derive(Debug, Clone)]
pub struct TextMode {
    /// The widget state (lines, cursor, scroll).
    pub area: TextArea<'static>,
    /// Rules of the valid lines.
    pub rules: Vec<Rule>,
    /// Errors with 1-based line numbers and fields.
    pub errors: Vec<LineError>,
    /// True after an `Esc` refused because of errors: the next `Esc` discards the text edits
    /// and returns to the table (so text with errors never traps the operator).
    pub discard_armed: bool,
}

impl PartialEq for TextMode {
    fn eq(&self, other: &Self) -> bool {
        self.area.lines() == other.area.lines()
            && self.area.cursor() == other.area.cursor()
            && self.errors == other.errors
    }
}

impl TextMode {
    /// A text editor holding `rules`, one a line, followed by an empty line where the cursor
    /// starts: what the operator types (or pastes) first becomes a new rule, never the tail of
    /// the last rule's description.
    pub fn new(rules: &[Rule]) -> TextMode {
        let text = print_rules_text(rules);
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines.push(String::new());
        let mut area = TextArea::new(lines);
        area.move_cursor(ratatui_textarea::CursorMove::Bottom);
        area.move_cursor(ratatui_textarea::CursorMove::Head);
        let mut t = TextMode {
            area,
            rules: Vec::new(),
            errors: Vec::new(),
            discard_armed: false,
        };
        t.reparse();
        t
    }

    /// The whole text, lines joined with `\n`.
    pub fn text(&self) -> String {
        self.area.lines().join("\n")
    }

    fn reparse(&mut self) {
        let (rules, errors) = parse_rules_text(&self.text());
        self.rules = rules;
        self.errors = errors;
    }

    /// Inserts pasted text at the cursor, newlines kept (docs/dependencies.md: ratatui-textarea 0.9 ignores
    /// crossterm's `Event::Paste`, so the paste is inserted here, never submitted).
    pub fn paste(&mut self, text: &str) {
        let clean = text.replace("\r\n", "\n").replace('\r', "\n");
        self.area.insert_str(clean);
        self.reparse();
    }
}

/// Why the discard question is open: what happens after `y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    /// Drop the edits and stay.
    Discard,
    /// Drop the edits and go to this pane.
    Pane(Pane),
    /// Drop the edits and quit.
    Quit,
    /// Drop the edits and open this VM's firewall.
    Vm(Uuid),
}

/// The review before applying: what changes and what to watch out for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// The complete rule set that will be sent.
    pub rules: Vec<Rule>,
    /// Differences from what Hetzner holds (its editable rules).
    pub changes: Vec<Change>,
    /// Rules Hetzner holds that v1 cannot send: applying drops them.
    pub dropped: Vec<ForeignRule>,
    /// No remaining rule lets TCP/22 in from the operator (or from anywhere when unknown).
    pub lockout: bool,
    /// The operator address the lockout check used.
    pub operator_ip: Option<IpAddr>,
    /// Sensitive ports open to the whole internet.
    pub exposures: Vec<Exposure>,
    /// Duplicate or shadowed rules.
    pub redundant: Vec<RedundantRule>,
    /// What was typed for the lockout confirmation.
    pub typed: LineInput,
    /// First line shown.
    pub scroll: usize,
}

/// The editor of one VM's firewall.
#[derive(Debug, Clone, PartialEq)]
pub struct FirewallEditor {
    /// The Plain VM.
    pub vm_id: Uuid,
    /// Its name (hostname).
    pub vm_name: String,
    /// Its Hetzner firewall id; `None` when none is known (nothing to edit).
    pub firewall_id: Option<i64>,
    /// The firewall as last read from Hetzner (`None` until the worker answers, when the
    /// snapshot had nothing either).
    pub server: Option<FirewallState>,
    /// A read is running.
    pub loading: bool,
    /// Hetzner's rules that v1 edits (the baseline of the diff).
    pub base: Vec<Rule>,
    /// Hetzner's rules that v1 cannot edit (shown, flagged, dropped on apply).
    pub foreign: Vec<ForeignRule>,
    /// The working copy (table mode; in text mode the text is authoritative).
    pub rules: Vec<Rule>,
    /// Text mode, when on.
    pub text: Option<TextMode>,
    /// The row form, when open.
    pub form: Option<RuleForm>,
    /// The review, when open.
    pub review: Option<Review>,
    /// The discard question, when open.
    pub leave: Option<Leave>,
    /// An apply is in flight: no second one is sent.
    pub applying: bool,
    /// The rules sent with the apply in flight (to compare with the read-back).
    pub sent: Option<Vec<Rule>>,
    /// The last apply or read failure (kept until the next apply or successful read).
    pub failure: Option<FirewallFailure>,
    /// A one-line note (refusals, results).
    pub message: Option<String>,
}

impl FirewallEditor {
    fn new(vm_id: Uuid, vm_name: String, firewall_id: Option<i64>) -> FirewallEditor {
        FirewallEditor {
            vm_id,
            vm_name,
            firewall_id,
            server: None,
            loading: false,
            base: Vec::new(),
            foreign: Vec::new(),
            rules: Vec::new(),
            text: None,
            form: None,
            review: None,
            leave: None,
            applying: false,
            sent: None,
            failure: None,
            message: None,
        }
    }

    /// Sets the baseline from Hetzner's wire rules; the working copy follows unless edited.
    fn set_base(&mut self, wire: &[WireRule]) {
        let dirty = self.dirty();
        let mut base = Vec::new();
        let mut foreign = Vec::new();
        for w in wire {
            match from_wire(w) {
                Ok(r) => base.push(r),
                Err(f) => foreign.push(*f),
            }
        }
        self.base = base;
        self.foreign = foreign;
        if !dirty {
            self.rules = self.base.clone();
            if self.text.is_some() {
                self.text = Some(TextMode::new(&self.rules));
            }
        }
    }

    /// The rules the editor holds now: the table's, or the text's valid lines.
    pub fn current_rules(&self) -> &[Rule] {
        match &self.text {
            Some(t) => &t.rules,
            None => &self.rules,
        }
    }

    /// Errors that block applying or switching: the text's line errors, or the table's rule
    /// errors (e.g. over 50 rules).
    pub fn errors(&self) -> Vec<LineError> {
        match &self.text {
            Some(t) => t.errors.clone(),
            None => validate_rules(&self.rules),
        }
    }

    /// True when the editor holds something other than Hetzner's editable rules (text with
    /// errors counts as edited).
    pub fn dirty(&self) -> bool {
        match &self.text {
            Some(t) => !t.errors.is_empty() || t.rules != self.base,
            None => self.rules != self.base,
        }
    }

    /// Changes against Hetzner's rules, for the status line.
    pub fn changes(&self) -> Vec<Change> {
        diff(&self.base, self.current_rules())
    }

    /// Rows of the table: editable rules, then the foreign ones.
    pub fn row_count(&self) -> usize {
        self.rules.len() + self.foreign.len()
    }

    fn drop_edits(&mut self) {
        self.rules = self.base.clone();
        if self.text.is_some() {
            self.text = Some(TextMode::new(&self.rules));
        }
        self.form = None;
        self.review = None;
    }
}

/// The Firewall pane's state: the rule selection, the editor and the operator's address.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FirewallPane {
    /// Selection in the rule table.
    pub list: ListState,
    /// The editor, once a VM was picked.
    pub editor: Option<FirewallEditor>,
    /// The operator's address for the lockout warning (from `SSH_CONNECTION`, set by the event
    /// loop; `None`: any source counts).
    pub operator_ip: Option<IpAddr>,
}

fn wire_from_view(v: &FirewallView) -> Vec<WireRule> {
    v.rules
        .iter()
        .map(|r| WireRule {
            direction: r.direction.clone(),
            protocol: r.protocol.clone(),
            port: (!r.port.is_empty()).then(|| r.port.clone()),
            source_ips: if r.direction == "in" {
                r.source_ips.clone()
            } else {
                Vec::new()
            },
            destination_ips: Vec::new(),
            description: (!r.description.is_empty()).then(|| r.description.clone()),
        })
        .collect()
}

/// Opens the editor for a VM: rules from the snapshot at once, then a fresh read from Hetzner.
/// Asks first when the current editor holds unsaved edits for another VM.
pub fn open(model: &mut Model, vm_id: Uuid, effects: &mut Vec<Effect>) {
    if let Some(ed) = &mut model.fw.editor
        && ed.vm_id != vm_id
        && ed.dirty()
    {
        ed.leave = Some(Leave::Vm(vm_id));
        model.pane = Pane::Firewall;
        return;
    }
    if model.fw.editor.as_ref().is_some_and(|e| e.vm_id == vm_id) {
        model.pane = Pane::Firewall;
        reload(model, effects);
        return;
    }
    let Some(row) = model.snapshot.vms.iter().find(|v| v.record.id == vm_id) else {
        return;
    };
    let fw_id = row
        .firewall
        .as_ref()
        .map(|f| f.id)
        .or(row.record.hetzner_firewall_id);
    let mut ed = FirewallEditor::new(vm_id, row.record.name.clone(), fw_id);
    if let Some(view) = &row.firewall {
        ed.set_base(&wire_from_view(view));
    }
    model.fw.editor = Some(ed);
    model.fw.list = ListState::default();
    model.pane = Pane::Firewall;
    reload(model, effects);
}

fn reload(model: &mut Model, effects: &mut Vec<Effect>) {
    if let Some(ed) = &mut model.fw.editor
        && let Some(id) = ed.firewall_id
    {
        ed.loading = true;
        effects.push(Effect::LoadFirewall {
            vm_id: ed.vm_id,
            firewall_id: id,
        });
    }
}

/// `:fw NAME`: the VM with that name (a live one first), selected in the VM list when visible.
///
/// Errors: `no VM named 'NAME'`.
pub fn open_by_name(
    model: &mut Model,
    name: &str,
    effects: &mut Vec<Effect>,
) -> Result<(), String> {
    let name = name.trim();
    let found = model
        .snapshot
        .vms
        .iter()
        .filter(|v| v.record.name == name)
        .max_by_key(|v| v.record.status.is_live())
        .map(|v| v.record.id);
    let Some(id) = found else {
        return Err(format!("no VM named '{name}'"));
    };
    model.vms.selected_id = Some(id);
    model.restore_selection();
    open(model, id, effects);
    Ok(())
}

/// True when the editor takes every key itself (text mode, the row form, the review or the
/// discard question), so the keymap is not consulted.
pub fn captures_keys(model: &Model) -> bool {
    model.pane == Pane::Firewall
        && model.fw.editor.as_ref().is_some_and(|e| {
            e.text.is_some() || e.form.is_some() || e.review.is_some() || e.leave.is_some()
        })
}

/// Runs a keymap command of the editor.
pub fn action(model: &mut Model, a: FwAction, effects: &mut Vec<Effect>) {
    if a == FwAction::Open {
        if let Some(id) = model.selected_vm().map(|v| v.record.id) {
            open(model, id, effects);
        }
        return;
    }
    if a == FwAction::Reload {
        effects.push(Effect::Refresh);
        reload(model, effects);
        return;
    }
    let selected = model.fw.list.selected;
    let Some(ed) = &mut model.fw.editor else {
        return;
    };
    if ed.firewall_id.is_none() && a != FwAction::Discard {
        ed.message = Some("this VM has no firewall known to Hetzner: nothing to edit".into());
        return;
    }
    ed.message = None;
    let on_foreign = selected >= ed.rules.len() && selected < ed.row_count();
    let foreign_note = |ed: &FirewallEditor| {
        let f = &ed.foreign[selected - ed.rules.len()];
        format!("v1 cannot edit this rule ({}); applying drops it", f.reason)
    };
    let mut select = None;
    match a {
        FwAction::Add => {
            if ed.rules.len() >= MAX_RULES {
                ed.message = Some(format!(
                    "at most {MAX_RULES} rules per firewall: delete one first"
                ));
                return;
            }
            let at = if ed.rules.is_empty() {
                0
            } else {
                (selected + 1).min(ed.rules.len())
            };
            ed.form = Some(RuleForm::new(None, at, None));
        }
        FwAction::Edit => {
            if on_foreign {
                ed.message = Some(foreign_note(ed));
            } else if let Some(r) = ed.rules.get(selected) {
                ed.form = Some(RuleForm::new(Some(selected), selected, Some(r)));
            } else {
                ed.form = Some(RuleForm::new(None, 0, None));
            }
        }
        FwAction::Duplicate => {
            if on_foreign {
                ed.message = Some(foreign_note(ed));
            } else if ed.rules.len() >= MAX_RULES {
                ed.message = Some(format!(
                    "at most {MAX_RULES} rules per firewall: delete one first"
                ));
            } else if let Some(r) = ed.rules.get(selected).cloned() {
                ed.rules.insert(selected + 1, r);
                select = Some(selected + 1);
                ed.message = Some(format!(
                    "rule {} duplicated as rule {}: edit it with e",
                    selected + 1,
                    selected + 2
                ));
            }
        }
        FwAction::Delete => {
            if on_foreign {
                ed.message = Some(foreign_note(ed));
            } else if selected < ed.rules.len() {
                let r = ed.rules.remove(selected);
                ed.message = Some(format!("deleted rule {}: {}", selected + 1, r.to_line()));
            }
        }
        FwAction::MoveUp => {
            if !on_foreign && selected > 0 && selected < ed.rules.len() {
                ed.rules.swap(selected, selected - 1);
                select = Some(selected - 1);
            }
        }
        FwAction::MoveDown => {
            if !on_foreign && selected + 1 < ed.rules.len() {
                ed.rules.swap(selected, selected + 1);
                select = Some(selected + 1);
            }
        }
        FwAction::ToggleText => toggle_text(ed),
        FwAction::Apply => start_review(ed, model.fw.operator_ip),
        FwAction::Discard => {
            if ed.dirty() {
                ed.leave = Some(Leave::Discard);
            } else {
                model.pane = Pane::Vms;
            }
        }
        FwAction::Open | FwAction::Reload => {}
    }
    let len = model
        .fw
        .editor
        .as_ref()
        .map_or(0, FirewallEditor::row_count);
    if let Some(s) = select {
        model.fw.list.selected = s;
    }
    model.fw.list.clamp(len);
}

fn toggle_text(ed: &mut FirewallEditor) {
    match &ed.text {
        None => {
            ed.text = Some(TextMode::new(&ed.rules));
            ed.message =
                Some("text mode: one rule a line, e.g. tcp 443 0.0.0.0/0,::/0 # HTTPS".into());
        }
        Some(t) => {
            if let Some(first) = t.errors.first() {
                ed.message = Some(format!(
                    "staying in text mode: {} error{} to fix first ({first})",
                    t.errors.len(),
                    if t.errors.len() == 1 { "" } else { "s" }
                ));
            } else {
                ed.rules = t.rules.clone();
                ed.text = None;
                ed.message = None;
            }
        }
    }
}

fn start_review(ed: &mut FirewallEditor, operator_ip: Option<IpAddr>) {
    if ed.applying {
        ed.message = Some("an apply is already running: wait for Hetzner's answer".into());
        return;
    }
    let errors = ed.errors();
    if let Some(first) = errors.first() {
        let shown = if ed.text.is_some() {
            first.to_string()
        } else {
            first.for_row()
        };
        ed.message = Some(format!(
            "cannot apply: {} error{} ({shown})",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        ));
        return;
    }
    let rules = ed.current_rules().to_vec();
    let changes = diff(&ed.base, &rules);
    if changes.is_empty() && ed.foreign.is_empty() && rules == ed.base {
        ed.message = Some("nothing to apply: the rules equal what Hetzner holds".into());
        return;
    }
    ed.review = Some(Review {
        lockout: lockout(&rules, operator_ip),
        operator_ip,
        exposures: sensitive_exposed(&rules),
        redundant: duplicates_and_shadowed(&rules),
        changes,
        dropped: ed.foreign.clone(),
        rules,
        typed: LineInput::default(),
        scroll: 0,
    });
}

fn send_apply(ed: &mut FirewallEditor, effects: &mut Vec<Effect>) {
    let (Some(review), Some(id)) = (ed.review.take(), ed.firewall_id) else {
        return;
    };
    if ed.applying {
        return;
    }
    ed.applying = true;
    ed.failure = None;
    ed.message = Some(format!(
        "applying {} rules to firewall {id}…",
        review.rules.len()
    ));
    ed.sent = Some(review.rules.clone());
    effects.push(Effect::ApplyFirewall {
        vm_id: ed.vm_id,
        firewall_id: id,
        rules: review.rules,
    });
}

/// Handles a key while the editor captures keys (see [`captures_keys`]).
pub fn key(model: &mut Model, key: KeyEvent, effects: &mut Vec<Effect>) {
    let Some(ed) = &mut model.fw.editor else {
        return;
    };
    if let Some(leave) = ed.leave {
        match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => {
                ed.leave = None;
                ed.drop_edits();
                ed.message = Some("edits discarded".into());
                match leave {
                    Leave::Discard => {}
                    Leave::Pane(p) => model.pane = p,
                    Leave::Quit => crate::app::request_quit(model),
                    Leave::Vm(id) => open(model, id, effects),
                }
            }
            _ if is_ctrl(&key, 'c') => ed.leave = None,
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => ed.leave = None,
            _ => {}
        }
        return;
    }
    if let Some(review) = &mut ed.review {
        match key.code {
            KeyCode::Esc => ed.review = None,
            _ if is_ctrl(&key, 'c') => ed.review = None,
            KeyCode::Down => review.scroll += 1,
            KeyCode::Up => review.scroll = review.scroll.saturating_sub(1),
            KeyCode::PageDown => review.scroll += 10,
            KeyCode::PageUp => review.scroll = review.scroll.saturating_sub(10),
            KeyCode::Enter => {
                if review.lockout && review.typed.text().trim() != LOCKOUT_CONFIRM_WORD {
                    ed.message = Some(format!(
                        "type {LOCKOUT_CONFIRM_WORD} and Enter to apply anyway, or Esc to go back"
                    ));
                } else {
                    send_apply(ed, effects);
                }
            }
            _ if is_ctrl(&key, 's') && !review.lockout => send_apply(ed, effects),
            _ if review.lockout => {
                review.typed.on_key(&key);
            }
            _ => match plain_char(&key) {
                Some('y') | Some('w') => send_apply(ed, effects),
                Some('n') | Some('q') => ed.review = None,
                Some('j') => review.scroll += 1,
                Some('k') => review.scroll = review.scroll.saturating_sub(1),
                _ => {}
            },
        }
        return;
    }
    if let Some(form) = &mut ed.form {
        if is_ctrl(&key, 'c') {
            ed.form = None;
            return;
        }
        match key.code {
            KeyCode::Tab | KeyCode::Down => {
                form.focus = (form.focus + 1) % 4;
                return;
            }
            KeyCode::BackTab | KeyCode::Up => {
                form.focus = (form.focus + 3) % 4;
                return;
            }
            KeyCode::Char(' ') if form.focus == 0 && plain_char(&key).is_some() => {
                let next = if form.fields[0].text().trim().eq_ignore_ascii_case("tcp") {
                    "udp"
                } else {
                    "tcp"
                };
                form.fields[0].set(next);
                form.check();
                return;
            }
            _ => {}
        }
        match form.fields[form.focus].on_key(&key) {
            Edit::Changed => form.check(),
            Edit::Cancel => {
                ed.form = None;
                ed.message = Some("edit cancelled".into());
            }
            Edit::Ignored => {}
            Edit::Submit => {
                form.submitted = true;
                form.check();
                match form.rule() {
                    Ok(rule) => {
                        let (row, at) = (form.row, form.insert_at);
                        let n = match row {
                            Some(i) if i < ed.rules.len() => {
                                ed.rules[i] = rule;
                                i
                            }
                            _ => {
                                let at = at.min(ed.rules.len());
                                ed.rules.insert(at, rule);
                                at
                            }
                        };
                        ed.form = None;
                        ed.message = Some(format!(
                            "rule {} {}: w to review and apply",
                            n + 1,
                            if row.is_some() { "changed" } else { "added" }
                        ));
                        let len = ed.row_count();
                        model.fw.list.selected = n;
                        model.fw.list.clamp(len);
                    }
                    Err(_) => {
                        if let Some(i) = form.errors.iter().position(Option::is_some) {
                            form.focus = i;
                        }
                    }
                }
            }
        }
        return;
    }
    if let Some(t) = &mut ed.text {
        if is_ctrl(&key, 's') {
            start_review(ed, model.fw.operator_ip);
            return;
        }
        if key.code == KeyCode::Esc && t.discard_armed {
            // Second Esc with errors: drop the text edits, back to the table as it was.
            ed.text = None;
            ed.message = Some("text edits discarded: back to the table".into());
            return;
        }
        if key.code == KeyCode::Esc || is_ctrl(&key, 't') {
            let esc = key.code == KeyCode::Esc;
            toggle_text(ed);
            if let (true, Some(t)) = (esc, &mut ed.text) {
                t.discard_armed = true;
                if let Some(m) = &mut ed.message {
                    m.push_str("; Esc again discards the text edits");
                }
            }
            return;
        }
        t.discard_armed = false;
        if is_ctrl(&key, 'z') {
            t.area.undo();
            t.reparse();
            ed.message = None;
            return;
        }
        if t.area.input(key) {
            t.reparse();
            ed.message = None;
        }
    }
}

/// Handles pasted text (bracketed paste): inserted into the text editor (many lines at once) or
/// the focused form field (newlines become spaces). Returns false when the editor is not
/// taking text, so the caller can route it elsewhere.
pub fn paste(model: &mut Model, text: &str) -> bool {
    if model.pane != Pane::Firewall {
        return false;
    }
    let Some(ed) = &mut model.fw.editor else {
        return false;
    };
    if ed.leave.is_some() || ed.review.is_some() {
        return true;
    }
    if let Some(form) = &mut ed.form {
        if form.fields[form.focus].paste(text.trim()) == Edit::Changed {
            form.check();
        }
        return true;
    }
    if let Some(t) = &mut ed.text {
        t.paste(text);
        ed.message = None;
        return true;
    }
    false
}

/// Applies a worker event about a firewall. Another VM's firewall only refreshes the snapshot.
pub fn loaded(model: &mut Model, ev: FirewallLoaded) {
    // Keep the VM list's copy in step with what Hetzner holds.
    if let Some(row) = model
        .snapshot
        .vms
        .iter_mut()
        .find(|v| v.record.id == ev.vm_id)
    {
        row.firewall = Some(view_of(&ev.firewall));
    }
    let Some(ed) = &mut model.fw.editor else {
        return;
    };
    if ed.vm_id != ev.vm_id {
        return;
    }
    ed.loading = false;
    ed.firewall_id = Some(ev.firewall.id);
    match ev.cause {
        LoadCause::Applied => {
            ed.applying = false;
            ed.failure = None;
            // The edits are now Hetzner's: start again from what it sent back.
            ed.base.clear();
            ed.rules.clear();
            ed.text = ed.text.as_ref().map(|_| TextMode::new(&[]));
            ed.set_base(&ev.firewall.rules);
            ed.rules = ed.base.clone();
            if ed.text.is_some() {
                ed.text = Some(TextMode::new(&ed.rules));
            }
            let sent = ed.sent.take().unwrap_or_default();
            let differs = !diff(&sent, &ed.base).is_empty();
            ed.message = Some(if differs {
                format!(
                    "applied, but Hetzner holds something else: showing its {} rules",
                    ev.firewall.rules.len()
                )
            } else {
                format!(
                    "applied: Hetzner now holds these {} rules (read back)",
                    ev.firewall.rules.len()
                )
            });
        }
        LoadCause::Loaded | LoadCause::AfterFailure => {
            let was_dirty = ed.dirty();
            let before = ed.base.clone();
            ed.set_base(&ev.firewall.rules);
            if was_dirty && before != ed.base && ev.cause == LoadCause::Loaded {
                ed.message = Some(
                    "Hetzner's rules changed since editing began: the diff is against the new ones"
                        .into(),
                );
            }
            if ev.cause == LoadCause::Loaded {
                ed.failure = None;
            }
        }
    }
    ed.server = Some(ev.firewall);
    let len = ed.row_count();
    model.fw.list.clamp(len);
}

/// Applies a failed read or apply: the in-flight flag clears, every edit stays.
pub fn failed(model: &mut Model, f: FirewallFailure) {
    let Some(ed) = &mut model.fw.editor else {
        return;
    };
    if ed.vm_id != f.vm_id {
        return;
    }
    if f.apply {
        ed.applying = false;
        ed.sent = None;
        ed.message = Some("apply failed: your edits are kept; fix and apply again".into());
    } else {
        ed.loading = false;
    }
    ed.failure = Some(f);
}

/// A refusal from the worker while an apply is in flight ends it (read-only mode).
pub fn refused(model: &mut Model, reason: &str) {
    if let Some(ed) = &mut model.fw.editor
        && ed.applying
    {
        ed.applying = false;
        ed.sent = None;
        ed.message = Some(format!("not applied: {reason}; your edits are kept"));
    }
}

fn view_of(f: &FirewallState) -> FirewallView {
    let mut applied_to = f.servers.clone();
    for (_, ids) in &f.label_selectors {
        applied_to.extend(ids);
    }
    FirewallView {
        id: f.id,
        name: f.name.clone(),
        rules: f
            .rules
            .iter()
            .map(|r| crate::protocol::RuleView {
                direction: r.direction.clone(),
                protocol: r.protocol.clone(),
                port: r.port.clone().unwrap_or_default(),
                source_ips: if r.direction == "out" {
                    r.destination_ips.clone()
                } else {
                    r.source_ips.clone()
                },
                description: r.description.clone().unwrap_or_default(),
            })
            .collect(),
        applied_to,
    }
}

/// Asks before unsaved edits are lost by `leave` (going to another pane, or quitting): opens
/// the discard question on the Firewall pane and returns true. False when there is nothing to
/// lose (the caller goes ahead).
pub(crate) fn ask_before_leaving(model: &mut Model, leave: Leave) -> bool {
    let Some(ed) = model.fw.editor.as_mut().filter(|e| e.dirty()) else {
        return false;
    };
    ed.leave = Some(leave);
    model.pane = Pane::Firewall;
    true
}

/// The pane was entered from another one: the editor opens for the selected VM (unless it
/// holds unsaved edits of another VM, which stay).
pub(crate) fn entered(model: &mut Model, effects: &mut Vec<Effect>) {
    let dirty = model.fw.editor.as_ref().is_some_and(FirewallEditor::dirty);
    let now_vm = model.fw.editor.as_ref().map(|e| e.vm_id);
    if let Some(id) = model.selected_vm().map(|v| v.record.id)
        && now_vm != Some(id)
        && !dirty
    {
        open(model, id, effects);
    }
}

/// Number of table rows (for the pane's selection).
pub fn row_count(model: &Model) -> usize {
    model
        .fw
        .editor
        .as_ref()
        .map_or(0, FirewallEditor::row_count)
}

impl fmt::Display for Leave {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Leave::Discard => f.write_str("discard them"),
            Leave::Pane(p) => write!(f, "discard them and go to {}", p.title()),
            Leave::Quit => f.write_str("discard them and quit"),
            Leave::Vm(_) => f.write_str("discard them and open the other VM"),
        }
    }
}

/// A field error of the row form in words: `port: 85-80: low port is above high port`.
pub fn form_error(field: usize, message: &str) -> String {
    format!(
        "{}: {message}",
        FORM_FIELDS.get(field).copied().unwrap_or("field")
    )
}
