//! `crabglamp serve`: one process owns the store and the worker; consoles and headless
//! commands attach over a Unix socket (docs/product-rules.md §10, docs/ARCHITECTURE.md "One
//! process owns the store").
//!
//! - [`bind`] claims the socket path (refusing one another service listens on, replacing a
//!   stale one) with mode 0600 for a personal service or 0660 (the service's group) for a
//!   host-wide one.
//! - [`serve`] accepts connections until its `stop` future resolves. Each connection is
//!   named by the kernel ([`identity`], `SO_PEERCRED`), sends a [`Hello`] and is welcomed with
//!   its role or refused with one line. Its effects go to the one worker with its [`Caller`];
//!   the hub sends every client every snapshot change (encoded once, [`SnapshotUpdate`]) and
//!   each caller its own answers.
//! - A client that sends something out of order, a frame that does not parse or one over
//!   [`MAX_CLIENT_FRAME`] is disconnected alone, with the reason logged. A client whose
//!   queue of [`CLIENT_QUEUE`] frames is full (it stopped reading) is dropped without
//!   stalling the others.
//! - Operations run in the worker's tasks: a client that disconnects or is killed does not
//!   cut one short.

pub mod client;
pub mod identity;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Notify, mpsc};
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

use crate::config::Access;
use crate::protocol::wire::{
    ClientFrame, Hello, MAX_CLIENT_FRAME, PRODUCT_VERSION, PROTOCOL_VERSION, ServiceFrame,
    SnapshotUpdate, Welcome,
};
use crate::protocol::{Budget, Effect, Mode, Snapshot, WorkerEvent};
use crate::worker::ServiceWorker;
use crate::worker::caller::{Audience, Caller, ClientId, Request, Routed};

/// Frames queued for one client before it counts as not reading and is dropped.
pub const CLIENT_QUEUE: usize = 256;

/// How long the service waits for the worker's first snapshot before serving clients.
pub const FIRST_SNAPSHOT_WAIT: Duration = Duration::from_secs(30);

/// How long a new connection has to send its hello.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// How the service runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The socket path (for the welcome and the log).
    pub socket: PathBuf,
    /// Who may attach.
    pub access: Access,
    /// The service's own Unix user name (the only operator without `[access]`).
    pub service_user: String,
    /// This host's name.
    pub host: String,
    /// Live or demo.
    pub mode: Mode,
    /// `--read-only`.
    pub read_only: bool,
    /// The last successful sync before this run (from the store).
    pub last_sync: Option<DateTime<Utc>>,
    /// Where `[access]` is configured, for the refusal line.
    pub config_file: PathBuf,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Another service answers on the socket.
    #[error("another crabglamp service is listening on {0}")]
    InUse(String),
    /// The socket could not be created or given its mode.
    #[error("cannot listen on {path}: {detail}")]
    Bind {
        /// The socket path.
        path: String,
        /// The I/O error.
        detail: String,
    },
}

/// Claims `path` for a listening socket: its directory is created when missing (0700 for a
/// personal service, else 0750), a socket file nobody answers on is removed, then the socket
/// is bound and set to 0600 (`personal`) or 0660.
///
/// Errors: [`ServeError::InUse`] when a service answers there; [`ServeError::Bind`] otherwise.
pub async fn bind(path: &Path, personal: bool) -> Result<UnixListener, ServeError> {
    let fail = |detail: String| ServeError::Bind {
        path: path.display().to_string(),
        detail,
    };
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
        let mode = if personal { 0o700 } else { 0o750 };
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
            .map_err(|e| fail(e.to_string()))?;
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let owner = socket_dir_owner(dir).map_err(fail)?;
        let me = nix::unistd::geteuid().as_raw();
        if owner != me && owner != 0 {
            return Err(fail(format!(
                "its directory {} belongs to uid {owner}, who could replace the socket: use a \
                 directory of the service's own user (e.g. /run/crabglamp)",
                dir.display()
            )));
        }
    }
    if std::fs::symlink_metadata(path).is_ok() {
        if UnixStream::connect(path).await.is_ok() {
            return Err(ServeError::InUse(path.display().to_string()));
        }
        std::fs::remove_file(path).map_err(|e| fail(format!("removing the old socket: {e}")))?;
        tracing::info!(socket = %path.display(), "removed a stale socket");
    }
    let listener = UnixListener::bind(path).map_err(|e| fail(e.to_string()))?;
    let mode = if personal { 0o600 } else { 0o660 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| fail(e.to_string()))?;
    Ok(listener)
}

