//! The engine: events in, alerts out. Rules are bucketed by logsource so each event tests
//! a logsource condition once and only runs the rules of the buckets it belongs to.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;
use serde_json::Value;

use crate::correlation::{CorrelationState, HitInput};
use crate::event::{Event, RawField};
use crate::flat::FieldIndex;
use crate::flat_view::FlatPaths;
use crate::mapping::{MappedEvent, Mappings};
use crate::prefilter::{BucketFilter, Marks};
use crate::rule::LogSource;
use crate::ruleset::{CompiledRule, LoadedCorrelation, RuleMeta, RuleSet};
use crate::source::{SourceLs, applies};

/// A detection alert, serialised exactly as `ctem detect --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub rule_id: String,
    pub title: String,
    pub level: String,
    /// `correlation` for an alert of a correlation rule; left out for one event's.
    #[serde(skip_serializing_if = "ctem_model::AlertKind::is_event")]
    pub kind: ctem_model::AlertKind,
    pub tags: Vec<String>,
    pub timestamp: Option<String>,
    pub source: Option<String>,
    pub record: Option<u64>,
    pub event: Value,
}

/// One decoded event with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// File name or stream label.
    pub source: Option<String>,
    /// Record number in the source (EVTX record id, line number).
    pub record: Option<u64>,
    pub event: Value,
}

impl Record {
    /// A record without origin.
    pub fn new(event: Value) -> Self {
        Record {
            source: None,
            record: None,
            event,
        }
    }
}

/// Anything that turns a record into alerts: the Sigma engine, source-raised alerts, and
/// (later) an IOC matcher. Detectors are `Sync` so the engine can run them on many threads.
pub trait Detector: Send + Sync {
    /// A short snake_case name (`sigma`, `source_alerts`, `ioc`).
    fn name(&self) -> &str;
    /// Appends the alerts `record` raises.
    fn detect(&self, record: &Record, out: &mut Vec<Alert>);
    /// Whether [`Detector::detect`] may raise anything on an event like `event` (its raw
    /// top-level fields), asked before the fast JSON-lines path parses the line into a
    /// `Value` for it. `true` when unsure, the default.
    fn wants(&self, event: &dyn Event) -> bool {
        let _ = event;
        true
    }
}

/// The Sigma engine plus any extra detectors.
pub struct Engine {
    rules: Vec<CompiledRule>,
    mappings: Mappings,
    /// (logsource entry or none, rule indexes)
    buckets: Vec<(Option<usize>, Vec<usize>)>,
    /// The logsource of each bucket's rules (the entry's for a bucket with one).
    bucket_ls: Vec<LogSource>,
    /// Per bucket: the literal prefilter that picks the rules worth evaluating; after them,
    /// the filters of `groups`.
    filters: Vec<BucketFilter>,
    /// Buckets whose logsources hold on the same events (largest first), and the filter of
    /// all their rules (see [`overlapping_buckets`]).
    groups: Vec<(Vec<usize>, usize)>,
    /// The fields the logsource conditions and the routing table read, with their numbers
    /// (see [`Event::field_numbered`]): the key of the per-thread bucket cache.
    ls_fields: Vec<(String, Option<u32>)>,
    /// The fields of the logsource table (their values are in every key).
    table_keys: Vec<usize>,
    /// What routing reads, entry by entry (see [`crate::source::Sources::plan`]).
    route_plan: Vec<RouteStep>,
    /// Every field name or path a rule or mapping reads (the fast JSON-lines path).
    pub(crate) index: FieldIndex,
    /// Every rule field's paths in the fallback (flat) shape, as slots of `index`.
    pub(crate) flat_paths: FlatPaths,
    /// Rules that only feed correlations (`generate: false`).
    silent: Vec<bool>,
    /// For each rule, the correlations that reference it.
    corr_of_rule: Vec<Vec<usize>>,
    correlations: Vec<LoadedCorrelation>,
    /// For each correlation, the correlations that reference it (chaining).
    corr_of_corr: Vec<Vec<usize>>,
    state: Mutex<(CorrelationState, i64)>,
    detectors: Vec<Box<dyn Detector>>,
}

