//! The single-opener lock across processes. A test binary of its own: spawning a child
//! process forks this one, and the fork briefly shares every open database file (and so its
//! lock) with the child; other tests opening stores in the same process would see that.

use crabglamp::store::Store;

/// Env var that turns this test binary into the "second console" child of
/// `second_process_gets_in_use`: it opens the store at the given path and prints the outcome.
const CHILD_ENV: &str = "CRABGLAMP_STORE_TEST_CHILD_DB";

#[test]
fn second_process_gets_in_use() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        // Child side: report what opening the store gave.
        match Store::open(std::path::Path::new(&path)) {
            Ok(_) => println!("CHILD-RESULT: opened"),
            Err(e) => println!("CHILD-RESULT: {e}"),
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.db");
    let first = Store::open(&path).unwrap();
    let run_child = || {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "second_process_gets_in_use", "--nocapture"])
            .env(CHILD_ENV, &path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        stdout
            .lines()
            .find_map(|l| l.strip_prefix("CHILD-RESULT: ").map(str::to_string))
            .unwrap_or_else(|| format!("no result in child output: {stdout}"))
    };
    assert_eq!(
        run_child(),
        format!(
            "database {} is in use by another running crabglamp console or service",
            path.display()
        )
    );
    drop(first);
    assert_eq!(run_child(), "opened");
}
