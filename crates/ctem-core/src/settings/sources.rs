//! `[[sources]]`, `[schedule]`, `[[schedule.exports]]` and `[[notify]]`: what the scheduler
//! (`ctem run`, `ctem serve`) reads continuously, the jobs it runs, and where it tells the
//! owning teams.
//!
//! One `SourceConfig` holds the keys of every kind; `build()` checks that a source sets the
//! keys its kind needs and none of another kind's, so a `listen` on a folder source is an
//! error naming the key, not a silently ignored line.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration::parse_duration;

type Errors = Vec<(String, String)>;

/// One `[[sources]]` entry, as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Unique name; the source's runs and checkpoint are kept under it.
    pub name: String,
    /// `folder`, `url`, `file`, `feeds`, `syslog` or `kafka`.
    pub kind: String,
    /// A report or event format name, or `auto`.
    #[serde(default = "auto")]
    pub format: String,
    /// Lifecycle scope of the imports (`ctem import --scope`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The team that owns the source: told when it goes silent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// How often data is expected; the source is silent after this long without any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_every: Option<String>,
    /// How often the source is polled (folder, file: 1s; url, feeds: 15m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// folder, file: the path read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// folder: where imported files are moved (else they stay, recorded by content hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<PathBuf>,
    /// file: Sigma rule folders (default: `[detect] rules`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<PathBuf>,
    /// url: the http(s) URL polled with conditional GET.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// url: time allowed for one request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// url: larger bodies are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size_mb: Option<u64>,
    /// url: special-purpose addresses or CIDR blocks it may reach.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_addresses: Vec<String>,
    /// feeds: the `[[feeds]]` names refreshed (default: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feeds: Vec<String>,
    /// syslog: `udp://HOST:PORT` or `tcp://HOST:PORT` (or `HOST:PORT` with `protocol`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// syslog: `udp` or `tcp` (default: the scheme of `listen`, else `udp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// syslog over TCP: `auto`, `octet_counted` or `newline`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framing: Option<String>,
    /// syslog, kafka: records waiting for detection before the source slows or drops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_size: Option<usize>,
    /// kafka: bootstrap brokers `host:port`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub brokers: Vec<String>,
    /// kafka: the topic (or `kafka://BROKERS/TOPIC`, which sets `brokers` too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// kafka: the consumer group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

fn auto() -> String {
    "auto".into()
}

/// A source, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub name: String,
    pub format: String,
    pub scope: Option<String>,
    pub owner: Option<String>,
    /// `None`: the source is never late or silent (only failing).
    pub expect_every: Option<Duration>,
    pub interval: Duration,
    pub kind: SourceKind,
}

/// What a source reads.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceKind {
    /// Scanner reports dropped in a folder, each imported once by content hash.
    Folder {
        path: PathBuf,
        done: Option<PathBuf>,
    },
    /// A report fetched with conditional GET.
    Url {
        url: String,
        timeout: Duration,
        max_size: u64,
        allow_addresses: Vec<String>,
    },
    /// An event file tailed across rotation; alerts are stored.
    File {
        path: PathBuf,
        rules: Vec<PathBuf>,
    },
    /// The `[[feeds]]` named (all when empty).
    Feeds {
        feeds: Vec<String>,
    },
    Syslog(SyslogSource),
    Kafka(KafkaSource),
}

/// Syslog transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Udp,
    Tcp,
}

/// How messages are delimited on a TCP stream (RFC 6587).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Octet-counted when a frame starts with a digit, else newline-delimited.
    Auto,
    OctetCounted,
    Newline,
}

/// `kind = "syslog"`: read by the stream receivers.
#[derive(Debug, Clone, PartialEq)]
pub struct SyslogSource {
    /// `HOST:PORT`.
    pub listen: String,
    pub protocol: Protocol,
    pub framing: Framing,
    pub queue_size: usize,
}

/// `kind = "kafka"`: a topic read in a consumer group.
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaSource {
    pub brokers: Vec<String>,
    pub topic: String,
    pub group: String,
    pub queue_size: usize,
}

impl SourceKind {
    pub fn name(&self) -> &'static str {
        match self {
            SourceKind::Folder { .. } => "folder",
            SourceKind::Url { .. } => "url",
            SourceKind::File { .. } => "file",
            SourceKind::Feeds { .. } => "feeds",
            SourceKind::Syslog(_) => "syslog",
            SourceKind::Kafka(_) => "kafka",
        }
    }
}

