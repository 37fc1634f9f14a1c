use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use ctem_model::intel::Enrichment;
use ctem_model::{Asset, AssetKind, Exposure, ExposureKind, Package, Record, Severity};
use ctem_risk::{RiskModel, SlaConfig};

use super::super::scan::TEST_PARALLEL_MIN;
use crate::sqlite::SqliteStore;
use crate::work::Prioritize;
use crate::work::WorkStore;
use crate::{ScanMeta, Store};

/// Every `exposure_risk` row, in id order, as text (scores compared exactly).
fn risk_rows(store: &SqliteStore) -> Vec<String> {
    let mut st = store
        .conn
        .prepare(
            "SELECT exposure_id, score, priority, ssvc, kev, due, team, grp
             FROM exposure_risk ORDER BY exposure_id",
        )
        .expect("prepare");
    st.query_map([], |r| {
        Ok(format!(
            "{} {} {} {} {} {:?} {:?} {:?}",
            r.get::<_, i64>(0)?,
            r.get::<_, f64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, Option<i64>>(5)?,
            r.get::<_, Option<String>>(6)?,
            r.get::<_, Option<i64>>(7)?,
        ))
    })
    .expect("query")
    .collect::<Result<_, _>>()
    .expect("rows")
}

/// Every ticket's grouping, in key order.
fn ticket_rows(store: &SqliteStore) -> Vec<String> {
    let mut st = store
        .conn
        .prepare(
            "SELECT key, package, action, coalesce(target_version, '-'), priority, exposures,
                    assets, kev, risk FROM tickets ORDER BY key",
        )
        .expect("prepare");
    st.query_map([], |r| {
        Ok(format!(
            "{} {} {} {} {} {} {} {} {}",
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, i64>(6)?,
            r.get::<_, i64>(7)?,
            r.get::<_, f64>(8)?,
        ))
    })
    .expect("query")
    .collect::<Result<_, _>>()
    .expect("rows")
}

#[test]
fn two_thread_scan_scores_exactly_like_one_thread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = SqliteStore::open(dir.path().join("ctem.db")).expect("open");
    let meta = ScanMeta {
        tool: "trivy".into(),
        format: "trivy".into(),
        scope: Some("fleet".into()),
        file: "scan.json".into(),
        sha256: "sha".into(),
        imported_at: Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("date"),
    };
    let mut s = store.begin_import(meta).expect("begin");
    let mut intel = HashMap::new();
    for k in 0..40u32 {
        let mut a = Asset::new(AssetKind::ContainerImage, format!("registry/app-{k}"));
        a.tags = vec![format!("team-{}", k % 3)];
        s.record(Record::Asset { key: k, asset: a }).expect("asset");
        for j in 0..25u32 {
            let cve = format!("CVE-2024-{}", 1000 + (k * 7 + j) % 60);
            let sev = Severity::ALL[((k + j) % 5) as usize];
            let mut e = Exposure::new(ExposureKind::Vulnerability, format!("{cve} in lib{j}"), sev);
            e.add_vuln_id(&cve);
            e.package = Some(Package {
                name: format!("lib{}", (j + k) % 9),
                // versions differ by asset, so each half interns its own strings
                version: Some(format!("{k}.{j}")),
                fixed_version: (j % 4 != 0).then(|| format!("{k}.{}", j + 1)),
                ..Package::default()
            });
            s.record(Record::Exposure {
                asset: k,
                exposure: Box::new(e),
            })
            .expect("exposure");
            intel.entry(cve).or_insert_with(|| Enrichment {
                kev: j % 11 == 0,
                epss: Some(f64::from(j) / 25.0),
                ..Enrichment::default()
            });
        }
    }
    s.commit().expect("commit");
    let model = RiskModel::default();
    let sla = SlaConfig::default();
    let run = |store: &mut SqliteStore| {
        store
            .reprioritize(&Prioritize {
                model: &model,
                sla: &sla,
                intel: Some(&intel),
                config_rules: None,
                config_teams: &[],
                context: &[],
                tickets: true,
                now: Utc
                    .with_ymd_and_hms(2026, 2, 1, 0, 0, 0)
                    .single()
                    .expect("date"),
            })
            .expect("reprioritize")
    };
    TEST_PARALLEL_MIN.with(|c| c.set(i64::MAX));
    let one = run(&mut store);
    let one_rows = risk_rows(&store);
    let one_tickets = ticket_rows(&store);
    TEST_PARALLEL_MIN.with(|c| c.set(0));
    let two = run(&mut store);
    let two_rows = risk_rows(&store);
    assert!(one_tickets.len() > 10, "{one_tickets:?}");
    assert_eq!(one_tickets, ticket_rows(&store));
    assert_eq!(one_rows.len(), 1000);
    assert_eq!(one_rows, two_rows);
    assert_eq!(one.open_by_priority, two.open_by_priority);
    assert_eq!(two.scored, 1000);
    assert_eq!(
        two.tickets_created, 0,
        "the second pass finds the first one's tickets"
    );
}