/// The owner of a socket's directory `dir` (its real path), when nobody but that owner (and
/// root) can create, rename or replace files in it: no write permission for group or others.
/// A socket in a directory others can write is not the service's: anyone could put their own
/// listener there. Used by the service before it binds and by clients before they trust what
/// answers (src/service/client.rs).
///
/// Errors: the directory cannot be read, or others can write it (the line says which).
pub fn socket_dir_owner(dir: &Path) -> Result<u32, String> {
    use std::os::unix::fs::MetadataExt;
    let real = std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let meta = std::fs::metadata(&real).map_err(|e| format!("{}: {e}", real.display()))?;
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", real.display()));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(format!(
            "its directory {} (mode {mode:o}) can be written by others, who could replace the \
             socket: use a directory only the service's user can write",
            real.display()
        ));
    }
    Ok(meta.uid())
}

/// What connection tasks tell the hub.
enum HubMsg {
    /// A welcomed client: send it the welcome, the full snapshot and the sync state, then
    /// every change.
    Join {
        id: ClientId,
        welcome: Welcome,
        user: String,
        queue: mpsc::Sender<Bytes>,
        kick: Arc<Notify>,
    },
    /// The connection ended.
    Leave(ClientId),
    /// An answer the connection task gives itself (a paced effect).
    Reply(ClientId, WorkerEvent),
}

/// Requests that cost Hetzner API calls one client may send at once: 10.
pub const API_PACE_BURST: u32 = 10;

/// One more such request is allowed every 6 s (600 an hour at most per client; a refresh
/// beyond that is dropped, the next sync comes anyway; a firewall read is refused).
pub const API_PACE_REFILL: Duration = Duration::from_secs(6);

/// A token bucket of [`API_PACE_BURST`] refilled one token every [`API_PACE_REFILL`].
struct Pace {
    tokens: f64,
    last: std::time::Instant,
}

impl Pace {
    fn new() -> Pace {
        Pace {
            tokens: f64::from(API_PACE_BURST),
            last: std::time::Instant::now(),
        }
    }

