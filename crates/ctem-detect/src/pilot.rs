//! Pilot of a new event source (`ctem pilot FILE`): feed a sample through [`Pilot::add`]
//! and get a [`PilotReport`]: what the records fill, the logsource they are given, the
//! rules that target that logsource but read fields the source never fills (blind rules,
//! and among them those that can never fire), the time span, volume and clock skew, and a
//! verdict.
//!
//! A field counts as filled when some event gives it a value that is not null, empty or
//! `-`, read through the event's shape (so Sigma's `Image` is found in a nested Windows
//! event as in a flat one). A rule *can never fire* when its condition cannot hold with the
//! fields the sample fills: every search needs a field the source never fills (a search on
//! `field: null` or a keyword search needs none; a `not` may always hold).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;

use crate::compile::{CCond, CompiledDetection};
use crate::engine::{Engine, Record, epoch_secs};
use crate::event::{Event, FieldValue};
use crate::value::ValueMatcher;

/// Events whose time lies this far past the pilot's clock are skewed.
const SKEW_TOLERANCE_SECS: i64 = 300;
/// Distinct rejection reasons kept (the rest are counted under the last).
const MAX_REASONS: usize = 20;

/// The pilot report (`ctem pilot --json`).
#[derive(Debug, Clone, Serialize)]
pub struct PilotReport {
    pub records: u64,
    pub parsed: u64,
    pub rejected: u64,
    pub rejections: Vec<Rejection>,
    /// Top-level and nested fields (dotted paths) with how many events fill them.
    pub fields: Vec<FieldFill>,
    pub logsources: Vec<LogsourceCount>,
    /// Rules whose logsource the events satisfy.
    pub rules_targeting: usize,
    /// Of those, the rules that read at least one field the source never fills.
    pub blind_rules: Vec<BlindRule>,
    pub time: TimeReport,
    pub verdict: Verdict,
    pub verdict_reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    pub reason: String,
    pub count: u64,
    /// The first record (line) it happened at.
    pub first_record: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldFill {
    pub field: String,
    pub events: u64,
    /// `events / parsed`, 0 to 1.
    pub fill_rate: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogsourceCount {
    /// The routing entry that recognised the events (`None`: unknown source).
    pub entry: Option<String>,
    pub product: Option<String>,
    pub services: Option<Vec<String>>,
    pub categories: Option<Vec<String>>,
    pub events: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BlindRule {
    pub id: String,
    pub title: String,
    pub level: String,
    /// Fields the rule reads that no event of the sample fills.
    pub missing_fields: Vec<String>,
    /// `false`: no event of this source can ever match it.
    pub can_fire: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TimeReport {
    pub first: Option<String>,
    pub last: Option<String>,
    pub span_seconds: Option<i64>,
    /// Events an hour over the span (when it is at least a second).
    pub events_per_hour: Option<f64>,
    pub without_time: u64,
    /// Events stamped more than five minutes after the pilot ran (a clock ahead).
    pub in_future: u64,
    pub max_ahead_seconds: Option<i64>,
    /// Events older than the one before them.
    pub out_of_order: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ready,
    UsableWithGaps,
    NotUsable,
}

/// Accumulates a sample; see the module notes.
pub struct Pilot<'e> {
    engine: &'e Engine,
    now: i64,
    records: u64,
    parsed: u64,
    rejected: u64,
    rejections: Vec<Rejection>,
    fields: BTreeMap<String, u64>,
    logsources: HashMap<crate::source::SourceLs, u64>,
    /// Rules targeted by at least one event.
    targeted: BTreeSet<usize>,
    /// Rule fields (through the shapes) some event fills.
    filled: BTreeSet<String>,
    times: Vec<i64>,
    time: TimeReport,
    last_ts: Option<i64>,
}

impl<'e> Pilot<'e> {
    /// A pilot judging events against `engine`'s rules; `now` (epoch seconds) is the clock
    /// event times are compared with.
    pub fn new(engine: &'e Engine, now: i64) -> Self {
        Pilot {
            engine,
            now,
            records: 0,
            parsed: 0,
            rejected: 0,
            rejections: Vec::new(),
            fields: BTreeMap::new(),
            logsources: HashMap::new(),
            targeted: BTreeSet::new(),
            filled: BTreeSet::new(),
            times: Vec::new(),
            time: TimeReport::default(),
            last_ts: None,
        }
    }

    /// A record that could not be decoded.
    pub fn reject(&mut self, reason: &str, record: u64) {
        self.records += 1;
        self.rejected += 1;
        if let Some(r) = self.rejections.iter_mut().find(|r| r.reason == reason) {
            r.count += 1;
        } else if self.rejections.len() < MAX_REASONS {
            self.rejections.push(Rejection {
                reason: reason.to_string(),
                count: 1,
                first_record: record,
            });
        } else if let Some(r) = self.rejections.last_mut() {
            r.count += 1;
        }
    }

    /// One decoded event.
    pub fn add(&mut self, rec: &Record) {
        self.records += 1;
        self.parsed += 1;
        let mut seen = BTreeSet::new();
        leaves(&rec.event, "", &mut seen);
        for f in seen {
            *self.fields.entry(f).or_insert(0) += 1;
        }
        let view = self.engine.mappings().view(&rec.event);
        let src = self.engine.source_of(&rec.event, rec.source.as_deref());
        *self.logsources.entry(src).or_insert(0) += 1;
        for i in self.engine.rules_for(&rec.event, rec.source.as_deref()) {
            self.targeted.insert(i);
            for f in self.engine.rules()[i].detection.field_names() {
                if !self.filled.contains(&f) && has_value(view.field(&f)) {
                    self.filled.insert(f);
                }
            }
        }
        self.add_time(view.first_text(&view.shape.timestamp));
    }

    fn add_time(&mut self, text: Option<String>) {
        let Some(ts) = text.as_deref().and_then(epoch_secs) else {
            self.time.without_time += 1;
            return;
        };
        if ts > self.now + SKEW_TOLERANCE_SECS {
            self.time.in_future += 1;
        }
        let ahead = ts - self.now;
        if ahead > 0 && self.time.max_ahead_seconds.is_none_or(|m| ahead > m) {
            self.time.max_ahead_seconds = Some(ahead);
        }
        if self.last_ts.is_some_and(|l| ts < l) {
            self.time.out_of_order += 1;
        }
        self.last_ts = Some(ts);
        self.times.push(ts);
    }

    /// The report.
    pub fn finish(mut self) -> PilotReport {
        let parsed = self.parsed.max(1) as f64;
        let mut fields: Vec<FieldFill> = self
            .fields
            .iter()
            .map(|(f, &n)| FieldFill {
                field: f.clone(),
                events: n,
                fill_rate: (n as f64 / parsed * 1000.0).round() / 1000.0,
            })
            .collect();
        fields.sort_by(|a, b| b.events.cmp(&a.events).then(a.field.cmp(&b.field)));
        let mut logsources: Vec<LogsourceCount> = self
            .logsources
            .iter()
            .map(|(s, &n)| LogsourceCount {
                entry: s.entry.clone(),
                product: s.product.clone(),
                services: s.services.clone(),
                categories: s.categories.clone(),
                events: n,
            })
            .collect();
        logsources.sort_by(|a, b| b.events.cmp(&a.events).then(a.entry.cmp(&b.entry)));
        let blind_rules = self.blind_rules();
        self.finish_time();
        let (verdict, verdict_reasons) = verdict(&self, &blind_rules, &logsources);
        PilotReport {
            records: self.records,
            parsed: self.parsed,
            rejected: self.rejected,
            rejections: self.rejections,
            fields,
            logsources,
            rules_targeting: self.targeted.len(),
            blind_rules,
            time: self.time,
            verdict,
            verdict_reasons,
        }
    }

    fn blind_rules(&self) -> Vec<BlindRule> {
        let mut out: Vec<BlindRule> = self
            .targeted
            .iter()
            .filter_map(|&i| {
                let r = &self.engine.rules()[i];
                let missing: Vec<String> = r
                    .detection
                    .field_names()
                    .into_iter()
                    .filter(|f| !self.filled.contains(f))
                    .collect();
                (!missing.is_empty()).then(|| BlindRule {
                    id: r.meta.id.clone(),
                    title: r.meta.title.clone(),
                    level: r.meta.level.clone(),
                    can_fire: can_match(&r.detection, &|f| self.filled.contains(f)),
                    missing_fields: missing,
                })
            })
            .collect();
        out.sort_by(|a, b| a.can_fire.cmp(&b.can_fire).then(a.id.cmp(&b.id)));
        out
    }

    fn finish_time(&mut self) {
        let (Some(&min), Some(&max)) = (self.times.iter().min(), self.times.iter().max()) else {
            return;
        };
        let iso = |t: i64| chrono::DateTime::from_timestamp(t, 0).map(|d| d.to_rfc3339());
        self.time.first = iso(min);
        self.time.last = iso(max);
        let span = max - min;
        self.time.span_seconds = Some(span);
        if span >= 1 {
            let rate = self.times.len() as f64 * 3600.0 / span as f64;
            self.time.events_per_hour = Some((rate * 10.0).round() / 10.0);
        }
    }
}

fn verdict(
    p: &Pilot<'_>,
    blind: &[BlindRule],
    logsources: &[LogsourceCount],
) -> (Verdict, Vec<String>) {
    let mut gaps = Vec::new();
    if p.parsed == 0 {
        return (Verdict::NotUsable, vec!["no record could be parsed".into()]);
    }
    if p.rejected * 2 > p.records {
        return (
            Verdict::NotUsable,
            vec![format!(
                "{} of {} records were rejected",
                p.rejected, p.records
            )],
        );
    }
    if logsources.iter().all(|l| l.entry.is_none()) {
        return (
            Verdict::NotUsable,
            vec![
                "no event was recognised as any known source: only rules that name no \
                  product or service can run"
                    .into(),
            ],
        );
    }
    let never = blind.iter().filter(|b| !b.can_fire).count();
    if never > 0 {
        gaps.push(format!(
            "{never} rules target this source but can never fire (fields never filled)"
        ));
    }
    if blind.len() > never {
        gaps.push(format!(
            "{} more rules read fields this source never fills",
            blind.len() - never
        ));
    }
    if p.rejected > 0 {
        gaps.push(format!("{} records rejected", p.rejected));
    }
    if p.time.without_time > 0 {
        gaps.push(format!(
            "{} events without a readable time",
            p.time.without_time
        ));
    }
    if p.time.in_future > 0 {
        gaps.push(format!(
            "{} events stamped in the future (clock skew)",
            p.time.in_future
        ));
    }
    let unknown = logsources
        .iter()
        .filter(|l| l.entry.is_none())
        .map(|l| l.events)
        .sum::<u64>();
    if unknown > 0 {
        gaps.push(format!("{unknown} events of unknown source"));
    }
    if gaps.is_empty() {
        (Verdict::Ready, gaps)
    } else {
        (Verdict::UsableWithGaps, gaps)
    }
}

/// Whether a value counts as filled.
fn has_value(v: Option<FieldValue<'_>>) -> bool {
    match v {
        None | Some(FieldValue::Null) => false,
        Some(v) => v
            .as_text()
            .is_none_or(|t| !t.trim().is_empty() && t.trim() != "-"),
    }
}

/// The dotted paths of an event's filled leaves (arrays: the path of the array).
fn leaves(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(v, &p, out);
            }
        }
        Value::Null => {}
        Value::String(s) if s.trim().is_empty() || s.trim() == "-" => {}
        Value::Array(a) if a.is_empty() => {}
        _ if !prefix.is_empty() => {
            out.insert(prefix.to_string());
        }
        _ => {}
    }
}

