//! The scoring of a pass: the inputs read once (assets with their effective context and
//! team, open services, details with their intelligence), then every exposure the backend
//! streams scored into a score row for the store and a compact [`Row`] for the tickets.
//!
//! Speed matters (a million exposures after an EPSS refresh): assets and details sit in
//! vectors indexed by their (dense) row id; threat intelligence is looked up once per
//! detail (a compact copy kept beside it, so scoring does not chase a pointer into a large
//! map per exposure); package strings are interned per reading thread so scoring allocates
//! only for new names; the maps use a fast non-cryptographic hash (the keys come from our own
//! store).

use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use ctem_model::ExposureStatus;
use ctem_model::context::ContextRules;
use ctem_model::intel::Enrichment;
use ctem_model::risk::{Decision, Priority};
use ctem_model::work::OwnershipRule;
use ctem_risk::remediation::needed_fix;
use ctem_risk::{NetworkZone, RiskModel, SlaConfig, ssvc};
use ctem_store::Error as StoreError;
use ctem_store::fx::{Fx, FxMap, FxSet};
use ctem_store::risk::{
    AssetReads, ExposureRisk, RiskPass, RiskRow, RiskScope, ScoreExposures, ScorePart,
};

use super::context::{IntelLookup, Prioritize};
use super::facts::{AssetFacts, CvssFacts, Facts, IntelFacts, risk_input, sla_target};
use crate::error::{Error, Result};

/// Row id -> position, a vector for the usual dense ids, a map for the rest.
#[derive(Default)]
pub(super) struct IdIndex {
    dense: Vec<u32>,
    sparse: FxMap<i64, u32>,
}

impl IdIndex {
    /// Ids below this go to the vector (4 bytes each).
    const DENSE_MAX: i64 = 1 << 23;

    pub(super) fn insert(&mut self, id: i64, pos: usize) {
        let pos = u32::try_from(pos).unwrap_or(u32::MAX);
        if (0..Self::DENSE_MAX).contains(&id) {
            let i = id as usize;
            if i >= self.dense.len() {
                self.dense.resize(i + 1, u32::MAX);
            }
            self.dense[i] = pos;
        } else {
            self.sparse.insert(id, pos);
        }
    }

    #[inline]
    pub(super) fn get(&self, id: i64) -> Option<usize> {
        let p = match usize::try_from(id).ok().and_then(|i| self.dense.get(i)) {
            Some(p) => *p,
            None => *self.sparse.get(&id)?,
        };
        (p != u32::MAX).then_some(p as usize)
    }
}

/// Interned strings: ids for names seen before, no allocation on a hit.
#[derive(Default)]
pub(super) struct Interner {
    ids: FxMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    pub(super) fn id(&mut self, s: &str) -> u32 {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.ids.insert(s.to_owned(), id);
        self.names.push(s.to_owned());
        id
    }

