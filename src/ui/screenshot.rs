//! Rendering a ratatui [`Buffer`] to SVG, for the screenshots under `screenshots/` (issue 3
//! item 8). The buffer comes from the real [`render`](super::render) on a `TestBackend`, so the
//! pictures are exactly what the terminal shows.
//!
//! Layout: one cell is [`CELL_W`] × [`CELL_H`] pixels; each row is one `<text>` element with one
//! `<tspan>` per run of cells of the same style (a wide character gets its own `<tspan>` so that
//! it sits exactly on its two columns); backgrounds are `<rect>`s per run. Colours follow the
//! xterm 256-colour palette; `Reset` is the dark default below. Output is deterministic.

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use std::fmt::Write as _;
use unicode_width::UnicodeWidthStr;

/// Width of one terminal cell, in pixels.
pub const CELL_W: f64 = 8.4;
/// Height of one terminal cell, in pixels.
pub const CELL_H: f64 = 17.0;
/// Default foreground (`Color::Reset`).
pub const DEFAULT_FG: &str = "#d0d0d0";
/// Default background (`Color::Reset`).
pub const DEFAULT_BG: &str = "#1c1c1c";

const ANSI: [&str; 16] = [
    "#000000", "#cd0000", "#00cd00", "#cdcd00", "#0000ee", "#cd00cd", "#00cdcd", "#e5e5e5",
    "#7f7f7f", "#ff0000", "#00ff00", "#ffff00", "#5c5cff", "#ff00ff", "#00ffff", "#ffffff",
];

/// The hex colour of `c`, or `None` for `Reset`.
pub fn color_hex(c: Color) -> Option<String> {
    let idx = match c {
        Color::Reset => return None,
        Color::Black => 0,
        Color::Red => 1,
        Color::Green => 2,
        Color::Yellow => 3,
        Color::Blue => 4,
        Color::Magenta => 5,
        Color::Cyan => 6,
        Color::Gray => 7,
        Color::DarkGray => 8,
        Color::LightRed => 9,
        Color::LightGreen => 10,
        Color::LightYellow => 11,
        Color::LightBlue => 12,
        Color::LightMagenta => 13,
        Color::LightCyan => 14,
        Color::White => 15,
        Color::Rgb(r, g, b) => return Some(format!("#{r:02x}{g:02x}{b:02x}")),
        Color::Indexed(i) => i,
    };
    if idx < 16 {
        return Some(ANSI[usize::from(idx)].to_string());
    }
    if idx >= 232 {
        let v = 8 + 10 * (idx - 232);
        return Some(format!("#{v:02x}{v:02x}{v:02x}"));
    }
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    let i = idx - 16;
    let (r, g, b) = (i / 36, (i / 6) % 6, i % 6);
    Some(format!(
        "#{:02x}{:02x}{:02x}",
        LEVELS[usize::from(r)],
        LEVELS[usize::from(g)],
        LEVELS[usize::from(b)]
    ))
}

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
struct RunStyle {
    fg: String,
    bg: Option<String>,
    bold: bool,
    dim: bool,
    italic: bool,
    underline: bool,
    strike: bool,
}

struct Run {
    col: u16,
    cols: u16,
    text: String,
    style: RunStyle,
}

fn style_of(cell: &ratatui::buffer::Cell) -> RunStyle {
    let m = cell.modifier;
    let mut fg = color_hex(cell.fg);
    let mut bg = color_hex(cell.bg);
    if m.contains(Modifier::REVERSED) {
        let f = fg.take().unwrap_or_else(|| DEFAULT_FG.to_string());
        let b = bg.take().unwrap_or_else(|| DEFAULT_BG.to_string());
        fg = Some(b);
        bg = Some(f);
    }
    RunStyle {
        fg: fg.unwrap_or_else(|| DEFAULT_FG.to_string()),
        bg,
        bold: m.contains(Modifier::BOLD),
        dim: m.contains(Modifier::DIM),
        italic: m.contains(Modifier::ITALIC),
        underline: m.contains(Modifier::UNDERLINED),
        strike: m.contains(Modifier::CROSSED_OUT),
    }
}

/// Eighths of a cell filled by a lower block element (`▁` … `█`), if `sym` is one.
fn lower_block(sym: &str) -> Option<u8> {
    let mut chars = sym.chars();
    let c = chars.next()?;
    if chars.next().is_some() {
        return None;
    }
    let code = u32::from(c);
    (0x2581..=0x2588)
        .contains(&code)
        .then(|| u8::try_from(code - 0x2580).unwrap_or(8))
}

fn runs_of_row(buf: &Buffer, y: u16) -> Vec<Run> {
    let area = buf.area;
    let mut runs: Vec<Run> = Vec::new();
    let mut x = area.x;
    while x < area.right() {
        let Some(cell) = buf.cell((x, y)) else {
            break;
        };
        // Block elements are drawn as rectangles (crisp bars), not as text.
        let sym = if lower_block(cell.symbol()).is_some() {
            " "
        } else {
            cell.symbol()
        };
        let w = u16::try_from(sym.width().max(1)).unwrap_or(1);
        let style = style_of(cell);
        let wide = w > 1;
        match runs.last_mut() {
            Some(last)
                if !wide
                    && last.style == style
                    && last.text.width() == usize::from(last.cols)
                    && !last_is_wide(last) =>
            {
                last.text.push_str(if sym.is_empty() { " " } else { sym });
                last.cols += 1;
            }
            _ => runs.push(Run {
                col: x - area.x,
                cols: w,
                text: if sym.is_empty() {
                    " ".into()
                } else {
                    sym.to_string()
                },
                style,
            }),
        }
        x = x.saturating_add(w);
    }
    runs
}

