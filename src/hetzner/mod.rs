//! Typed Hetzner Cloud API client.
//!
//! - [`Client`]: servers, firewalls, SSH keys, server types, locations, images, pricing and
//!   actions, with pagination, retries, timeouts, rate-limit tracking and action polling.
//! - [`model`]: the wire types (JSON shapes from `shared/docs/hetzner-api.md`).
//! - [`ApiError`]: every failure as a value.
//!
//! ```no_run
//! # async fn demo() -> Result<(), crabglamp::hetzner::ApiError> {
//! use crabglamp::hetzner::{Client, ListParams, Token};
//! let client = Client::new("http://127.0.0.1:8080/v1", Token::new("sim-token"))?;
//! let prod = client.list_servers(&ListParams::new().label_selector("env=prod")).await?;
//! println!("{} servers, budget {:?}", prod.len(), client.rate_limit());
//! # Ok(()) }
//! ```

pub mod client;
pub mod error;
pub mod model;
pub mod ratelimit;

pub use client::{
    Client, ClientBuilder, DEFAULT_ENDPOINT, ImageListParams, ListParams, MAX_PAGES, PER_PAGE,
    Token,
};
pub use error::{ApiError, FieldError};
pub use model::*;
pub use ratelimit::{RateLimit, RetryPolicy};
