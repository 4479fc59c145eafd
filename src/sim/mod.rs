//! A fake Hetzner Cloud API server on loopback.
