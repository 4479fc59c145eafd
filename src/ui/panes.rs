//! The panes: VMs (table + detail), Firewall, Vault, Audit, and the helpers (panels, titles,
//! table windows) other panes share. The Usage pane is in [`super::usage`].

use super::text::{clip, truncate, width};
use super::theme::Theme;
use crate::app::vms::{SortColumn, age, provisioned_text, status_text};
use crate::app::{ListState, Model};
use crate::domain::{Region, VmStatus, tier_size};
use crate::protocol::VmRow;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, BorderType, Cell, HighlightSpacing, Paragraph, Row, Table, TableState,
};

pub(super) const HIGHLIGHT: &str = "› ";

pub(super) fn panel<'a>(title: Line<'a>, theme: &Theme) -> Block<'a> {
    Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(theme.border)
        .title(title)
}

pub(super) fn title<'a>(parts: Vec<Span<'a>>, theme: &Theme) -> Line<'a> {
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

/// Renders `rows` (already limited to those on screen) as a table with the selection of
/// `list`; `len` is the full list length. Returns nothing; updates the list's scroll cells.
pub(super) fn table_window(list: &ListState, len: usize, area: Rect) -> (usize, usize) {
    // Border (2) + header (1).
    let height = usize::from(area.height.saturating_sub(3)).max(1);
    let offset = list.scroll_to(len, height);
    list.top.set(area.y + 2);
    let end = (offset + height).min(len);
    (offset, end)
}

pub(super) fn table_state(list: &ListState, offset: usize, len: usize) -> TableState {
    let mut st = TableState::default();
    if len > 0 {
        st.select(Some(list.selected.saturating_sub(offset)));
    }
    st
}

pub(super) fn header<'a>(cells: Vec<String>, theme: &Theme) -> Row<'a> {
    Row::new(cells.into_iter().map(Cell::from)).style(theme.header)
}

pub(super) fn empty_hint(frame: &mut Frame, area: Rect, text: &str, theme: &Theme) {
    if area.height > 4 {
        let r = Rect::new(area.x + 2, area.y + 3, area.width.saturating_sub(4), 1);
        frame.render_widget(Paragraph::new(Span::styled(text.to_string(), theme.dim)), r);
    }
}

// ---------------------------------------------------------------------------------------------
// VMs

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VmCol {
    Sort(SortColumn),
    Age,
}

fn location_name(loc: &str) -> &'static str {
    match loc {
        "hil" => "Hillsboro, Oregon",
        "hel1" => "Helsinki",
        _ => "outside CrabGlamp's regions",
    }
}

/// Columns that fit in `avail` columns, in display order, with their widths.
fn vm_columns(model: &Model, avail: usize) -> Vec<(VmCol, u16)> {
    use SortColumn as S;
    let idx = &model.vms.index;
    let natural = |c: S, cap: u16| -> u16 {
        let head = u16::try_from(c.title().len() + 1).unwrap_or(cap);
        idx.width(c).max(head).min(cap)
    };
    let all: [(VmCol, u16, u8); 11] = [
        (VmCol::Sort(S::Name), natural(S::Name, 28).max(8), 0),
        (VmCol::Sort(S::Account), natural(S::Account, 16), 2),
        (VmCol::Sort(S::Region), natural(S::Region, 8), 3),
        (VmCol::Sort(S::Tier), natural(S::Tier, 8), 4),
        (VmCol::Sort(S::Image), natural(S::Image, 14), 7),
        (VmCol::Sort(S::Status), natural(S::Status, 12), 1),
        (VmCol::Sort(S::Ipv4), natural(S::Ipv4, 15), 5),
        (VmCol::Sort(S::Ipv6), natural(S::Ipv6, 24), 9),
        (VmCol::Sort(S::Billing), natural(S::Billing, 12), 8),
        (VmCol::Sort(S::Provisioned), natural(S::Provisioned, 16), 10),
        (VmCol::Age, 4, 6),
    ];
    let mut by_priority: Vec<_> = all.iter().collect();
    by_priority.sort_by_key(|c| c.2);
    let mut used = 0usize;
    let mut keep = [false; 11];
    for c in by_priority {
        let need = usize::from(c.1) + usize::from(used > 0);
        if used + need <= avail {
            used += need;
            if let Some(pos) = all.iter().position(|x| x.0 == c.0) {
                keep[pos] = true;
            }
        }
    }
    all.iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(c, _)| (c.0, c.1))
        .collect()
}

fn vm_cell<'a>(row: &'a VmRow, col: VmCol, w: u16, model: &Model, theme: &Theme) -> Cell<'a> {
    let r = &row.record;
    let w = usize::from(w);
    let text = |s: &str| Cell::from(truncate(s, w).into_owned());
    match col {
        VmCol::Sort(SortColumn::Name) => text(&r.name),
        VmCol::Sort(SortColumn::Account) => text(&r.account),
        VmCol::Sort(SortColumn::Region) => Cell::from(r.region.as_str()),
        VmCol::Sort(SortColumn::Tier) => Cell::from(r.tier.as_str()),
        VmCol::Sort(SortColumn::Image) => Cell::from(r.image.as_str()),
        VmCol::Sort(SortColumn::Status) => Cell::from(Span::styled(
            match model.life.progress.get(&r.id) {
                Some(p) => {
                    truncate(&format!("{}% {}", p.percent, status_text(row)), w).into_owned()
                }
                None => status_text(row).to_string(),
            },
            theme.status(r.status, row.managed),
        )),
        VmCol::Sort(SortColumn::Ipv4) => text(r.ipv4.as_deref().unwrap_or("-")),
        VmCol::Sort(SortColumn::Ipv6) => text(r.ipv6.as_deref().unwrap_or("-")),
        VmCol::Sort(SortColumn::Billing) => Cell::from(r.billing_type.as_str()),
        VmCol::Sort(SortColumn::Provisioned) => text(&provisioned_text(row)),
        VmCol::Age => Cell::from(Span::styled(
            r.provisioned_at
                .map_or_else(|| "-".to_string(), |t| age(t, model.now)),
            theme.dim,
        )),
    }
}

