//! Storage of detection alerts.
//!
//! A part of the [`crate::Store`] contract: every backend implements it (SQLite in
//! `sqlite/alerts.rs`).

/// Storage of detection alerts.
pub trait AlertStore {}
