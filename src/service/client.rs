//! A console or headless command attached to `crabglamp serve`: [`attach`] connects, says
//! hello and returns a [`WorkerHandle`] that looks exactly like the embedded worker's (effects
//! in, events out), so the dashboard and the headless commands do not know which they have.
//!
//! The bridge task turns effects into frames and frames back into events, rebuilding whole
//! snapshots from the service's [`SnapshotUpdate`]s. When the connection drops it sends
//! [`WorkerEvent::ServiceLost`] (the dashboard keeps its data, marked offline) and, with
//! `reconnect`, tries again after 0.5, 1, 2 … s (at most 5 s), sending
//! [`WorkerEvent::ServiceBack`] and a full snapshot once the service answers; effects sent
//! meanwhile are refused with a line saying so. [`Effect::Shutdown`] closes the connection:
//! it never stops the service.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

use crate::protocol::wire::{
    ClientFrame, Hello, MAX_CLIENT_FRAME, MAX_SERVICE_FRAME, PRODUCT_VERSION, PROTOCOL_VERSION,
    ServiceFrame, Welcome,
};
use crate::protocol::{Effect, KeySource, Snapshot, VaultEvent, WorkerEvent};
use crate::worker::WorkerHandle;

/// Why attaching failed. `Display` is one line for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachError {
    /// Nothing answers on the socket (no file, or nobody listening).
    #[error("cannot reach the crabglamp service at {path}: {detail}")]
    Unreachable {
        /// The socket.
        path: String,
        /// The I/O error.
        detail: String,
    },
    /// What answers on the socket cannot be trusted to be the service: its directory can be
    /// written by others, or another user than the directory's owner listens there.
    #[error("not attaching to {path}: {detail}")]
    Untrusted {
        /// The socket.
        path: String,
        /// Why.
        detail: String,
    },
    /// The service refused the hello (unknown user, other version): its line.
    #[error("the crabglamp service refused this connection: {0}")]
    Refused(String),
    /// The service answered something other than a welcome.
    #[error("the crabglamp service at {path} answered unexpectedly: {detail}")]
    Protocol {
        /// The socket.
        path: String,
        /// What was wrong.
        detail: String,
    },
}

impl AttachError {
    /// True when nobody listens (a stale or missing socket), as opposed to a service that
    /// answered.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, AttachError::Unreachable { .. })
    }
}

type Reader = FramedRead<OwnedReadHalf, LengthDelimitedCodec>;
type Writer = FramedWrite<OwnedWriteHalf, LengthDelimitedCodec>;

/// A connected, welcomed session.
struct Connection {
    reader: Reader,
    writer: Writer,
}

/// How long the hello exchange may take.
const HELLO_WAIT: Duration = Duration::from_secs(10);
/// Longest pause between two reconnection attempts.
const RECONNECT_MAX: Duration = Duration::from_secs(5);

fn encode(frame: &ClientFrame) -> Option<Bytes> {
    serde_json::to_vec(frame).ok().map(Bytes::from)
}

