//! The scoring scan of the re-prioritisation pass: every exposure read, scored and written to
//! `exposure_risk`.
//!
//! A file store of many exposures is read by two threads, each with its own read-only
//! connection over half of the id range, while the calling thread writes the scores through
//! the pass's transaction as they arrive: the lower half as it is scored, the upper half
//! after it. Scores do not wait for the tickets: a row names its ticket group by a hash of the
//! ticket key (`grp`), which the ticket rows carry too, so writing the scores needs nothing
//! the ticket pass computes. The transaction is IMMEDIATE (no other writer commits while the
//! pass runs) and writes no exposure, so the readers see the same rows it would.

use std::hash::Hasher;
use std::sync::mpsc;

use chrono::NaiveDate;
use ctem_model::Severity;
use ctem_risk::remediation::needed_fix;
use ctem_risk::{Priority, ssvc};
use rusqlite::{Connection, Transaction};

use super::prioritize::{AssetInfo, Detail, IdIndex, Interner, NONE};
use super::{day_num, priority_num, ssvc_num};
use crate::fx::{Fx, FxMap, FxSet};
use crate::work::{Facts, risk_input, sla_target};
use crate::{Error, Result};

/// One exposure as the pass keeps it.
pub(super) struct Row {
    pub(super) id: i64,
    pub(super) asset: u32,
    pub(super) score: f64,
    pub(super) priority: Priority,
    pub(super) ssvc: ssvc::Decision,
    pub(super) kev: bool,
    pub(super) due: Option<i64>,
    /// 0 active (open, reopened, not VEX not_affected), 1 fixed, 2 other.
    pub(super) class: u8,
    /// Package name, or the finding's title when it has no package.
    pub(super) name: u32,
    pub(super) is_pkg: bool,
    /// A package with a fixed version that is an upgrade of the installed one.
    pub(super) has_fix: bool,
    pub(super) version: u32,
    pub(super) fixed: u32,
    /// The ticket group: [`group_hash`] of the ticket key.
    pub(super) grp: i64,
}

/// What every scanning thread reads and nothing writes.
pub(super) struct Shared<'a> {
    pub(super) model: &'a ctem_risk::RiskModel,
    pub(super) sla: &'a ctem_risk::SlaConfig,
    pub(super) today: NaiveDate,
    pub(super) assets: &'a [AssetInfo],
    pub(super) index: &'a IdIndex,
    pub(super) services: &'a FxSet<(i64, i64)>,
    pub(super) details: &'a [Detail],
    pub(super) detail_index: &'a IdIndex,
    /// A KEV catalog is stored (see `Facts::kev_catalog`).
    pub(super) kev_catalog: bool,
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

/// Below this many exposures one thread scans them all (connections cost more).
const PARALLEL_MIN: i64 = 100_000;

#[cfg(test)]
thread_local! {
    /// Tests lower the threshold to run the threaded path on a small store.
    pub(super) static TEST_PARALLEL_MIN: std::cell::Cell<i64> =
        const { std::cell::Cell::new(PARALLEL_MIN) };
}

fn parallel_min() -> i64 {
    #[cfg(test)]
    return TEST_PARALLEL_MIN.with(std::cell::Cell::get);
    #[cfg(not(test))]
    PARALLEL_MIN
}

/// The columns [`Scanner`] reads of an exposure.
const SELECT_EXPOSURES: &str = "SELECT id, asset_id, detail_id, severity, status, pkg_name, \
     pkg_version, fixed_version, port, first_seen, instance FROM exposures";

/// Scores the exposures of `temp.risk_scope` (the follow-up of an import), replaces their
/// `exposure_risk` rows when `write` says so, and returns the rows in id order.
pub(super) fn scan_scope_and_write(
    tx: &Transaction<'_>,
    shared: &Shared<'_>,
    strings: &mut Interner,
    open: &mut [u64; 4],
    write: bool,
) -> Result<Vec<Row>> {
    if write {
        tx.execute(
            "DELETE FROM exposure_risk WHERE exposure_id IN (SELECT id FROM temp.risk_scope)",
            [],
        )?;
    }
    let mut writer = RiskWriter {
        tx,
        assets: shared.assets,
        full: tx.prepare(&insert_sql(BATCH))?,
    };
    let mut rows = Vec::new();
    let mut scanner = Scanner::new(shared, strings);
    scanner.scan_scope(tx, &mut |chunk| {
        if write {
            writer.write(&chunk)?;
        }
        rows.extend(chunk);
        Ok(())
    })?;
    for (o, c) in open.iter_mut().zip(scanner.open) {
        *o += c;
    }
    Ok(rows)
}

