//! Who asked for an effect and where its answers go.
//!
//! Embedded (one console, one worker), every effect comes from the one local operator and every
//! event goes to that console. Inside `crabglamp serve` (src/service/mod.rs) each effect comes
//! with the [`Caller`] the service authenticated (`SO_PEERCRED`), and each event is either for
//! everyone ([`Audience::All`]: snapshots, sync state, the API budget) or for the caller that
//! asked ([`Audience::Client`]: refusals, progress, results, the one-time password).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc::UnboundedSender;

use crate::protocol::wire::Role;
use crate::protocol::{Effect, WorkerEvent};

/// A connection's number within one service run (0 is the embedded console).
pub type ClientId = u64;

/// The authenticated source of an effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The connection (or 0 embedded).
    pub client: ClientId,
    /// The Unix user name, as the kernel names the caller's uid (the audit actor).
    pub user: String,
    /// Operator or reader.
    pub role: Role,
    /// Where the client says it comes from (its `SSH_CONNECTION` address): reported, not
    /// checked; recorded apart from the actor.
    pub origin: Option<String>,
}

/// Who requested an operation and when: what an audit event records as its actor and request
/// time (docs/product-rules.md §10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    /// The Unix user name.
    pub user: String,
    /// Client-reported origin, if any.
    pub origin: Option<String>,
    /// When the effect reached the worker (UTC).
    pub requested_at: DateTime<Utc>,
}

impl Requester {
    /// The caller's request, made at `at`.
    pub fn of(caller: &Caller, at: DateTime<Utc>) -> Requester {
        Requester {
            user: caller.user.clone(),
            origin: caller.origin.clone(),
            requested_at: at,
        }
    }
}

/// An input to the worker inside the service.
#[derive(Debug, Clone)]
pub enum Request {
    /// An effect from an authenticated caller.
    Effect(Arc<Caller>, Effect),
    /// The connection closed: forget what the worker kept for it (its Usage query).
    Disconnected(ClientId),
    /// The service is stopping: finish the store write in progress, flush, end.
    Stop,
}

/// Who an event is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Every attached client.
    All,
    /// Only this client.
    Client(ClientId),
}

/// An event and who it is for (the service routes it).
#[derive(Debug, Clone)]
pub struct Routed {
    /// The audience.
    pub to: Audience,
    /// The event.
    pub event: WorkerEvent,
}

/// Where the worker's events go: one console's channel (embedded), or the service's router.
#[derive(Debug, Clone)]
pub enum Outbox {
    /// Embedded: everything to the one console.
    Local(UnboundedSender<WorkerEvent>),
    /// Service: every event with its audience.
    Routed(UnboundedSender<Routed>),
}

impl Outbox {
    /// Sends `event` to `to`. A closed receiver means the console or the service is going
    /// away; nothing left to tell.
    pub fn send(&self, to: Audience, event: WorkerEvent) {
        match self {
            Outbox::Local(tx) => {
                let _ = tx.send(event);
            }
            Outbox::Routed(tx) => {
                let _ = tx.send(Routed { to, event });
            }
        }
    }

    /// A handle that answers one caller.
    pub fn reply_to(&self, client: ClientId) -> Reply {
        Reply {
            outbox: self.clone(),
            to: Audience::Client(client),
        }
    }
}

/// Sends a task's events to the caller that started it.
#[derive(Debug, Clone)]
pub struct Reply {
    outbox: Outbox,
    to: Audience,
}

impl Reply {
    /// Sends `event` to the caller (dropped when it has gone).
    pub fn send(&self, event: WorkerEvent) {
        self.outbox.send(self.to, event);
    }
}
