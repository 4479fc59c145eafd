//! End to end in a pseudo-terminal (issue 3 "Tests"): the real binary in demo mode, keys in,
//! screen out (parsed with `vt100`), and the terminal restored afterwards (alternate screen left,
//! cursor shown, raw mode off) both after `q` and after SIGHUP (a dropped SSH session), SIGTERM
//! and SIGQUIT.
//!
//! Waits poll the parsed screen with a generous deadline; they bound a failure, they do not
//! measure anything.

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROWS: u16 = 30;
const COLS: u16 = 110;
const DEADLINE: Duration = Duration::from_secs(60);

struct Session {
    parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    _master: Box<dyn MasterPty + Send>,
    _home: tempfile::TempDir,
}

impl Session {
    /// The console in demo mode.
    fn start() -> Session {
        let home = tempfile::tempdir().unwrap();
        Session::start_in(home, &["--demo"], &[])
    }

    /// The console with `args` and `env` in a fresh `home` (data under `home/data`).
    fn start_in(home: tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> Session {
        let pty = native_pty_system();
        let pair = pty
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_crabglamp"));
        cmd.args(args);
        cmd.arg("--data-dir");
        cmd.arg(home.path().join("data"));
        cmd.env("HOME", home.path());
        cmd.env("XDG_CONFIG_HOME", home.path().join("config"));
        cmd.env("XDG_DATA_HOME", home.path().join("share"));
        cmd.env("XDG_CACHE_HOME", home.path().join("cache"));
        cmd.env("XDG_STATE_HOME", home.path().join("state"));
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("HCLOUD_TOKEN");
        cmd.env_remove("HCLOUD_ENDPOINT");
        cmd.env_remove("NO_COLOR");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let parser = Arc::new(Mutex::new(vt100::Parser::new(
            ROWS.try_into().unwrap(),
            COLS.try_into().unwrap(),
            0,
        )));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let (p, r) = (parser.clone(), raw.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        p.lock().unwrap().process(&buf[..n]);
                        r.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                }
            }
        });
        Session {
            parser,
            raw,
            writer,
            child,
            _master: pair.master,
            _home: home,
        }
    }

    fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    fn wait_for(&mut self, what: &str, ok: impl Fn(&str) -> bool) -> String {
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
                start.elapsed() < DEADLINE,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn keys(&mut self, bytes: &str) {
        self.writer.write_all(bytes.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(start.elapsed() < DEADLINE, "the console did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the output ends (the child closed the terminal) and checks that it was
    /// restored: main screen, cursor visible, and the escape sequences that undo raw-mode
    /// extras were written after the last frame.
    fn assert_restored(&self) {
        let start = Instant::now();
        loop {
            let done = {
                let p = self.parser.lock().unwrap();
                !p.screen().alternate_screen() && !p.screen().hide_cursor()
            };
            if done {
                break;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "terminal not restored; screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let raw = self.raw.lock().unwrap();
        let text = String::from_utf8_lossy(&raw);
        let entered = text.find("\x1b[?1049h").expect("alternate screen entered");
        let left = text.rfind("\x1b[?1049l").expect("alternate screen left");
        assert!(left > entered);
        // Bracketed paste switched off, cursor shown, after leaving.
        assert!(
            text[entered..].contains("\x1b[?2004l"),
            "bracketed paste left on"
        );
        assert!(
            text[left..].contains("\x1b[?25h"),
            "cursor not shown at the end"
        );
    }
}

fn vm_list_loaded(s: &str) -> bool {
    s.contains("acme-web-1") && s.contains("DEMO") && s.contains("synced")
}

#[test]
fn demo_console_moves_filters_helps_quits_and_restores_the_terminal() {
    let mut t = Session::start();
    let s = t.wait_for("the VM list", vm_list_loaded);
    assert!(s.contains("1 VMs"), "{s}");
    assert!(
        s.contains("› acme-ci-runner"),
        "first VM by name selected:\n{s}"
    );

    // Move down: the selection and the detail panel follow.
    t.keys("j");
    let s = t.wait_for("the selection on acme-db", |s| s.contains("› acme-db"));
    assert!(s.contains("╭ acme-db"), "detail panel title:\n{s}");

    // Filter: only the web VMs remain.
    t.keys("/web");
    let s = t.wait_for("the filter", |s| s.contains("/web█"));
    assert!(s.contains("› acme-web-1"), "{s}");
    assert!(s.contains("acme-web-2"), "{s}");
    assert!(!s.contains("alice-dev"), "filtered out:\n{s}");
    t.keys("\r");
    t.wait_for("the filter line closed", |s| {
        !s.contains("/web█") && s.contains("filter \"web\"")
    });

    // Help overlay, then close it.
    t.keys("?");
    let s = t.wait_for("the help overlay", |s| s.contains("Help · j/k scroll"));
    // The first rows of the help are the keys of every pane: moving, then panes and quitting.
    assert!(s.contains("Keys in every pane"), "{s}");
    assert!(s.contains("j ↓                   move down"), "{s}");
    t.keys("x");
    t.wait_for("help closed", |s| !s.contains("Help · j/k scroll"));

    // Ctrl-C inside the filter line clears it and does not quit.
    t.keys("/");
    t.wait_for("the filter line", |s| s.contains("/web█"));
    t.keys("\x03");
    t.wait_for("the filter cleared", |s| {
        s.contains("/█") && s.contains("alice-dev")
    });
    assert!(
        t.child.try_wait().unwrap().is_none(),
        "Ctrl-C in a text field quit"
    );
    t.keys("\r");
    t.wait_for("the filter line closed", |s| !s.contains("/█"));

    // Usage pane: this month by account with a total; `[` steps back month by month but not
    // before the month of the demo's first VM (September), never left loading.
    t.keys("4");
    let s = t.wait_for("the Usage pane", |s| {
        s.contains("Usage · this month") && s.contains("By account")
    });
    assert!(s.contains("total"), "{s}");
    t.keys("[[[[[[");
    t.wait_for("the first VM's month", |s| {
        s.contains("nothing before") && !s.contains("loading…") && s.contains("By account")
    });

    t.keys("q");
    let status = t.wait_exit();
    assert!(status.success(), "exit status {status:?}");
    t.assert_restored();
}

/// Sends `signal` (a `kill` name) to a running console: it exits 0 and restores the terminal.
fn signal_restores_the_terminal(signal: &str) {
    let mut t = Session::start();
    t.wait_for("the VM list", vm_list_loaded);
    let pid = t.child.process_id().expect("child pid");
    let killed = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = t.wait_exit();
    assert!(status.success(), "SIG{signal}: exit status {status:?}");
    t.assert_restored();
}

#[test]
fn sighup_restores_the_terminal() {
    signal_restores_the_terminal("HUP");
}

#[test]
fn sigterm_restores_the_terminal() {
    signal_restores_the_terminal("TERM");
}

/// SIGQUIT (Ctrl-\ outside raw mode, or `kill -QUIT`) dumped core with the terminal left raw.
#[test]
fn sigquit_restores_the_terminal() {
    signal_restores_the_terminal("QUIT");
}

/// A live console on a data directory that synced in an earlier session (two hours ago), with
/// the API unreachable: until a sync succeeds the status bar names that last sync instead of
/// "never synced".
#[test]
fn a_console_on_an_earlier_synced_store_shows_its_last_sync() {
    let home = tempfile::tempdir().unwrap();
    {
        let store = crabglamp::store::Store::open(&home.path().join("data/live.db")).unwrap();
        let earlier = chrono::Utc::now() - chrono::Duration::minutes(125);
        store
            .meta_set(crabglamp::worker::LAST_SYNC_META_KEY, &earlier.to_rfc3339())
            .unwrap();
        store.flush().unwrap();
    }
    // A loopback port nothing listens on any more: every sync fails at once (OFFLINE).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}/v1");
    let mut t = Session::start_in(
        home,
        &[],
        &[
            ("HCLOUD_TOKEN", "test-token"),
            ("HCLOUD_ENDPOINT", &endpoint),
        ],
    );
    let s = t.wait_for("the status bar after a failed sync", |s| {
        s.contains("LIVE") && s.contains("OFFLINE")
    });
    assert!(s.contains("stale (synced 2h ago)"), "{s}");
    assert!(!s.contains("never synced"), "{s}");
    t.keys("q");
    let status = t.wait_exit();
    assert!(status.success(), "exit status {status:?}");
    t.assert_restored();
}