/// Rows a scanning thread hands over at once.
const CHUNK: usize = 16_384;

/// Scores every exposure, rewrites `exposure_risk`, and returns the rows in id order (in
/// parts, as scored: copying a million rows into one vector costs more than it saves) with
/// string ids of `strings`.
pub(super) fn scan_and_write(
    tx: &Transaction<'_>,
    shared: &Shared<'_>,
    strings: &mut Interner,
    open: &mut [u64; 4],
) -> Result<Vec<Vec<Row>>> {
    let mut writer = RiskWriter::new(tx, shared.assets)?;
    let (lo, hi): (Option<i64>, Option<i64>) =
        tx.query_row("SELECT min(id), max(id) FROM exposures", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Ok(Vec::new());
    };
    let path = tx.path().filter(|p| !p.is_empty()).map(str::to_owned);
    let Some(path) = path.filter(|_| hi - lo >= parallel_min()) else {
        let mut rows = Vec::new();
        let mut scanner = Scanner::new(shared, strings);
        scanner.scan(tx, (lo, hi), &mut |chunk| {
            writer.write(&chunk)?;
            rows.push(chunk);
            Ok(())
        })?;
        for (o, c) in open.iter_mut().zip(scanner.open) {
            *o += c;
        }
        return Ok(rows);
    };
    let mid = lo + (hi - lo) / 2;
    let (tx_low, rx_low) = mpsc::channel::<Vec<Row>>();
    let (tx_high, rx_high) = mpsc::channel::<Vec<Row>>();
    let (low, high, rows) = std::thread::scope(|s| {
        let spawn = |range: (i64, i64), out: mpsc::Sender<Vec<Row>>| {
            let path = path.clone();
            s.spawn(move || -> Result<(Interner, [u64; 4])> {
                let conn = Connection::open_with_flags(
                    &path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                let _ = conn.query_row("PRAGMA mmap_size = 67108864", [], |r| r.get::<_, i64>(0));
                let mut strings = Interner::default();
                let mut scanner = Scanner::new(shared, &mut strings);
                // a closed channel means the writer failed: its error is reported
                scanner.scan(&conn, range, &mut |chunk| {
                    let _ = out.send(chunk);
                    Ok(())
                })?;
                let open = scanner.open;
                Ok((strings, open))
            })
        };
        let low = spawn((lo, mid), tx_low);
        let high = spawn((mid + 1, hi), tx_high);
        // the lower half is written as it comes, then the upper half (in id order)
        let mut parts: Vec<Vec<Row>> = Vec::new();
        let mut written = Ok(());
        for rx in [&rx_low, &rx_high] {
            for chunk in rx.iter() {
                if written.is_ok() {
                    written = writer.write(&chunk);
                }
                parts.push(chunk);
            }
        }
        let join = |h: std::thread::ScopedJoinHandle<'_, Result<(Interner, [u64; 4])>>| {
            h.join()
                .unwrap_or_else(|_| Err(Error::Invalid("a scoring thread panicked (a bug)".into())))
        };
        (join(low), join(high), written.map(|()| parts))
    });
    let parts = rows?;
    let (low, high) = (low?, high?);
    // each thread's string ids are its own: map them into the shared interner
    let remap = |local: &Interner, strings: &mut Interner| -> Vec<u32> {
        local.names.iter().map(|n| strings.id(n)).collect()
    };
    let maps = [remap(&low.0, strings), remap(&high.0, strings)];
    for (o, c) in open.iter_mut().zip(low.1.iter().zip(high.1)) {
        *o += c.0 + c.1;
    }
    let mut parts = parts;
    for part in &mut parts {
        let map = if part.first().is_some_and(|r| r.id > mid) {
            &maps[1]
        } else {
            &maps[0]
        };
        let get = |id: u32| map.get(id as usize).copied().unwrap_or(NONE);
        for r in part.iter_mut() {
            r.name = get(r.name);
            r.version = get(r.version);
            r.fixed = get(r.fixed);
        }
    }
    Ok(parts)
}

