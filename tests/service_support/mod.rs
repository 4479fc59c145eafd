//! Processes for the `crabglamp serve` tests (tests/service.rs) and benchmark
//! (benches/service.rs): the real service, headless commands with a hang guard, consoles in
//! pseudo-terminals (portable-pty + vt100) and raw protocol clients on the Unix socket. Every
//! process is killed (SIGKILL) and reaped when its guard is dropped, also when a test fails.
//!
//! Commands are built by the shared harness ([`cli_blocking`]): clean environment, `HOME`
//! and `XDG_RUNTIME_DIR` under a temporary home.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use crabglamp::protocol::wire::{ClientFrame, Hello, MAX_SERVICE_FRAME, PROTOCOL_VERSION};
use futures::{SinkExt, StreamExt};
use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};
use tokio::net::UnixStream;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use crate::common::harness::GUARD;

/// Sends `signal` (a `kill` name such as `TERM` or `9`) to `pid`.
pub fn signal(pid: u32, signal: &str) {
    let st = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .expect("kill runs");
    assert!(st.success(), "kill -{signal} {pid}");
}

/// Polls `f` every 50 ms until it returns `Some`, for at most [`GUARD`]; panics with `what`
/// and `detail()` otherwise.
pub fn wait_until<T>(
    what: &str,
    mut f: impl FnMut() -> Option<T>,
    detail: impl Fn() -> String,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < GUARD,
            "timed out waiting for {what}\n{}",
            detail()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `cmd` to its end with a hang guard ([`GUARD`]: killed and a panic after that).
pub fn run(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let o = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let e = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > GUARD {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not end within {GUARD:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: o.join().unwrap(),
        stderr: e.join().unwrap(),
    }
}

/// A running `crabglamp serve`, killed (SIGKILL) when dropped unless stopped first.
pub struct Service {
    child: Option<Child>,
    /// Its socket.
    pub socket: PathBuf,
    /// Its data directory (`serve.log` is there).
    pub data: PathBuf,
    stderr: PathBuf,
}

impl Service {
    /// Starts `cmd` (a `serve` command whose data directory is `data`) and waits until its
    /// socket accepts connections.
    pub fn start(mut cmd: Command, socket: &Path, data: &Path) -> Service {
        let stderr = data.with_extension(format!(
            "stderr.{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let file = std::fs::File::create(&stderr).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("the service starts");
        let mut child = Some(child);
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        wait_until(
            "the service's socket",
            || {
                if let Some(st) = child.as_mut().unwrap().try_wait().unwrap() {
                    panic!("the service exited ({st}): {}", read(&stderr));
                }
                std::os::unix::net::UnixStream::connect(socket)
                    .ok()
                    .map(|_| ())
            },
            || read(&stderr),
        );
        Service {
            child,
            socket: socket.to_path_buf(),
            data: data.to_path_buf(),
            stderr,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// What it wrote on stderr.
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Its `serve.log`.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.join("serve.log")).unwrap_or_default()
    }

    /// Waits until `serve.log` contains `needle`; returns the log.
    pub fn wait_log(&self, needle: &str) -> String {
        wait_until(
            &format!("{needle:?} in serve.log"),
            || {
                let l = self.log();
                l.contains(needle).then_some(l)
            },
            || self.log(),
        )
    }

    /// SIGTERM, then waits for the exit; returns its status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let child = self.child.take().expect("running");
        signal(child.id(), "TERM");
        let mut child = Some(child);
        wait_until(
            "the service to stop after SIGTERM",
            || child.as_mut().unwrap().try_wait().unwrap(),
            || self.log(),
        )
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Every screen a console's output produced, with the time it was parsed.
pub type Screens = Arc<Mutex<Vec<(Instant, String)>>>;

/// The console in a pseudo-terminal, its screen parsed by `vt100`; killed when dropped.
pub struct Tui {
    parser: Arc<Mutex<vt100::Parser>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    _master: Box<dyn MasterPty + Send>,
    /// When each screen change was parsed: (time, screen contents), for the benchmark.
    pub frames: Option<Screens>,
}

/// Rows and columns of the consoles' terminals.
pub const ROWS: u16 = 40;
/// Columns.
pub const COLS: u16 = 150;

impl Tui {
    /// Runs `cmd` (program, arguments and environment changes taken over) in a terminal with
    /// `TERM=xterm-256color`.
    pub fn start(cmd: &Command) -> Tui {
        Tui::start_with(cmd, false)
    }

    /// [`Tui::start`]; with `record`, every parsed screen is kept with its time.
    pub fn start_with(cmd: &Command, record: bool) -> Tui {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut b = CommandBuilder::new(cmd.get_program());
        b.args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => b.env(k, v),
                None => b.env_remove(k),
            }
        }
        if let Some(dir) = cmd.get_current_dir() {
            b.cwd(dir);
        }
        b.env("TERM", "xterm-256color");
        b.env_remove("NO_COLOR");
        let child = pair.slave.spawn_command(b).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let parser = Arc::new(Mutex::new(vt100::Parser::new(
            ROWS.try_into().unwrap(),
            COLS.try_into().unwrap(),
            0,
        )));
        let frames: Option<Screens> = record.then(|| Arc::new(Mutex::new(Vec::new())));
        let (p, f) = (parser.clone(), frames.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 16384];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut p = p.lock().unwrap();
                        p.process(&buf[..n]);
                        if let Some(f) = &f {
                            f.lock()
                                .unwrap()
                                .push((Instant::now(), p.screen().contents()));
                        }
                    }
                }
            }
        });
        Tui {
            parser,
            writer,
            child,
            _master: pair.master,
            frames,
        }
    }

    /// The screen's text.
    pub fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Waits (within [`GUARD`]) until `ok(screen)`; panics if the console exits first.
    pub fn wait_for(&mut self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the console exited ({status:?}) while waiting for {what}; screen:\n{s}");
            }
            assert!(
                start.elapsed() < GUARD,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// Types `keys`.
    pub fn keys(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// The console's process id.
    pub fn pid(&self) -> u32 {
        self.child.process_id().expect("a pid")
    }

    /// SIGKILL, then reaps it.
    pub fn kill9(&mut self) {
        signal(self.pid(), "9");
        let start = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(start.elapsed() < GUARD, "the console survived SIGKILL");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Quits with `q` and waits for a successful exit.
    pub fn quit(&mut self) {
        self.keys("q");
        let start = Instant::now();
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            assert!(start.elapsed() < GUARD, "the console did not quit");
            std::thread::sleep(Duration::from_millis(30));
        };
        assert!(status.success(), "console exit status {status:?}");
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait()
            && let Some(pid) = self.child.process_id()
        {
            let _ = Command::new("kill")
                .args(["-9", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
            let _ = self.child.wait();
        }
    }
}

/// A raw connection to the service's socket, framed as the protocol frames (4-byte
/// big-endian length).
pub type Raw = Framed<UnixStream, LengthDelimitedCodec>;

/// Connects to `socket`, framed, reading frames up to the service's cap.
pub async fn raw_connect(socket: &Path) -> Raw {
    let stream = UnixStream::connect(socket).await.expect("socket connects");
    Framed::new(
        stream,
        LengthDelimitedCodec::builder()
            .max_frame_length(MAX_SERVICE_FRAME)
            .new_codec(),
    )
}

/// A client frame as JSON bytes.
pub fn client_frame(frame: &ClientFrame) -> Bytes {
    Bytes::from(serde_json::to_vec(frame).unwrap())
}

/// Sends this build's hello.
pub async fn send_hello(raw: &mut Raw) {
    raw.send(client_frame(&ClientFrame::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        product: crabglamp::protocol::wire::PRODUCT_VERSION.into(),
        origin: None,
    })))
    .await
    .unwrap();
}

/// The next frame's bytes (within [`GUARD`]); `None` at the end of the stream.
pub async fn next_frame(raw: &mut Raw) -> Option<bytes::BytesMut> {
    tokio::time::timeout(GUARD, raw.next())
        .await
        .expect("a frame or the end within the guard time")
        .map(|r| r.expect("a well-formed frame"))
}

/// A valid, unique `ssh-ed25519` public key line for `n` (its 32 key bytes derived from `n`).
pub fn ed25519_line(n: u64, comment: &str) -> String {
    use base64::Engine;
    let mut blob = Vec::new();
    blob.extend_from_slice(&11u32.to_be_bytes());
    blob.extend_from_slice(b"ssh-ed25519");
    blob.extend_from_slice(&32u32.to_be_bytes());
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&n.to_be_bytes());
    key[8..16].copy_from_slice(&n.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
    key[31] = 0x42;
    blob.extend_from_slice(&key);
    format!(
        "ssh-ed25519 {} {comment}",
        base64::engine::general_purpose::STANDARD.encode(blob)
    )
}
