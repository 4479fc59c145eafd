//! ratatui rendering, panes, theme, terminal guard and the event loop.
//!
//! [`run`] owns the terminal and the [`Model`]: one tokio task waits on terminal input, worker
//! events, signals (SIGHUP, SIGTERM, SIGINT, SIGQUIT), a one-second tick and a render deadline; it applies
//! every ready message and draws at most once per frame ([`FRAME`]), only when something
//! changed. It never waits on I/O other than the terminal: effects go to the worker over an
//! unbounded channel. [`render`] draws a model into any ratatui frame (`TestBackend` in tests,
//! screenshots and the benchmark).

pub mod lifecycle;
pub mod panes;
pub mod render;
pub mod screenshot;
pub mod terminal;
pub mod text;
pub mod theme;
pub mod widgets;

pub use panes::vault;
pub use render::{MIN_HEIGHT, MIN_WIDTH, render};

use crate::app::{Model, Msg, update};
use crate::protocol::{Effect, Mode, WorkerEvent};
use chrono::Utc;
use color_eyre::eyre::WrapErr;
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use std::time::Duration;
use terminal::TerminalGuard;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

/// Shortest time between two draws (about 60 frames per second).
pub const FRAME: Duration = Duration::from_millis(16);

/// How the dashboard starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiOptions {
    /// Live or demo (the badge).
    pub mode: Mode,
    /// `--read-only`: shown as a READ-ONLY badge (the worker refuses mutating effects).
    pub read_only: bool,
    /// `NO_COLOR` set (non-empty): monochrome theme.
    pub no_color: bool,
    /// Operator name, shown in the help and used by the worker as audit actor.
    pub operator: String,
    /// The last successful sync before this session (UTC, from the store), so the status bar
    /// says `stale (synced 2h ago)` rather than `never synced` until the first sync.
    pub last_sync: Option<chrono::DateTime<Utc>>,
    /// Local, or attached to a service (the status bar says which).
    pub attachment: crate::protocol::wire::Attachment,
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    Quit,
    Signal,
}

/// Runs the dashboard until the operator quits or a signal (SIGHUP, SIGTERM, SIGINT, SIGQUIT)
/// arrives (SIGQUIT's default action would dump core and leave the terminal in raw mode).
/// Sends [`Effect::Shutdown`] to the worker on the way out, and restores the terminal on every
/// path (see [`terminal`]).
///
/// # Errors
/// The terminal could not be set up, read or written.
pub async fn run(
    opts: UiOptions,
    effects: UnboundedSender<Effect>,
    mut events: UnboundedReceiver<WorkerEvent>,
) -> color_eyre::Result<()> {
    let mut model = Model::new(
        opts.mode,
        opts.read_only,
        opts.no_color,
        &opts.operator,
        Utc::now(),
    );
    model.last_sync = opts.last_sync;
    model.attachment = opts.attachment;
    model.fw.operator_ip = std::env::var("SSH_CONNECTION")
        .ok()
        .and_then(|v| crate::domain::firewall::operator_ip_from_ssh_connection(&v));
    let mut hup = signal(SignalKind::hangup()).wrap_err("installing the SIGHUP handler")?;
    let mut term = signal(SignalKind::terminate()).wrap_err("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).wrap_err("installing the SIGINT handler")?;
    let mut quit = signal(SignalKind::quit()).wrap_err("installing the SIGQUIT handler")?;
    let mut guard = TerminalGuard::enter().wrap_err("setting up the terminal")?;
    let result = event_loop(
        &mut guard,
        &mut model,
        &effects,
        &mut events,
        (&mut hup, &mut term, &mut int, &mut quit),
    )
    .await;
    // The worker may already be gone; nothing to do then.
    let _ = effects.send(Effect::Shutdown);
    drop(guard);
    result.map(|_| ())
}

/// SIGHUP, SIGTERM, SIGINT, SIGQUIT.
type Signals<'a> = (
    &'a mut tokio::signal::unix::Signal,
    &'a mut tokio::signal::unix::Signal,
    &'a mut tokio::signal::unix::Signal,
    &'a mut tokio::signal::unix::Signal,
);

fn to_msg(ev: Event) -> Option<Msg> {
    match ev {
        Event::Key(k) => Some(Msg::Key(k)),
        Event::Mouse(m) => Some(Msg::Mouse(m)),
        Event::Paste(p) => Some(Msg::Paste(p)),
        Event::Resize(w, h) => Some(Msg::Resize(w, h)),
        Event::FocusGained | Event::FocusLost => None,
    }
}

