//! The one single-line text field every dialog and line uses (command line, filters, account
//! slug, VM name, name confirmations, Vault label, firewall rule fields, the lockout word), and
//! the two key tests every key handler shares ([`is_ctrl`], [`plain_char`]).
//!
//! The multi-line editors (the firewall's text mode, the Vault's key paste) are
//! `ratatui-textarea` widgets and stay so.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// True when `key` is Ctrl + `c` (a lowercase letter).
pub fn is_ctrl(key: &KeyEvent, c: char) -> bool {
    key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char(c)
}

/// The character `key` types, if it is one without Ctrl or Alt (Shift is in the character).
pub fn plain_char(key: &KeyEvent) -> Option<char> {
    match key.code {
        KeyCode::Char(c)
            if !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
        {
            Some(c)
        }
        _ => None,
    }
}

/// What a key or a paste did to a [`LineInput`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// The text changed (typed, deleted, cleared or pasted).
    Changed,
    /// Enter: the owner submits the text.
    Submit,
    /// Esc, or Ctrl-c on an empty field: the owner cancels.
    Cancel,
    /// The field did nothing with it (a key for the owner, e.g. Tab or ↓; or Backspace on an
    /// empty field).
    Ignored,
}

/// A single-line text field; the cursor is always at the end.
///
/// Keys: characters append, Backspace deletes the last one, Ctrl-u clears, Ctrl-c clears (or
/// cancels when already empty), Enter submits, Esc cancels. A bracketed paste appends its text
/// with a trailing newline trimmed and every other control character (newline, tab, escape)
/// turned into a space, so a paste can never submit nor insert a control character.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineInput {
    text: String,
}

impl LineInput {
    /// A field holding `text`.
    pub fn new(text: &str) -> LineInput {
        LineInput {
            text: text.to_string(),
        }
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// True when nothing is typed.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Replaces the text.
    pub fn set(&mut self, text: &str) {
        self.text = text.to_string();
    }

    /// Empties the field.
    pub fn clear(&mut self) {
        self.text.clear();
    }

    /// Applies one key (see the type's documentation).
    pub fn on_key(&mut self, key: &KeyEvent) -> Edit {
        if is_ctrl(key, 'u') {
            self.text.clear();
            return Edit::Changed;
        }
        if is_ctrl(key, 'c') {
            if self.text.is_empty() {
                return Edit::Cancel;
            }
            self.text.clear();
            return Edit::Changed;
        }
        match key.code {
            KeyCode::Enter => Edit::Submit,
            KeyCode::Esc => Edit::Cancel,
            KeyCode::Backspace => {
                if self.text.pop().is_some() {
                    Edit::Changed
                } else {
                    Edit::Ignored
                }
            }
            _ => match plain_char(key) {
                Some(c) => {
                    self.text.push(c);
                    Edit::Changed
                }
                None => Edit::Ignored,
            },
        }
    }

    /// Appends pasted text: a trailing newline trimmed, other control characters as spaces.
    /// [`Edit::Ignored`] when nothing is left to insert.
    pub fn paste(&mut self, text: &str) -> Edit {
        let line = clean_paste(text);
        if line.is_empty() {
            return Edit::Ignored;
        }
        self.text.push_str(&line);
        Edit::Changed
    }
}

/// Reads as the text (`&field` where a `&str` is wanted, `field.trim()`); changes go through
/// the methods.
impl std::ops::Deref for LineInput {
    type Target = str;

    fn deref(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for LineInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq<&str> for LineInput {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl From<&str> for LineInput {
    fn from(text: &str) -> LineInput {
        LineInput::new(text)
    }
}

/// Pasted text for a single line: trailing newlines (`\n`, `\r\n`) trimmed, every other control
/// character a space.
pub fn clean_paste(text: &str) -> String {
    text.trim_end_matches(['\n', '\r'])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn keys_and_paste() {
        let mut f = LineInput::default();
        assert_eq!(f.on_key(&key(KeyCode::Backspace)), Edit::Ignored);
        assert_eq!(f.on_key(&key(KeyCode::Char('a'))), Edit::Changed);
        assert_eq!(f.paste("b\tc\n"), Edit::Changed);
        assert_eq!(f.text(), "ab c");
        assert_eq!(f.paste("\n"), Edit::Ignored);
        assert_eq!(f.on_key(&key(KeyCode::Enter)), Edit::Submit);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(f.on_key(&ctrl_c), Edit::Changed);
        assert!(f.is_empty());
        assert_eq!(f.on_key(&ctrl_c), Edit::Cancel);
        assert_eq!(f.on_key(&key(KeyCode::Esc)), Edit::Cancel);
        assert_eq!(f.on_key(&key(KeyCode::Tab)), Edit::Ignored);
    }
}