/// The VM list with the selected VM's detail panel (right of the table when the pane is at
/// least 150 columns wide, as wide as its identity lines need, 62 to width − 80 columns; below
/// it otherwise, hidden below 22 rows).
pub fn vms(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let (table_area, detail_area) = if area.width >= 150 {
        // The detail's identity lines get the width they need (at least 62 columns), the table
        // keeps at least 80.
        let need = model.selected_vm().map_or(0, |row| {
            let (main, _) = detail_lines(row, model, theme, false);
            main.iter().map(Line::width).max().unwrap_or(0) + 2
        });
        let dw = u16::try_from(need)
            .unwrap_or(u16::MAX)
            .clamp(62, area.width.saturating_sub(80).max(62));
        let [t, d] = Layout::horizontal([Constraint::Min(60), Constraint::Length(dw)]).areas(area);
        (t, Some(d))
    } else if area.height >= 22 {
        let dh = if area.height >= 30 { 12 } else { 10 };
        let [t, d] = Layout::vertical([Constraint::Min(5), Constraint::Length(dh)]).areas(area);
        (t, Some(d))
    } else {
        (area, None)
    };
    vm_table(frame, model, theme, table_area);
    if let Some(d) = detail_area {
        vm_detail(frame, model, theme, d);
    }
}

fn vm_table(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let visible = model.vms.index.visible();
    let len = visible.len();
    let total = model.vms.index.total()
        - if model.vms.show_deleted {
            0
        } else {
            model.vms.index.deleted()
        };
    let mut parts = vec![Span::styled("VMs", theme.title)];
    parts.push(Span::styled(
        if len == total {
            format!("{total}")
        } else {
            format!("{len} of {total}")
        },
        theme.label,
    ));
    parts.push(Span::styled(
        format!(
            "sort {} {}",
            model.vms.sort.title().to_lowercase(),
            if model.vms.reverse { "▼" } else { "▲" }
        ),
        theme.label,
    ));
    if !model.vms.filter.is_empty() {
        parts.push(Span::styled(
            format!("filter \"{}\"", truncate(&model.vms.filter, 24)),
            theme.warn,
        ));
    }
    if let Some(a) = &model.account_filter {
        parts.push(Span::styled(format!("account {a}"), theme.warn));
    }
    let deleted = model.vms.index.deleted();
    if deleted > 0 && !model.vms.show_deleted {
        parts.push(Span::styled(
            format!("{deleted} deleted hidden (d)"),
            theme.dim,
        ));
    } else if deleted > 0 {
        parts.push(Span::styled("deleted shown (d)", theme.dim));
    }
    let block = panel(title(parts, theme), theme);
    let inner_w = usize::from(area.width.saturating_sub(2 + 2));
    let cols = vm_columns(model, inner_w);
    let (offset, end) = table_window(&model.vms.list, len, area);
    let head: Vec<String> = cols
        .iter()
        .map(|(c, _)| match c {
            VmCol::Sort(s) if *s == model.vms.sort => {
                format!("{}{}", s.title(), if model.vms.reverse { "▼" } else { "▲" })
            }
            VmCol::Sort(s) => s.title().to_string(),
            VmCol::Age => "AGE".to_string(),
        })
        .collect();
    let rows: Vec<Row> = visible[offset..end]
        .iter()
        .filter_map(|&i| model.snapshot.vms.get(i))
        .map(|row| {
            let cells: Vec<Cell> = cols
                .iter()
                .map(|(c, w)| vm_cell(row, *c, *w, model, theme))
                .collect();
            let style = match (row.managed, row.record.status) {
                (_, VmStatus::Vanished | VmStatus::Deleted) => {
                    theme.dim.add_modifier(Modifier::CROSSED_OUT)
                }
                _ => Style::default(),
            };
            Row::new(cells).style(style)
        })
        .collect();
    let widths: Vec<Constraint> = cols.iter().map(|(_, w)| Constraint::Length(*w)).collect();
    let table = Table::new(rows, widths)
        .header(header(head, theme))
        .block(block)
        .column_spacing(1)
        .row_highlight_style(theme.selected)
        .highlight_symbol(HIGHLIGHT)
        .highlight_spacing(HighlightSpacing::Always);
    let mut st = table_state(&model.vms.list, offset, len);
    frame.render_stateful_widget(table, area, &mut st);
    if len == 0 {
        let hint = if total == 0 {
            if model.snapshot.stale {
                "loading… no VMs known yet"
            } else {
                "no VMs yet"
            }
        } else {
            "no VM matches the filter (Esc clears it)"
        };
        empty_hint(frame, area, hint, theme);
    }
}

fn kv<'a>(label: &'a str, value: Vec<Span<'a>>, theme: &Theme) -> Line<'a> {
    let mut spans = vec![Span::styled(format!("{label:<9}"), theme.label)];
    spans.extend(value);
    Line::from(spans)
}

