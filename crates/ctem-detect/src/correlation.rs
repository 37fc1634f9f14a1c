//! Sigma correlation rules: the AST and a streaming evaluator with sliding windows.
//!
//! Each correlation keeps, per group-by key, the hits of its referenced rules inside
//! `timespan`. When the condition holds it fires once and clears that group's window, so a
//! burst yields one alert, not one per event. Correlations may reference correlations
//! (chaining): a firing correlation counts as a hit for the rules that name it.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::rule::str_of;

/// The correlation types of the spec.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationType {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
    ValueSum,
    ValueAvg,
    ValuePercentile,
}

/// A comparison of a correlation condition.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy, PartialEq)]
pub enum CountCmp {
    Gt(f64),
    Gte(f64),
    Lt(f64),
    Lte(f64),
    Eq(f64),
    Neq(f64),
}

impl CountCmp {
    fn holds(&self, x: f64) -> bool {
        match *self {
            CountCmp::Gt(v) => x > v,
            CountCmp::Gte(v) => x >= v,
            CountCmp::Lt(v) => x < v,
            CountCmp::Lte(v) => x <= v,
            CountCmp::Eq(v) => x == v,
            CountCmp::Neq(v) => x != v,
        }
    }
}

/// A parsed correlation rule.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
pub struct CorrelationRule {
    pub id: Option<String>,
    pub name: Option<String>,
    pub title: String,
    pub level: Option<String>,
    pub tags: Vec<String>,
    pub kind: CorrelationType,
    /// Referenced rules by name or id.
    pub rules: Vec<String>,
    pub group_by: Vec<String>,
    pub timespan_secs: i64,
    /// ANDed comparisons; empty for temporal types means "all rules seen".
    pub condition: Vec<CountCmp>,
    pub field: Option<String>,
    /// alias -> (rule name -> field).
    pub aliases: BTreeMap<String, BTreeMap<String, String>>,
    pub generate: bool,
}

/// Parses `10m`, `1h`, `30s`, `2d` (also `1w`, `1M`, `1y`).
pub fn parse_timespan(s: &str) -> Option<i64> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()].trim().parse().ok()?;
    let mul = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 604_800,
        'M' => 2_592_000,
        'y' => 31_536_000,
        _ => return None,
    };
    Some(n * mul)
}

fn cerr(rule: &str, message: impl Into<String>) -> Error {
    Error::Rule {
        rule: rule.to_string(),
        message: message.into(),
    }
}

