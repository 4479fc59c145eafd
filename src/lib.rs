//! CrabGlamp Plain VMs operator console.
//!
//! Layers (each imports only the layers below it), from top to bottom: `ui` → `app` → `view`
//! → `protocol` → `domain`, and `worker` → `view` / `protocol` / `hetzner` / `store` →
//! `domain` (`app` and `worker` meet only in `protocol`); `sim` is the fake Hetzner
//! Cloud API used by demo mode and tests; `demo` seeds a store and a sim consistently;
//! `config` reads the TOML config and resolves paths. See `README.md` for the whole picture.

pub mod app;
pub mod config;
pub mod demo;
pub mod domain;
pub mod hetzner;
pub mod protocol;
pub mod service;
pub mod sim;
pub mod store;
pub mod ui;
pub mod view;
pub mod worker;
