//! ratatui rendering, panes, theme, keymap, terminal guard, event loop.
