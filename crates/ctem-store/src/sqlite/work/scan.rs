//! The scoring scan of a prioritisation pass: every exposure of the scope read, handed to
//! the domain's scorer, and its score row written to `exposure_risk`.
//!
//! A file store of many exposures is read by two threads, each with its own read-only
//! connection over half of the id range and its own [`ScorePart`], while the calling thread
//! writes the score rows through the pass's transaction as they arrive: the lower half as it
//! is scored, the upper half after it. The transaction is IMMEDIATE (no other writer commits
//! while the pass runs) and writes no exposure, so the readers see the same rows it would.

use std::sync::mpsc;

use chrono::DateTime;
use ctem_model::{ExposureStatus, Severity};
use rusqlite::Connection;

use super::day_num;
use super::rows::SCOPE;
use crate::risk::{ExposureRisk, RiskRow, RiskScope, ScoreExposures, ScorePart};
use crate::{Error, Result};

/// Below this many exposures one thread scans them all (connections cost more).
const PARALLEL_MIN: i64 = 100_000;

#[cfg(test)]
thread_local! {
    /// Tests lower the threshold to run the threaded path on a small store.
    pub(crate) static TEST_PARALLEL_MIN: std::cell::Cell<i64> =
        const { std::cell::Cell::new(PARALLEL_MIN) };
}

fn parallel_min() -> i64 {
    #[cfg(test)]
    return TEST_PARALLEL_MIN.with(std::cell::Cell::get);
    #[cfg(not(test))]
    PARALLEL_MIN
}

/// The columns [`read_rows`] reads of an exposure.
const SELECT_EXPOSURES: &str = "SELECT id, asset_id, detail_id, severity, status, pkg_name, \
     pkg_version, fixed_version, port, first_seen, instance FROM exposures";

/// Rows a scanning thread hands over at once.
const CHUNK: usize = 16_384;

/// Scores the scope's exposures and, with `write`, replaces their score rows.
pub(super) fn score(
    tx: &Connection,
    scope: RiskScope,
    scorer: &dyn ScoreExposures,
    write: bool,
) -> Result<()> {
    if scope == RiskScope::FollowUp {
        if write {
            tx.execute(
                &format!("DELETE FROM exposure_risk WHERE exposure_id IN ({SCOPE})"),
                [],
            )?;
        }
        let mut writer = RiskWriter::new(tx)?;
        let mut st = tx.prepare(&format!(
            "{SELECT_EXPOSURES} WHERE id IN ({SCOPE}) ORDER BY id"
        ))?;
        let mut part = scorer.part();
        read_rows(st.query([])?, part.as_mut(), &mut |chunk| {
            if write {
                writer.write(&chunk)?;
            }
            Ok(())
        })?;
        part.finish();
        return Ok(());
    }
    if write {
        tx.execute("DELETE FROM exposure_risk", [])?;
    }
    let mut writer = RiskWriter::new(tx)?;
    let mut emit = |chunk: Vec<RiskRow>| if write { writer.write(&chunk) } else { Ok(()) };
    let (lo, hi): (Option<i64>, Option<i64>) =
        tx.query_row("SELECT min(id), max(id) FROM exposures", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Ok(());
    };
    let path = tx.path().filter(|p| !p.is_empty()).map(str::to_owned);
    let Some(path) = path.filter(|_| hi - lo >= parallel_min()) else {
        let mut part = scorer.part();
        scan_range(tx, (lo, hi), part.as_mut(), &mut emit)?;
        part.finish();
        return Ok(());
    };
    let mid = lo + (hi - lo) / 2;
    let (tx_low, rx_low) = mpsc::channel::<Vec<RiskRow>>();
    let (tx_high, rx_high) = mpsc::channel::<Vec<RiskRow>>();
    let (low, high, written) = std::thread::scope(|s| {
        let spawn = |range: (i64, i64), out: mpsc::Sender<Vec<RiskRow>>| {
            let path = path.clone();
            s.spawn(move || -> Result<()> {
                let conn = Connection::open_with_flags(
                    &path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                // a reader may meet another process's WAL recovery: it waits as writers do
                conn.busy_timeout(std::time::Duration::from_secs(30))?;
                let _ = conn.query_row("PRAGMA mmap_size = 67108864", [], |r| r.get::<_, i64>(0));
                let mut part = scorer.part();
                // a closed channel means the writer failed: its error is reported
                scan_range(&conn, range, part.as_mut(), &mut |chunk| {
                    let _ = out.send(chunk);
                    Ok(())
                })?;
                part.finish();
                Ok(())
            })
        };
        let low = spawn((lo, mid), tx_low);
        let high = spawn((mid + 1, hi), tx_high);
        // the lower half is written as it comes, then the upper half (in id order)
        let mut written = Ok(());
        for rx in [&rx_low, &rx_high] {
            for chunk in rx.iter() {
                if written.is_ok() {
                    written = emit(chunk);
                }
            }
        }
        let join = |h: std::thread::ScopedJoinHandle<'_, Result<()>>| {
            h.join()
                .unwrap_or_else(|_| Err(Error::Invalid("a scoring thread panicked (a bug)".into())))
        };
        (join(low), join(high), written)
    });
    low?;
    high?;
    written
}

