//! Demo data: accounts, Vault keys, VM records and matching fake-API servers.
