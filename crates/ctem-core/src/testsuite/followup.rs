//! The follow-up conformance case: after every kind of change (a scan, a subset, new
//! findings, a status set by hand, intelligence, a reopening, an inventory, a first KEV
//! catalog, a ticket group emptied), the incremental follow-up leaves the same scores and
//! tickets as the whole pass, and scores less than everything where it can.

use chrono::{NaiveDate, TimeZone, Utc};
use ctem_model::context::ContextRule;
use ctem_model::intel::{EpssScore, KevEntry};
use ctem_model::{
    Asset, AssetKind, Exposure, ExposureKind, ExposureStatus, Package, Record, Severity,
};
use ctem_risk::{RiskModel, SlaConfig};

use ctem_store::intel::IntelBatch;
use ctem_store::work::TicketFilter;
use ctem_store::{ExposureFilter, ScanMeta, Store};

use crate::prioritize::{Prioritize, PrioritizeSummary, follow_up_pass, run};

/// Scores and tickets, as text, compared exactly (a score row names its ticket by key:
/// ticket ids depend on the order the tickets were created in).
fn dump(store: &dyn Store) -> Vec<String> {
    let mut out = Vec::new();
    let mut ids: Vec<i64> = store
        .exposures(&ExposureFilter::default())
        .expect("exposures")
        .iter()
        .filter_map(|e| e.id)
        .collect();
    ids.sort_unstable();
    for id in ids {
        let Some(r) = store.stored_risk(id).expect("risk") else {
            continue;
        };
        let ticket = r
            .ticket_id
            .and_then(|t| store.ticket(t).expect("ticket"))
            .map(|t| t.key);
        out.push(format!(
            "{id} {} {} {} {} {:?} {:?} {ticket:?}",
            r.score, r.priority, r.ssvc, r.kev, r.due, r.team
        ));
    }
    let mut tickets = store.tickets(&TicketFilter::default()).expect("tickets");
    tickets.sort_by(|a, b| a.key.cmp(&b.key));
    for t in tickets {
        out.push(format!(
            "{} {} {:?} {} {} {} {} {} {:?} {}",
            t.key,
            t.state,
            t.target_version,
            t.priority,
            t.exposures,
            t.assets,
            t.kev,
            t.risk,
            t.due,
            t.breached
        ));
    }
    out
}

fn scan(store: &mut dyn Store, day: u32, assets: &[(u32, &[u32])]) {
    let meta = ScanMeta {
        tool: "trivy".into(),
        format: "trivy".into(),
        scope: None,
        file: format!("scan-{day}.json"),
        sha256: format!("{day}"),
        imported_at: Utc
            .with_ymd_and_hms(2026, 1, day, 0, 0, 0)
            .single()
            .expect("date"),
    };
    let mut s = store.begin_import(meta).expect("begin");
    for (k, (asset, vulns)) in assets.iter().enumerate() {
        let key = k as u32;
        let mut a = Asset::new(AssetKind::ContainerImage, format!("registry/app-{asset}"));
        a.tags = vec![format!("team-{}", asset % 2)];
        s.record(Record::Asset { key, asset: a }).expect("asset");
        for j in vulns.iter() {
            let cve = format!("CVE-2024-{}", 1000 + j);
            let mut e = Exposure::new(
                ExposureKind::Vulnerability,
                format!("{cve} in lib{}", j % 4),
                Severity::ALL[(*j % 5) as usize],
            );
            e.add_vuln_id(&cve);
            e.package = Some(Package {
                // a package per pair of assets: ticket groups cover part of the fleet
                name: format!("lib{}-{}", j % 4, asset % 4),
                version: Some(format!("1.{asset}")),
                fixed_version: (j % 3 != 0).then(|| format!("1.{}", asset + 1)),
                ..Package::default()
            });
            s.record(Record::Exposure {
                asset: key,
                exposure: Box::new(e),
            })
            .expect("exposure");
        }
    }
    s.commit().expect("commit");
}