/// Rewrites `exposure_risk`, many rows a statement (a million single-row inserts spend more
/// time in statement overhead than in the B-tree).
struct RiskWriter<'t, 'a> {
    tx: &'t Connection,
    assets: &'a [AssetInfo],
    full: rusqlite::Statement<'t>,
}

const BATCH: usize = 100;

fn insert_sql(n: usize) -> String {
    let mut q = String::from(
        "INSERT INTO exposure_risk(exposure_id, score, priority, ssvc, kev, due, team, grp) \
         VALUES ",
    );
    for i in 0..n {
        if i > 0 {
            q.push(',');
        }
        q.push_str("(?,?,?,?,?,?,?,?)");
    }
    q
}

impl<'t, 'a> RiskWriter<'t, 'a> {
    fn new(tx: &'t Connection, assets: &'a [AssetInfo]) -> Result<Self> {
        tx.execute("DELETE FROM exposure_risk", [])?;
        Ok(RiskWriter {
            tx,
            assets,
            full: tx.prepare(&insert_sql(BATCH))?,
        })
    }

    fn write(&mut self, rows: &[Row]) -> Result<()> {
        use rusqlite::types::{ToSqlOutput, ValueRef as V};
        let mut vals: Vec<V<'_>> = Vec::with_capacity(BATCH * 8);
        for chunk in rows.chunks(BATCH) {
            vals.clear();
            for r in chunk {
                let team = self
                    .assets
                    .get(r.asset as usize)
                    .and_then(|a| a.team_name.as_deref());
                vals.extend([
                    V::Integer(r.id),
                    V::Real(r.score),
                    V::Integer(priority_num(r.priority)),
                    V::Integer(ssvc_num(r.ssvc)),
                    V::Integer(i64::from(r.kev)),
                    r.due.map_or(V::Null, V::Integer),
                    team.map_or(V::Null, |t| V::Text(t.as_bytes())),
                    if r.class == 0 {
                        V::Integer(r.grp)
                    } else {
                        V::Null
                    },
                ]);
            }
            let args = rusqlite::params_from_iter(vals.iter().map(|v| ToSqlOutput::Borrowed(*v)));
            if chunk.len() == BATCH {
                self.full.execute(args)?;
            } else {
                self.tx.prepare(&insert_sql(chunk.len()))?.execute(args)?;
            }
        }
        Ok(())
    }
}

/// Reads and scores exposures with its own string ids.
struct Scanner<'s, 'a> {
    shared: &'s Shared<'a>,
    strings: &'s mut Interner,
    open: [u64; 4],
    /// Whether a fix exists, by (installed, fixed) string ids.
    fix_memo: FxMap<(u32, u32), bool>,
}

impl<'s, 'a> Scanner<'s, 'a> {
    fn new(shared: &'s Shared<'a>, strings: &'s mut Interner) -> Self {
        Scanner {
            shared,
            strings,
            open: [0; 4],
            fix_memo: FxMap::default(),
        }
    }

    /// Scores the exposures with ids in `lo..=hi` in id order, handing rows to `out` a chunk
    /// at a time.
    fn scan(
        &mut self,
        conn: &Connection,
        (lo, hi): (i64, i64),
        out: &mut dyn FnMut(Vec<Row>) -> Result<()>,
    ) -> Result<()> {
        let mut st = conn.prepare(&format!(
            "{SELECT_EXPOSURES} WHERE id BETWEEN ?1 AND ?2 ORDER BY id"
        ))?;
        let q = st.query([lo, hi])?;
        self.scan_rows(q, out)
    }

    /// Scores the exposures of `temp.risk_scope` in id order.
    fn scan_scope(
        &mut self,
        conn: &Connection,
        out: &mut dyn FnMut(Vec<Row>) -> Result<()>,
    ) -> Result<()> {
        let mut st = conn.prepare(&format!(
            "{SELECT_EXPOSURES} WHERE id IN (SELECT id FROM temp.risk_scope) ORDER BY id"
        ))?;
        let q = st.query([])?;
        self.scan_rows(q, out)
    }