fn names_of(m: &RuleMeta) -> Vec<&str> {
    let mut v = vec![m.id.as_str(), m.title.as_str()];
    if let Some(n) = &m.name {
        v.push(n);
    }
    v
}

impl Engine {
    /// Builds an engine over compiled rules and field mappings.
    pub fn new(ruleset: RuleSet, mut mappings: Mappings) -> Self {
        let RuleSet {
            rules,
            correlations,
            ..
        } = ruleset;
        let mut names: Vec<String> = rules
            .iter()
            .flat_map(|r| r.detection.field_names())
            .collect();
        // the fields the logsource table and the routing table read: the key of the
        // per-thread bucket cache
        let mut ls_fields: Vec<String> = mappings
            .logsources
            .iter()
            .flat_map(|e| e.when.iter().flatten())
            .filter_map(|f| f.field.clone())
            .collect();
        ls_fields.sort_unstable();
        ls_fields.dedup();
        let table_keys: Vec<usize> = (0..ls_fields.len()).collect();
        let mut field_no = |f: &String| match ls_fields.iter().position(|x| x == f) {
            Some(i) => i,
            None => {
                ls_fields.push(f.clone());
                ls_fields.len() - 1
            }
        };
        let route_plan: Vec<RouteStep> = mappings
            .sources
            .plan()
            .iter()
            .map(|(present, values, decides)| RouteStep {
                present: present.iter().map(&mut field_no).collect(),
                values: values.iter().map(&mut field_no).collect(),
                decides: *decides,
            })
            .collect();
        names.extend(ls_fields.iter().cloned());
        names.sort_unstable();
        names.dedup();
        mappings.prepare(names.iter().map(String::as_str));
        let index = FieldIndex::new(
            mappings
                .all_paths(names.iter().map(String::as_str))
                .iter()
                .map(String::as_str),
        );
        let flat_paths = match mappings.shapes.last() {
            Some(shape) => FlatPaths::new(shape, &index, names.iter().map(String::as_str)),
            None => FlatPaths::default(),
        };
        // a bucket per logsource-table entry, and per logsource of the rules without one
        let mut by_ls: HashMap<(Option<usize>, LogSource), Vec<usize>> = HashMap::new();
        for (i, r) in rules.iter().enumerate() {
            let key = match mappings.logsource_index(&r.logsource) {
                Some(l) => (Some(l), mappings.logsources[l].logsource.clone()),
                None => (None, r.logsource.clone()),
            };
            by_ls.entry(key).or_default().push(i);
        }
        let mut keyed: Vec<_> = by_ls.into_iter().collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        let bucket_ls: Vec<LogSource> = keyed.iter().map(|((_, ls), _)| ls.clone()).collect();
        let buckets: Vec<(Option<usize>, Vec<usize>)> =
            keyed.into_iter().map(|((l, _), idx)| (l, idx)).collect();
        let mut caches = 0;
        let mut filters = buckets
            .iter()
            .map(|(_, idx)| BucketFilter::new(&rules, idx, &|n| flat_paths.id(n), &mut caches))
            .collect::<Vec<_>>();
        // buckets whose logsources hold on the same events get one filter more, over all
        // their rules, used in their place: a field of both is looked up once
        let mut groups = Vec::new();
        // the buckets without a table entry that a Windows event (services and categories
        // left to the table) runs all at once: one filter over all of them, as before routing
        // split them by logsource
        let windows = SourceLs {
            entry: Some("windows".into()),
            product: Some("windows".into()),
            services: None,
            categories: None,
        };
        let untabled: Vec<usize> = (0..buckets.len())
            .filter(|&b| buckets[b].0.is_none() && applies(&bucket_ls[b], &windows))
            .collect();
        let mut merged = overlapping_buckets(&mappings, &buckets);
        if untabled.len() >= 2 {
            merged.push(untabled);
        }
        for g in merged {
            let mut idx: Vec<usize> = g.iter().flat_map(|&b| buckets[b].1.clone()).collect();
            idx.sort_unstable();
            filters.push(BucketFilter::new(
                &rules,
                &idx,
                &|n| flat_paths.id(n),
                &mut caches,
            ));
            groups.push((g, filters.len() - 1));
        }
        groups.sort_by_key(|(g, _)| std::cmp::Reverse(g.len()));
        let refs = |names: &[&str]| -> Vec<usize> {
            correlations
                .iter()
                .enumerate()
                .filter(|(_, c)| c.rule.slot(names).is_some())
                .map(|(i, _)| i)
                .collect()
        };
        let corr_of_rule: Vec<Vec<usize>> =
            rules.iter().map(|r| refs(&names_of(&r.meta))).collect();
        let corr_of_corr: Vec<Vec<usize>> = correlations
            .iter()
            .map(|c| refs(&names_of(&c.meta)))
            .collect();
        let silent = corr_of_rule
            .iter()
            .map(|cs| !cs.is_empty() && cs.iter().all(|&c| !correlations[c].rule.generate))
            .collect();
        Engine {
            rules,
            mappings,
            buckets,
            bucket_ls,
            filters,
            groups,
            ls_fields: ls_fields
                .into_iter()
                .map(|f| {
                    let id = flat_paths.id(&f);
                    (f, id)
                })
                .collect(),
            table_keys,
            route_plan,
            index,
            flat_paths,
            silent,
            corr_of_rule,
            correlations,
            corr_of_corr,
            state: Mutex::new((CorrelationState::default(), 0)),
            detectors: Vec::new(),
        }
    }