async fn event_loop(
    guard: &mut TerminalGuard,
    model: &mut Model,
    effects: &UnboundedSender<Effect>,
    events: &mut UnboundedReceiver<WorkerEvent>,
    (hup, term, int, quit): Signals<'_>,
) -> color_eyre::Result<Exit> {
    let mut input = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut worker_alive = true;
    let mut last_draw: Option<Instant> = None;
    let send = |fx: Vec<Effect>| {
        for e in fx {
            // A closed channel means the worker ended; the UI keeps showing the last state.
            let _ = effects.send(e);
        }
    };
    loop {
        if model.dirty {
            let due = last_draw.map_or(Instant::now(), |t| t + FRAME);
            if Instant::now() >= due {
                guard
                    .terminal
                    .draw(|f| render(f, model))
                    .wrap_err("drawing the screen")?;
                model.dirty = false;
                last_draw = Some(Instant::now());
            }
        }
        let deadline = if model.dirty {
            last_draw.map(|t| t + FRAME)
        } else {
            None
        };
        tokio::select! {
            _ = hup.recv() => return Ok(Exit::Signal),
            _ = term.recv() => return Ok(Exit::Signal),
            _ = int.recv() => return Ok(Exit::Signal),
            _ = quit.recv() => return Ok(Exit::Signal),
            ev = input.next() => match ev {
                Some(Ok(ev)) => {
                    if let Some(msg) = to_msg(ev) {
                        send(update(model, msg));
                    }
                }
                Some(Err(e)) => return Err(e).wrap_err("reading the terminal"),
                None => return Ok(Exit::Signal),
            },
            ev = events.recv(), if worker_alive => match ev {
                Some(ev) => {
                    // Apply everything else already waiting before drawing, the newest snapshot
                    // only.
                    let mut ready = vec![ev];
                    while let Ok(ev) = events.try_recv() {
                        ready.push(ev);
                    }
                    for ev in coalesce(ready) {
                        send(update(model, Msg::Worker(ev)));
                    }
                }
                None => {
                    worker_alive = false;
                    send(update(model, Msg::Worker(WorkerEvent::SyncFailed {
                        error: "the background worker stopped; showing the last known state".into(),
                        offline: true,
                    })));
                }
            },
            _ = tick.tick() => send(update(model, Msg::Tick { now: Utc::now() })),
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {}
        }
        if model.quit == crate::app::Quit::Now {
            return Ok(Exit::Quit);
        }
        if let Some(text) = model.vault_ui.clipboard.take() {
            // Terminal output, like drawing: OSC 52 through the backend (issue 6).
            use std::io::Write;
            let backend = guard.terminal.backend_mut();
            backend
                .write_all(vault::osc52(&text).as_bytes())
                .and_then(|()| backend.flush())
                .wrap_err("writing to the clipboard (OSC 52)")?;
        }
        guard
            .set_mouse(model.mouse_capture)
            .wrap_err("switching mouse capture")?;
    }
}

/// Collapses a batch of worker events that were waiting together: of several
/// [`WorkerEvent::Snapshot`]s only the newest (the last) is kept, in the place of the first one,
/// so each snapshot-replacing pass runs once per batch; every other event keeps its order. An
/// event the worker sent after a snapshot is therefore still applied after one at least as new
/// (the worker sends a snapshot before the event that reports a change: `src/worker/mod.rs`).
pub fn coalesce(events: Vec<WorkerEvent>) -> Vec<WorkerEvent> {
    let snapshots = events
        .iter()
        .filter(|e| matches!(e, WorkerEvent::Snapshot(_)))
        .count();
    if snapshots < 2 {
        return events;
    }
    let mut newest = None;
    let mut rest = Vec::with_capacity(events.len() - snapshots + 1);
    let mut first_at = None;
    for ev in events {
        if matches!(ev, WorkerEvent::Snapshot(_)) {
            first_at.get_or_insert(rest.len());
            newest = Some(ev);
        } else {
            rest.push(ev);
        }
    }
    if let (Some(at), Some(snapshot)) = (first_at, newest) {
        rest.insert(at, snapshot);
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Snapshot;

    fn snapshot(n: usize) -> WorkerEvent {
        WorkerEvent::Snapshot(Box::new(Snapshot {
            usage_currency: format!("snapshot {n}"),
            ..Snapshot::default()
        }))
    }

    fn info(n: usize) -> WorkerEvent {
        WorkerEvent::Info(format!("info {n}"))
    }

    #[test]
    fn a_burst_of_snapshots_is_applied_as_the_last_one() {
        let mut burst = vec![WorkerEvent::SyncStarted];
        for n in 0..10 {
            burst.push(snapshot(n));
            burst.push(info(n));
        }
        burst.push(WorkerEvent::SyncOk {
            at: chrono::DateTime::UNIX_EPOCH,
        });
        let mut expected = vec![WorkerEvent::SyncStarted, snapshot(9)];
        expected.extend((0..10).map(info));
        expected.push(WorkerEvent::SyncOk {
            at: chrono::DateTime::UNIX_EPOCH,
        });
        assert_eq!(coalesce(burst), expected);
    }

    #[test]
    fn a_batch_with_one_snapshot_or_none_is_unchanged() {
        let one = vec![info(1), snapshot(1), info(2)];
        assert_eq!(coalesce(one.clone()), one);
        let none = vec![info(1), WorkerEvent::SyncStarted];
        assert_eq!(coalesce(none.clone()), none);
        assert_eq!(coalesce(Vec::new()), Vec::new());
    }
}
