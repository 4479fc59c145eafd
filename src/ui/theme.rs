//! Colours and emphasis. Two themes: a calm colour one, and a monochrome one for `NO_COLOR`
//! (<https://no-color.org>) that uses only modifiers (bold, reversed, dim, underline). No state is
//! shown by colour alone: every status also has a word.

use crate::domain::VmStatus;
use ratatui::style::{Color, Modifier, Style};

/// Styles used by the renderer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// True for the monochrome theme.
    pub mono: bool,
    /// Table headers.
    pub header: Style,
    /// The selected row.
    pub selected: Style,
    /// Active tab.
    pub tab_active: Style,
    /// Inactive tab.
    pub tab: Style,
    /// Block borders.
    pub border: Style,
    /// Block titles.
    pub title: Style,
    /// Secondary text (labels, ages, hints).
    pub dim: Style,
    /// Field labels in detail panels.
    pub label: Style,
    /// Errors.
    pub error: Style,
    /// Warnings (stale, exposure).
    pub warn: Style,
    /// Good news (verified, synced).
    pub ok: Style,
    /// The status bar background.
    pub bar: Style,
    /// Badge: DEMO.
    pub badge_demo: Style,
    /// Badge: LIVE.
    pub badge_live: Style,
    /// Badge: READ-ONLY.
    pub badge_read_only: Style,
    /// Badge: OFFLINE.
    pub badge_offline: Style,
    /// Overlay background.
    pub overlay: Style,
    /// Key names in the help overlay and hints.
    pub key: Style,
    /// Bars of the usage chart.
    pub bar_chart: Style,
}

impl Theme {
    /// The theme for `no_color`.
    pub fn new(no_color: bool) -> Theme {
        if no_color {
            Theme::mono()
        } else {
            Theme::color()
        }
    }

    /// Calm colours on the terminal's own background.
    pub fn color() -> Theme {
        let s = Style::default();
        Theme {
            mono: false,
            header: s.fg(Color::Indexed(110)).add_modifier(Modifier::BOLD),
            selected: s
                .bg(Color::Indexed(24))
                .fg(Color::Indexed(231))
                .add_modifier(Modifier::BOLD),
            tab_active: s
                .bg(Color::Indexed(24))
                .fg(Color::Indexed(231))
                .add_modifier(Modifier::BOLD),
            tab: s.fg(Color::Indexed(250)),
            border: s.fg(Color::Indexed(243)),
            title: s.fg(Color::Indexed(110)).add_modifier(Modifier::BOLD),
            dim: s.fg(Color::Indexed(244)),
            label: s.fg(Color::Indexed(246)),
            error: s.fg(Color::Indexed(203)).add_modifier(Modifier::BOLD),
            warn: s.fg(Color::Indexed(179)),
            ok: s.fg(Color::Indexed(114)),
            bar: s.bg(Color::Indexed(236)).fg(Color::Indexed(252)),
            badge_demo: s
                .bg(Color::Indexed(179))
                .fg(Color::Indexed(16))
                .add_modifier(Modifier::BOLD),
            badge_live: s
                .bg(Color::Indexed(114))
                .fg(Color::Indexed(16))
                .add_modifier(Modifier::BOLD),
            badge_read_only: s
                .bg(Color::Indexed(110))
                .fg(Color::Indexed(16))
                .add_modifier(Modifier::BOLD),
            badge_offline: s
                .bg(Color::Indexed(203))
                .fg(Color::Indexed(16))
                .add_modifier(Modifier::BOLD),
            overlay: s.bg(Color::Indexed(235)).fg(Color::Indexed(252)),
            key: s.fg(Color::Indexed(179)).add_modifier(Modifier::BOLD),
            bar_chart: s.fg(Color::Indexed(67)),
        }
    }

    /// Modifiers only: bold headers, reversed selection and badges.
    pub fn mono() -> Theme {
        let s = Style::default();
        let bold = s.add_modifier(Modifier::BOLD);
        let rev = s.add_modifier(Modifier::REVERSED | Modifier::BOLD);
        Theme {
            mono: true,
            header: bold.add_modifier(Modifier::UNDERLINED),
            selected: rev,
            tab_active: rev,
            tab: s,
            border: s,
            title: bold,
            dim: s,
            label: s,
            error: bold,
            warn: bold,
            ok: s,
            bar: s,
            badge_demo: rev,
            badge_live: rev,
            badge_read_only: rev,
            badge_offline: rev,
            overlay: s,
            key: bold,
            bar_chart: s,
        }
    }

    /// Style of a status word (the word itself carries the meaning; colour only helps).
    pub fn status(&self, status: VmStatus, managed: bool) -> Style {
        if self.mono {
            return match status {
                VmStatus::Failed | VmStatus::Vanished => self.error,
                _ if !managed => self.warn,
                _ => Style::default(),
            };
        }
        if !managed {
            return Style::default().fg(Color::Indexed(176));
        }
        match status {
            VmStatus::Running => self.ok,
            VmStatus::Stopped => self.warn,
            VmStatus::Provisioning | VmStatus::Starting | VmStatus::Stopping => {
                Style::default().fg(Color::Indexed(117))
            }
            VmStatus::Destroying | VmStatus::Failed | VmStatus::Vanished => self.error,
            VmStatus::Deleted => self.dim,
            VmStatus::Unknown => Style::default().fg(Color::Indexed(176)),
        }
    }
}