    /// Adds a detector that runs beside the Sigma rules (source alerts, IOC matching).
    pub fn add_detector(&mut self, d: Box<dyn Detector>) {
        self.detectors.push(d);
    }

    /// Forgets every correlation window, as if no event had been seen (runs over inputs that
    /// must not correlate with each other).
    pub fn reset_correlations(&self) {
        if let Ok(mut g) = self.state.lock() {
            *g = (CorrelationState::default(), 0);
        }
    }

    /// The compiled rules.
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// The interned field names the lazy line scanner decodes (for benchmarks of
    /// [`crate::flat::FlatEvent`] alone).
    pub fn field_index(&self) -> &FieldIndex {
        &self.index
    }

    /// The mappings in use.
    pub fn mappings(&self) -> &Mappings {
        &self.mappings
    }

    /// Indexes of the rules whose detection matches the event (any shape, any `Event`).
    pub fn matching_rules<E: Event + ?Sized>(&self, ev: &E) -> Vec<usize> {
        let mut out = Vec::new();
        self.match_view(&self.mappings.view(ev), &mut Scratch::new(self), &mut out);
        out
    }

    /// Indexes of the rules whose logsource holds for the event, whatever their detection
    /// says: the rules a source feeds (`ctem pilot`). `file`: its file name.
    pub fn rules_for<E: Event + ?Sized>(&self, ev: &E, file: Option<&str>) -> Vec<usize> {
        let view = self.mappings.view(ev);
        let src = self.mappings.sources.classify(&view, file);
        let mut out = Vec::new();
        for (b, (_, idx)) in self.buckets.iter().enumerate() {
            if self.bucket_applies(b, &src, &view) {
                out.extend(idx.iter().copied());
            }
        }
        out.sort_unstable();
        out
    }

    /// The reference path without prefilter or cache: every rule of every bucket whose
    /// logsource holds is evaluated. For tests and benchmarks; same result as
    /// [`Engine::matching_rules`].
    pub fn matching_rules_unfiltered<E: Event + ?Sized>(&self, ev: &E) -> Vec<usize> {
        let view = self.mappings.view(ev);
        let src = self.mappings.sources.classify(&view, None);
        let mut out = Vec::new();
        for (b, (_, idx)) in self.buckets.iter().enumerate() {
            if !self.bucket_applies(b, &src, &view) {
                continue;
            }
            out.extend(
                idx.iter()
                    .copied()
                    .filter(|&i| self.rules[i].detection.matches(&view)),
            );
        }
        out.sort_unstable();
        out
    }