/// The keys each kind may set beyond the common ones.
const KIND_KEYS: &[(&str, &[&str])] = &[
    ("folder", &["path", "done"]),
    ("url", &["url", "timeout", "max_size_mb", "allow_addresses"]),
    ("file", &["path", "rules"]),
    ("feeds", &["feeds"]),
    ("syslog", &["listen", "protocol", "framing", "queue_size"]),
    ("kafka", &["brokers", "topic", "group", "queue_size"]),
];

const DEFAULT_QUEUE: usize = 100_000;

impl SourceConfig {
    /// The kind-specific keys this entry sets.
    fn set_keys(&self) -> Vec<&'static str> {
        let mut k = Vec::new();
        let mut add = |set: bool, name| {
            if set {
                k.push(name)
            }
        };
        add(self.path.is_some(), "path");
        add(self.done.is_some(), "done");
        add(!self.rules.is_empty(), "rules");
        add(self.url.is_some(), "url");
        add(self.timeout.is_some(), "timeout");
        add(self.max_size_mb.is_some(), "max_size_mb");
        add(!self.allow_addresses.is_empty(), "allow_addresses");
        add(!self.feeds.is_empty(), "feeds");
        add(self.listen.is_some(), "listen");
        add(self.protocol.is_some(), "protocol");
        add(self.framing.is_some(), "framing");
        add(self.queue_size.is_some(), "queue_size");
        add(!self.brokers.is_empty(), "brokers");
        add(self.topic.is_some(), "topic");
        add(self.group.is_some(), "group");
        k
    }

    /// Errors are `(key, message)` pairs under `at` (`sources[2]`).
    pub fn build(self, at: &str) -> Result<Source, Errors> {
        let mut errors = Vec::new();
        let Some((_, allowed)) = KIND_KEYS.iter().find(|(k, _)| *k == self.kind) else {
            return Err(vec![(
                format!("{at}.kind"),
                format!(
                    "unknown kind {:?}: folder, url, file, feeds, syslog or kafka",
                    self.kind
                ),
            )]);
        };
        for key in self.set_keys() {
            if !allowed.contains(&key) {
                errors.push((
                    format!("{at}.{key}"),
                    format!("not a key of a {} source", self.kind),
                ));
            }
        }
        let mut duration = |key: &str, v: Option<&str>, default: &str| {
            parse_duration(v.unwrap_or(default)).unwrap_or_else(|e| {
                errors.push((format!("{at}.{key}"), e));
                Duration::ZERO
            })
        };
        let polled = matches!(self.kind.as_str(), "url" | "feeds");
        let interval = duration(
            "interval",
            self.interval.as_deref(),
            if polled { "15m" } else { "1s" },
        );
        let expect_every = self
            .expect_every
            .as_deref()
            .map(|v| duration("expect_every", Some(v), ""));
        let timeout = duration("timeout", self.timeout.as_deref(), "60s");
        if self.name.trim().is_empty() {
            errors.push((format!("{at}.name"), "a source needs a name".into()));
        }
        if expect_every == Some(Duration::ZERO) {
            errors.push((format!("{at}.expect_every"), "must be more than 0".into()));
        }
        let kind = self.kind_value(at, timeout, &mut errors);
        match kind {
            Some(kind) if errors.is_empty() => Ok(Source {
                name: self.name,
                format: self.format,
                scope: self.scope,
                owner: self.owner,
                expect_every,
                interval: interval.max(Duration::from_millis(100)),
                kind,
            }),
            _ => Err(errors),
        }
    }

    fn kind_value(&self, at: &str, timeout: Duration, errors: &mut Errors) -> Option<SourceKind> {
        let mut need = |key: &str, v: bool| {
            if !v {
                errors.push((
                    format!("{at}.{key}"),
                    format!("a {} source needs {key}", self.kind),
                ));
            }
        };
        match self.kind.as_str() {
            "folder" | "file" => {
                need("path", self.path.is_some());
                let path = self.path.clone()?;
                Some(if self.kind == "folder" {
                    SourceKind::Folder {
                        path,
                        done: self.done.clone(),
                    }
                } else {
                    SourceKind::File {
                        path,
                        rules: self.rules.clone(),
                    }
                })
            }
            "url" => {
                need("url", self.url.is_some());
                Some(SourceKind::Url {
                    url: self.url.clone()?,
                    timeout,
                    max_size: self.max_size_mb.unwrap_or(512).saturating_mul(1 << 20),
                    allow_addresses: self.allow_addresses.clone(),
                })
            }
            "feeds" => Some(SourceKind::Feeds {
                feeds: self.feeds.clone(),
            }),
            "syslog" => self.syslog(at, errors).map(SourceKind::Syslog),
            _ => self.kafka(at, errors).map(SourceKind::Kafka),
        }
    }

    fn syslog(&self, at: &str, errors: &mut Errors) -> Option<SyslogSource> {
        let Some(listen) = &self.listen else {
            errors.push((
                format!("{at}.listen"),
                "a syslog source needs listen".into(),
            ));
            return None;
        };
        let (scheme, addr) = match listen.split_once("://") {
            Some((s, a)) => (Some(s), a),
            None => (None, listen.as_str()),
        };
        let protocol = match self.protocol.as_deref().or(scheme).unwrap_or("udp") {
            "udp" => Protocol::Udp,
            "tcp" => Protocol::Tcp,
            p => {
                errors.push((
                    format!("{at}.protocol"),
                    format!("unknown protocol {p:?}: udp or tcp"),
                ));
                return None;
            }
        };
        if let (Some(s), Some(p)) = (scheme, &self.protocol)
            && s != p
        {
            errors.push((
                format!("{at}.protocol"),
                format!("{p:?} disagrees with listen {listen:?}"),
            ));
        }
        if addr.parse::<std::net::SocketAddr>().is_err() && !addr.contains(':') {
            errors.push((
                format!("{at}.listen"),
                format!("{listen:?}: expected HOST:PORT"),
            ));
        }
        let framing = match self.framing.as_deref().unwrap_or("auto") {
            "auto" => Framing::Auto,
            "octet_counted" => Framing::OctetCounted,
            "newline" => Framing::Newline,
            f => {
                errors.push((
                    format!("{at}.framing"),
                    format!("unknown framing {f:?}: auto, octet_counted or newline"),
                ));
                Framing::Auto
            }
        };
        Some(SyslogSource {
            listen: addr.to_string(),
            protocol,
            framing,
            queue_size: self.queue(at, errors),
        })
    }

    fn queue(&self, at: &str, errors: &mut Errors) -> usize {
        let q = self.queue_size.unwrap_or(DEFAULT_QUEUE);
        if q == 0 {
            errors.push((format!("{at}.queue_size"), "must be at least 1".into()));
        }
        q
    }

    fn kafka(&self, at: &str, errors: &mut Errors) -> Option<KafkaSource> {
        let mut brokers = self.brokers.clone();
        let topic = match self.topic.as_deref() {
            Some(t) => match t.strip_prefix("kafka://") {
                Some(rest) => {
                    let (b, topic) = rest.split_once('/').unwrap_or((rest, ""));
                    brokers.extend(b.split(',').filter(|s| !s.is_empty()).map(String::from));
                    topic.to_string()
                }
                None => t.to_string(),
            },
            None => String::new(),
        };
        if topic.is_empty() {
            errors.push((format!("{at}.topic"), "a kafka source needs a topic".into()));
        }
        if brokers.is_empty() {
            errors.push((
                format!("{at}.brokers"),
                "a kafka source needs brokers (or topic = \"kafka://BROKERS/TOPIC\")".into(),
            ));
        }
        let Some(group) = self.group.clone() else {
            errors.push((format!("{at}.group"), "a kafka source needs a group".into()));
            return None;
        };
        Some(KafkaSource {
            brokers,
            topic,
            group,
            queue_size: self.queue(at, errors),
        })
    }
}

