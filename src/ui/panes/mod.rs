//! One file per pane, each drawing exactly that pane (and its own dialogs): the VM list with
//! its detail, the Firewall editor, the Vault, Usage, and the Audit timeline. Shared drawing is
//! in [`super::widgets`]; each pane's state and keys are in the matching `app::panes` file.

pub mod audit;
pub mod firewall;
pub mod usage;
pub mod vault;
pub mod vms;