    /// Whether the rules of bucket `b` may run on an event of logsource `src`: the rule
    /// logsource applies to the source, and the logsource-table condition holds.
    /// A source that names its categories (ECS, OCSF process starts) needs no table test;
    /// one that leaves them open (Windows by `Channel`) is tested by the table.
    fn bucket_applies<E: Event + ?Sized>(&self, b: usize, src: &SourceLs, view: &E) -> bool {
        applies(&self.bucket_ls[b], src)
            && match self.buckets[b].0 {
                None => true,
                Some(_) if src.categories.is_some() => true,
                Some(l) => self.mappings.logsources[l].holds(view),
            }
    }

    /// The logsource of an event seen through its shape (`file`: its file name).
    pub fn source_of<E: Event + ?Sized>(&self, ev: &E, file: Option<&str>) -> SourceLs {
        let view = self.mappings.view(ev);
        self.mappings.sources.classify(&view, file)
    }

    /// Appends field `i` of `ls_fields` to a cache key: its value, or (`value` false) only
    /// whether it is present. Returns whether it is present.
    fn push_key<E: Event + ?Sized>(
        &self,
        view: &E,
        i: usize,
        value: bool,
        key: &mut Vec<u8>,
    ) -> bool {
        use std::fmt::Write;
        let (f, id) = &self.ls_fields[i];
        match view.raw_numbered(*id, f) {
            RawField::Absent => {
                key.push(1);
                return false;
            }
            RawField::Text(_) | RawField::Int(_) if !value => key.push(5),
            RawField::Text(t) => {
                key.push(2);
                key.extend_from_slice(&(t.len() as u64).to_le_bytes());
                key.extend_from_slice(t);
            }
            RawField::Int(n) => {
                key.push(3);
                key.extend_from_slice(&n.to_le_bytes());
            }
            RawField::Unknown => match view.field(f) {
                None => {
                    key.push(1);
                    return false;
                }
                Some(_) if !value => key.push(5),
                Some(v) => {
                    let mut text = String::new();
                    let _ = write!(text, "{v:?}");
                    key.push(4);
                    key.extend_from_slice(&(text.len() as u64).to_le_bytes());
                    key.extend_from_slice(text.as_bytes());
                }
            },
        }
        true
    }

    /// The buckets whose logsource condition holds, cached per distinct logsource-field values.
    fn buckets_of<E: Event + ?Sized>(&self, view: &E, sc: &mut Scratch) -> usize {
        // the raw value where the view has it (no decoding, no formatting), tagged so that
        // no two kinds of key meet: the table's fields, then what routing reads up to the
        // first entry that decides (a Windows event: the presence of `Channel`)
        sc.key.clear();
        sc.key.extend_from_slice(sc.file_type.as_bytes());
        sc.key.push(0);
        for &i in &self.table_keys {
            self.push_key(view, i, true, &mut sc.key);
        }
        for step in &self.route_plan {
            if !step
                .present
                .iter()
                .all(|&i| self.push_key(view, i, false, &mut sc.key))
            {
                continue;
            }
            for &i in &step.values {
                self.push_key(view, i, true, &mut sc.key);
            }
            if step.decides {
                break;
            }
        }
        if let Some(&slot) = sc.ls_cache.get(sc.key.as_slice()) {
            return slot;
        }
        let file = (!sc.file_type.is_empty()).then_some(sc.file_type.as_str());
        let src = self.mappings.sources.classify(view, file);
        let list: Vec<usize> = (0..self.buckets.len())
            .filter(|&b| self.bucket_applies(b, &src, view))
            .collect();
        // a group of buckets all in the list is looked at through its one filter
        let mut list = list;
        for (g, f) in &self.groups {
            if g.iter().all(|b| list.contains(b)) {
                list.retain(|b| !g.contains(b));
                list.push(*f);
            }
        }
        if sc.ls_lists.len() >= 4096 {
            sc.ls_cache.clear();
            sc.ls_lists.clear();
            sc.ls_unknown.clear();
            sc.ls_seen.clear();
        }
        sc.ls_lists.push(list);
        sc.ls_unknown.push(src.is_unknown());
        let seen = sc
            .tally
            .slot(crate::seen::rows_of(&self.mappings, &src, view));
        sc.ls_seen.push(seen);
        let slot = sc.ls_lists.len() - 1;
        sc.ls_cache.insert(sc.key.clone(), slot);
        slot
    }

