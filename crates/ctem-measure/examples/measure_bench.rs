//! Builds a store of N exposures and N alerts (default 1,000,000 each, on 10,000 assets) with
//! direct inserts, then times the KPIs (`kpi::current`) and the assessment (facts, KPIs,
//! goals, Markdown and HTML). Run by bench/measure.sh.
//!
//!   cargo run --release -p ctem-measure --example measure_bench -- [N] [ASSETS] [DB]

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use ctem_measure::goals::{self, GoalConfig};
use ctem_measure::kpi::{self, KpiConfig};
use ctem_measure::report::{Format, assess::assess};
use ctem_store::measure::MeasureStore;
use ctem_store::sqlite::SqliteStore;
use rusqlite::{Connection, params};

fn generate(path: &str, n: i64, assets: i64, now: DateTime<Utc>) -> rusqlite::Result<()> {
    let mut c = Connection::open(path)?;
    c.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;")?;
    let t = now.timestamp();
    let tx = c.transaction()?;
    {
        let mut a = tx.prepare(
            "INSERT INTO assets(id, kind, name, owner_team, internet_facing, first_seen, last_seen)
             VALUES (?1, 'host', ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut s = tx.prepare(
            "INSERT INTO services(asset_id, protocol, port, state, first_seen, last_seen)
             VALUES (?1, 'tcp', ?2, 'open', 0, 0)",
        )?;
        tx.execute(
            "INSERT INTO sources(id, tool, scope) VALUES (1, 'nessus', 'default')",
            [],
        )?;
        let mut src = tx.prepare(
            "INSERT INTO asset_sources(asset_id, source_id, first_seen, last_seen)
             VALUES (?1, 1, ?2, ?3)",
        )?;
        for i in 1..=assets {
            let owner = (i % 7 != 0).then_some("ops");
            let inet = i64::from(i % 10 == 0);
            a.execute(params![
                i,
                format!("h{i}"),
                owner,
                inet,
                t - 400 * 86_400,
                t - (i % 60) * 86_400
            ])?;
            if i % 20 != 0 {
                src.execute(params![i, t - 400 * 86_400, t - (i % 60) * 86_400])?;
            }
            for p in [22, 443, 8000 + i % 50] {
                s.execute(params![i, p])?;
            }
        }
        let mut e = tx.prepare(
            "INSERT INTO exposures(id, asset_id, fingerprint, kind, title, severity, status,
                 first_seen, last_seen, fixed_at, content_hash, detail_id, instance)
             VALUES (?1, ?2, ?3, 'vulnerability', 't', 3, ?4, ?5, ?5, ?6, x'00', 1, '{}')",
        )?;
        let mut r = tx.prepare(
            "INSERT INTO exposure_risk(exposure_id, score, priority, ssvc, kev, due)
             VALUES (?1, 50, ?2, 0, ?3, ?4)",
        )?;
        let epoch_day = 719_163;
        for i in 1..=n {
            let first = t - (i % 365) * 86_400;
            let fixed = (i % 3 == 0).then(|| first + (i % 40) * 86_400);
            let status = if fixed.is_some() { "fixed" } else { "open" };
            e.execute(params![
                i,
                1 + i % assets,
                i.to_le_bytes().to_vec(),
                status,
                first,
                fixed
            ])?;
            let prio = 1 + i % 4;
            let due = first / 86_400 + epoch_day + [7, 30, 90, 180][(prio - 1) as usize];
            r.execute(params![i, prio, i64::from(i % 97 == 0), due])?;
        }
        let mut al = tx.prepare(
            "INSERT INTO alerts(rule_id, title, level, level_rank, tags, event_time, detected_at,
                 source, host, event) VALUES (?1, 't', 'high', 3, ?2, ?3, ?4, ?5, ?6, '{}')",
        )?;
        for i in 1..=n {
            let ev = t - (i % 30) * 86_400;
            al.execute(params![
                format!("rule-{}", i % 500),
                format!("[\"attack.t{}\"]", 1000 + i % 300),
                ev,
                ev + i % 3600,
                format!("src-{}.evtx", i % 20),
                format!("h{}", i % assets),
            ])?;
        }
        tx.execute(
            "INSERT INTO intel_kev(cve_id, date_added, data) VALUES ('CVE-2024-0001', '2024-01-01', '{}')",
            [],
        )?;
    }
    tx.commit()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: i64 = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let assets: i64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = args
        .get(3)
        .cloned()
        .unwrap_or_else(|| dir.path().join("bench.db").display().to_string());
    let now = DateTime::parse_from_rfc3339("2026-06-15T12:00:00Z")
        .unwrap()
        .to_utc();
    drop(SqliteStore::open(&path).expect("store"));
    let t = Instant::now();
    generate(&path, n, assets, now).expect("generate");
    println!(
        "generated {n} exposures, {n} alerts, {assets} assets in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let store = SqliteStore::open(&path).expect("open");
    let cfg = KpiConfig::default();
    // one warm-up read, then the best of three
    let _ = kpi::current(&store, None, now, &cfg).expect("kpi");
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let (_, k) = kpi::current(&store, Some(now - Duration::days(90)), now, &cfg).expect("kpi");
        assert!(k.iter().any(|x| x.value.is_some()));
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "kpi (every KPI, --since 90 days): {best:.3} s  ({:.2}x the 1 s target)",
        best / 1.0
    );
    let goals = vec![GoalConfig {
        kpi: "mttr.critical_days".into(),
        op: "<=".into(),
        target: 7.0,
        owner: None,
        due: None,
        name: None,
    }];
    let t = Instant::now();
    let (mut f, k) = kpi::current(&store, None, now, &cfg).expect("kpi");
    let g = goals::evaluate(&goals, &k, &[], now, 28).expect("goals");
    store.source_facts(&mut f).expect("sources");
    let a = assess(&f, &k, &g, now, &cfg);
    let md = a.doc().render(Format::Markdown);
    let html = a.doc().render(Format::Html);
    let secs = t.elapsed().as_secs_f64();
    println!(
        "assess (facts, KPIs, goals, Markdown {} B and HTML {} B): {secs:.3} s  ({:.2}x the 5 s target)",
        md.len(),
        html.len(),
        secs / 5.0
    );
}