    /// The id of a name seen before.
    pub(super) fn find(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    pub(super) fn get(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", String::as_str)
    }
}

/// No string (an interned id).
pub(super) const NONE: u32 = u32::MAX;

pub(super) struct AssetInfo {
    pub(super) id: i64,
    pub(super) facts: AssetFacts,
    /// A scanner inventoried the asset's services (any state): only then does a port
    /// without an open service mean "not reachable".
    pub(super) services_known: bool,
    /// The owning team, by ownership and context rules.
    pub(super) team: Option<Arc<str>>,
}

/// What scoring needs of a shared exposure detail. Intelligence is looked up by its first
/// CVE, once per detail.
pub(super) struct Detail {
    pub(super) title: String,
    pub(super) cvss: CvssFacts,
    pub(super) intel: Option<IntelFacts>,
}

/// One exposure as the ticket regrouping keeps it.
pub(super) struct Row {
    pub(super) asset: u32,
    pub(super) score: f64,
    pub(super) priority: Priority,
    pub(super) kev: bool,
    pub(super) due: NaiveDate,
    /// 0 active (open, reopened, not VEX not_affected), 1 fixed, 2 other.
    pub(super) class: u8,
    /// Package name, or the finding's title when it has no package (interned).
    pub(super) name: u32,
    pub(super) is_pkg: bool,
    /// A package with a fixed version that is an upgrade of the installed one.
    pub(super) has_fix: bool,
    pub(super) version: u32,
    pub(super) fixed: u32,
    /// The ticket group: [`group_hash`] of the ticket key.
    pub(super) grp: i64,
}

/// The ticket group of an exposure: a hash of the parts of its ticket key (team, package or
/// finding, whether a fix exists). Stored on the ticket and on each active exposure's score
/// row, so "the exposures of a ticket" is one comparison.
pub(super) fn group_hash(team: &str, name: &str, is_pkg: bool, has_fix: bool) -> i64 {
    let mut h = Fx::default();
    h.write(team.as_bytes());
    h.write_u8(0xff);
    h.write(name.as_bytes());
    h.write_u8(u8::from(is_pkg) | (u8::from(has_fix) << 1));
    h.finish() as i64
}

/// Everything scoring reads besides the exposures: loaded once per pass (or per scope).
pub(super) struct Inputs {
    pub(super) assets: Vec<AssetInfo>,
    index: IdIndex,
    services: FxSet<(i64, i64)>,
    details: Vec<Detail>,
    detail_index: IdIndex,
    /// A KEV catalog is stored (see `Facts::kev_catalog`).
    kev_catalog: bool,
}

/// The context and ownership rules of a pass.
pub(super) fn context_rules(ctx: &Prioritize<'_>, rules: &[OwnershipRule]) -> Result<ContextRules> {
    ContextRules::build(ctx.context, rules)
        .map_err(|e| Error::Store(StoreError::Invalid(e.to_string())))
}

/// Reads the inputs of `scope`'s exposures: assets resolved with the rules, services,
/// details with their intelligence (the stored enrichment unless `ctx.intel` overrides it).
pub(super) fn load(
    pass: &mut dyn RiskPass,
    ctx: &Prioritize<'_>,
    context: &ContextRules,
    scope: RiskScope,
) -> Result<Inputs> {
    let reads = AssetReads {
        addresses: context.uses_addresses(),
        tools: context.uses_sources(),
    };
    let mut assets = Vec::new();
    let mut index = IdIndex::default();
    let mut teams: HashMap<String, Arc<str>> = HashMap::new();
    for a in pass.assets(scope, reads)? {
        let c = context.resolve(&a.asset, &a.fact_sources, &a.tools);
        let team = c.team.value.map(|t| {
            teams
                .entry(t)
                .or_insert_with_key(|t| Arc::from(t.as_str()))
                .clone()
        });
        index.insert(a.id, assets.len());
        assets.push(AssetInfo {
            id: a.id,
            facts: AssetFacts {
                criticality: c.criticality.value,
                internet_facing: c.internet_facing.value,
                zone: c.zone.value.as_deref().and_then(NetworkZone::from_name),
            },
            services_known: a.services_known,
            team,
        });
    }
    let services = pass.open_services(scope)?.into_iter().collect();
    let kev_catalog = pass.kev_catalog()?;
    let stored: HashMap<String, Enrichment>;
    let intel: &dyn IntelLookup = match ctx.intel {
        Some(i) => i,
        None => {
            stored = pass
                .cve_intel(scope)?
                .into_iter()
                .map(|e| (e.cve_id.clone(), e))
                .collect();
            &stored
        }
    };
    let mut details = Vec::new();
    let mut detail_index = IdIndex::default();
    for d in pass.details(scope)? {
        detail_index.insert(d.id, details.len());
        details.push(Detail {
            cvss: CvssFacts::from_list(&d.cvss),
            intel: d
                .cve
                .as_deref()
                .and_then(|c| intel.enrichment(c))
                .map(IntelFacts::from),
            title: d.title,
        });
    }
    Ok(Inputs {
        assets,
        index,
        services,
        details,
        detail_index,
        kev_catalog,
    })
}

/// The rows a pass scored, in id order, with their strings.
pub(super) struct Scored {
    pub(super) rows: Vec<Vec<Row>>,
    pub(super) strings: Interner,
    /// Active exposures by priority P1..P4.
    pub(super) open: [u64; 4],
}

impl Scored {
    pub(super) fn len(&self) -> u64 {
        self.rows.iter().map(|p| p.len() as u64).sum()
    }
}

/// What a part hands back: its first exposure id, its rows (in chunks: copying a million
/// rows into one vector costs more than it saves), its strings and counts.
type Done = (i64, Vec<Vec<Row>>, Interner, [u64; 4]);

/// Rows a chunk holds.
const CHUNK: usize = 16_384;

/// The scorer a backend drives ([`ScoreExposures`]).
pub(super) struct Scorer<'a> {
    model: &'a RiskModel,
    sla: &'a SlaConfig,
    inputs: &'a Inputs,
    done: Mutex<Vec<Done>>,
}

/// Scores the exposures of `scope` through `pass` (writing their rows with `write`).
pub(super) fn score(
    pass: &mut dyn RiskPass,
    ctx: &Prioritize<'_>,
    inputs: &Inputs,
    scope: RiskScope,
    write: bool,
) -> Result<Scored> {
    let scorer = Scorer {
        model: ctx.model,
        sla: ctx.sla,
        inputs,
        done: Mutex::new(Vec::new()),
    };
    pass.score(scope, &scorer, write)?;
    let mut parts = scorer.done.into_inner().unwrap_or_else(|p| p.into_inner());
    parts.sort_by_key(|p| p.0);
    // each part's string ids are its own: map them into one interner
    let mut strings = Interner::default();
    let mut open = [0; 4];
    let mut rows = Vec::with_capacity(parts.len());
    for (_, chunks, local, counts) in parts {
        let map: Vec<u32> = local.names.iter().map(|n| strings.id(n)).collect();
        let get = |id: u32| map.get(id as usize).copied().unwrap_or(NONE);
        for mut chunk in chunks {
            for r in &mut chunk {
                r.name = get(r.name);
                r.version = get(r.version);
                r.fixed = get(r.fixed);
            }
            rows.push(chunk);
        }
        for (o, c) in open.iter_mut().zip(counts) {
            *o += c;
        }
    }
    Ok(Scored {
        rows,
        strings,
        open,
    })
}

