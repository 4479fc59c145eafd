//! sled store: accounts, Vault, VM records, audit log, usage records, schema version.
