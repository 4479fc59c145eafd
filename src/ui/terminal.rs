//! The terminal guard: raw mode, alternate screen, bracketed paste, hidden cursor, optional
//! mouse capture, all undone on every exit path.
//!
//! - normal quit and errors: [`TerminalGuard`]'s `Drop`;
//! - panic: a panic hook installed by [`TerminalGuard::enter`] restores the terminal **first**
//!   and then calls the hook that was installed before it (color-eyre's, when `main` ran
//!   `color_eyre::install()` first, as docs/dependencies.md asks);
//! - SIGTERM, SIGHUP, SIGINT, SIGQUIT: the event loop leaves its loop, so `Drop` runs.
//!
//! Restoring is idempotent (a global flag), so the panic hook and `Drop` never undo twice.

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{self, Stdout, stdout};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

static ACTIVE: AtomicBool = AtomicBool::new(false);
static MOUSE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// Owns the terminal while the dashboard runs; restores it when dropped.
pub struct TerminalGuard {
    /// The ratatui terminal on stdout.
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalGuard {
    /// Enters raw mode and the alternate screen, enables bracketed paste and hides the cursor.
    /// On error, whatever was already switched on is switched off again.
    ///
    /// # Errors
    /// The terminal could not be switched (not a terminal, or I/O error).
    pub fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        ACTIVE.store(true, Ordering::SeqCst);
        let setup = (|| {
            enable_raw_mode()?;
            // Clear with crossterm rather than `Terminal::clear`, which asks the terminal for
            // the cursor position (a terminal that does not answer would stall start-up).
            execute!(
                stdout(),
                EnterAlternateScreen,
                EnableBracketedPaste,
                crossterm::cursor::Hide,
                crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
            )?;
            let mut terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
            terminal.hide_cursor()?;
            Ok(terminal)
        })();
        match setup {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }

    /// Switches mouse capture on or off (off by default so that the terminal's own text
    /// selection works).
    ///
    /// # Errors
    /// Writing the escape sequence failed.
    pub fn set_mouse(&mut self, on: bool) -> io::Result<()> {
        if MOUSE.swap(on, Ordering::SeqCst) != on {
            if on {
                execute!(stdout(), EnableMouseCapture)?;
            } else {
                execute!(stdout(), DisableMouseCapture)?;
            }
        }
        Ok(())
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Undoes everything [`TerminalGuard::enter`] did, once; later calls do nothing. Errors are
/// ignored (the terminal may be gone after SIGHUP).
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let mut out = stdout();
        if MOUSE.swap(false, Ordering::SeqCst) {
            let _ = execute!(out, DisableMouseCapture);
        }
        let _ = execute!(
            out,
            DisableBracketedPaste,
            LeaveAlternateScreen,
            crossterm::cursor::Show
        );
        let _ = disable_raw_mode();
    }
}

fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}