/// Builds a correlation rule from a YAML document's mapping.
pub fn parse_correlation(obj: &Map<String, Value>, label: &str) -> Result<CorrelationRule> {
    let c = obj
        .get("correlation")
        .and_then(Value::as_object)
        .ok_or_else(|| cerr(label, "correlation is not a mapping"))?;
    let kind = match c.get("type").and_then(Value::as_str) {
        Some("event_count") => CorrelationType::EventCount,
        Some("value_count") => CorrelationType::ValueCount,
        Some("temporal") => CorrelationType::Temporal,
        Some("temporal_ordered") => CorrelationType::TemporalOrdered,
        Some("value_sum") => CorrelationType::ValueSum,
        Some("value_avg") => CorrelationType::ValueAvg,
        Some("value_percentile") => CorrelationType::ValuePercentile,
        other => {
            return Err(Error::Unsupported {
                rule: label.to_string(),
                message: format!("correlation type {other:?}"),
            });
        }
    };
    let list = |k: &str| -> Vec<String> {
        match c.get(k) {
            Some(Value::Array(a)) => a.iter().filter_map(|x| str_of(Some(x))).collect(),
            Some(v) => str_of(Some(v)).into_iter().collect(),
            None => Vec::new(),
        }
    };
    let rules = list("rules");
    if rules.is_empty() {
        return Err(cerr(label, "correlation references no rules"));
    }
    let timespan_secs = c
        .get("timespan")
        .or_else(|| c.get("timeframe"))
        .and_then(|v| str_of(Some(v)))
        .and_then(|s| parse_timespan(&s))
        .ok_or_else(|| cerr(label, "correlation needs a timespan like 5m"))?;
    let mut condition = Vec::new();
    let mut field = None;
    if let Some(cond) = c.get("condition").and_then(Value::as_object) {
        for (k, v) in cond {
            if k == "field" {
                field = str_of(Some(v));
                continue;
            }
            let n = v
                .as_f64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| cerr(label, format!("condition {k} needs a number")))?;
            condition.push(match k.as_str() {
                "gt" => CountCmp::Gt(n),
                "gte" => CountCmp::Gte(n),
                "lt" => CountCmp::Lt(n),
                "lte" => CountCmp::Lte(n),
                "eq" => CountCmp::Eq(n),
                "neq" => CountCmp::Neq(n),
                other => return Err(cerr(label, format!("unknown condition operator {other}"))),
            });
        }
    }
    let temporal = matches!(
        kind,
        CorrelationType::Temporal | CorrelationType::TemporalOrdered
    );
    if condition.is_empty() && !temporal {
        return Err(cerr(label, "correlation needs a condition"));
    }
    let needs_field = matches!(
        kind,
        CorrelationType::ValueCount
            | CorrelationType::ValueSum
            | CorrelationType::ValueAvg
            | CorrelationType::ValuePercentile
    );
    if needs_field && field.is_none() {
        return Err(cerr(label, "condition needs a field"));
    }
    let mut aliases = BTreeMap::new();
    if let Some(a) = c.get("aliases").and_then(Value::as_object) {
        for (alias, per_rule) in a {
            let m: BTreeMap<String, String> = per_rule
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter_map(|(r, f)| str_of(Some(f)).map(|f| (r.clone(), f)))
                        .collect()
                })
                .unwrap_or_default();
            aliases.insert(alias.clone(), m);
        }
    }
    Ok(CorrelationRule {
        id: str_of(obj.get("id")),
        name: str_of(obj.get("name")),
        title: str_of(obj.get("title")).unwrap_or_default(),
        level: str_of(obj.get("level")),
        tags: obj
            .get("tags")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|t| str_of(Some(t))).collect())
            .unwrap_or_default(),
        kind,
        rules,
        group_by: list("group-by"),
        timespan_secs,
        condition,
        field,
        aliases,
        generate: c.get("generate").and_then(Value::as_bool).unwrap_or(false),
    })
}

/// One hit of a referenced rule inside a window.
#[derive(Debug, Clone)]
struct Hit {
    ts: i64,
    rule: usize,
    value: Option<String>,
}

/// Streaming state of all correlations.
#[derive(Debug, Default)]
pub struct CorrelationState {
    windows: Vec<HashMap<Vec<String>, VecDeque<Hit>>>,
    /// Per correlation and group: the end of the window that last fired. Hits up to then
    /// belong to that window, which has had its alert.
    fired: Vec<HashMap<Vec<String>, i64>>,
}

/// What a caller supplies about one hit: the names that identify the rule that matched
/// (name, id, title), the event's time, and a field lookup.
pub struct HitInput<'a> {
    pub names: &'a [&'a str],
    pub ts: i64,
    pub field: &'a dyn Fn(&str) -> Option<String>,
}

impl CorrelationRule {
    /// Which position in `rules` a hit with these identifiers fills.
    pub fn slot(&self, names: &[&str]) -> Option<usize> {
        self.rules.iter().position(|r| names.contains(&r.as_str()))
    }

    fn group_key(&self, rule_name: &str, field: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
        self.group_by
            .iter()
            .map(|g| {
                let f = self
                    .aliases
                    .get(g)
                    .and_then(|m| m.get(rule_name))
                    .map(String::as_str)
                    .unwrap_or(g);
                field(f).unwrap_or_default()
            })
            .collect()
    }

    fn holds(&self, x: f64) -> bool {
        self.condition.iter().all(|c| c.holds(x))
    }