    /// Takes a token at `now`; false when none is left.
    fn take(&mut self, now: std::time::Instant) -> bool {
        let refilled = now.duration_since(self.last).as_secs_f64() / API_PACE_REFILL.as_secs_f64();
        self.tokens = (self.tokens + refilled).min(f64::from(API_PACE_BURST));
        self.last = now;
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

/// A client as the hub sees it.
struct Member {
    user: String,
    queue: mpsc::Sender<Bytes>,
    /// Told when the hub drops the client: its writer stops (without sending what is still
    /// queued to a client that does not read) and the connection closes.
    kick: Arc<Notify>,
}

fn encode(frame: &ServiceFrame) -> Option<Bytes> {
    match serde_json::to_vec(frame) {
        Ok(v) => Some(Bytes::from(v)),
        Err(e) => {
            tracing::error!(error = %e, "encoding a frame failed");
            None
        }
    }
}

/// Routes the worker's events: snapshot changes and sync state to everyone (encoded once),
/// answers to their caller; keeps what a joining client needs first.
struct Hub {
    current: Snapshot,
    last_sync: Option<DateTime<Utc>>,
    budget: Option<Budget>,
    members: HashMap<ClientId, Member>,
    requests: mpsc::UnboundedSender<Request>,
}

impl Hub {
    /// Queues `frame` for `id`; a full queue drops the client (it stopped reading).
    fn push(&mut self, id: ClientId, frame: Bytes) {
        let Some(member) = self.members.get(&id) else {
            return;
        };
        match member.queue.try_send(frame) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(client = id, user = %member.user, queue = CLIENT_QUEUE, "client is not reading; dropped");
                self.drop_member(id);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => self.drop_member(id),
        }
    }

    fn drop_member(&mut self, id: ClientId) {
        if let Some(member) = self.members.remove(&id) {
            member.kick.notify_one();
            let _ = self.requests.send(Request::Disconnected(id));
        }
    }

    fn broadcast(&mut self, frame: Bytes) {
        let ids: Vec<ClientId> = self.members.keys().copied().collect();
        for id in ids {
            self.push(id, frame.clone());
        }
    }

    fn routed(&mut self, routed: Routed) {
        match (routed.to, routed.event) {
            (Audience::All, WorkerEvent::Snapshot(snap)) => {
                let update = SnapshotUpdate::between(&self.current, &snap);
                self.current = *snap;
                if !self.members.is_empty()
                    && let Some(frame) = encode(&ServiceFrame::Snapshot(Box::new(update)))
                {
                    self.broadcast(frame);
                }
            }
            (Audience::All, event) => {
                match &event {
                    WorkerEvent::SyncOk { at } => self.last_sync = Some(*at),
                    WorkerEvent::Budget(b) => self.budget = Some(*b),
                    _ => {}
                }
                if let Some(frame) = encode(&ServiceFrame::Event(event)) {
                    self.broadcast(frame);
                }
            }
            (Audience::Client(id), event) => {
                if self.members.contains_key(&id)
                    && let Some(frame) = encode(&ServiceFrame::Event(event))
                {
                    self.push(id, frame);
                }
            }
        }
    }

    fn join(
        &mut self,
        id: ClientId,
        mut welcome: Welcome,
        user: String,
        queue: mpsc::Sender<Bytes>,
        kick: Arc<Notify>,
    ) {
        welcome.last_sync = self.last_sync.or(welcome.last_sync);
        self.members.insert(id, Member { user, queue, kick });
        let mut first = vec![
            ServiceFrame::Welcome(welcome),
            ServiceFrame::Snapshot(Box::new(SnapshotUpdate::full(&self.current))),
        ];
        if let Some(b) = self.budget {
            first.push(ServiceFrame::Event(WorkerEvent::Budget(b)));
        }
        if let (Some(at), false) = (self.last_sync, self.current.stale) {
            first.push(ServiceFrame::Event(WorkerEvent::SyncOk { at }));
        }
        for frame in first.iter().filter_map(encode) {
            self.push(id, frame);
        }
    }
}

/// Serves `listener` with `worker` until `stop` resolves, then stops the worker (which
/// finishes the store write in progress and flushes) and removes the socket file.
pub async fn serve(
    listener: UnixListener,
    worker: ServiceWorker,
    opts: ServeOptions,
    stop: impl std::future::Future<Output = ()>,
) {
    let ServiceWorker {
        requests,
        mut events,
        join,
    } = worker;
    let opts = Arc::new(opts);
    let (hub_tx, mut hub_rx) = mpsc::unbounded_channel::<HubMsg>();
    let mut hub = Hub {
        current: Snapshot {
            stale: true,
            ..Snapshot::default()
        },
        last_sync: opts.last_sync,
        budget: None,
        members: HashMap::new(),
        requests: requests.clone(),
    };
    // A client's first snapshot should be the store's, not an empty one: connections wait in
    // the listen backlog until the worker's first snapshot (read from the store) is in.
    let first = tokio::time::timeout(FIRST_SNAPSHOT_WAIT, async {
        while let Some(routed) = events.recv().await {
            let snapshot = matches!(routed.event, WorkerEvent::Snapshot(_));
            hub.routed(routed);
            if snapshot {
                break;
            }
        }
    })
    .await;
    if first.is_err() {
        tracing::warn!("no snapshot from the store in time; serving anyway");
    }
    tracing::info!(socket = %opts.socket.display(), "service listening");
    tokio::pin!(stop);
    let mut next_id: ClientId = 0;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    next_id += 1;
                    tokio::spawn(connection(
                        stream,
                        next_id,
                        Arc::clone(&opts),
                        hub_tx.clone(),
                        requests.clone(),
                    ));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(routed) = events.recv() => hub.routed(routed),
            Some(msg) = hub_rx.recv() => match msg {
                HubMsg::Join { id, welcome, user, queue, kick } => {
                    hub.join(id, welcome, user, queue, kick)
                }
                HubMsg::Leave(id) => hub.drop_member(id),
                HubMsg::Reply(id, event) => hub.routed(Routed { to: Audience::Client(id), event }),
            },
        }
    }
    tracing::info!(clients = hub.members.len(), "service stopping");
    drop(listener);
    if let Err(e) = std::fs::remove_file(&opts.socket) {
        tracing::warn!(error = %e, "removing the socket failed");
    }
    hub.members.clear();
    let _ = requests.send(Request::Stop);
    if tokio::time::timeout(
        crate::worker::OPERATIONS_STOP_WAIT + Duration::from_secs(10),
        join,
    )
    .await
    .is_err()
    {
        tracing::warn!("the worker did not stop in time");
    }
    tracing::info!("service stopped");
}

