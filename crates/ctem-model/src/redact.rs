//! Redaction of secrets carried inside URLs, for every message that prints one.
//!
//! A URL is often a credential: a Slack incoming-webhook path, a `?token=` or `&sig=` query
//! value, a `user:pass@` (a store URL, a feed mirror). [`url`] masks those parts of one URL;
//! [`text`] finds every `scheme://...` inside a message (an error chain, a log line, a
//! summary) and masks each. Printing code calls these instead of its own rules, so one
//! function decides what a secret looks like. What is kept: the scheme, the host and port,
//! a user name next to a password, query keys, and path segments that do not look like a
//! token, so the message still says where the call went.

/// The mask put in place of a secret.
pub const MASK: &str = "***";

/// Hosts whose whole path after the first segment is a credential (incoming webhooks).
const WEBHOOK_HOSTS: &[&str] = &[
    "hooks.slack.com",
    "discord.com",
    "discordapp.com",
    "webhook.office.com",
    "hooks.zapier.com",
    "chat.googleapis.com",
];

/// Query / fragment keys whose values are secrets (matched as lower-case substrings).
const SECRET_KEYS: &[&str] = &[
    "token", "key", "sig", "secret", "pass", "pwd", "auth", "cred", "session", "code", "jwt",
    "private", "access", "hash",
];

/// One URL with its secrets masked; text that is not a URL is returned unchanged.
pub fn url(u: &str) -> String {
    let Some(scheme_end) = u.find("://") else {
        return u.to_string();
    };
    let (scheme, rest) = (&u[..scheme_end], &u[scheme_end + 3..]);
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    let mut out = format!("{scheme}://");
    let host = match authority.rfind('@') {
        Some(at) => {
            let info = &authority[..at];
            match info.split_once(':') {
                Some((user, _)) => out.push_str(&format!("{user}:{MASK}@")),
                None => out.push_str(&format!("{MASK}@")),
            }
            &authority[at + 1..]
        }
        None => authority,
    };
    out.push_str(host);
    let (before_frag, fragment) = match tail.split_once('#') {
        Some((a, f)) => (a, Some(f)),
        None => (tail, None),
    };
    let (path, query) = match before_frag.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (before_frag, None),
    };
    out.push_str(&redact_path(host, path));
    if let Some(q) = query {
        out.push('?');
        out.push_str(&redact_pairs(q));
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(&redact_pairs(f));
    }
    out
}

