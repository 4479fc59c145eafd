//! Pure rules and types: no I/O, no async, no ratatui. Everything here is testable with plain
//! `#[test]`.

pub mod audit;
pub mod checkpoint;
pub mod cloudinit;
pub mod evidence;
pub mod firewall;
pub mod merkle;
pub mod sshkey;
pub mod types;
pub mod usage;
pub mod usage_report;
pub mod vault;
pub mod vmname;

pub use types::*;
