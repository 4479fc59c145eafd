//! The selection and scroll state every list pane shares.

use super::keymap::Action;
use std::cell::Cell;

/// Selection and scroll state of one list. `offset`, `viewport` and `top` are written by the
/// renderer (which alone knows the screen) and read by [`update`](super::update) for paging and mouse clicks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListState {
    /// Selected position in the list (0-based), clamped to the list length.
    pub selected: usize,
    /// First row shown.
    pub offset: Cell<usize>,
    /// Rows that fit on screen at the last render (0 before the first render).
    pub viewport: Cell<usize>,
    /// Screen row of the first list row at the last render.
    pub top: Cell<u16>,
}

impl ListState {
    fn page(&self) -> usize {
        self.viewport.get().max(2)
    }

    /// Keeps the selection inside a list of `len` rows.
    pub fn clamp(&mut self, len: usize) {
        self.selected = self.selected.min(len.saturating_sub(1));
    }

    /// Moves the selection by a movement action in a list of `len` rows; true when it moved.
    pub fn apply(&mut self, action: Action, len: usize) -> bool {
        let before = self.selected;
        let page = self.page();
        self.selected = match action {
            Action::Down => self.selected.saturating_add(1),
            Action::Up => self.selected.saturating_sub(1),
            Action::Top => 0,
            Action::Bottom => len.saturating_sub(1),
            Action::PageDown => self.selected.saturating_add(page),
            Action::PageUp => self.selected.saturating_sub(page),
            Action::HalfPageDown => self.selected.saturating_add(page / 2),
            Action::HalfPageUp => self.selected.saturating_sub(page / 2),
            _ => self.selected,
        };
        self.clamp(len);
        self.selected != before
    }

    /// The first row to show so that the selection is visible in `height` rows, starting from
    /// the previous offset (scrolls only as far as needed). Stores it in `offset`.
    pub fn scroll_to(&self, len: usize, height: usize) -> usize {
        let height = height.max(1);
        let mut offset = self.offset.get().min(len.saturating_sub(height));
        if self.selected < offset {
            offset = self.selected;
        } else if self.selected >= offset + height {
            offset = self.selected + 1 - height;
        }
        self.offset.set(offset);
        self.viewport.set(height);
        offset
    }
}
