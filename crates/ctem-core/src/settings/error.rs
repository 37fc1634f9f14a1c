//! Settings errors: every problem of a settings file, each with its file, line and key.

use std::fmt;

/// One problem in the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    /// The file, or `environment` / `flags` for values that came from there.
    pub file: String,
    /// 1-based line, when the problem has a place in the file.
    pub line: Option<usize>,
    /// The dotted key (`risk.weights.kev`, `feeds[1].url`); empty for a syntax error.
    pub key: String,
    pub message: String,
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found while building the settings, reported together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    #[error("{}", list(.0))]
    Invalid(Vec<SettingError>),
}

fn list(errors: &[SettingError]) -> String {
    match errors {
        [one] => one.to_string(),
        many => {
            let mut s = format!("{} errors in the settings", many.len());
            for e in many {
                s.push_str("\n  ");
                s.push_str(&e.to_string());
            }
            s
        }
    }
}