/// Whether `d` can match an event that fills exactly the fields `filled` says.
pub fn can_match(d: &CompiledDetection, filled: &dyn Fn(&str) -> bool) -> bool {
    let search = |i: usize| {
        d.searches.get(i).is_some_and(|s| {
            s.alternatives.iter().any(|alt| {
                alt.iter().all(|m| match &m.field {
                    None => true,
                    Some(f) => {
                        filled(f)
                            || m.matchers.iter().any(|v| {
                                matches!(v, ValueMatcher::Null | ValueMatcher::Exists(false))
                            })
                    }
                })
            })
        })
    };
    fn cond(c: &CCond, search: &dyn Fn(usize) -> bool) -> bool {
        match c {
            CCond::Search(i) => search(*i),
            CCond::And(v) => v.iter().all(|c| cond(c, search)),
            CCond::Or(v) => v.iter().any(|c| cond(c, search)),
            // a negation may hold whatever is missing
            CCond::Not(_) => true,
            CCond::AtLeast(n, v) => v.iter().filter(|&&i| search(i)).count() >= *n,
            CCond::All(v) => v.iter().all(|&i| search(i)),
        }
    }
    d.conditions.iter().any(|c| cond(c, &search))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Mappings, RuleSet};
    use serde_json::json;

    const RULE: &str = "title: encoded powershell
