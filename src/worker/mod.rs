//! The background task: runs effects, syncs Hetzner, accrues usage, writes the store.

pub mod protocol;
