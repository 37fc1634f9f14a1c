//! SQLite side of [`crate::intel::IntelStore`].

use super::SqliteStore;
use crate::intel::IntelStore;

impl IntelStore for SqliteStore {}