fn last_is_wide(run: &Run) -> bool {
    run.text
        .chars()
        .any(|c| unicode_width::UnicodeWidthChar::width(c).unwrap_or(1) > 1)
}

/// The SVG document for `buf`: a dark background, one `<rect>` per background run, one `<text>`
/// per row with one `<tspan>` per styled run; text XML-escaped, spaces preserved.
pub fn buffer_to_svg(buf: &Buffer) -> String {
    let area = buf.area;
    let w = f64::from(area.width) * CELL_W;
    let h = f64::from(area.height) * CELL_H;
    let mut out = String::with_capacity(usize::from(area.width) * usize::from(area.height) * 8);
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.1}" height="{h:.1}" viewBox="0 0 {w:.1} {h:.1}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14">"#
    );
    let _ = writeln!(
        out,
        r#"<rect width="100%" height="100%" fill="{DEFAULT_BG}"/>"#
    );
    let rows: Vec<Vec<Run>> = (area.y..area.bottom())
        .map(|y| runs_of_row(buf, y))
        .collect();
    for (row, runs) in rows.iter().enumerate() {
        let y = row as f64 * CELL_H;
        for run in runs {
            if let Some(bg) = &run.style.bg {
                let _ = writeln!(
                    out,
                    r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{CELL_H:.1}" fill="{bg}"/>"#,
                    f64::from(run.col) * CELL_W,
                    f64::from(run.cols) * CELL_W,
                );
            }
        }
    }
    for y in area.y..area.bottom() {
        for x in area.x..area.right() {
            let Some(cell) = buf.cell((x, y)) else {
                continue;
            };
            if let Some(eighths) = lower_block(cell.symbol()) {
                let style = style_of(cell);
                let h = CELL_H * f64::from(eighths) / 8.0;
                let top = f64::from(y - area.y) * CELL_H + (CELL_H - h);
                let _ = writeln!(
                    out,
                    r#"<rect x="{:.1}" y="{top:.1}" width="{:.1}" height="{h:.2}" fill="{}"/>"#,
                    f64::from(x - area.x) * CELL_W,
                    CELL_W + 0.4,
                    style.fg
                );
            }
        }
    }
    for (row, runs) in rows.iter().enumerate() {
        if runs.iter().all(|r| r.text.trim().is_empty()) {
            continue;
        }
        let baseline = row as f64 * CELL_H + CELL_H * 0.78;
        let _ = write!(out, r#"<text y="{baseline:.1}" xml:space="preserve">"#);
        for run in runs {
            if run.text.trim().is_empty() {
                continue;
            }
            let _ = write!(
                out,
                r#"<tspan x="{:.1}" fill="{}""#,
                f64::from(run.col) * CELL_W,
                run.style.fg
            );
            if run.style.bold {
                out.push_str(r#" font-weight="bold""#);
            }
            if run.style.italic {
                out.push_str(r#" font-style="italic""#);
            }
            if run.style.dim {
                out.push_str(r#" opacity="0.6""#);
            }
            match (run.style.underline, run.style.strike) {
                (true, true) => out.push_str(r#" text-decoration="underline line-through""#),
                (true, false) => out.push_str(r#" text-decoration="underline""#),
                (false, true) => out.push_str(r#" text-decoration="line-through""#),
                (false, false) => {}
            }
            out.push('>');
            escape(&run.text, &mut out);
            out.push_str("</tspan>");
        }
        out.push_str("</text>\n");
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;
    use ratatui::style::Style;

    #[test]
    fn palette() {
        assert_eq!(color_hex(Color::Indexed(24)).as_deref(), Some("#005f87"));
        assert_eq!(color_hex(Color::Indexed(236)).as_deref(), Some("#303030"));
        assert_eq!(color_hex(Color::Red).as_deref(), Some("#cd0000"));
        assert_eq!(color_hex(Color::Rgb(1, 2, 255)).as_deref(), Some("#0102ff"));
        assert_eq!(color_hex(Color::Reset), None);
    }

    #[test]
    fn runs_escape_and_wide_chars() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 12, 1));
        buf.set_string(0, 0, "a<b", Style::default().fg(Color::Red));
        buf.set_string(3, 0, "東x", Style::default().add_modifier(Modifier::BOLD));
        let svg = buffer_to_svg(&buf);
        assert!(
            svg.contains(r##"<tspan x="0.0" fill="#cd0000">a&lt;b</tspan>"##),
            "{svg}"
        );
        assert!(
            svg.contains(r##"<tspan x="25.2" fill="#d0d0d0" font-weight="bold">東</tspan>"##),
            "{svg}"
        );
        // `x` starts at column 5, after the two columns of 東.
        assert!(
            svg.contains(r##"<tspan x="42.0" fill="#d0d0d0" font-weight="bold">x       </tspan>"##)
                || svg.contains(r##"<tspan x="42.0" fill="#d0d0d0" font-weight="bold">x</tspan>"##),
            "{svg}"
        );
    }
}
