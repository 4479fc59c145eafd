//! The API token never reaches a log line. Its own test binary: tracing's per-callsite
//! interest cache is process-wide, so a thread-local subscriber only sees every event
//! reliably when no other test runs in the same process at the same time.

mod common;

use std::time::Duration;

use common::harness::start_sim;
use crabglamp::hetzner::{Client, Token};
use crabglamp::sim::{Faults, Seed, SimConfig};

/// The token never reaches a log line, even at TRACE level with failures and retries.
#[tokio::test]
async fn token_never_reaches_the_log() {
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buf {
        type Writer = Buf;
        fn make_writer(&'a self) -> Buf {
            self.clone()
        }
    }

    const SECRET: &str = "tok-7f3a9c-very-secret";
    let buf = Buf::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(buf.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sim = start_sim(SimConfig {
        token: SECRET.into(),
        seed: Seed::Empty,
        ..SimConfig::default()
    })
    .await;
    let good = builder(&sim.endpoint())
        .token(Token::new(SECRET))
        .build()
        .expect("client");
    let wrong = builder(&sim.endpoint())
        .token(Token::new(format!("{SECRET}-wrong")))
        .build()
        .expect("client");
    let err = wrong.list_locations().await.expect_err("401");
    assert_eq!(err.code(), Some("unauthorized"));
    sim.set_faults(Faults {
        fail_next: 1,
        ..Faults::default()
    });
    assert!(!good.list_locations().await.expect("retried").is_empty());
    let err = good.get_server(424_242).await.expect_err("404");
    assert!(!format!("{err} {err:?} {good:?} {wrong:?}").contains(SECRET));
    sim.shutdown().await;

    let log = String::from_utf8(buf.0.lock().expect("log buffer").clone()).expect("utf-8");
    assert!(log.contains("Hetzner request"), "the capture works: {log}");
    assert!(log.contains("retrying"), "{log}");
    assert!(!log.contains(SECRET), "{log}");
    assert!(!log.contains("Bearer"), "{log}");
}

fn builder(endpoint: &str) -> crabglamp::hetzner::ClientBuilder {
    Client::builder()
        .endpoint(endpoint)
        .retry_base(Duration::from_millis(20))
        .max_retry_wait(Duration::from_millis(500))
}