    /// Appends (sorted) the rules matching an event already seen through its shape.
    pub(crate) fn match_view<E: Event + ?Sized>(
        &self,
        view: &E,
        sc: &mut Scratch,
        out: &mut Vec<usize>,
    ) {
        let slot = self.buckets_of(view, sc);
        sc.unknown += u64::from(sc.ls_unknown[slot]);
        sc.tally.count(sc.ls_seen[slot]);
        let Scratch {
            marks, ls_lists, ..
        } = sc;
        marks.start();
        for &b in &ls_lists[slot] {
            self.filters[b].candidates(view, marks);
        }
        marks.cand.sort_unstable();
        out.extend(
            marks
                .cand
                .iter()
                .copied()
                .filter(|&i| self.rules[i].detection.matches(view)),
        );
    }

    /// The logsources one record feeds (what a run tallies in [`RunStats::logsources`]), for
    /// callers that match record by record (`--follow`, the server's event ingest).
    pub fn logsources_of(&self, rec: &Record) -> Vec<crate::source::SeenLogsource> {
        let view = self.mappings.view(&rec.event);
        let file = rec
            .source
            .as_deref()
            .and_then(|f| self.mappings.sources.file_type(Some(f)));
        let src = self.mappings.sources.classify(&view, file);
        crate::seen::rows_of(&self.mappings, &src, &view)
    }

    /// All alerts for one JSON event (no origin).
    pub fn process(&self, event: &Value) -> Vec<Alert> {
        self.process_record(&Record::new(event.clone()))
    }

    /// All alerts for one record: Sigma rules, correlations, then extra detectors.
    pub fn process_record(&self, rec: &Record) -> Vec<Alert> {
        let mut sc = Scratch::new(self);
        sc.set_file(self, rec.source.as_deref());
        let mut hits = Vec::new();
        self.match_view(&self.mappings.view(&rec.event), &mut sc, &mut hits);
        let mut out = Vec::new();
        self.emit(rec, &hits, &mut out);
        for d in &self.detectors {
            d.detect(rec, &mut out);
        }
        out
    }

    fn alert(
        &self,
        meta: &RuleMeta,
        kind: ctem_model::AlertKind,
        rec: &Record,
        view: &MappedEvent<'_, Value>,
    ) -> Alert {
        Alert {
            rule_id: meta.id.clone(),
            title: meta.title.clone(),
            level: meta.level.clone(),
            kind,
            tags: meta.tags.clone(),
            timestamp: view.first_text(&view.shape.timestamp),
            source: rec.source.clone(),
            record: rec.record.or_else(|| {
                view.first_text(&view.shape.record)
                    .and_then(|t| t.parse().ok())
            }),
            event: rec.event.clone(),
        }
    }

    /// Turns rule hits into alerts and feeds correlations (sequential part).
    pub(crate) fn emit(&self, rec: &Record, hits: &[usize], out: &mut Vec<Alert>) {
        if hits.is_empty() {
            return;
        }
        let view = self.mappings.view(&rec.event);
        for &i in hits {
            if !self.silent[i] {
                out.push(self.alert(
                    &self.rules[i].meta,
                    ctem_model::AlertKind::Event,
                    rec,
                    &view,
                ));
            }
        }
        if self.correlations.is_empty() {
            return;
        }
        let ts = view
            .first_text(&view.shape.timestamp)
            .and_then(|t| epoch_secs(&t));
        let Ok(mut guard) = self.state.lock() else {
            return;
        };
        let (state, last) = &mut *guard;
        let ts = ts.unwrap_or(*last);
        *last = ts;
        let field = |n: &str| {
            view.field(n)
                .and_then(|v| v.as_text().map(|t| t.into_owned()))
        };
        let mut queue: Vec<(Vec<&str>, &[usize])> = hits
            .iter()
            .map(|&i| {
                (
                    names_of(&self.rules[i].meta),
                    self.corr_of_rule[i].as_slice(),
                )
            })
            .collect();
        let mut depth = 0;
        while let Some((names, corrs)) = queue.pop() {
            for &ci in corrs {
                let c = &self.correlations[ci];
                let input = HitInput {
                    names: &names,
                    ts,
                    field: &field,
                };
                if state.feed(ci, &c.rule, &input) {
                    out.push(self.alert(&c.meta, ctem_model::AlertKind::Correlation, rec, &view));
                    depth += 1;
                    if depth < 64 {
                        queue.push((names_of(&c.meta), self.corr_of_corr[ci].as_slice()));
                    }
                }
            }
        }
    }

