//! Storage of prioritisation results, teams, users, ownership rules and remediation tickets.
//!
//! A part of the [`crate::Store`] contract: every backend implements it (SQLite in
//! `sqlite/work.rs`).

/// Storage of prioritisation results, teams, users, ownership rules and remediation tickets.
pub trait WorkStore {}