    fn evaluate(&self, hits: &VecDeque<Hit>, current: Option<&str>) -> bool {
        match self.kind {
            CorrelationType::EventCount => self.holds(hits.len() as f64),
            CorrelationType::ValueCount => {
                let distinct: HashSet<&str> =
                    hits.iter().filter_map(|h| h.value.as_deref()).collect();
                self.holds(distinct.len() as f64)
            }
            CorrelationType::Temporal => {
                let seen: HashSet<usize> = hits.iter().map(|h| h.rule).collect();
                if self.condition.is_empty() {
                    seen.len() == self.rules.len()
                } else {
                    self.holds(seen.len() as f64)
                }
            }
            CorrelationType::TemporalOrdered => {
                let mut next = 0;
                for h in hits {
                    if h.rule == next {
                        next += 1;
                        if next == self.rules.len() {
                            return true;
                        }
                    }
                }
                false
            }
            CorrelationType::ValueSum | CorrelationType::ValueAvg => {
                let nums: Vec<f64> = hits
                    .iter()
                    .filter_map(|h| h.value.as_deref().and_then(crate::event::parse_number))
                    .collect();
                if nums.is_empty() {
                    return false;
                }
                let sum: f64 = nums.iter().sum();
                let x = if self.kind == CorrelationType::ValueSum {
                    sum
                } else {
                    sum / nums.len() as f64
                };
                self.holds(x)
            }
            CorrelationType::ValuePercentile => {
                // share (in percent) of the window's events whose value equals the current one
                let Some(cur) = current else { return false };
                let same = hits
                    .iter()
                    .filter(|h| h.value.as_deref() == Some(cur))
                    .count();
                self.holds(100.0 * same as f64 / hits.len() as f64)
            }
        }
    }
}

