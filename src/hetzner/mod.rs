//! Typed Hetzner Cloud API client.