    fn scan_rows(
        &mut self,
        mut q: rusqlite::Rows<'_>,
        out: &mut dyn FnMut(Vec<Row>) -> Result<()>,
    ) -> Result<()> {
        let mut chunk = Vec::with_capacity(CHUNK);
        while let Some(r) = q.next()? {
            chunk.push(self.row(r)?);
            if chunk.len() == CHUNK {
                out(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)))?;
            }
        }
        if !chunk.is_empty() {
            out(chunk)?;
        }
        Ok(())
    }

    fn row(&mut self, r: &rusqlite::Row<'_>) -> Result<Row> {
        let Shared {
            model,
            sla,
            today,
            assets,
            index,
            services,
            details,
            detail_index,
            kev_catalog,
        } = *self.shared;
        let id: i64 = r.get(0)?;
        let asset_id: i64 = r.get(1)?;
        let asset = index.get(asset_id).ok_or_else(|| Error::Corrupt {
            table: "exposures",
            message: format!("{id}: asset {asset_id} missing"),
        })?;
        let detail_id: i64 = r.get(2)?;
        let detail = detail_index.get(detail_id).ok_or_else(|| Error::Corrupt {
            table: "exposures",
            message: format!("{id}: detail {detail_id} missing"),
        })?;
        let d = &details[detail];
        let severity = usize::try_from(r.get::<_, i64>(3)?)
            .ok()
            .and_then(|s| Severity::ALL.get(s).copied())
            .unwrap_or_default();
        let status = r.get_ref(4)?.as_str().unwrap_or("open");
        let pkg = r.get_ref(5)?.as_str_or_null().ok().flatten();
        let version = r.get_ref(6)?.as_str_or_null().ok().flatten();
        let fixed = r
            .get_ref(7)?
            .as_str_or_null()
            .ok()
            .flatten()
            .filter(|f| !f.trim().is_empty());
        let port: Option<i64> = r.get(8)?;
        let first_seen: i64 = r.get(9)?;
        // the same test as `work::vex_not_affected` on the solution, which lives in the
        // instance JSON
        let vex = r
            .get_ref(10)?
            .as_str()
            .is_ok_and(|i| i.contains("not_affected"));
        let intel = d.intel;
        let info = &assets[asset];
        let facts = Facts {
            severity,
            cvss: Some(&d.cvss),
            fix_available: pkg.map(|_| fixed.is_some()),
            asset: Some(&info.facts),
            // no service inventory: reachability unknown, not "no"
            service_reachable: port
                .filter(|_| info.services_known)
                .map(|p| services.contains(&(asset_id, p))),
            intel,
            kev_catalog,
            vex_not_affected: vex,
            accepted: status == "accepted",
        };
        let input = risk_input(&facts);
        let (score, priority) = model.quick(&input);
        let decision = ssvc::decide(&model.ssvc_inputs(&input));
        let opened =
            chrono::DateTime::from_timestamp(first_seen, 0).map_or(today, |t| t.date_naive());
        let (due, _) = sla.due_date(
            opened,
            sla_target(model, priority, decision),
            intel.and_then(|i| i.kev_due_date),
        );
        let class = match status {
            "open" | "reopened" if !vex => 0,
            "fixed" => 1,
            _ => 2,
        };
        if class == 0 {
            self.open[(priority_num(priority) - 1) as usize] += 1;
        }
        let (name_s, is_pkg) = match pkg {
            Some(p) => (p, true),
            None => (d.title.as_str(), false),
        };
        let name = self.strings.id(name_s);
        let version = version.map_or(NONE, |v| self.strings.id(v));
        let fixed = fixed.map_or(NONE, |f| self.strings.id(f));
        let has_fix = is_pkg
            && fixed != NONE
            && *self.fix_memo.entry((version, fixed)).or_insert_with(|| {
                needed_fix(self.strings.get(version), self.strings.get(fixed)).is_some()
            });
        let team = info.team_name.as_deref().unwrap_or("unassigned");
        Ok(Row {
            id,
            asset: asset as u32,
            score,
            priority,
            ssvc: decision,
            kev: intel.is_some_and(|i| i.kev),
            due: Some(day_num(due)),
            class,
            name,
            is_pkg,
            has_fix,
            version,
            fixed,
            grp: group_hash(team, name_s, is_pkg, has_fix),
        })
    }
}
