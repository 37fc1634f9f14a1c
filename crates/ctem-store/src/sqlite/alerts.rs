//! SQLite side of [`crate::alerts::AlertStore`].

use super::SqliteStore;
use crate::alerts::AlertStore;

impl AlertStore for SqliteStore {}
