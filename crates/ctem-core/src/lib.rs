//! # ctem-core: the service layer every front end calls
//!
//! The `ctem` binary, and later the server, the scheduler and stream workers, stand on this
//! crate. It holds what they share so none of them copies it:
//! - [`settings`]: one validated [`Settings`] value built from `ctem.toml`, the environment
//!   and the flags, passed explicitly (no globals);
//! - [`roles::change`]: the one role check every command that changes something calls, which
//!   writes the change's audit entry ([`roles::authorize`] is the check alone, for reads);
//! - the pipelines, each a function over the store traits and explicit settings with a
//!   progress callback: [`prioritize`] (the whole pass, the follow-up of a change and its
//!   retry, `ctem top`);
//! - the prioritisation domain ([`prioritize`]: facts, scores, routing, ticket grouping and
//!   how tickets follow their exposures), over the store's row I/O (`ctem_store::risk`), so
//!   a backend reads and writes rows and decides nothing; the import's decisions (identity,
//!   lifecycle) and enrichment are in `ctem_model::lifecycle` and `ctem_model::enrich`,
//!   which the store applies inside its transaction;
//! - `testsuite` (cargo feature `testsuite`): the domain's conformance suites every backend
//!   runs beside `ctem_store::testsuite`.
//!
//! ## Design choices
//! - **Settings are a value.** A pipeline takes `&Settings` (or the part it needs); nothing
//!   reads configuration from a global, so two settings can coexist in one process.
//! - **Every settings error at once.** A settings file is read section by section; each bad
//!   key is reported with its file, line and key path, and reading goes on, so a user fixes
//!   a file in one round instead of one error per run.
//! - **No SQL, no HTTP framework, no CLI flags.** The core talks to storage through the
//!   `ctem-store` traits only, so the SQLite and PostgreSQL backends do row I/O alone.

pub mod error;
pub mod prioritize;
pub mod roles;
pub mod settings;
#[cfg(feature = "testsuite")]
pub mod testsuite;

pub use error::{Error, Result};
pub use settings::{Settings, SettingsError};