/// The same changes on two stores: one follows up incrementally, the other re-scores
/// everything after each; scores and tickets must be the same after every step.
/// The same changes on two stores from `make`: one follows up incrementally, the other
/// re-scores everything after each; scores and tickets must be the same after every step.
pub fn run_all(make: &mut dyn FnMut() -> Box<dyn Store>) {
    let mut inc = make();
    let mut all = make();
    let model = RiskModel::default();
    let sla = SlaConfig::default();
    // asset context rules: one on the reporting tool (an inventory import changes which
    // assets it matches), one on tags
    let context = [
        ContextRule {
            source: Some("inventory".into()),
            internet_facing: Some(true),
            ..ContextRule::default()
        },
        ContextRule {
            tag: Some("team-1".into()),
            zone: Some("dmz".into()),
            ..ContextRule::default()
        },
    ];
    let ctx = Prioritize {
        model: &model,
        sla: &sla,
        intel: None,
        config_rules: None,
        config_teams: &[],
        context: &context,
        tickets: true,
        now: Utc
            .with_ymd_and_hms(2026, 2, 1, 12, 0, 0)
            .single()
            .expect("date"),
    };
    let every: Vec<u32> = (0..12).collect();
    let some: Vec<u32> = (0..6).collect();
    let other: Vec<u32> = (6..12).collect();
    let fleet: Vec<(u32, &[u32])> = (0..8).map(|a| (a, every.as_slice())).collect();
    type Step<'a> = Box<dyn Fn(&mut dyn Store) + 'a>;
    let steps: Vec<(&str, Step<'_>)> = vec![
        ("first scan", Box::new(|s| scan(s, 1, &fleet))),
        // asset 2 now reports only half: the other half is fixed
        (
            "a subset",
            Box::new(|s| scan(s, 2, &[(2, some.as_slice())])),
        ),
        // a new asset and new exposures on an old one
        (
            "new findings",
            Box::new(|s| scan(s, 3, &[(9, every.as_slice()), (3, other.as_slice())])),
        ),
        (
            "a status by hand",
            Box::new(|s| {
                let id = s
                    .exposures(&ExposureFilter::default())
                    .expect("exposures")
                    .iter()
                    .filter_map(|e| e.id)
                    .min()
                    .expect("an exposure");
                s.set_status(id, ExposureStatus::Accepted, "test")
                    .expect("status");
            }),
        ),
        (
            "intelligence on two CVEs",
            Box::new(|s| {
                let epss = |cve: &str, p: f64| EpssScore {
                    cve_id: cve.into(),
                    epss: p,
                    percentile: p,
                    date: NaiveDate::from_ymd_opt(2026, 1, 30),
                };
                s.import_intel(IntelBatch {
                    source: "epss.csv".into(),
                    kind: "epss".into(),
                    epss: vec![epss("CVE-2024-1001", 0.97), epss("CVE-2024-1007", 0.5)],
                    ..IntelBatch::default()
                })
                .expect("intel");
            }),
        ),
        // asset 2 reports everything again: the fixed half is reopened
        (
            "reopened",
            Box::new(|s| scan(s, 4, &[(2, every.as_slice())])),
        ),
        // an inventory states the criticality of an asset (and reports it: the source rule
        // now matches it)
        (
            "an inventory",
            Box::new(|s| {
                let mut i = s
                    .begin_import(ScanMeta {
                        tool: "inventory".into(),
                        format: "inventory".into(),
                        scope: None,
                        file: "cmdb.csv".into(),
                        sha256: "cmdb".into(),
                        imported_at: Utc
                            .with_ymd_and_hms(2026, 1, 4, 12, 0, 0)
                            .single()
                            .expect("date"),
                    })
                    .expect("begin");
                let mut a = Asset::new(AssetKind::ContainerImage, "registry/app-4");
                a.criticality = Some(5);
                i.record(Record::Asset { key: 0, asset: a }).expect("asset");
                i.commit().expect("commit");
            }),
        ),
        // the first KEV catalog: CVEs it does not list become "not in KEV"
        (
            "a KEV catalog",
            Box::new(|s| {
                let kev = KevEntry {
                    cve_id: "CVE-2024-1003".into(),
                    vendor_project: "v".into(),
                    product: "p".into(),
                    vulnerability_name: "n".into(),
                    date_added: NaiveDate::from_ymd_opt(2026, 1, 2).expect("date"),
                    short_description: "d".into(),
                    required_action: "patch".into(),
                    due_date: NaiveDate::from_ymd_opt(2026, 3, 1),
                    known_ransomware_campaign_use: None,
                    notes: String::new(),
                    cwes: Vec::new(),
                };
                s.import_intel(IntelBatch {
                    source: "kev.json".into(),
                    kind: "kev".into(),
                    kev: vec![kev],
                    ..IntelBatch::default()
                })
                .expect("intel");
            }),
        ),
        // every asset drops lib0 (j % 4 == 0): its tickets lose their last exposure
        (
            "a group emptied",
            Box::new(|s| {
                let no_lib0: Vec<u32> = (0..12).filter(|j| j % 4 != 0).collect();
                let f: Vec<(u32, &[u32])> = [0, 1, 2, 3, 4, 5, 6, 7, 9]
                    .map(|a| (a, no_lib0.as_slice()))
                    .to_vec();
                scan(s, 5, &f)
            }),
        ),
    ];
    let mut incremental_steps = 0;
    for (name, step) in &steps {
        eprintln!("follow-up conformance: {name}");
        step(inc.as_mut());
        step(all.as_mut());
        let s: PrioritizeSummary = follow_up_pass(inc.as_mut(), &ctx).expect("follow up");
        run(all.as_mut(), &ctx).expect("whole pass");
        assert_eq!(dump(inc.as_ref()), dump(all.as_ref()), "after {name}");
        let total = inc
            .exposures(&ExposureFilter::default())
            .expect("exposures")
            .len() as i64;
        if s.incremental {
            incremental_steps += 1;
            assert!((s.scored as i64) < total, "{name}: {} of {total}", s.scored);
        }
        if ["a subset", "a status by hand", "intelligence on two CVEs"].contains(name) {
            assert!(s.incremental, "{name} is followed up incrementally");
        }
        assert_eq!(inc.follow_up_state().expect("state").pending, 0);
    }
    assert!(
        incremental_steps >= 4,
        "{incremental_steps} incremental steps"
    );
}