/// Scores the exposures with ids in `lo..=hi` in id order.
fn scan_range(
    conn: &Connection,
    (lo, hi): (i64, i64),
    part: &mut dyn ScorePart,
    out: &mut dyn FnMut(Vec<RiskRow>) -> Result<()>,
) -> Result<()> {
    let mut st = conn.prepare(&format!(
        "{SELECT_EXPOSURES} WHERE id BETWEEN ?1 AND ?2 ORDER BY id"
    ))?;
    read_rows(st.query([lo, hi])?, part, out)
}

fn read_rows(
    mut q: rusqlite::Rows<'_>,
    part: &mut dyn ScorePart,
    out: &mut dyn FnMut(Vec<RiskRow>) -> Result<()>,
) -> Result<()> {
    let mut chunk = Vec::with_capacity(CHUNK);
    while let Some(r) = q.next()? {
        chunk.push(part.score(&exposure(r)?)?);
        if chunk.len() == CHUNK {
            out(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)))?;
        }
    }
    if !chunk.is_empty() {
        out(chunk)?;
    }
    Ok(())
}

fn exposure<'r>(r: &'r rusqlite::Row<'_>) -> Result<ExposureRisk<'r>> {
    let text =
        |i: usize| -> Result<Option<&'r str>> { Ok(r.get_ref(i)?.as_str_or_null().ok().flatten()) };
    let status = text(4)?.unwrap_or("open");
    Ok(ExposureRisk {
        id: r.get(0)?,
        asset_id: r.get(1)?,
        detail_id: r.get(2)?,
        severity: usize::try_from(r.get::<_, i64>(3)?)
            .ok()
            .and_then(|s| Severity::ALL.get(s).copied())
            .unwrap_or_default(),
        status: ExposureStatus::parse(status).unwrap_or(ExposureStatus::Open),
        package: text(5)?,
        version: text(6)?,
        fixed_version: text(7)?.filter(|f| !f.trim().is_empty()),
        port: r.get(8)?,
        first_seen: DateTime::from_timestamp(r.get(9)?, 0).unwrap_or_default(),
        // the VEX analysis is in the solution, which lives in the instance JSON
        vex_not_affected: text(10)?.is_some_and(|i| i.contains("not_affected")),
    })
}

/// Writes score rows, many a statement (a million single-row inserts spend more time in
/// statement overhead than in the B-tree).
struct RiskWriter<'t> {
    tx: &'t Connection,
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

impl<'t> RiskWriter<'t> {
    fn new(tx: &'t Connection) -> Result<Self> {
        Ok(RiskWriter {
            tx,
            full: tx.prepare(&insert_sql(BATCH))?,
        })
    }