/// One client: names it, reads its hello, joins it to the hub, then forwards its effects until
/// it leaves or breaks the protocol.
async fn connection(
    stream: UnixStream,
    id: ClientId,
    opts: Arc<ServeOptions>,
    hub: mpsc::UnboundedSender<HubMsg>,
    requests: mpsc::UnboundedSender<Request>,
) {
    let cred = match stream.peer_cred() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(client = id, error = %e, "cannot read the caller's credentials; closed");
            return;
        }
    };
    let uid = cred.uid();
    let user = identity::user_name(uid);
    let (read, write) = stream.into_split();
    let mut frames_in = FramedRead::new(
        read,
        LengthDelimitedCodec::builder()
            .max_frame_length(MAX_CLIENT_FRAME)
            .new_codec(),
    );
    // The writer's limit is the client's reading limit (the codec's default is 8 MiB).
    let mut frames_out = FramedWrite::new(
        write,
        LengthDelimitedCodec::builder()
            .max_frame_length(crate::protocol::wire::MAX_SERVICE_FRAME)
            .new_codec(),
    );
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, frames_in.next()).await {
        Err(_) => {
            tracing::info!(client = id, %user, "no hello in time; closed");
            return;
        }
        Ok(None) => return,
        Ok(Some(Err(e))) => {
            tracing::info!(client = id, %user, reason = %e, "bad first frame; closed");
            return;
        }
        Ok(Some(Ok(bytes))) => match serde_json::from_slice::<ClientFrame>(&bytes) {
            Ok(ClientFrame::Hello(h)) => h,
            Ok(_) => {
                tracing::info!(client = id, %user, "first frame is not a hello; closed");
                return;
            }
            Err(e) => {
                tracing::info!(client = id, %user, error = %e, "first frame does not parse; closed");
                return;
            }
        },
    };
    if let Err(line) = check_version(&hello) {
        refuse(&mut frames_out, id, &user, line).await;
        return;
    }
    let groups = identity::group_names(&user, cred.gid());
    let Some(role) = identity::role_of(&opts.access, &opts.service_user, &user, &groups) else {
        refuse(
            &mut frames_out,
            id,
            &user,
            format!(
            "user '{user}' (uid {uid}) may not use this service: an administrator adds '{user}' \
             (or a group of theirs as 'group:NAME') to operators or readers in the [access] \
             table of {}",
                opts.config_file.display()
            ),
        )
        .await;
        return;
    };
    let origin = hello
        .origin
        .as_deref()
        .and_then(crate::worker::lifecycle::ssh_origin);
    let caller = Arc::new(Caller {
        client: id,
        user: user.clone(),
        role,
        origin,
    });
    tracing::info!(client = id, %user, uid, %role, origin = ?caller.origin, product = %printable(&hello.product), "client attached");
    let (queue_tx, mut queue_rx) = mpsc::channel::<Bytes>(CLIENT_QUEUE);
    let kick = Arc::new(Notify::new());
    let welcome = Welcome {
        protocol: PROTOCOL_VERSION,
        product: PRODUCT_VERSION.to_string(),
        user: user.clone(),
        uid,
        role,
        host: opts.host.clone(),
        mode: opts.mode,
        read_only: opts.read_only,
        last_sync: opts.last_sync,
    };
    if hub
        .send(HubMsg::Join {
            id,
            welcome,
            user: user.clone(),
            queue: queue_tx,
            kick: Arc::clone(&kick),
        })
        .is_err()
    {
        return;
    }
    // The writer: the hub's frames, in order; ends when the hub drops this client, at once
    // (a client that stopped reading would otherwise keep its connection and its queue).
    let mut writer = tokio::spawn(async move {
        let kicked = kick.notified();
        tokio::pin!(kicked);
        loop {
            tokio::select! {
                _ = &mut kicked => break,
                frame = queue_rx.recv() => {
                    let Some(frame) = frame else { break };
                    tokio::select! {
                        _ = &mut kicked => break,
                        sent = frames_out.send(frame) => if sent.is_err() { break },
                    }
                }
            }
        }
    });
    let mut pace = Pace::new();
    let reason = loop {
        tokio::select! {
            next = frames_in.next() => match next {
                None => break "closed by the client".to_string(),
                Some(Err(e)) => break format!("bad frame: {}", e),
                Some(Ok(bytes)) => match serde_json::from_slice::<ClientFrame>(&bytes) {
                    Ok(ClientFrame::Effect(crate::protocol::Effect::Shutdown)) => {
                        break "the client quit".to_string();
                    }
                    Ok(ClientFrame::Effect(effect)) => {
                        // Effects that cost Hetzner requests are paced per client, so that no
                        // one client (a reader included) spends the team's API budget.
                        if matches!(effect, Effect::Refresh | Effect::LoadFirewall { .. })
                            && !pace.take(std::time::Instant::now())
                        {
                            if let Effect::LoadFirewall { vm_id, .. } = effect {
                                let _ = hub.send(HubMsg::Reply(id, WorkerEvent::Refused {
                                    reason: format!(
                                        "too many firewall reads from this console; VM {vm_id}'s \
                                         firewall is shown as last synced (try again in {} s)",
                                        API_PACE_REFILL.as_secs()
                                    ),
                                }));
                            }
                            continue;
                        }
                        if requests.send(Request::Effect(Arc::clone(&caller), effect)).is_err() {
                            break "the service is stopping".to_string();
                        }
                    }
                    Ok(ClientFrame::Hello(_)) => break "a second hello".to_string(),
                    Err(e) => break format!("a frame that does not parse: {e}"),
                },
            },
            _ = &mut writer => break "dropped by the service".to_string(),
        }
    };
    tracing::info!(client = id, %user, %reason, "client detached");
    let _ = hub.send(HubMsg::Leave(id));
    writer.abort();
}