impl ScoreExposures for Scorer<'_> {
    fn part(&self) -> Box<dyn ScorePart + '_> {
        Box::new(Part {
            scorer: self,
            first: None,
            rows: Vec::new(),
            strings: Interner::default(),
            open: [0; 4],
            fix_memo: FxMap::default(),
        })
    }
}

/// The scorer of one reading thread, with its own strings.
struct Part<'s, 'a> {
    scorer: &'s Scorer<'a>,
    first: Option<i64>,
    rows: Vec<Vec<Row>>,
    strings: Interner,
    open: [u64; 4],
    /// Whether a fix exists, by (installed, fixed) string ids.
    fix_memo: FxMap<(u32, u32), bool>,
}

impl ScorePart for Part<'_, '_> {
    fn score(&mut self, e: &ExposureRisk<'_>) -> ctem_store::Result<RiskRow> {
        let Scorer {
            model, sla, inputs, ..
        } = *self.scorer;
        let corrupt = |message: String| StoreError::Corrupt {
            table: "exposures",
            message,
        };
        let asset = inputs
            .index
            .get(e.asset_id)
            .ok_or_else(|| corrupt(format!("{}: asset {} missing", e.id, e.asset_id)))?;
        let detail = inputs
            .detail_index
            .get(e.detail_id)
            .ok_or_else(|| corrupt(format!("{}: detail {} missing", e.id, e.detail_id)))?;
        let d = &inputs.details[detail];
        let info = &inputs.assets[asset];
        let intel = d.intel;
        let facts = Facts {
            severity: e.severity,
            cvss: Some(&d.cvss),
            fix_available: e.package.map(|_| e.fixed_version.is_some()),
            asset: Some(&info.facts),
            // no service inventory: reachability unknown, not "no"
            service_reachable: e
                .port
                .filter(|_| info.services_known)
                .map(|p| inputs.services.contains(&(e.asset_id, p))),
            intel,
            kev_catalog: inputs.kev_catalog,
            vex_not_affected: e.vex_not_affected,
            accepted: e.status == ExposureStatus::Accepted,
        };
        let input = risk_input(&facts);
        let (score, priority) = model.quick(&input);
        let decision: Decision = ssvc::decide(&model.ssvc_inputs(&input));
        let (due, _) = sla.due_date(
            e.first_seen.date_naive(),
            sla_target(model, priority, decision),
            intel.and_then(|i| i.kev_due_date),
        );
        let class = match e.status {
            ExposureStatus::Open | ExposureStatus::Reopened if !e.vex_not_affected => 0,
            ExposureStatus::Fixed => 1,
            _ => 2,
        };
        if class == 0 {
            self.open[usize::from(priority.number() - 1)] += 1;
        }
        let (name_s, is_pkg) = match e.package {
            Some(p) => (p, true),
            None => (d.title.as_str(), false),
        };
        let name = self.strings.id(name_s);
        let version = e.version.map_or(NONE, |v| self.strings.id(v));
        let fixed = e.fixed_version.map_or(NONE, |f| self.strings.id(f));
        let strings = &self.strings;
        let has_fix = is_pkg
            && fixed != NONE
            && *self
                .fix_memo
                .entry((version, fixed))
                .or_insert_with(|| needed_fix(strings.get(version), strings.get(fixed)).is_some());
        let team = info.team.as_deref().unwrap_or("unassigned");
        let grp = group_hash(team, name_s, is_pkg, has_fix);
        self.first.get_or_insert(e.id);
        let row = Row {
            asset: asset as u32,
            score,
            priority,
            kev: intel.is_some_and(|i| i.kev),
            due,
            class,
            name,
            is_pkg,
            has_fix,
            version,
            fixed,
            grp,
        };
        match self.rows.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => chunk.push(row),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(row);
                self.rows.push(chunk);
            }
        }
        Ok(RiskRow {
            exposure_id: e.id,
            score,
            priority,
            ssvc: decision,
            kev: intel.is_some_and(|i| i.kev),
            due: Some(due),
            team: info.team.clone(),
            group: (class == 0).then_some(grp),
        })
    }

    fn finish(self: Box<Self>) {
        let Part {
            scorer,
            first,
            rows,
            strings,
            open,
            ..
        } = *self;
        if let Some(first) = first {
            let mut done = scorer.done.lock().unwrap_or_else(|p| p.into_inner());
            done.push((first, rows, strings, open));
        }
    }
}
