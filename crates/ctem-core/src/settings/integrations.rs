//! `[[risk.integrations]]`: where `ctem tickets push` sends tickets.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

fn default_retries() -> u32 {
    3
}
fn default_backoff() -> u64 {
    500
}
fn default_timeout() -> u64 {
    10_000
}
fn default_github_api() -> String {
    "https://api.github.com".into()
}
fn default_issue_type() -> String {
    "Task".into()
}

/// One `[[risk.integrations]]` entry. It is its own runtime value: the pushes read it as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetConfig {
    pub name: String,
    #[serde(flatten)]
    pub kind: TargetKind,
    /// Retries after the first attempt.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// First backoff; doubled after each failure.
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Permits `http://` URLs, and then only to a loopback host (a local relay, a test
    /// server); without it every URL of the target must be `https://`, because each one
    /// carries a credential (a token header, or a webhook URL that is itself the secret).
    #[serde(default)]
    pub allow_insecure_http: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TargetKind {
    /// POSTs the ticket as JSON.
    Webhook { url: String },
    /// POSTs a Slack-compatible `{"text", "blocks"}` message (incoming webhooks).
    Slack { url: String },
    /// Jira Cloud REST v3: an issue per ticket, transitions, comments.
    Jira {
        base_url: String,
        project: String,
        email: String,
        /// Environment variable holding the API token.
        token_env: String,
        #[serde(default = "default_issue_type")]
        issue_type: String,
        /// Transition id per ticket state (`in_progress = "21"`).
        #[serde(default)]
        transitions: BTreeMap<String, String>,
    },
    /// GitHub Issues: an issue per ticket, closed when resolved or verified.
    Github {
        #[serde(default = "default_github_api")]
        api_url: String,
        /// `owner/name`.
        repo: String,
        token_env: String,
    },
}

/// Checks the integrations as a whole: names are unique. Errors are `(key, message)`.
pub fn check(targets: &[TargetConfig]) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        if targets[..i].iter().any(|o| o.name == t.name) {
            errors.push((
                format!("risk.integrations[{i}].name"),
                format!("integration {:?} is named twice", t.name),
            ));
        }
    }
    errors
}