async fn connect(path: &Path, origin: Option<&str>) -> Result<(Connection, Welcome), AttachError> {
    let shown = path.display().to_string();
    let stream = UnixStream::connect(path).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
            " (a team's socket is open to the service's group: ask its administrator to add you)"
        } else {
            ""
        };
        AttachError::Unreachable {
            path: shown.clone(),
            detail: format!("{e}{hint}"),
        }
    })?;
    // Only the service whose directory this is (or root) may answer here.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let owner =
            crate::service::socket_dir_owner(dir).map_err(|detail| AttachError::Untrusted {
                path: shown.clone(),
                detail,
            })?;
        let peer = stream.peer_cred().map_err(|e| AttachError::Untrusted {
            path: shown.clone(),
            detail: format!("cannot read who answers: {e}"),
        })?;
        if peer.uid() != owner && peer.uid() != 0 {
            return Err(AttachError::Untrusted {
                path: shown.clone(),
                detail: format!(
                    "it is answered by uid {}, not by the owner of its directory (uid {owner})",
                    peer.uid()
                ),
            });
        }
    }
    let (read, write) = stream.into_split();
    let mut reader = FramedRead::new(
        read,
        LengthDelimitedCodec::builder()
            .max_frame_length(MAX_SERVICE_FRAME)
            .new_codec(),
    );
    let mut writer = FramedWrite::new(
        write,
        LengthDelimitedCodec::builder()
            .max_frame_length(MAX_CLIENT_FRAME)
            .new_codec(),
    );
    let protocol = |detail: String| AttachError::Protocol {
        path: shown.clone(),
        detail,
    };
    let hello = ClientFrame::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        product: PRODUCT_VERSION.to_string(),
        origin: origin.map(str::to_string),
    });
    let frame = encode(&hello).ok_or_else(|| protocol("cannot encode the hello".into()))?;
    writer
        .send(frame)
        .await
        .map_err(|e| protocol(format!("sending the hello: {e}")))?;
    let first = tokio::time::timeout(HELLO_WAIT, reader.next())
        .await
        .map_err(|_| protocol("no answer to the hello".into()))?;
    let bytes = match first {
        None => return Err(protocol("the connection closed at hello".into())),
        Some(Err(e)) => return Err(protocol(e.to_string())),
        Some(Ok(b)) => b,
    };
    match serde_json::from_slice::<ServiceFrame>(&bytes) {
        Ok(ServiceFrame::Welcome(w)) if w.protocol == PROTOCOL_VERSION => {
            Ok((Connection { reader, writer }, w))
        }
        Ok(ServiceFrame::Welcome(w)) => Err(AttachError::Refused(format!(
            "protocol version mismatch: the service speaks protocol {} (crabglamp {}), this \
             client speaks protocol {PROTOCOL_VERSION} (crabglamp {PRODUCT_VERSION})",
            w.protocol, w.product
        ))),
        Ok(ServiceFrame::Refused(line)) => Err(AttachError::Refused(line)),
        Ok(_) => Err(protocol("a frame other than the welcome came first".into())),
        // A service of another version may not even parse: say which we speak.
        Err(e) => Err(protocol(format!(
            "its first frame does not parse ({e}); this client speaks protocol \
             {PROTOCOL_VERSION} (crabglamp {PRODUCT_VERSION})"
        ))),
    }
}

/// Checks that a service answers at `path` and accepts this caller, then disconnects.
///
/// Errors: as [`attach`].
pub async fn probe(path: &Path) -> Result<Welcome, AttachError> {
    let (mut conn, welcome) = connect(path, None).await?;
    if let Some(f) = encode(&ClientFrame::Effect(Effect::Shutdown)) {
        let _ = conn.writer.send(f).await;
    }
    Ok(welcome)
}

/// Attaches to the service at `path`: hello (with `origin`, the client-reported address of
/// the operator's SSH connection), welcome, then a bridge task behind the returned handle.
/// With `reconnect` a lost connection is retried for as long as the handle lives; without
/// it (headless commands) the event channel closes after [`WorkerEvent::ServiceLost`]. With
/// `read_only` (the client's `--read-only`) every mutating effect is refused on this side.
///
/// Errors: [`AttachError::Unreachable`] when nobody listens, [`AttachError::Refused`] with
/// the service's line, [`AttachError::Protocol`] for anything else.
pub async fn attach(
    path: &Path,
    origin: Option<String>,
    reconnect: bool,
    read_only: bool,
) -> Result<(WorkerHandle, Welcome), AttachError> {
    let (conn, welcome) = connect(path, origin.as_deref()).await?;
    let (effects_tx, effects_rx) = mpsc::unbounded_channel();
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let bridge = Bridge {
        path: path.to_path_buf(),
        origin,
        reconnect,
        read_only,
        events: events_tx,
        base: Snapshot::default(),
        last_usage: None,
    };
    let join = tokio::spawn(bridge.run(conn, effects_rx));
    Ok((
        WorkerHandle {
            effects: effects_tx,
            events: events_rx,
            join,
        },
        welcome,
    ))
}

struct Bridge {
    path: PathBuf,
    origin: Option<String>,
    reconnect: bool,
    /// `--read-only` on this client: mutating effects are refused here and never sent.
    read_only: bool,
    events: UnboundedSender<WorkerEvent>,
    /// The last snapshot rebuilt: the base of the next update.
    base: Snapshot,
    /// The Usage pane's last query, asked again after a reconnection (the service forgot it).
    last_usage: Option<Effect>,
}

/// How one connection ended.
enum End {
    /// The console quit (Shutdown, or every effect sender dropped).
    Quit,
    /// The connection broke.
    Lost(String),
}

impl Bridge {
    fn emit(&self, event: WorkerEvent) {
        let _ = self.events.send(event);
    }

