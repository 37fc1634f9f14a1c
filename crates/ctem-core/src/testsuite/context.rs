//! The conformance cases of asset context: local addresses never merge assets across
//! sources, inventory facts outrank scanner facts, inventory-only assets are never scanned,
//! context rules reach the scores, and a port-bound finding on an asset without a service
//! inventory is "reachability unknown". Run by every backend beside `ctem_store::testsuite`.

use chrono::{TimeZone, Utc};
use ctem_model::context::{ContextRule, FactSource};
use ctem_model::{
    Asset, AssetKind, Exposure, ExposureKind, Identifier, IdentifierKind, Record, Service, Severity,
};
use ctem_risk::{RiskModel, SlaConfig};

use ctem_store::{AssetFilter, AssetRow, ScanMeta, Store};

use crate::prioritize::Prioritize;

type Case = (&'static str, fn(&mut dyn Store));

/// Every case, by name.
pub const CASES: &[Case] = &[
    (
        "local_addresses_never_merge_assets_across_sources",
        local_addresses_never_merge_assets_across_sources,
    ),
    (
        "inventory_facts_outrank_scanners_and_mark_never_scanned",
        inventory_facts_outrank_scanners_and_mark_never_scanned,
    ),
    (
        "context_rules_and_service_inventory_reach_the_scores",
        context_rules_and_service_inventory_reach_the_scores,
    ),
];

/// Runs every case on a fresh store from `make`.
pub fn run_all(make: &mut dyn FnMut() -> Box<dyn Store>) {
    for (name, case) in CASES {
        let mut store = make();
        eprintln!("context conformance: {name}");
        case(store.as_mut());
    }
}

/// One import by `tool` (also its format) of hosts, each with its services and exposures.
fn import(
    store: &mut dyn Store,
    tool: &str,
    hosts: &[(Asset, Vec<Service>, Vec<Exposure>)],
) -> ctem_model::ImportSummary {
    let meta = ScanMeta {
        tool: tool.into(),
        format: tool.into(),
        scope: None,
        file: format!("{tool}.report"),
        sha256: String::new(),
        imported_at: Utc
            .with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
            .single()
            .unwrap_or_default(),
    };
    let mut s = store.begin_import(meta).expect("begin");
    for (k, (a, services, exposures)) in hosts.iter().enumerate() {
        let key = k as u32;
        s.record(Record::Asset {
            key,
            asset: a.clone(),
        })
        .expect("asset");
        for svc in services {
            s.record(Record::Service {
                asset: key,
                service: svc.clone(),
            })
            .expect("service");
        }
        for e in exposures {
            s.record(Record::Exposure {
                asset: key,
                exposure: Box::new(e.clone()),
            })
            .expect("exposure");
        }
    }
    s.commit().expect("commit")
}

fn host(name: &str, ids: &[(IdentifierKind, &str)]) -> Asset {
    let mut a = Asset::new(AssetKind::Host, name);
    for (k, v) in ids {
        a.add_identifier(Identifier::new(*k, v));
    }
    a
}

fn port(p: u16, state: &str) -> Service {
    Service {
        protocol: "tcp".into(),
        port: p,
        state: state.into(),
        name: None,
        product: None,
        version: None,
        cpe: Vec::new(),
    }
}

fn on_port(title: &str, p: u16, cvss: f64) -> Exposure {
    let mut e = Exposure::new(ExposureKind::Vulnerability, title, Severity::High);
    e.port = Some(p);
    e.protocol = Some("tcp".into());
    e.cvss.push(ctem_model::Cvss {
        version: "3.1".into(),
        vector: None,
        score: Some(cvss),
        source: None,
    });
    e
}

fn assets(store: &dyn Store) -> Vec<AssetRow> {
    store.assets(&AssetFilter::default()).expect("assets")
}

fn local_addresses_never_merge_assets_across_sources(store: &mut dyn Store) {
    use IdentifierKind as K;
    // nmap scanned this machine; a cloud agent reports its own host, which also lists
    // 127.0.0.1 and ::1 among its addresses
    let local = host(
        "localhost",
        &[(K::Ipv4, "127.0.0.1"), (K::Hostname, "localhost")],
    );
    let cloud = host(
        "ip-10-0-0-5.ec2.internal",
        &[
            (K::Fqdn, "ip-10-0-0-5.ec2.internal"),
            (K::Ipv4, "127.0.0.1"),
            (K::Ipv6, "::1"),
            (K::Ipv4, "169.254.169.254"),
        ],
    );
    let first = import(
        store,
        "nmap",
        &[(local.clone(), vec![port(22, "open")], vec![])],
    );
    assert_eq!(first.assets.new, 1);
    let second = import(store, "nessus", &[(cloud, vec![], vec![])]);
    assert_eq!(
        (second.assets.new, second.assets.merged),
        (1, 0),
        "a cloud host that reported 127.0.0.1 is not the nmap localhost scan"
    );
    assert_eq!(assets(store).len(), 2);
    // the same source scanning localhost again finds its own asset
    let again = import(store, "nmap", &[(local, vec![port(22, "open")], vec![])]);
    assert_eq!((again.assets.new, again.assets.merged), (0, 1));
    // a routable address still merges across sources
    let a = host("web01", &[(K::Ipv4, "10.0.0.9")]);
    import(store, "nmap", &[(a.clone(), vec![], vec![])]);
    let merged = import(store, "nessus", &[(a, vec![], vec![])]);
    assert_eq!(merged.assets.merged, 1);
    assert_eq!(assets(store).len(), 3);
}

fn inventory_facts_outrank_scanners_and_mark_never_scanned(store: &mut dyn Store) {
    use IdentifierKind as K;
    let mut scanned = host("web01.corp", &[(K::Fqdn, "web01.corp")]);
    scanned.internet_facing = Some(true);
    scanned.zone = Some("dmz".into());
    import(store, "nmap", &[(scanned.clone(), vec![], vec![])]);
    let mut inv = host("web01.corp", &[(K::Fqdn, "web01.corp")]);
    inv.criticality = Some(5);
    inv.internet_facing = Some(false);
    inv.owner_team = Some("web".into());
    inv.environment = Some("production".into());
    inv.tags = vec!["payments".into()];
    let mut unseen = host("vault.corp", &[(K::Fqdn, "vault.corp")]);
    unseen.criticality = Some(4);
    let s = import(
        store,
        "inventory",
        &[(inv, vec![], vec![]), (unseen, vec![], vec![])],
    );
    assert_eq!((s.assets.new, s.assets.merged), (1, 1));
    // a later scanner report cannot undo what the inventory stated, but fills the rest
    scanned.criticality = Some(1);
    scanned.zone = Some("internal".into());
    import(store, "nmap", &[(scanned, vec![], vec![])]);
    let rows = assets(store);
    let web = rows
        .iter()
        .find(|r| r.asset.name == "web01.corp")
        .expect("web01");
    assert_eq!(web.asset.criticality, Some(5));
    assert_eq!(web.asset.internet_facing, Some(false));
    assert_eq!(web.asset.owner_team.as_deref(), Some("web"));
    assert_eq!(web.asset.environment.as_deref(), Some("production"));
    assert_eq!(web.asset.zone.as_deref(), Some("internal"));
    assert!(web.asset.tags.contains(&"payments".to_string()));
    assert_eq!(web.fact_sources["criticality"], FactSource::Inventory);
    assert_eq!(web.fact_sources["zone"], FactSource::Scanner);
    assert!(!web.never_scanned);
    assert_eq!(web.sources, ["inventory", "nmap"]);
    let vault = rows
        .iter()
        .find(|r| r.asset.name == "vault.corp")
        .expect("vault");
    assert!(vault.never_scanned, "{vault:?}");
    assert_eq!(vault.asset.criticality, Some(4));
}

fn reprioritize(store: &mut dyn Store, context: &[ContextRule]) {
    let model = RiskModel::default();
    let sla = SlaConfig::default();
    crate::prioritize::run(
        store,
        &Prioritize {
            model: &model,
            sla: &sla,
            intel: None,
            config_rules: None,
            config_teams: &[],
            context,
            tickets: true,
            now: Utc
                .with_ymd_and_hms(2026, 3, 2, 0, 0, 0)
                .single()
                .unwrap_or_default(),
        },
    )
    .expect("reprioritize");
}

fn score_of(store: &dyn Store, title: &str) -> f64 {
    let e = store
        .exposures(&ctem_store::ExposureFilter::default())
        .expect("exposures")
        .into_iter()
        .find(|e| e.title == title)
        .unwrap_or_else(|| panic!("{title} not stored"));
    store
        .stored_risk(e.id.unwrap_or_default())
        .expect("risk")
        .expect("scored")
        .score
}

fn context_rules_and_service_inventory_reach_the_scores(store: &mut dyn Store) {
    use IdentifierKind as K;
    // a: services inventoried, port 8080 not among the open ones (known unreachable);
    // b: no service inventory at all (reachability unknown);
    // c: no port (not service-bound)
    let a = host("a.corp", &[(K::Fqdn, "a.corp")]);
    let b = host("b.corp", &[(K::Fqdn, "b.corp")]);
    let c = host("c.corp", &[(K::Fqdn, "c.corp")]);
    import(
        store,
        "nessus",
        &[
            (
                a,
                vec![port(22, "open")],
                vec![on_port("flaw a", 8080, 7.5)],
            ),
            (b, vec![], vec![on_port("flaw b", 8080, 7.5)]),
            (c, vec![], {
                let mut e = on_port("flaw c", 0, 7.5);
                e.port = None;
                vec![e]
            }),
        ],
    );
    reprioritize(store, &[]);
    let (sa, sb, sc) = (
        score_of(store, "flaw a"),
        score_of(store, "flaw b"),
        score_of(store, "flaw c"),
    );
    assert!(sa < sb, "known unreachable {sa} ranks below unknown {sb}");
    assert_eq!(
        sb, sc,
        "no service inventory: reachability unknown, as with no port"
    );
    // a rule making b.corp a crown jewel on the internet raises its score
    let rules = [ContextRule {
        name: Some("b.*".into()),
        criticality: Some(5),
        internet_facing: Some(true),
        ..ContextRule::default()
    }];
    reprioritize(store, &rules);
    assert!(score_of(store, "flaw b") > sb);
    assert_eq!(score_of(store, "flaw c"), sc, "the rule matches b only");
}
