//! What every headless command prints through: the one-line [`Failure`], stdout writes that
//! tolerate a closed pipe, and plain-text tables aligned by display width.

use std::io::Write;

use unicode_width::UnicodeWidthStr;

/// An expected failure: printed as one line on stderr, exit status 1, no report.
#[derive(Debug)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

/// Writes `text` and a newline to stdout; a closed pipe is not an error worth a report.
pub(super) fn print_out(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure(format!("writing to stdout: {e}"))),
    }
}

/// `text` with every control character but the newline shown as `?` (an escape sequence in a
/// stored label or a typed argument never reaches the terminal).
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() && c != '\n' { '?' } else { c })
        .collect()
}

/// A plain-text table: columns separated by two spaces, padded by display width (so CJK and
/// emoji keep columns aligned), no trailing spaces; control characters in cells shown as `?`.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| printable(&c.replace('\n', " "))).collect())
        .collect();
    let rows = &rows[..];
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.width());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(cell);
            if i + 1 < cells.len() {
                let pad = widths
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(cell.width());
                s.push_str(&" ".repeat(pad));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = vec![line(header.to_vec())];
    out.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(printable("a\u{1b}]0;T\u{7}b\nc"), "a?]0;T?b\nc");
        let t = table(&["LABEL"], &[vec!["x\u{1b}[2Jy\nz".into()]]);
        assert_eq!(t, "LABEL\nx?[2Jy z");
    }

    #[test]
    fn table_aligns_by_display_width() {
        let t = table(
            &["NAME", "IP"],
            &[
                vec!["日本".into(), "1.2.3.4".into()],
                vec!["web-1".into(), "-".into()],
            ],
        );
        assert_eq!(t, "NAME   IP\n日本   1.2.3.4\nweb-1  -");
    }
}
