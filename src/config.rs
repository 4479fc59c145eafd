//! Configuration file (TOML) and platform paths.