/// Every URL inside `s` with its secrets masked.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        // the scheme: letters, digits, + - . back to the start of the word
        let start = rest[..i]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .last()
            .map_or(i, |(j, _)| j);
        let end = rest[i + 3..]
            .find(|c: char| c.is_whitespace() || c.is_control() || "\"'<>`()[]{}|\\".contains(c))
            .map_or(rest.len(), |j| i + 3 + j);
        // punctuation that ends a sentence or a message part is not part of the URL
        let end = i
            + 3
            + rest[i + 3..end]
                .trim_end_matches(['.', ',', ':', ';', '!', '?'])
                .len();
        out.push_str(&rest[..start]);
        if start == i {
            // no scheme before `://`: not a URL
            out.push_str(&rest[i..end]);
        } else {
            out.push_str(&url(&rest[start..end]));
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn redact_path(host: &str, path: &str) -> String {
    let host = host
        .rsplit_once(':')
        .map_or(host, |(h, _)| h)
        .to_ascii_lowercase();
    let webhook = WEBHOOK_HOSTS
        .iter()
        .any(|w| host == *w || host.ends_with(&format!(".{w}")));
    path.split('/')
        .enumerate()
        .map(|(i, seg)| {
            // segment 0 is the empty string before the leading slash, 1 the first segment
            if (webhook && i >= 2 && !seg.is_empty()) || looks_secret(seg) {
                MASK
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn redact_pairs(q: &str) -> String {
    q.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => {
                let lower = k.to_ascii_lowercase();
                if !v.is_empty()
                    && (SECRET_KEYS.iter().any(|s| lower.contains(s)) || looks_secret(v))
                {
                    format!("{k}={MASK}")
                } else {
                    pair.to_string()
                }
            }
            None if looks_secret(pair) => MASK.to_string(),
            None => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A token-like string: long, one word, letters and digits mixed (API keys, webhook
/// tokens, UUIDs); file names (with a dot) and words stay readable.
fn looks_secret(s: &str) -> bool {
    s.len() >= 20
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'%' | b'+' | b'='))
        && s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes().any(|b| b.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_shapes() {
        let cases = [
            // user and password
            (
                "postgres://ctem:hunter2@db.example:5432/ctem",
                "postgres://ctem:***@db.example:5432/ctem",
            ),
            (
                "postgresql://u:p%40ss@h/db?sslmode=require",
                "postgresql://u:***@h/db?sslmode=require",
            ),
            // a token as the user name
            (
                "https://ghp_abc123@github.com/o/r.git",
                "https://***@github.com/o/r.git",
            ),
            // a password containing @ and :
            ("https://u:a:b@c@h.example/x", "https://u:***@h.example/x"),
            // Slack and other incoming webhooks: the path is the credential
            (
                "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
                "https://hooks.slack.com/services/***/***/***",
            ),
            (
                "https://discord.com/api/webhooks/123456/abcDEF_ghi",
                "https://discord.com/api/***/***/***",
            ),
            (
                "https://acme.webhook.office.com/webhookb2/a@b/IncomingWebhook/c/d",
                "https://acme.webhook.office.com/webhookb2/***/***/***/***",
            ),
            // query values by key
            ("https://h/x?token=abc", "https://h/x?token=***"),
            (
                "https://h/x?api_key=abc&page=2",
                "https://h/x?api_key=***&page=2",
            ),
            (
                "https://h/x?apiKey=abc&q=cve",
                "https://h/x?apiKey=***&q=cve",
            ),
            (
                "https://acct.blob.core.windows.net/c/f.json?sv=2022&sig=AbC%2Bd&se=2030",
                "https://acct.blob.core.windows.net/c/f.json?sv=2022&sig=***&se=2030",
            ),
            (
                "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA/x&X-Amz-Signature=ff00",
                "https://b.s3.amazonaws.com/k?X-Amz-Credential=***&X-Amz-Signature=***",
            ),
            (
                "https://h/cb#access_token=abc&state=1",
                "https://h/cb#access_token=***&state=1",
            ),
            ("https://h/x?password=&a=1", "https://h/x?password=&a=1"),
            // a token-like path segment or value under any name
            (
                "https://feeds.example/0123456789abcdef0123456789abcdef/kev.json",
                "https://feeds.example/***/kev.json",
            ),
            (
                "https://h/x?t=0123456789abcdefghij0123",
                "https://h/x?t=***",
            ),
            // nothing secret: unchanged
            (
                "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json",
                "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json",
            ),
            (
                "https://nvd.nist.gov/feeds/json/cve/1.1/nvdcve-1.1-2023.json.gz",
                "https://nvd.nist.gov/feeds/json/cve/1.1/nvdcve-1.1-2023.json.gz",
            ),
            (
                "http://127.0.0.1:8080/rest/api/3/issue",
                "http://127.0.0.1:8080/rest/api/3/issue",
            ),
            ("https://[::1]:8443/x?page=1", "https://[::1]:8443/x?page=1"),
            ("ctem.db", "ctem.db"),
        ];
        for (input, want) in cases {
            assert_eq!(url(input), want, "{input}");
        }
    }

    #[test]
    fn text_masks_every_url_in_a_message() {
        let msg = "store \"postgres://bob:s3cret@db/x\": GET https://h/a?token=t0k (after https://u:pw@m/), file:///etc/x";
        let got = text(msg);
        assert_eq!(
            got,
            "store \"postgres://bob:***@db/x\": GET https://h/a?token=*** (after https://u:***@m/), file:///etc/x"
        );
        assert!(!got.contains("s3cret") && !got.contains("t0k") && !got.contains("pw@"));
        assert_eq!(
            text("POST https://hooks.slack.com/services/T0/B0/abc: HTTP 500."),
            "POST https://hooks.slack.com/services/***/***/***: HTTP 500."
        );
        assert_eq!(
            text("see https://h/x?token=abc."),
            "see https://h/x?token=***."
        );
        assert_eq!(text("no url here: a://"), "no url here: a://");
        assert_eq!(text("://x"), "://x");
        assert_eq!(text(""), "");
        // non-ASCII around a URL does not split a character
        assert_eq!(text("é https://u:p@h é"), "é https://u:***@h é");
    }
}