    fn write(&mut self, rows: &[RiskRow]) -> Result<()> {
        use rusqlite::types::{ToSqlOutput, ValueRef as V};
        let mut vals: Vec<V<'_>> = Vec::with_capacity(BATCH * 8);
        for chunk in rows.chunks(BATCH) {
            vals.clear();
            for r in chunk {
                vals.extend([
                    V::Integer(r.exposure_id),
                    V::Real(r.score),
                    V::Integer(i64::from(r.priority.number())),
                    V::Integer(i64::from(r.ssvc.number())),
                    V::Integer(i64::from(r.kev)),
                    r.due.map_or(V::Null, |d| V::Integer(day_num(d))),
                    r.team.as_deref().map_or(V::Null, |t| V::Text(t.as_bytes())),
                    r.group.map_or(V::Null, V::Integer),
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use chrono::{NaiveDate, TimeZone, Utc};
    use ctem_model::risk::{Decision, Priority};
    use ctem_model::{Asset, AssetKind, Exposure, ExposureKind, Package, Record, Severity};

    use super::TEST_PARALLEL_MIN;
    use crate::risk::{ExposureRisk, RiskRow, RiskRows, RiskScope, ScoreExposures, ScorePart};
    use crate::sqlite::SqliteStore;
    use crate::{ScanMeta, Store};

    /// A scorer that records which ids each part saw, in order, and derives its rows from
    /// the exposure alone.
    #[derive(Default)]
    struct Recorder {
        parts: Mutex<Vec<Vec<i64>>>,
    }

    struct Part<'a> {
        recorder: &'a Recorder,
        seen: Vec<i64>,
    }

    impl ScoreExposures for Recorder {
        fn part(&self) -> Box<dyn ScorePart + '_> {
            Box::new(Part {
                recorder: self,
                seen: Vec::new(),
            })
        }
    }

    impl ScorePart for Part<'_> {
        fn score(&mut self, e: &ExposureRisk<'_>) -> crate::Result<RiskRow> {
            self.seen.push(e.id);
            Ok(RiskRow {
                exposure_id: e.id,
                score: e.id as f64 / 4.0 + e.severity as i64 as f64,
                priority: Priority::from_number(e.id % 4 + 1),
                ssvc: Decision::from_number(e.id % 3),
                kev: e.id % 5 == 0,
                due: NaiveDate::from_num_days_from_ce_opt(739_000 + e.id as i32),
                team: e.package.map(Arc::from),
                group: e.version.map(|v| v.len() as i64 + e.asset_id),
            })
        }

        fn finish(self: Box<Self>) {
            self.recorder.parts.lock().expect("lock").push(self.seen);
        }
    }

    fn rows(store: &SqliteStore) -> Vec<String> {
        let mut st = store
            .conn
            .prepare(
                "SELECT exposure_id || ' ' || score || ' ' || priority || ' ' || ssvc || ' ' || kev
                        || ' ' || coalesce(due, '-') || ' ' || coalesce(team, '-')
                        || ' ' || coalesce(grp, '-')
                 FROM exposure_risk ORDER BY exposure_id",
            )
            .expect("prepare");
        let rows = st.query_map([], |r| r.get::<_, String>(0)).expect("query");
        rows.map(|r| r.expect("row")).collect()
    }

    fn score_all(store: &mut SqliteStore) -> Vec<Vec<i64>> {
        let recorder = Recorder::default();
        let mut pass = store.begin_risk_pass().expect("pass");
        pass.score(RiskScope::All, &recorder, true).expect("score");
        pass.commit().expect("commit");
        recorder.parts.into_inner().expect("lock")
    }

    /// Two reading threads write exactly the rows one thread writes, each part sees a
    /// contiguous ascending run of ids, and every exposure is scored once.
    #[test]
    fn two_reading_threads_write_what_one_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = SqliteStore::open(dir.path().join("ctem.db")).expect("open");
        let mut s = store
            .begin_import(ScanMeta {
                tool: "trivy".into(),
                format: "trivy".into(),
                scope: None,
                file: "scan.json".into(),
                sha256: "sha".into(),
                imported_at: Utc
                    .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
                    .single()
                    .expect("date"),
            })
            .expect("begin");
        for a in 0..20u32 {
            let asset = Asset::new(AssetKind::ContainerImage, format!("app-{a}"));
            s.record(Record::Asset { key: a, asset }).expect("asset");
            for j in 0..30 {
                let mut e = Exposure::new(
                    ExposureKind::Vulnerability,
                    format!("CVE-2024-{j} on {a}"),
                    Severity::ALL[j % 6],
                );
                e.package = (j % 3 != 0).then(|| Package {
                    name: format!("lib{}", j % 7),
                    version: Some(format!("1.{j}")),
                    ..Package::default()
                });
                s.record(Record::Exposure {
                    asset: a,
                    exposure: Box::new(e),
                })
                .expect("exposure");
            }
        }
        s.commit().expect("commit");
        TEST_PARALLEL_MIN.with(|c| c.set(i64::MAX));
        let one = score_all(&mut store);
        let single = rows(&store);
        TEST_PARALLEL_MIN.with(|c| c.set(0));
        let two = score_all(&mut store);
        let double = rows(&store);
        TEST_PARALLEL_MIN.with(|c| c.set(super::PARALLEL_MIN));
        assert_eq!(single.len(), 600);
        assert_eq!(single, double);
        assert_eq!(one.len(), 1);
        assert_eq!(two.len(), 2, "one part per reading thread");
        let mut all: Vec<i64> = two.concat();
        for part in &two {
            assert!(part.windows(2).all(|w| w[0] < w[1]), "ascending ids");
        }
        all.sort_unstable();
        assert_eq!(all, one[0], "every exposure once");
    }
}