/// Sends the refusal line and logs it; the connection closes after.
async fn refuse(
    out: &mut FramedWrite<tokio::net::unix::OwnedWriteHalf, LengthDelimitedCodec>,
    id: ClientId,
    user: &str,
    line: String,
) {
    tracing::info!(client = id, %user, reason = %line, "hello refused");
    if let Some(frame) = encode(&ServiceFrame::Refused(line)) {
        let _ = out.send(frame).await;
    }
}

/// A client's text for a log or a line: control characters become `?`, at most 64
/// characters.
fn printable(text: &str) -> String {
    text.chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Accepts a hello of this protocol version; otherwise the line naming both versions.
pub fn check_version(hello: &Hello) -> Result<(), String> {
    if hello.protocol == PROTOCOL_VERSION {
        return Ok(());
    }
    Err(format!(
        "protocol version mismatch: the service speaks protocol {PROTOCOL_VERSION} (crabglamp \
         {PRODUCT_VERSION}), this client speaks protocol {} (crabglamp {}); run the same \
         version on both sides",
        hello.protocol,
        printable(&hello.product)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_a_burst_of_api_effects_then_one_every_refill() {
        let mut pace = Pace::new();
        let t0 = pace.last;
        for _ in 0..API_PACE_BURST {
            assert!(pace.take(t0));
        }
        assert!(!pace.take(t0));
        assert!(!pace.take(t0 + API_PACE_REFILL / 2));
        assert!(pace.take(t0 + API_PACE_REFILL));
        assert!(!pace.take(t0 + API_PACE_REFILL));
    }

    #[test]
    fn a_socket_directory_others_can_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).unwrap();
        assert_eq!(socket_dir_owner(&dir), Ok(nix::unistd::geteuid().as_raw()));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let err = socket_dir_owner(&dir).unwrap_err();
        assert!(
            err.contains("(mode 1777) can be written by others"),
            "{err}"
        );
    }
}
