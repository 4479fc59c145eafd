//! The VM list index moved to [`crate::view::vm_index`]; this re-export keeps `app::vms` paths working.
pub use crate::view::vm_index::*;
