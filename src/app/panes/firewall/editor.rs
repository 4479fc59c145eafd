//! The firewall editor's state (issue 5): the working copy against Hetzner's rules, text mode,
//! the row form, the review before applying and the discard question, with the operations on
//! them that need nothing but the editor. Keys and worker answers are in the pane file
//! (`app/panes/firewall.rs`).

use crate::app::Pane;
use crate::app::input::LineInput;
use crate::domain::firewall::{
    Change, Exposure, ForeignRule, LineError, RedundantRule, Rule, WireRule, diff,
    duplicates_and_shadowed, from_wire, lockout, parse_description, parse_port, parse_protocol,
    parse_rules_text, parse_sources, print_rules_text, sensitive_exposed, validate_rules,
};
use crate::protocol::Effect;
use crate::protocol::firewall::{FirewallFailure, FirewallState};
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
    pub(super) fn new(row: Option<usize>, insert_at: usize, rule: Option<&Rule>) -> RuleForm {
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

    pub(super) fn check(&mut self) {
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

    pub(super) fn reparse(&mut self) {
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
    pub(super) fn new(vm_id: Uuid, vm_name: String, firewall_id: Option<i64>) -> FirewallEditor {
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
    pub(super) fn set_base(&mut self, wire: &[WireRule]) {
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

    pub(super) fn drop_edits(&mut self) {
        self.rules = self.base.clone();
        if self.text.is_some() {
            self.text = Some(TextMode::new(&self.rules));
        }
        self.form = None;
        self.review = None;
    }
}

pub(super) fn toggle_text(ed: &mut FirewallEditor) {
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

pub(super) fn start_review(ed: &mut FirewallEditor, operator_ip: Option<IpAddr>) {
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

pub(super) fn send_apply(ed: &mut FirewallEditor, effects: &mut Vec<Effect>) {
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