    /// Runs over a stream of records on `threads` threads, calling `sink` with every alert in
    /// input order. Matching runs in parallel; correlation state is fed in order.
    pub fn run<I, F>(&self, records: I, threads: usize, mut sink: F) -> RunStats
    where
        I: IntoIterator<Item = Record>,
        F: FnMut(Alert),
    {
        let threads = threads.max(1);
        let chunk = 256 * threads;
        let mut stats = RunStats::default();
        let mut it = records.into_iter();
        loop {
            let batch: Vec<Record> = it.by_ref().take(chunk).collect();
            if batch.is_empty() {
                break;
            }
            stats.events += batch.len() as u64;
            let per = batch.len().div_ceil(threads);
            let results: Vec<Vec<(Vec<usize>, Vec<Alert>)>> = if threads == 1 {
                let mut sc = Scratch::new(self);
                let r = batch.iter().map(|r| self.match_one(r, &mut sc)).collect();
                stats.unknown_source += sc.unknown;
                sc.tally.drain_into(&mut stats.logsources);
                vec![r]
            } else {
                std::thread::scope(|s| {
                    let handles: Vec<_> = batch
                        .chunks(per)
                        .map(|part| {
                            s.spawn(move || {
                                let mut sc = Scratch::new(self);
                                let r = part
                                    .iter()
                                    .map(|r| self.match_one(r, &mut sc))
                                    .collect::<Vec<_>>();
                                let mut seen = crate::seen::SeenCounts::new();
                                sc.tally.drain_into(&mut seen);
                                (r, sc.unknown, seen)
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| {
                            let (r, unknown, seen) = h.join().unwrap_or_default();
                            stats.unknown_source += unknown;
                            crate::seen::merge(&mut stats.logsources, seen);
                            r
                        })
                        .collect()
                })
            };
            for (rec, (hits, extra)) in batch.iter().zip(results.into_iter().flatten()) {
                let mut out = Vec::new();
                self.emit(rec, &hits, &mut out);
                out.extend(extra);
                stats.alerts += out.len() as u64;
                out.into_iter().for_each(&mut sink);
            }
        }
        stats
    }

    fn match_one(&self, r: &Record, sc: &mut Scratch) -> (Vec<usize>, Vec<Alert>) {
        let mut extra = Vec::new();
        for d in &self.detectors {
            d.detect(r, &mut extra);
        }
        let mut hits = Vec::new();
        sc.set_file(self, r.source.as_deref());
        self.match_view(&self.mappings.view(&r.event), sc, &mut hits);
        (hits, extra)
    }

    /// Runs the extra detectors on one record.
    pub(crate) fn run_detectors(&self, rec: &Record, out: &mut Vec<Alert>) {
        for d in &self.detectors {
            d.detect(rec, out);
        }
    }

    /// True when extra detectors are attached (they need every event as a `Value`).
    pub(crate) fn has_detectors(&self) -> bool {
        !self.detectors.is_empty()
    }

    /// True when an extra detector may raise something on `event` (see [`Detector::wants`]).
    pub(crate) fn detectors_want(&self, event: &dyn Event) -> bool {
        self.detectors.iter().any(|d| d.wants(event))
    }
}

impl Detector for Engine {
    fn name(&self) -> &str {
        "sigma"
    }
    fn detect(&self, record: &Record, out: &mut Vec<Alert>) {
        out.extend(self.process_record(record));
    }
}

/// The groups of buckets (two or more, indexes in order) whose logsources hold on the same
/// events: among logsources that test the same fields with plain values (see
/// [`crate::mapping::LogSourceEntry::atoms`]), those that hold on each combination of values.
/// A Sysmon event 13 is both `registry_set` and `registry_event`, event 12 `registry_add`,
/// `registry_delete` and `registry_event`: their buckets' filters would each look up and
/// scan `TargetObject`.
fn overlapping_buckets(
    mappings: &Mappings,
    buckets: &[(Option<usize>, Vec<usize>)],
) -> Vec<Vec<usize>> {
    let with_atoms: Vec<(usize, usize, &crate::mapping::Atoms)> = buckets
        .iter()
        .enumerate()
        .filter_map(|(b, (ls, _))| {
            let l = (*ls)?;
            Some((b, l, mappings.logsources[l].atoms.as_ref()?))
        })
        .collect();
    let mut groups: std::collections::BTreeSet<Vec<usize>> = Default::default();
    for (_, _, (fields, atoms)) in &with_atoms {
        for atom in atoms {
            let view = mappings.view(atom);
            let holds: Vec<usize> = with_atoms
                .iter()
                .filter(|(_, l, (f, _))| f == fields && mappings.logsources[*l].holds(&view))
                .map(|(b, _, _)| *b)
                .collect();
            if holds.len() >= 2 {
                groups.insert(holds);
            }
        }
    }
    groups.into_iter().collect()
}

/// What routing reads of one table entry: fields that must be present, fields whose values
/// decide, and whether the entry decides once its fields are present (numbers in
/// `Engine::ls_fields`).
struct RouteStep {
    present: Vec<usize>,
    values: Vec<usize>,
    decides: bool,
}

/// Per-thread working memory of the matcher: prefilter marks, candidates, the bucket cache.
pub(crate) struct Scratch {
    marks: Marks,
    key: Vec<u8>,
    ls_cache: HashMap<Vec<u8>, usize, foldhash::fast::RandomState>,
    ls_lists: Vec<Vec<usize>>,
    /// Per entry of `ls_lists`: whether its events have an unknown logsource.
    ls_unknown: Vec<bool>,
    /// Per entry of `ls_lists`: its slot in `tally`.
    ls_seen: Vec<usize>,
    /// Events per seen logsource (see [`crate::seen`]).
    pub(crate) tally: crate::seen::Tally,
    /// Events matched whose logsource was unknown.
    pub(crate) unknown: u64,
    /// The file the events come from, and the log type its name ends with ("" for none).
    file: Option<String>,
    file_type: String,
}

impl Scratch {
    pub(crate) fn new(engine: &Engine) -> Self {
        Scratch {
            marks: Marks::new(engine.rules.len()),
            key: Vec::new(),
            ls_cache: HashMap::default(),
            ls_lists: Vec::new(),
            ls_unknown: Vec::new(),
            ls_seen: Vec::new(),
            tally: Default::default(),
            unknown: 0,
            file: None,
            file_type: String::new(),
        }
    }

    /// Sets the file name of the events that follow (its log type routes Zeek logs without
    /// `_path`); cheap when it does not change.
    pub(crate) fn set_file(&mut self, engine: &Engine, file: Option<&str>) {
        if self.file.as_deref() == file {
            return;
        }
        self.file = file.map(str::to_string);
        self.file_type = engine
            .mappings
            .sources
            .file_type(file)
            .unwrap_or_default()
            .to_string();
    }
}

/// Counts of a [`Engine::run`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunStats {
    pub events: u64,
    pub alerts: u64,
    /// Events whose logsource no entry of the routing table recognised (only rules that
    /// name no product and no service ran on them).
    pub unknown_source: u64,
    /// Events per logsource they fed (see [`crate::seen`]).
    #[serde(skip)]
    pub logsources: crate::seen::SeenCounts,
}

/// Seconds since the epoch of an RFC 3339 or `YYYY-MM-DD HH:MM:SS` timestamp, or epoch number.
pub fn epoch_secs(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(d.timestamp());
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(d) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Some(d.and_utc().timestamp());
        }
    }
    s.parse::<f64>().ok().map(|f| f as i64)
}
