//! One file per pane, each owning that pane's state (selection, view choices, derived rows),
//! its keys, pastes and worker answers, and its `derive` (recomputing only that pane's data):
//! the VM list, the Firewall editor, the Vault, Usage and the Audit timeline. Drawing is in the
//! matching `ui/panes` file.

pub mod audit;
pub mod firewall;
pub mod usage;
pub mod vault;
pub mod vms;
