//! migplan: a declarative data-migration engine for application databases.
//!
//! A TOML [`plan`] names the modules (groups of tables) of one job. The
//! [`dag`] orders their tables from the declared dependencies and the
//! database's real foreign keys; the [`schema`] phase applies versioned
//! refinery scripts; the [`data`] phase then exports, imports or copies rows in
//! that order. Rows cross between [`backend`]s (databases) and [`format`]s
//! (files) only as [`value::Value`]s, so the two never know about each other.

pub mod adapters;
pub mod backend;
pub mod catalog;
pub mod cli;
pub mod confirm;
pub mod console;
pub mod dag;
pub mod data;
pub mod diag;
pub mod error;
pub mod events;
pub mod failpoint;
pub mod format;
pub mod history;
pub mod notify;
pub mod ops;
pub mod paths;
pub mod plan;
pub mod policy;
pub mod redact;
pub mod schema;
mod spool;
pub mod url;
pub mod value;

pub use error::{Error, Result};