    async fn run(mut self, first: Connection, mut effects: UnboundedReceiver<Effect>) {
        let mut conn = first;
        loop {
            let lost = match self.pump(&mut conn, &mut effects).await {
                End::Quit => return,
                End::Lost(why) => why,
            };
            tracing::warn!(socket = %self.path.display(), reason = %lost, "service connection lost");
            self.emit(WorkerEvent::ServiceLost {
                error: lost.clone(),
            });
            if !self.reconnect {
                return;
            }
            let mut wait = Duration::from_millis(500);
            conn = loop {
                let sleep = tokio::time::sleep(wait);
                tokio::pin!(sleep);
                // Effects while away are refused, not queued: the operator decides again.
                loop {
                    tokio::select! {
                        _ = &mut sleep => break,
                        effect = effects.recv() => match effect {
                            None | Some(Effect::Shutdown) => return,
                            Some(Effect::Refresh) => {}
                            Some(e @ Effect::UsageQuery(_)) => self.last_usage = Some(e),
                            Some(_) => self.emit(WorkerEvent::Refused {
                                reason: format!("the service is unreachable ({lost}); nothing was sent"),
                            }),
                        },
                    }
                }
                match connect(&self.path, self.origin.as_deref()).await {
                    Ok((mut c, _welcome)) => {
                        tracing::info!(socket = %self.path.display(), "service connection back");
                        self.emit(WorkerEvent::ServiceBack);
                        if let Some(frame) = self
                            .last_usage
                            .clone()
                            .and_then(|e| encode(&ClientFrame::Effect(e)))
                        {
                            let _ = c.writer.send(frame).await;
                        }
                        break c;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "reconnecting");
                        wait = (wait * 2).min(RECONNECT_MAX);
                    }
                }
            };
        }
    }

    /// A Vault key file named by path is read here, on the client's side, with the client's
    /// permissions, home and working directory, and sent as its text; a file that cannot be
    /// read or holds a private key is refused here and nothing is sent (`None`).
    async fn local_files(&self, effect: Effect) -> Option<Effect> {
        let Effect::AddVaultKey {
            account,
            label,
            source: KeySource::Path(typed),
        } = effect
        else {
            return Some(effect);
        };
        let read = tokio::task::spawn_blocking(move || {
            crate::worker::vault::read_key_file_for_sending(&typed)
        })
        .await;
        match read {
            Ok(Ok(text)) => Some(Effect::AddVaultKey {
                account,
                label,
                source: KeySource::Text(text),
            }),
            Ok(Err(refusal)) => {
                self.emit(WorkerEvent::Vault(VaultEvent::Refused(refusal)));
                None
            }
            Err(e) => {
                self.emit(WorkerEvent::Vault(VaultEvent::Refused(
                    crate::protocol::vault::Refusal::plain(format!("reading the key file: {e}")),
                )));
                None
            }
        }
    }

    /// Moves effects out and events in until the console quits or the connection breaks.
    async fn pump(
        &mut self,
        conn: &mut Connection,
        effects: &mut UnboundedReceiver<Effect>,
    ) -> End {
        loop {
            tokio::select! {
                effect = effects.recv() => match effect {
                    None | Some(Effect::Shutdown) => {
                        if let Some(f) = encode(&ClientFrame::Effect(Effect::Shutdown)) {
                            let _ = conn.writer.send(f).await;
                        }
                        return End::Quit;
                    }
                    Some(effect) => {
                        if matches!(effect, Effect::UsageQuery(_)) {
                            self.last_usage = Some(effect.clone());
                        }
                        if self.read_only && effect.is_mutating() {
                            self.emit(WorkerEvent::Refused {
                                reason: "read-only mode (--read-only): this change is not allowed; nothing was sent".into(),
                            });
                            continue;
                        }
                        let Some(effect) = self.local_files(effect).await else {
                            continue;
                        };
                        let Some(frame) = encode(&ClientFrame::Effect(effect)) else {
                            continue;
                        };
                        if let Err(e) = conn.writer.send(frame).await {
                            return End::Lost(e.to_string());
                        }
                    }
                },
                frame = conn.reader.next() => match frame {
                    None => return End::Lost("the service closed the connection".into()),
                    Some(Err(e)) => return End::Lost(e.to_string()),
                    Some(Ok(bytes)) => match serde_json::from_slice::<ServiceFrame>(&bytes) {
                        Ok(ServiceFrame::Snapshot(update)) => {
                            self.base = update.apply(&self.base);
                            self.emit(WorkerEvent::Snapshot(Box::new(self.base.clone())));
                        }
                        Ok(ServiceFrame::Event(event)) => self.emit(event),
                        Ok(ServiceFrame::Refused(line)) => return End::Lost(line),
                        Ok(ServiceFrame::Welcome(_)) => {}
                        Err(e) => return End::Lost(format!("a frame that does not parse: {e}")),
                    },
                },
            }
        }
    }
}
