//! The logsources detection saw: each event is tallied under the concrete logsources it fed
//! ([`SeenLogsource`]), decided once per distinct routing key (with the bucket cache), so
//! the tally costs one array index and one add per event.
//!
//! An event recognised by the routing table feeds its product with each service and category
//! the table names; when the table leaves the categories to the logsource table (Windows by
//! `Channel`), it also feeds every logsource-table entry that applies and holds on it
//! (`windows/sysmon`, `windows/*/process_creation`). Events of an unknown source feed none.
//! The store keeps the tally (`ctem detect --store`): it is what the `coverage.techniques`
//! KPI and the gap analysis read as "seen in the data".

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::event::Event;
use crate::mapping::Mappings;
use crate::source::{SeenLogsource, SourceLs, applies};

/// Event counts per seen logsource.
pub type SeenCounts = BTreeMap<SeenLogsource, u64>;

/// The concrete logsources an event of source `src`, seen as `view`, feeds.
pub(crate) fn rows_of<E: Event + ?Sized>(
    m: &Mappings,
    src: &SourceLs,
    view: &E,
) -> Vec<SeenLogsource> {
    if src.is_unknown() {
        return Vec::new();
    }
    let named = |v: &Option<Vec<String>>| -> Vec<Option<String>> {
        match v {
            Some(list) if !list.is_empty() => list.iter().cloned().map(Some).collect(),
            _ => vec![None],
        }
    };
    let mut rows = BTreeSet::new();
    for service in named(&src.services) {
        for category in named(&src.categories) {
            rows.insert(SeenLogsource {
                product: src.product.clone(),
                service: service.clone(),
                category,
            });
        }
    }
    if src.categories.is_none() {
        for e in &m.logsources {
            if applies(&e.logsource, src) && e.holds(view) {
                rows.insert(SeenLogsource {
                    product: e.logsource.product.clone().or_else(|| src.product.clone()),
                    service: e.logsource.service.clone(),
                    category: e.logsource.category.clone(),
                });
            }
        }
    }
    rows.into_iter().collect()
}

/// Per-thread tally: each distinct set of rows once, with its event count.
#[derive(Default)]
pub(crate) struct Tally {
    sets: Vec<(Vec<SeenLogsource>, u64)>,
    index: HashMap<Vec<SeenLogsource>, usize>,
}

impl Tally {
    /// The slot of a set of rows (added when new).
    pub(crate) fn slot(&mut self, rows: Vec<SeenLogsource>) -> usize {
        if let Some(&i) = self.index.get(&rows) {
            return i;
        }
        self.sets.push((rows.clone(), 0));
        self.index.insert(rows, self.sets.len() - 1);
        self.sets.len() - 1
    }

    pub(crate) fn count(&mut self, slot: usize) {
        self.sets[slot].1 += 1;
    }

    /// Adds the counts so far to `into` and starts again from zero.
    pub(crate) fn drain_into(&mut self, into: &mut SeenCounts) {
        for (rows, n) in &mut self.sets {
            if *n == 0 {
                continue;
            }
            for r in rows.iter() {
                *into.entry(r.clone()).or_default() += *n;
            }
            *n = 0;
        }
    }
}

/// Adds the counts of `from` to `into`.
pub fn merge(into: &mut SeenCounts, from: SeenCounts) {
    for (k, n) in from {
        *into.entry(k).or_default() += n;
    }
}
