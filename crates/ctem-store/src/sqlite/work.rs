//! SQLite side of [`crate::work::WorkStore`].

use super::SqliteStore;
use crate::work::WorkStore;

impl WorkStore for SqliteStore {}
