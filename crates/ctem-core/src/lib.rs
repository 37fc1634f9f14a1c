//! # ctem-core: the service layer every front end calls
//!
//! The `ctem` binary, and later the server, the scheduler and stream workers, stand on this
//! crate. It holds what they share so none of them copies it:
//! - [`settings`]: one validated [`Settings`] value built from `ctem.toml`, the environment
//!   and the flags, passed explicitly (no globals);
//! - the pipelines and the backend-neutral domain decisions, moved here from the binary and
//!   from the SQLite backend step by step (issue 12).
//!
//! ## Design choices
//! - **Settings are a value.** A pipeline takes `&Settings` (or the part it needs); nothing
//!   reads configuration from a global, so two settings can coexist in one process.
//! - **Every settings error at once.** A settings file is read section by section; each bad
//!   key is reported with its file, line and key path, and reading goes on, so a user fixes
//!   a file in one round instead of one error per run.
//! - **No SQL, no HTTP framework, no CLI flags.** The core talks to storage through the
//!   `ctem-store` traits only, so the SQLite and PostgreSQL backends do row I/O alone.

pub mod settings;

pub use settings::{Settings, SettingsError};