id: 11111111-1111-4111-8111-111111111111
logsource: {product: windows, category: process_creation}
detection:
  sel:
    Image|endswith: '\\powershell.exe'
    CommandLine|contains: ' -enc '
  condition: sel
level: high
";

    fn engine() -> Engine {
        Engine::new(
            RuleSet::from_yaml(RULE).expect("rule"),
            Mappings::builtin().expect("mappings"),
        )
    }

    fn sysmon(image_key: &str, cmd_key: &str, time: &str) -> Record {
        Record::new(json!({
            "Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1,
            "Provider_Name": "Microsoft-Windows-Sysmon", "UtcTime": time,
            image_key: "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            cmd_key: "powershell -enc SQBFAFgA",
        }))
    }

    #[test]
    fn renamed_fields_make_a_rule_blind_and_the_right_names_do_not() {
        let e = engine();
        let now = epoch_secs("2024-05-02T00:00:00Z").expect("now");
        let mut good = Pilot::new(&e, now);
        good.add(&sysmon("Image", "CommandLine", "2024-05-01 10:00:00.000"));
        good.add(&sysmon("Image", "CommandLine", "2024-05-01 11:00:00.000"));
        let r = good.finish();
        assert_eq!(r.rules_targeting, 1);
        assert!(r.blind_rules.is_empty(), "{:?}", r.blind_rules);
        assert_eq!(r.verdict, Verdict::Ready, "{:?}", r.verdict_reasons);
        assert_eq!(r.time.span_seconds, Some(3600));

        let mut bad = Pilot::new(&e, now);
        bad.add(&sysmon("Image", "cmdline", "2024-05-01 10:00:00.000"));
        bad.reject("not JSON", 2);
        let r = bad.finish();
        assert_eq!(r.blind_rules.len(), 1);
        assert_eq!(r.blind_rules[0].missing_fields, vec!["CommandLine"]);
        assert!(!r.blind_rules[0].can_fire);
        assert_eq!(r.verdict, Verdict::UsableWithGaps);
        assert_eq!((r.records, r.parsed, r.rejected), (2, 1, 1));
        let cmd = r
            .fields
            .iter()
            .find(|f| f.field == "cmdline")
            .expect("cmdline");
        assert_eq!(cmd.fill_rate, 1.0);
    }

    #[test]
    fn clock_skew_and_unknown_sources() {
        let e = engine();
        let now = epoch_secs("2024-05-01T00:00:00Z").expect("now");
        let mut p = Pilot::new(&e, now);
        p.add(&sysmon("Image", "CommandLine", "2024-05-01 10:00:00.000"));
        let r = p.finish();
        assert_eq!(r.time.in_future, 1);
        assert_eq!(r.time.max_ahead_seconds, Some(36_000));
        assert_eq!(r.verdict, Verdict::UsableWithGaps);
        let mut p = Pilot::new(&e, now);
        p.add(&Record::new(json!({"x": 1})));
        assert_eq!(p.finish().verdict, Verdict::NotUsable);
    }
}