/// `[schedule]`: how often the scheduler's jobs run (`off` disables one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Intelligence refresh: every `[[feeds]]` entry that is due (then re-prioritisation).
    pub intel: String,
    /// The daily KPI snapshot.
    pub kpi_snapshot: String,
    /// The review report.
    pub review: String,
    /// Where review reports are written (`review-DATE.md`); none: only recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_dir: Option<PathBuf>,
    /// How often pending notifications are batched and sent.
    pub notify: String,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            intel: "1h".into(),
            kpi_snapshot: "1d".into(),
            review: "7d".into(),
            review_dir: None,
            notify: "5m".into(),
        }
    }
}

/// `[schedule]`, built: `None` is a job switched off.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub intel: Option<Duration>,
    pub kpi_snapshot: Option<Duration>,
    pub review: Option<Duration>,
    pub review_dir: Option<PathBuf>,
    pub notify: Option<Duration>,
    pub exports: Vec<Export>,
}

/// One `[[schedule.exports]]` entry: a blocklist written for a control that reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportConfig {
    /// Unique name (its runs are kept under `export:NAME`).
    pub name: String,
    /// Indicator type: email, domain, ip, url or hash.
    #[serde(rename = "type")]
    pub kind: String,
    /// postfix, nftables, rpz, csv or plain.
    pub format: String,
    /// The file written (atomically: a temporary file renamed over it).
    pub out: PathBuf,
    /// How often it is written.
    #[serde(default = "hour")]
    pub every: String,
}