/// The detail of one VM as two groups of lines: identity (status, server, location, image,
/// ssh, account) and attachments (firewall rules, keys, labels). `compact` squeezes each
/// attachment group onto one line.
fn detail_lines<'a>(
    row: &'a VmRow,
    model: &Model,
    theme: &Theme,
    compact: bool,
) -> (Vec<Line<'a>>, Vec<Line<'a>>) {
    let r = &row.record;
    let mut main: Vec<Line> = Vec::new();
    let mut head = vec![Span::styled(
        status_text(row).to_string(),
        theme.status(r.status, row.managed),
    )];
    if !row.managed {
        head.push(Span::styled(
            format!(" ({})", r.status),
            theme.status(r.status, true),
        ));
    }
    if let Some(h) = &row.hetzner_status {
        head.push(Span::styled(format!(" · Hetzner says {h}"), theme.dim));
    }
    main.push(kv("status", head, theme));
    if let Some(p) = model.life.progress.get(&r.id) {
        main.push(kv(
            "progress",
            vec![Span::styled(
                format!("{}% {}", p.percent, p.step),
                theme.warn,
            )],
            theme,
        ));
    }
    if !row.managed {
        main.push(Line::from(Span::styled(
            "UNMANAGED: labelled by CrabGlamp, unknown to the store",
            theme.warn,
        )));
    }
    if r.status == VmStatus::Vanished {
        main.push(Line::from(Span::styled(
            "VANISHED: the store knows it, Hetzner has no server",
            theme.error,
        )));
    }
    if let Some(f) = &r.failure {
        main.push(kv(
            "failure",
            vec![Span::styled(f.clone(), theme.error)],
            theme,
        ));
    }
    let (cat_cpu, cat_ram, cat_disk) = tier_size(r.tier, r.region);
    let size = match (row.cores, row.memory_gb, row.disk_gb) {
        (Some(c), Some(m), Some(d)) => format!("{c} vCPU · {m} GB RAM · {d} GB disk"),
        _ => format!("{cat_cpu} vCPU · {cat_ram} GB RAM · {cat_disk} GB disk (catalogue)"),
    };
    let mut server = vec![
        Span::styled(r.server_type.clone(), theme.key),
        Span::raw(format!(" · {size}")),
    ];
    if let Some(id) = r.hetzner_server_id {
        server.push(Span::styled(format!(" · #{id}"), theme.dim));
    }
    main.push(kv("server", server, theme));
    let loc = row
        .location
        .clone()
        .unwrap_or_else(|| r.region.location().to_string());
    main.push(kv(
        "location",
        vec![Span::raw(format!(
            "{loc} · {} · {} · tier {}",
            match r.region {
                Region::Us => "US",
                Region::Eu => "EU",
            },
            location_name(&loc),
            r.tier
        ))],
        theme,
    ));
    let user = r.image.default_user();
    main.push(kv(
        "image",
        vec![
            Span::raw(r.image.description()),
            Span::styled(" · default user ", theme.dim),
            Span::raw(user),
        ],
        theme,
    ));
    let ssh = match &r.ipv4 {
        Some(ip) => Span::styled(
            format!("ssh {user}@{ip}"),
            theme.ok.add_modifier(Modifier::BOLD),
        ),
        None => Span::styled("no public IPv4 yet", theme.dim),
    };
    if !r.status.is_live() {
        // Deleted, vanished or failed: no server to log in to; the former addresses (released
        // with the server) stay for the record.
        let was: Vec<&str> = [r.ipv4.as_deref(), r.ipv6.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if !was.is_empty() {
            main.push(kv(
                "address",
                vec![Span::styled(
                    format!("was {} (no server now)", was.join(" · ")),
                    theme.dim,
                )],
                theme,
            ));
        }
    } else {
        match (&r.ipv6, compact) {
            (Some(v6), true) => main.push(kv(
                "ssh",
                vec![ssh, Span::styled(format!(" · IPv6 {v6}"), theme.dim)],
                theme,
            )),
            (Some(v6), false) => {
                main.push(kv("ssh", vec![ssh], theme));
                main.push(kv("ipv6", vec![Span::raw(v6.clone())], theme));
            }
            (None, _) => main.push(kv("ssh", vec![ssh], theme)),
        }
    }
    let prov = r.provisioned_at.map_or_else(
        || "not provisioned yet".to_string(),
        |t| {
            format!(
                "since {} UTC ({} ago)",
                t.format("%Y-%m-%d %H:%M"),
                age(t, model.now)
            )
        },
    );
    main.push(kv(
        "account",
        vec![
            Span::styled(r.account.clone(), theme.key),
            Span::raw(format!(" · {} · {prov}", r.billing_type)),
        ],
        theme,
    ));
    if let Some((spark, total)) = super::usage::sparkline(model, r.id) {
        main.push(kv(
            "charge",
            vec![
                Span::styled(spark, theme.bar_chart),
                Span::styled(format!(" {total}"), theme.dim),
            ],
            theme,
        ));
    }

    let mut more: Vec<Line> = Vec::new();
    match &row.firewall {
        Some(f) => {
            let n = f.rules.len();
            let head = Span::raw(format!(
                "{} · {n} rule{}",
                f.name,
                if n == 1 { "" } else { "s" }
            ));
            if compact {
                let rules: Vec<String> = f
                    .rules
                    .iter()
                    .map(|x| format!("{} {} ← {}", x.protocol, x.port, x.source_ips.join(" ")))
                    .collect();
                let mut spans = vec![head];
                if !rules.is_empty() {
                    spans.push(Span::styled(format!(": {}", rules.join("; ")), theme.dim));
                }
                more.push(kv("firewall", spans, theme));
            } else {
                more.push(kv("firewall", vec![head], theme));
                for x in &f.rules {
                    more.push(kv(
                        "",
                        vec![
                            Span::styled(format!("{} {:<10}", x.protocol, x.port), theme.key),
                            Span::raw(format!(" {}", x.source_ips.join(" "))),
                        ],
                        theme,
                    ));
                }
            }
        }
        None => more.push(kv(
            "firewall",
            vec![Span::styled("none known", theme.warn)],
            theme,
        )),
    }
    if r.keys.is_empty() {
        more.push(kv("keys", vec![Span::styled("none", theme.dim)], theme));
    } else if compact {
        let keys: Vec<String> = r
            .keys
            .iter()
            .map(|k| format!("{} {}", k.label, k.fingerprint_sha256))
            .collect();
        more.push(kv("keys", vec![Span::raw(keys.join(", "))], theme));
    } else {
        for (i, k) in r.keys.iter().enumerate() {
            more.push(kv(
                if i == 0 { "keys" } else { "" },
                vec![
                    Span::raw(format!("{} ", k.label)),
                    Span::styled(k.fingerprint_sha256.clone(), theme.dim),
                ],
                theme,
            ));
        }
    }
    if row.labels.is_empty() {
        more.push(kv("labels", vec![Span::styled("none", theme.dim)], theme));
    } else if compact {
        let labels: Vec<String> = row.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        more.push(kv(
            "labels",
            vec![Span::styled(labels.join(" "), theme.dim)],
            theme,
        ));
    } else {
        for (i, (k, v)) in row.labels.iter().enumerate() {
            more.push(kv(
                if i == 0 { "labels" } else { "" },
                vec![Span::styled(format!("{k}={v}"), theme.dim)],
                theme,
            ));
        }
    }
    (main, more)
}

fn vm_detail(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let Some(row) = model.selected_vm() else {
        let block = panel(
            title(vec![Span::styled("Detail", theme.title)], theme),
            theme,
        );
        frame.render_widget(
            Paragraph::new(Span::styled("no VM selected", theme.dim)).block(block),
            area,
        );
        return;
    };
    let name = truncate(&row.record.name, usize::from(area.width.saturating_sub(6))).into_owned();
    let block = panel(title(vec![Span::styled(name, theme.title)], theme), theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let tall = inner.height >= 24;
    let two_columns = !tall && inner.width >= 110;
    let (main, more) = detail_lines(row, model, theme, !tall && !two_columns);
    let clip_all = |lines: Vec<Line<'static>>, w: u16| -> Vec<Line<'static>> {
        lines.into_iter().map(|l| clip(l, usize::from(w))).collect()
    };
    // Lines borrow the row; clone to 'static so that clipping can own them.
    let own = |lines: Vec<Line<'_>>| -> Vec<Line<'static>> {
        lines
            .into_iter()
            .map(|l| {
                let style = l.style;
                Line::from(
                    l.spans
                        .into_iter()
                        .map(|s| Span::styled(s.content.into_owned(), s.style))
                        .collect::<Vec<_>>(),
                )
                .style(style)
            })
            .collect()
    };
    if two_columns {
        // The identity lines get the width they need first (at least half, leaving the
        // attachments at least 40 columns).
        let need = main.iter().map(Line::width).max().unwrap_or(0);
        let need = u16::try_from(need).unwrap_or(u16::MAX);
        let left_w = need
            .min(inner.width.saturating_sub(2 + 40))
            .max(inner.width.saturating_sub(2) / 2);
        let [left, right] = Layout::horizontal([Constraint::Length(left_w), Constraint::Min(1)])
            .spacing(2)
            .areas(inner);
        frame.render_widget(Paragraph::new(clip_all(own(main), left.width)), left);
        frame.render_widget(Paragraph::new(clip_all(own(more), right.width)), right);
    } else {
        let mut lines = own(main);
        if tall {
            lines.push(Line::from(""));
        }
        lines.extend(own(more));
        frame.render_widget(Paragraph::new(clip_all(lines, inner.width)), inner);
    }
}

// ---------------------------------------------------------------------------------------------
// Firewall

/// The selected VM's firewall, read-only: rules as read back from Hetzner.
pub fn firewall(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let [info, table_area] =
        Layout::vertical([Constraint::Length(5), Constraint::Min(4)]).areas(area);
    let Some(vm) = model.selected_vm() else {
        let block = panel(
            title(vec![Span::styled("Firewall", theme.title)], theme),
            theme,
        );
        frame.render_widget(
            Paragraph::new(Span::styled(
                "no VM selected: pick one in the VMs pane (1)",
                theme.dim,
            ))
            .block(block),
            area,
        );
        return;
    };
    let mut lines = Vec::new();
    match &vm.firewall {
        Some(f) => {
            let applied: Vec<String> = f
                .applied_to
                .iter()
                .map(|id| {
                    match model
                        .snapshot
                        .vms
                        .iter()
                        .find(|v| v.record.hetzner_server_id == Some(*id))
                    {
                        Some(v) => format!("{} (#{id})", v.record.name),
                        None => format!("#{id}"),
                    }
                })
                .collect();
            lines.push(kv(
                "firewall",
                vec![
                    Span::styled(f.name.clone(), theme.key),
                    Span::styled(format!(" · Hetzner #{}", f.id), theme.dim),
                ],
                theme,
            ));
            lines.push(kv(
                "applied",
                vec![Span::raw(if applied.is_empty() {
                    "to no server".to_string()
                } else {
                    format!("to {}", applied.join(", "))
                })],
                theme,
            ));
        }
        None => lines.push(Line::from(Span::styled(
            "no firewall known for this VM (it should have its own)",
            theme.warn,
        ))),
    }
    lines.push(Line::from(Span::styled(
        if area.width >= 120 {
            "inbound only, default deny: only these rules let traffic in · no outbound or ICMP rules at v1 · read-only here"
        } else {
            "inbound only, default deny · no outbound/ICMP rules at v1 · read-only"
        },
        theme.dim,
    )));
    let block = panel(
        title(
            vec![
                Span::styled("Firewall", theme.title),
                Span::styled(vm.record.name.clone(), theme.key),
            ],
            theme,
        ),
        theme,
    );
    let w = usize::from(info.width.saturating_sub(2));
    let lines: Vec<Line> = lines.into_iter().map(|l| clip(l, w)).collect();
    frame.render_widget(Paragraph::new(lines).block(block), info);
    let rules = vm.firewall.as_ref().map_or(&[][..], |f| &f.rules[..]);
    let len = rules.len();
    let (offset, end) = table_window(&model.firewall, len, table_area);
    // Sources get what they need (at least 18 columns), the description the rest.
    let avail = usize::from(table_area.width.saturating_sub(2 + 2 + 3 + 4 + 6 + 11 + 5));
    let widest = rules
        .iter()
        .map(|r| super::text::width(&r.source_ips.join(" ")))
        .max()
        .unwrap_or(0);
    let src_w = widest.clamp(18, avail.saturating_sub(16).max(18));
    let rows: Vec<Row> = rules[offset..end]
        .iter()
        .enumerate()
        .map(|(i, r)| {
            Row::new(vec![
                Cell::from(format!("{}", offset + i + 1)),
                Cell::from(r.direction.clone()),
                Cell::from(r.protocol.clone()),
                Cell::from(if r.port.is_empty() {
                    "-".to_string()
                } else {
                    r.port.clone()
                }),
                Cell::from(truncate(&r.source_ips.join(" "), src_w).into_owned()),
                Cell::from(r.description.clone()),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(3),
        Constraint::Length(4),
        Constraint::Length(6),
        Constraint::Length(11),
        Constraint::Length(u16::try_from(src_w).unwrap_or(18)),
        Constraint::Min(10),
    ];
    let block = panel(
        title(
            vec![
                Span::styled("Rules", theme.title),
                Span::styled(format!("{len} of at most 50"), theme.label),
            ],
            theme,
        ),
        theme,
    );
    let table = Table::new(rows, widths)
        .header(header(
            ["#", "DIR", "PROTO", "PORT", "SOURCES", "DESCRIPTION"]
                .map(String::from)
                .to_vec(),
            theme,
        ))
        .block(block)
        .row_highlight_style(theme.selected)
        .highlight_symbol(HIGHLIGHT)
        .highlight_spacing(HighlightSpacing::Always);
    let mut st = table_state(&model.firewall, offset, len);
    frame.render_stateful_widget(table, table_area, &mut st);
    if len == 0 {
        empty_hint(
            frame,
            table_area,
            "no rules: all inbound traffic is dropped",
            theme,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Vault

fn vault_detail(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let Some((row, e)) = model
        .derived
        .vault
        .get(model.vault.selected)
        .and_then(|r| model.vault_entry(r).map(|e| (r, e)))
    else {
        return;
    };
    let mut lines = vec![
        kv(
            "key",
            vec![
                Span::styled(e.label.clone(), theme.key),
                Span::raw(format!(" · {} · account {}", e.key_type, e.account)),
            ],
            theme,
        ),
        kv(
            "sha256",
            vec![Span::raw(e.fingerprint_sha256.clone())],
            theme,
        ),
    ];
    let mut dates = vec![Span::raw(format!(
        "added {} UTC",
        e.created_at.format("%Y-%m-%d %H:%M")
    ))];
    if let Some(d) = e.deleted_at {
        dates.push(Span::styled(
            format!(
                " · deleted from the Vault {} UTC ({} ago)",
                d.format("%Y-%m-%d %H:%M"),
                age(d, model.now)
            ),
            theme.warn,
        ));
    }
    lines.push(kv("dates", dates, theme));
    lines.push(kv(
        "on VMs",
        vec![if row.holders.is_empty() {
            Span::styled("no live VM received this key", theme.dim)
        } else {
            Span::raw(row.holders.join(", "))
        }],
        theme,
    ));
    if e.deleted_at.is_some() && !row.holders.is_empty() {
        lines.push(Line::from(Span::styled(
            "EXPOSED: deleted here but still in ~/.ssh/authorized_keys on the VMs above; only their owner can remove it",
            theme.error,
        )));
    }
    lines.push(kv(
        "public",
        vec![Span::styled(e.public_key.clone(), theme.dim)],
        theme,
    ));
    let block = panel(title(vec![Span::styled("Key", theme.title)], theme), theme);
    let w = usize::from(area.width.saturating_sub(2));
    let lines: Vec<Line> = lines.into_iter().map(|l| clip(l, w)).collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// A short name for an OpenSSH key type, e.g. `ecdsa-sha2-nistp256` → `ecdsa-p256`.
fn short_key_type(t: &str) -> String {
    let t = t.strip_suffix("@openssh.com").unwrap_or(t);
    let (sk, t) = match t.strip_prefix("sk-") {
        Some(rest) => ("sk-", rest),
        None => ("", t),
    };
    let base = match t {
        "ssh-ed25519" => "ed25519".to_string(),
        "ssh-rsa" => "rsa".to_string(),
        other => other.replace("ecdsa-sha2-nist", "ecdsa-"),
    };
    format!("{sk}{base}")
}

/// Vault keys per account, with the live VMs holding each; a deleted key still on live VMs is
/// shown as EXPOSED (docs/product-rules.md §5). Below 140 columns the type and creation date are left out and
/// fingerprints shortened.
pub fn vault(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let [area, note] = Layout::vertical([Constraint::Min(4), Constraint::Length(1)]).areas(area);
    let (table_area, detail_area) = if area.height >= 26 {
        let [t, d] = Layout::vertical([Constraint::Min(6), Constraint::Length(9)]).areas(area);
        (t, Some(d))
    } else {
        (area, None)
    };
    let rows_data = &model.derived.vault;
    let len = rows_data.len();
    let exposed = rows_data
        .iter()
        .filter(|r| {
            !r.holders.is_empty() && model.vault_entry(r).is_some_and(|e| e.deleted_at.is_some())
        })
        .count();
    let (offset, end) = table_window(&model.vault, len, table_area);
    let wide = table_area.width >= 140;
    // A full fingerprint is 50 columns; narrower panes shorten it (at least 18 columns), keeping
    // about 24 for the holders.
    let fp_w: u16 = if wide {
        51
    } else {
        table_area
            .width
            .saturating_sub(2 + 2 + 12 + 16 + 7 + 24 + 5)
            .clamp(18, 51)
    };
    let rows: Vec<Row> = rows_data[offset..end]
        .iter()
        .filter_map(|r| model.vault_entry(r).map(|e| (r, e)))
        .map(|(r, e)| {
            let n = r.holders.len();
            let state = match (e.deleted_at, n) {
                (None, _) => Span::styled("active", theme.ok),
                (Some(_), 0) => Span::styled("deleted", theme.dim),
                (Some(_), _) if wide => Span::styled(
                    format!("EXPOSED ({n} live VM{})", if n == 1 { "" } else { "s" }),
                    theme.error,
                ),
                (Some(_), _) => Span::styled("EXPOSED", theme.error),
            };
            let holders = if n == 0 {
                "-".to_string()
            } else {
                format!("{n}: {}", r.holders.join(", "))
            };
            let mut cells = vec![
                Cell::from(e.account.clone()),
                Cell::from(truncate(&e.label, 16).into_owned()),
            ];
            if wide {
                cells.push(Cell::from(short_key_type(&e.key_type)));
            }
            cells.push(Cell::from(Span::styled(
                truncate(&e.fingerprint_sha256, usize::from(fp_w)).into_owned(),
                theme.dim,
            )));
            if wide {
                cells.push(Cell::from(e.created_at.format("%Y-%m-%d").to_string()));
            }
            cells.push(Cell::from(state));
            cells.push(Cell::from(holders));
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![Constraint::Length(12), Constraint::Length(16)];
    let mut head = vec!["ACCOUNT", "LABEL"];
    if wide {
        widths.push(Constraint::Length(13));
        head.push("TYPE");
    }
    widths.push(Constraint::Length(fp_w));
    head.push("FINGERPRINT");
    if wide {
        widths.push(Constraint::Length(10));
        head.push("CREATED");
    }
    widths.push(Constraint::Length(if wide { 20 } else { 7 }));
    head.push("STATE");
    widths.push(Constraint::Min(8));
    head.push("LIVE VMS HOLDING IT");
    let mut parts = vec![
        Span::styled("Vault", theme.title),
        Span::styled(
            format!("{len} key{}", if len == 1 { "" } else { "s" }),
            theme.label,
        ),
    ];
    if exposed > 0 {
        parts.push(Span::styled(
            format!(
                "{exposed} deleted key{} still on live VMs",
                if exposed == 1 { "" } else { "s" }
            ),
            theme.error,
        ));
    }
    if let Some(a) = &model.account_filter {
        parts.push(Span::styled(format!("account {a}"), theme.warn));
    }
    let table = Table::new(rows, widths)
        .header(header(head.into_iter().map(String::from).collect(), theme))
        .block(panel(title(parts, theme), theme))
        .row_highlight_style(theme.selected)
        .highlight_symbol(HIGHLIGHT)
        .highlight_spacing(HighlightSpacing::Always);
    let mut st = table_state(&model.vault, offset, len);
    frame.render_stateful_widget(table, table_area, &mut st);
    if len == 0 {
        empty_hint(frame, table_area, "no Vault keys", theme);
    }
    if let Some(d) = detail_area {
        vault_detail(frame, model, theme, d);
    }
    let text = if note.width >= 150 {
        " Public keys only, written at provisioning. Deleting a key from the Vault does not remove it from VMs that received it: the owner edits ~/.ssh/authorized_keys."
    } else {
        " Deleting a key does not remove it from VMs that got it."
    };
    frame.render_widget(
        Paragraph::new(clip(
            Line::from(Span::styled(text, theme.dim)),
            usize::from(note.width),
        )),
        note,
    );
}

// ---------------------------------------------------------------------------------------------
// Audit

fn audit_detail(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let Some(e) = model
        .derived
        .audit
        .get(model.audit.selected)
        .and_then(|&i| model.snapshot.audit.get(i))
    else {
        return;
    };
    let accounts = match &e.to_account {
        Some(to) => format!("{} → {to}", e.account),
        None => e.account.clone(),
    };
    let server = e
        .hetzner_server_id
        .map_or_else(String::new, |id| format!(" · Hetzner #{id}"));
    let lines = vec![
        kv(
            "event",
            vec![
                Span::styled(format!("#{} {}", e.seq, e.kind), theme.key),
                Span::raw(format!(" · {} UTC", e.at.format("%Y-%m-%d %H:%M:%S"))),
                Span::styled(format!(" · id {}", e.id), theme.dim),
            ],
            theme,
        ),
        kv(
            "vm",
            vec![
                Span::raw(format!("{} · {} {}{server}", e.vm_name, e.tier, e.region)),
                Span::styled(format!(" · id {}", e.vm_id), theme.dim),
            ],
            theme,
        ),
        kv("accounts", vec![Span::raw(accounts)], theme),
        kv(
            "actor",
            vec![Span::raw(format!("{} · outcome {}", e.actor, e.outcome))],
            theme,
        ),
        kv(
            "chain",
            vec![Span::styled(
                format!("prev {} · hash {}", e.prev_hash, e.hash),
                theme.dim,
            )],
            theme,
        ),
    ];
    let block = panel(
        title(vec![Span::styled("Event", theme.title)], theme),
        theme,
    );
    let w = usize::from(area.width.saturating_sub(2));
    let lines: Vec<Line> = lines.into_iter().map(|l| clip(l, w)).collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// Widths of the audit table's fixed columns (display columns).
struct AuditFixed {
    seq: usize,
    ago: usize,
    kind: usize,
    tier: usize,
}

/// What the audit table shows at a given width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AuditLayout {
    /// `2026-11-18 12:00` (16 columns) rather than `11-18 12:00` (11).
    full_date: bool,
    /// The AGO column (dropped first when even the short layout does not fit).
    ago: bool,
    /// The TIER REGION column.
    tier: bool,
    /// VM, ACCOUNTS, ACTOR, OUTCOME widths.
    flex: [usize; 4],
}

/// Fits the audit table into `avail` columns (inside the border and highlight symbol): the
/// fixed columns (SEQ, TIME UTC, AGO, KIND, TIER REGION) are never cut; the flexible ones (VM,
/// ACCOUNTS, ACTOR, OUTCOME) get at least their header, then the spare width in that order up
/// to 20 columns each, then evenly up to their longest cell (`natural`); what is left goes to
/// OUTCOME, the last column. Optional
/// parts are added while they fit beside the flexible columns' content (up to 20 columns each):
/// the full date, then TIER REGION. AGO is dropped only when the short layout does not fit
/// with it.
fn audit_layout(avail: usize, fixed: &AuditFixed, natural: [usize; 4]) -> AuditLayout {
    let mins = [
        width("VM"),
        width("ACCOUNTS"),
        width("ACTOR"),
        width("OUTCOME"),
    ];
    let need = |full_date: bool, ago: bool, tier: bool| -> usize {
        let mut cols = vec![fixed.seq, if full_date { 16 } else { 11 }, fixed.kind];
        if ago {
            cols.push(fixed.ago);
        }
        if tier {
            cols.push(fixed.tier);
        }
        cols.extend(mins);
        cols.iter().sum::<usize>() + cols.len() - 1
    };
    // The full date and TIER REGION only when the flexible columns still get their content
    // (up to 20 columns each): names and accounts say more than the year.
    let wanted: usize = natural
        .iter()
        .zip(mins)
        .map(|(n, m)| (*n).min(20).saturating_sub(m))
        .sum();
    let ago = need(false, true, false) <= avail;
    let full_date = need(true, ago, false) + wanted <= avail;
    let tier = need(full_date, ago, true) + wanted <= avail;
    let mut flex = mins;
    let mut spare = avail.saturating_sub(need(full_date, ago, tier));
    // First in order (VM, ACCOUNTS, ACTOR, OUTCOME) up to 20 columns each, then one column at a
    // time to each flexible column still short of its longest cell.
    for (w, n) in flex.iter_mut().zip(natural) {
        let give = n.min(20).saturating_sub(*w).min(spare);
        *w += give;
        spare -= give;
    }
    while spare > 0 {
        let mut gave = false;
        for (w, n) in flex.iter_mut().zip(natural) {
            if spare > 0 && *w < n {
                *w += 1;
                spare -= 1;
                gave = true;
            }
        }
        if !gave {
            break;
        }
    }
    flex[3] += spare;
    AuditLayout {
        full_date,
        ago,
        tier,
        flex,
    }
}

/// The audit timeline, newest first, with the chain verification in words.
pub fn audit(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let (area, detail_area) = if area.height >= 26 {
        let [t, d] = Layout::vertical([Constraint::Min(6), Constraint::Length(8)]).areas(area);
        (t, Some(d))
    } else {
        (area, None)
    };
    if let Some(d) = detail_area {
        audit_detail(frame, model, theme, d);
    }
    let events = &model.derived.audit;
    let len = events.len();
    let chain = match model.snapshot.audit_verified {
        Some(true) => Span::styled("chain verified", theme.ok),
        Some(false) => Span::styled("CHAIN BROKEN: the log was altered", theme.error),
        None => Span::styled("chain not checked", theme.warn),
    };
    let mut parts = vec![
        Span::styled("Audit", theme.title),
        Span::styled(
            format!(
                "{len} {}, newest first",
                if len == 1 { "event" } else { "events" }
            ),
            theme.label,
        ),
        chain,
    ];
    if let Some(a) = &model.account_filter {
        parts.push(Span::styled(format!("account {a}"), theme.warn));
    }
    if let Some(kind) = model.audit_ui.kind {
        parts.push(Span::styled(format!("kind: {}", kind.as_str()), theme.warn));
    }
    if !model.audit_ui.filter.is_empty() {
        parts.push(Span::styled(
            format!("filter \"{}\"", model.audit_ui.filter),
            theme.warn,
        ));
    }
    let (offset, end) = table_window(&model.audit, len, area);
    let mark = match model.snapshot.audit_verified {
        Some(true) => "✓",
        Some(false) => "✗",
        None => "?",
    };
    let shown: Vec<_> = events[offset..end]
        .iter()
        .filter_map(|&i| model.snapshot.audit.get(i))
        .collect();
    struct Texts {
        seq: String,
        day: String,
        ago: String,
        accounts: String,
        tier: String,
    }
    let texts: Vec<Texts> = shown
        .iter()
        .map(|e| Texts {
            seq: format!("{:>3} {mark}", e.seq),
            day: e.at.format("%Y-%m-%d %H:%M").to_string(),
            ago: format!("{} ago", age(e.at, model.now)),
            accounts: match &e.to_account {
                Some(to) => format!("{} → {to}", e.account),
                None => e.account.clone(),
            },
            tier: format!("{} {}", e.tier, e.region),
        })
        .collect();
    let natural = |head: &str, cells: &mut dyn Iterator<Item = &str>| -> usize {
        cells.map(width).chain([width(head)]).max().unwrap_or(0)
    };
    // Border (2) and highlight symbol (2).
    let avail = usize::from(area.width.saturating_sub(4));
    let fixed = AuditFixed {
        seq: natural("SEQ", &mut texts.iter().map(|t| t.seq.as_str())),
        ago: natural("AGO", &mut texts.iter().map(|t| t.ago.as_str())),
        kind: natural("KIND", &mut shown.iter().map(|e| e.kind.as_str())),
        tier: natural("TIER REGION", &mut texts.iter().map(|t| t.tier.as_str())),
    };
    let flex_natural = [
        natural("VM", &mut shown.iter().map(|e| e.vm_name.as_str())),
        natural("ACCOUNTS", &mut texts.iter().map(|t| t.accounts.as_str())),
        natural("ACTOR", &mut shown.iter().map(|e| e.actor.as_str())),
        natural("OUTCOME", &mut shown.iter().map(|e| e.outcome.as_str())),
    ];
    let layout = audit_layout(avail, &fixed, flex_natural);
    let rows: Vec<Row> = shown
        .iter()
        .zip(texts)
        .map(|(e, t)| {
            let outcome_style = if e.outcome == "ok" {
                theme.ok
            } else {
                theme.error
            };
            let [vm_w, acc_w, actor_w, out_w] = layout.flex;
            let time = if layout.full_date {
                t.day
            } else {
                t.day.get(5..).unwrap_or(&t.day).to_string()
            };
            let mut cells = vec![Cell::from(t.seq), Cell::from(time)];
            if layout.ago {
                cells.push(Cell::from(Span::styled(t.ago, theme.dim)));
            }
            cells.push(Cell::from(e.kind.as_str()));
            cells.push(Cell::from(truncate(&e.vm_name, vm_w).into_owned()));
            cells.push(Cell::from(truncate(&t.accounts, acc_w).into_owned()));
            if layout.tier {
                cells.push(Cell::from(t.tier));
            }
            cells.push(Cell::from(truncate(&e.actor, actor_w).into_owned()));
            cells.push(Cell::from(Span::styled(
                truncate(&e.outcome, out_w).into_owned(),
                outcome_style,
            )));
            Row::new(cells)
        })
        .collect();
    let len16 = |w: usize| Constraint::Length(u16::try_from(w).unwrap_or(u16::MAX));
    let [vm_w, acc_w, actor_w, out_w] = layout.flex;
    let mut widths = vec![
        len16(fixed.seq),
        len16(if layout.full_date { 16 } else { 11 }),
    ];
    let mut head = vec!["SEQ", "TIME UTC"];
    if layout.ago {
        widths.push(len16(fixed.ago));
        head.push("AGO");
    }
    widths.extend([len16(fixed.kind), len16(vm_w), len16(acc_w)]);
    head.extend(["KIND", "VM", "ACCOUNTS"]);
    if layout.tier {
        widths.push(len16(fixed.tier));
        head.push("TIER REGION");
    }
    widths.extend([len16(actor_w), len16(out_w)]);
    head.extend(["ACTOR", "OUTCOME"]);
    let table = Table::new(rows, widths)
        .header(header(head.into_iter().map(String::from).collect(), theme))
        .block(panel(title(parts, theme), theme))
        .row_highlight_style(theme.selected)
        .highlight_symbol(HIGHLIGHT)
        .highlight_spacing(HighlightSpacing::Always);
    let mut st = table_state(&model.audit, offset, len);
    frame.render_stateful_widget(table, area, &mut st);
    if len == 0 {
        empty_hint(
            frame,
            area,
            "no audit events: only destroy and transfer are recorded",
            theme,
        );
    }
}
