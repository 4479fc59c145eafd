//! Display-width text helpers: every manual truncation goes through here so that CJK and emoji
//! (two columns each) keep table columns aligned.

use std::borrow::Cow;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Display width of `s` in terminal columns.
pub fn width(s: &str) -> usize {
    s.width()
}

/// `s` cut to at most `max` display columns, ending with `…` when cut. A wide character that
/// would straddle the limit is dropped rather than split. `max == 0` gives an empty string.
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    if s.width() <= max {
        return Cow::Borrowed(s);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    let mut out = String::with_capacity(max + 3);
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    Cow::Owned(out)
}

/// `s` truncated to `width` columns and padded with spaces to exactly `width` columns.
pub fn fit(s: &str, width: usize) -> String {
    let t = truncate(s, width);
    let pad = width.saturating_sub(t.width());
    let mut out = t.into_owned();
    out.extend(std::iter::repeat_n(' ', pad));
    out
}

/// `line` cut to `max` display columns: spans kept with their styles, the span that crosses the
/// edge truncated with `…` by [`truncate`] (display width, so CJK and emoji stay aligned).
pub fn clip(line: ratatui::text::Line<'_>, max: usize) -> ratatui::text::Line<'_> {
    use ratatui::text::{Line, Span};
    if line.width() <= max {
        return line;
    }
    let style = line.style;
    let mut used = 0;
    let mut spans = Vec::new();
    for span in line.spans {
        let w = span.width();
        if used + w < max {
            used += w;
            spans.push(span);
        } else {
            let room = max.saturating_sub(used);
            spans.push(Span::styled(
                truncate(&span.content, room).into_owned(),
                span.style,
            ));
            break;
        }
    }
    Line::from(spans).style(style)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_by_display_width() {
        assert_eq!(truncate("web-01", 10), "web-01");
        assert_eq!(truncate("web-server-01", 8), "web-ser…");
        // CJK: two columns each. 5 columns allow two ideographs plus the ellipsis.
        assert_eq!(truncate("東京サーバー", 5), "東京…");
        assert_eq!(width(&truncate("東京サーバー", 6)), 5);
        assert_eq!(truncate("🦀🦀🦀", 4), "🦀…");
        assert_eq!(truncate("abc", 0), "");
        assert_eq!(fit("東京サーバー", 6), "東京… ");
        assert_eq!(width(&fit("🦀 crab", 10)), 10);
    }
}