fn hour() -> String {
    "1h".into()
}

/// An export, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    pub name: String,
    pub kind: String,
    pub format: String,
    pub out: PathBuf,
    pub every: Duration,
}

const EXPORT_TYPES: &[&str] = &["email", "domain", "ip", "url", "hash"];
const EXPORT_FORMATS: &[&str] = &["postfix", "nftables", "rpz", "csv", "plain"];

fn optional(v: &str, key: String, errors: &mut Errors) -> Option<Duration> {
    if v == "off" {
        return None;
    }
    match parse_duration(v) {
        Ok(d) if !d.is_zero() => Some(d),
        Ok(_) => {
            errors.push((key, "must be more than 0 (or off)".into()));
            None
        }
        Err(e) => {
            errors.push((key, e));
            None
        }
    }
}

impl ScheduleConfig {
    pub fn build(self, exports: Vec<ExportConfig>) -> Result<Schedule, Errors> {
        let mut errors = Vec::new();
        let mut s = Schedule {
            intel: optional(&self.intel, "schedule.intel".into(), &mut errors),
            kpi_snapshot: optional(
                &self.kpi_snapshot,
                "schedule.kpi_snapshot".into(),
                &mut errors,
            ),
            review: optional(&self.review, "schedule.review".into(), &mut errors),
            review_dir: self.review_dir,
            notify: optional(&self.notify, "schedule.notify".into(), &mut errors),
            exports: Vec::new(),
        };
        for (i, e) in exports.into_iter().enumerate() {
            let at = format!("schedule.exports[{i}]");
            if !EXPORT_TYPES.contains(&e.kind.as_str()) {
                errors.push((format!("{at}.type"), format!("unknown type {:?}", e.kind)));
            }
            if !EXPORT_FORMATS.contains(&e.format.as_str()) {
                errors.push((
                    format!("{at}.format"),
                    format!("unknown format {:?}", e.format),
                ));
            }
            if s.exports.iter().any(|x| x.name == e.name) {
                errors.push((format!("{at}.name"), format!("{:?} is named twice", e.name)));
            }
            let every = optional(&e.every, format!("{at}.every"), &mut errors);
            s.exports.push(Export {
                name: e.name,
                kind: e.kind,
                format: e.format,
                out: e.out,
                every: every.unwrap_or(Duration::from_secs(3600)),
            });
        }
        if errors.is_empty() {
            Ok(s)
        } else {
            Err(errors)
        }
    }
}

/// One `[[notify]]` channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Unique name, part of what is recorded as sent.
    pub name: String,
    /// `slack` (a Slack-compatible incoming webhook), `webhook` (JSON POST) or `email`.
    #[serde(rename = "type")]
    pub kind: String,
    /// slack, webhook: the URL POSTed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// email: the SMTP relay, `HOST:PORT` (plain SMTP, no authentication).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<String>,
    /// email: the sender address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// email: the recipients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    /// Only what this team owns (none: every team's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// What is sent: `p1`, `sla`, `incident`, `silent` (default: all four).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// slack, webhook: special-purpose addresses or CIDR blocks the URL may reach.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_addresses: Vec<String>,
}

/// The notification events.
pub const NOTIFY_EVENTS: &[&str] = &["p1", "sla", "incident", "silent"];