impl CorrelationState {
    /// Feeds one hit to correlation `ci`; returns true when the correlation fires.
    pub fn feed(&mut self, ci: usize, corr: &CorrelationRule, hit: &HitInput<'_>) -> bool {
        let Some(slot) = corr.slot(hit.names) else {
            return false;
        };
        if self.windows.len() <= ci {
            self.windows.resize_with(ci + 1, HashMap::new);
            self.fired.resize_with(ci + 1, HashMap::new);
        }
        let rule_name = &corr.rules[slot];
        let key = corr.group_key(rule_name, hit.field);
        // one alert per group and window: the hits of a window that fired raise nothing more
        if let Some(&end) = self.fired[ci].get(&key) {
            if hit.ts <= end {
                return false;
            }
            self.fired[ci].remove(&key);
        }
        let value = corr.field.as_deref().and_then(|f| (hit.field)(f));
        let win = self.windows[ci].entry(key.clone()).or_default();
        win.push_back(Hit {
            ts: hit.ts,
            rule: slot,
            value: value.clone(),
        });
        while win
            .front()
            .is_some_and(|h| hit.ts - h.ts > corr.timespan_secs)
        {
            win.pop_front();
        }
        let fired = corr.evaluate(win, value.as_deref());
        if fired {
            let start = win.front().map_or(hit.ts, |h| h.ts);
            self.fired[ci].insert(key.clone(), start + corr.timespan_secs);
            self.windows[ci].remove(&key);
        }
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corr(yaml: &str) -> CorrelationRule {
        let docs = crate::rule::parse_yaml(yaml, "t").expect("yaml");
        match docs.into_iter().next() {
            Some(crate::rule::Document::Correlation(c)) => *c,
            other => panic!("not a correlation: {other:?}"),
        }
    }

    fn feed(
        st: &mut CorrelationState,
        c: &CorrelationRule,
        rule: &str,
        ts: i64,
        fields: &[(&str, &str)],
    ) -> bool {
        let f = |n: &str| {
            fields
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        };
        st.feed(
            0,
            c,
            &HitInput {
                names: &[rule],
                ts,
                field: &f,
            },
        )
    }

    #[test]
    fn event_count_fires_once_per_burst_and_respects_timespan() {
        let c = corr(
            "title: t\ncorrelation:\n  type: event_count\n  rules: [a]\n  group-by: [User]\n  timespan: 10s\n  condition: {gte: 3}\n",
        );
        let mut st = CorrelationState::default();
        assert!(!feed(&mut st, &c, "a", 0, &[("User", "u")]));
        assert!(!feed(&mut st, &c, "a", 1, &[("User", "v")]));
        assert!(
            !feed(&mut st, &c, "a", 20, &[("User", "u")]),
            "first hit expired"
        );
        assert!(!feed(&mut st, &c, "a", 21, &[("User", "u")]));
        assert!(feed(&mut st, &c, "a", 22, &[("User", "u")]));
        assert!(
            !feed(&mut st, &c, "a", 23, &[("User", "u")]),
            "window cleared after firing"
        );
    }

    /// A burst of hits far past the threshold within one window raises one alert per group
    /// (not one per later hit); the next window raises its own.
    #[test]
    fn event_count_fires_once_per_group_and_window() {
        let c = corr(
            "title: t\ncorrelation:\n  type: event_count\n  rules: [a]\n  group-by: [User]\n  timespan: 3m\n  condition: {gte: 5}\n",
        );
        let mut st = CorrelationState::default();
        let mut alerts = 0;
        // 711 failed logons of one user within 3 minutes, interleaved with 3 of another
        for i in 0..711 {
            alerts += usize::from(feed(&mut st, &c, "a", i / 4, &[("User", "u")]));
            if i % 200 == 0 {
                alerts += usize::from(feed(&mut st, &c, "a", i / 4, &[("User", "v")]));
            }
        }
        assert_eq!(alerts, 1, "one alert for the burst of u, none for v");
        // u again, well after the window: a new window, a new alert
        for t in 1000..1010 {
            alerts += usize::from(feed(&mut st, &c, "a", t, &[("User", "u")]));
        }
        assert_eq!(alerts, 2);
    }

    #[test]
    fn value_count_counts_distinct() {
        let c = corr(
            "title: t\ncorrelation:\n  type: value_count\n  rules: [a]\n  timespan: 1m\n  condition: {gt: 2, field: U}\n",
        );
        let mut st = CorrelationState::default();
        assert!(!feed(&mut st, &c, "a", 0, &[("U", "x")]));
        assert!(!feed(&mut st, &c, "a", 1, &[("U", "x")]));
        assert!(!feed(&mut st, &c, "a", 2, &[("U", "y")]));
        assert!(feed(&mut st, &c, "a", 3, &[("U", "z")]));
    }

    #[test]
    fn temporal_ordered_needs_order() {
        let c = corr(
            "title: t\ncorrelation:\n  type: temporal_ordered\n  rules: [a, b]\n  timespan: 1m\n",
        );
        let mut st = CorrelationState::default();
        assert!(!feed(&mut st, &c, "b", 0, &[]));
        assert!(!feed(&mut st, &c, "a", 1, &[]));
        assert!(feed(&mut st, &c, "b", 2, &[]));
        let t = corr("title: t\ncorrelation:\n  type: temporal\n  rules: [a, b]\n  timespan: 1m\n");
        let mut st = CorrelationState::default();
        assert!(!feed(&mut st, &t, "b", 0, &[]));
        assert!(feed(&mut st, &t, "a", 1, &[]));
    }

    #[test]
    fn value_sum_avg_and_aliases() {
        let s = corr(
            "title: t\ncorrelation:\n  type: value_sum\n  rules: [a]\n  timespan: 1h\n  condition: {gte: 100, field: bytes}\n",
        );
        let mut st = CorrelationState::default();
        assert!(!feed(&mut st, &s, "a", 0, &[("bytes", "60")]));
        assert!(feed(&mut st, &s, "a", 1, &[("bytes", "40")]));
        let a = corr(
            "title: t\ncorrelation:\n  type: value_avg\n  rules: [a]\n  timespan: 1h\n  condition: {gt: 10, field: n}\n",
        );
        let mut st = CorrelationState::default();
        assert!(!feed(&mut st, &a, "a", 0, &[("n", "5")]));
        assert!(feed(&mut st, &a, "a", 1, &[("n", "30")]));
        let al = corr(
            "title: t\ncorrelation:\n  type: temporal\n  rules: [x, y]\n  group-by: [ip]\n  timespan: 10s\n  aliases:\n    ip: {x: src, y: dst}\n",
        );
        let mut st = CorrelationState::default();
        assert!(!feed(&mut st, &al, "x", 0, &[("src", "1.1.1.1")]));
        assert!(!feed(&mut st, &al, "y", 1, &[("dst", "2.2.2.2")]));
        assert!(feed(&mut st, &al, "y", 2, &[("dst", "1.1.1.1")]));
    }

    #[test]
    fn timespans() {
        assert_eq!(parse_timespan("90m"), Some(5400));
        assert_eq!(parse_timespan("1d"), Some(86400));
        assert_eq!(parse_timespan("x"), None);
    }
}
