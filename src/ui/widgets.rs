//! Drawing shared by the panes, overlays and dialogs: the bordered panel and its title, the
//! window of a table that follows the selection, the header row, the empty-table hint, the
//! selection marker, and one centred dialog (its rectangle and its block).

use super::theme::Theme;
use crate::app::ListState;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Cell, Paragraph, Row, TableState};

/// The marker in front of the selected table row.
pub const HIGHLIGHT: &str = "› ";

/// A pane's bordered panel (rounded, border colour) with `title`.
pub fn panel<'a>(title: Line<'a>, theme: &Theme) -> Block<'a> {
    Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(theme.border)
        .title(title)
}

/// A panel title: ` part · part · part `.
pub fn title<'a>(parts: Vec<Span<'a>>, theme: &Theme) -> Line<'a> {
    let mut spans = vec![Span::raw(" ")];
    for (i, p) in parts.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", theme.dim));
        }
        spans.push(p);
    }
    spans.push(Span::raw(" "));
    Line::from(spans)
}

/// The window of a table of `len` rows drawn in `area` (border and header take 3 rows): the
/// `(first, end)` row positions on screen (end exclusive). Updates the list's scroll cells
/// (offset, viewport, top) that paging and mouse clicks read.
pub fn table_window(list: &ListState, len: usize, area: Rect) -> (usize, usize) {
    // Border (2) + header (1).
    let height = usize::from(area.height.saturating_sub(3)).max(1);
    let offset = list.scroll_to(len, height);
    list.top.set(area.y + 2);
    let end = (offset + height).min(len);
    (offset, end)
}

/// The ratatui table state selecting `list`'s row within a window starting at `offset`.
pub fn table_state(list: &ListState, offset: usize, len: usize) -> TableState {
    let mut st = TableState::default();
    if len > 0 {
        st.select(Some(list.selected.saturating_sub(offset)));
    }
    st
}

/// A table header row in the header style.
pub fn header<'a>(cells: Vec<String>, theme: &Theme) -> Row<'a> {
    Row::new(cells.into_iter().map(Cell::from)).style(theme.header)
}

/// A dim one-line hint under a table's header when the table has no rows.
pub fn empty_hint(frame: &mut Frame, area: Rect, text: &str, theme: &Theme) {
    if area.height > 4 {
        let r = Rect::new(area.x + 2, area.y + 3, area.width.saturating_sub(4), 1);
        frame.render_widget(Paragraph::new(Span::styled(text.to_string(), theme.dim)), r);
    }
}

/// A rectangle of at most `w` × `h` cells centred in `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// A dialog's block: rounded border in `border`, `title` as given, the overlay background.
pub fn dialog<'a>(title: Span<'a>, border: Style, theme: &Theme) -> Block<'a> {
    Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(border)
        .title(title)
        .style(theme.overlay)
}

/// Key hints `k desc · k desc` (keys in the key style), for a dialog's body.
pub fn key_hint<'a>(pairs: &[(&'a str, &'a str)], theme: &Theme) -> Line<'a> {
    let mut spans = Vec::new();
    for (i, (k, d)) in pairs.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", theme.dim));
        }
        spans.push(Span::styled(*k, theme.key));
        spans.push(Span::raw(format!(" {d}")));
    }
    Line::from(spans)
}

/// A detail line: `label` padded to 9 columns in the label style, then `value`.
pub fn kv<'a>(label: &'a str, value: Vec<Span<'a>>, theme: &Theme) -> Line<'a> {
    let mut spans = vec![Span::styled(format!("{label:<9}"), theme.label)];
    spans.extend(value);
    Line::from(spans)
}

/// The "discard?" question drawn over a dialog whose typed content Esc would lose: `what` (e.g.
/// `the name typed`), then `y` discard · `n` / Esc keep.
pub fn discard_question(frame: &mut Frame, area: Rect, what: &str, theme: &Theme) {
    let lines = vec![
        Line::from(format!("Discard {what}?")),
        Line::from(""),
        Line::from(vec![
            Span::styled("y", theme.key),
            Span::raw(" discard   "),
            Span::styled("n", theme.key),
            Span::raw(" / "),
            Span::styled("Esc", theme.key),
            Span::raw(" keep editing"),
        ]),
    ];
    let rect = centered(area, 60, 5);
    let block = dialog(Span::styled(" Discard? ", theme.warn), theme.warn, theme);
    frame.render_widget(ratatui::widgets::Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(ratatui::widgets::Wrap { trim: true }),
        rect,
    );
}