impl NotifyConfig {
    /// Checks the channel; errors are `(key, message)` under `at`.
    pub fn check(&self, at: &str) -> Errors {
        let mut errors = Vec::new();
        let mut need = |key: &str, ok: bool| {
            if !ok {
                errors.push((
                    format!("{at}.{key}"),
                    format!("a {} channel needs {key}", self.kind),
                ));
            }
        };
        match self.kind.as_str() {
            "slack" | "webhook" => need("url", self.url.is_some()),
            "email" => {
                need("smtp", self.smtp.is_some());
                need("from", self.from.is_some());
                need("to", !self.to.is_empty());
            }
            k => errors.push((
                format!("{at}.type"),
                format!("unknown type {k:?}: slack, webhook or email"),
            )),
        }
        for e in &self.events {
            if !NOTIFY_EVENTS.contains(&e.as_str()) {
                errors.push((
                    format!("{at}.events"),
                    format!("unknown event {e:?}: p1, sla, incident or silent"),
                ));
            }
        }
        errors
    }

    /// Whether this channel takes `event`.
    pub fn wants(&self, event: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event)
    }
}

/// Validates every source (names unique). Errors are `(key, message)`.
pub fn build_sources(list: Vec<SourceConfig>) -> Result<Vec<Source>, Errors> {
    let mut errors = Vec::new();
    let mut out: Vec<Source> = Vec::new();
    for (i, s) in list.into_iter().enumerate() {
        let at = format!("sources[{i}]");
        if out.iter().any(|o| o.name == s.name) {
            errors.push((
                format!("{at}.name"),
                format!("source {:?} is named twice", s.name),
            ));
        }
        match s.build(&at) {
            Ok(s) => out.push(s),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Checks every channel (names unique).
pub fn check_notify(list: &[NotifyConfig]) -> Errors {
    let mut errors = Vec::new();
    for (i, n) in list.iter().enumerate() {
        let at = format!("notify[{i}]");
        if list[..i].iter().any(|o| o.name == n.name) {
            errors.push((
                format!("{at}.name"),
                format!("channel {:?} is named twice", n.name),
            ));
        }
        errors.extend(n.check(&at));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(kind: &str) -> SourceConfig {
        SourceConfig {
            name: "s".into(),
            kind: kind.into(),
            format: "auto".into(),
            ..SourceConfig::default()
        }
    }

    #[test]
    fn a_source_needs_its_kinds_keys_and_no_other_kinds() {
        let e = src("folder").build("sources[0]").unwrap_err();
        assert_eq!(e[0].0, "sources[0].path", "{e:?}");
        let mut s = src("folder");
        s.path = Some("drop".into());
        s.listen = Some("udp://0.0.0.0:514".into());
        let e = s.build("sources[0]").unwrap_err();
        assert_eq!(e[0].0, "sources[0].listen", "{e:?}");
        assert!(e[0].1.contains("folder"), "{e:?}");
        let e = src("ftp").build("sources[1]").unwrap_err();
        assert_eq!(e[0].0, "sources[1].kind");
    }

    #[test]
    fn syslog_and_kafka_read_their_addresses() {
        let mut s = src("syslog");
        s.listen = Some("tcp://127.0.0.1:5514".into());
        let b = s.build("x").unwrap();
        let SourceKind::Syslog(sy) = b.kind else {
            panic!()
        };
        assert_eq!(sy.protocol, Protocol::Tcp);
        assert_eq!(sy.listen, "127.0.0.1:5514");
        let mut k = src("kafka");
        k.topic = Some("kafka://a:9092,b:9092/events".into());
        k.group = Some("ctem".into());
        let b = k.build("x").unwrap();
        let SourceKind::Kafka(ka) = b.kind else {
            panic!()
        };
        assert_eq!(ka.brokers, ["a:9092", "b:9092"]);
        assert_eq!(ka.topic, "events");
        let mut k = src("kafka");
        k.topic = Some("events".into());
        let e = k.build("x").unwrap_err();
        let keys: Vec<_> = e.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(keys, ["x.brokers", "x.group"]);
    }

    #[test]
    fn schedule_jobs_can_be_switched_off() {
        let c = ScheduleConfig {
            review: "off".into(),
            ..ScheduleConfig::default()
        };
        let s = c.build(Vec::new()).unwrap();
        assert_eq!(s.review, None);
        assert_eq!(s.kpi_snapshot, Some(Duration::from_secs(86400)));
        let bad = ScheduleConfig {
            intel: "soon".into(),
            ..ScheduleConfig::default()
        };
        assert_eq!(bad.build(Vec::new()).unwrap_err()[0].0, "schedule.intel");
    }
}
