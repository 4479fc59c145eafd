//! CrabGlamp Plain VMs operator console.
//!
//! Layers (each imports only the layers below it), from top to bottom:
//! `ui` → `app` → `worker` → `hetzner` / `store` → `domain`; `sim` is the fake Hetzner
//! Cloud API used by demo mode and tests. See `README.md` for the whole picture.

pub mod domain;
pub mod hetzner;
pub mod sim;
