//! The conformance cases of `ctem_store::work::WorkStore` and the prioritisation domain over it: teams, users and rules, the bulk
//! re-prioritisation (scores, KEV-capped due dates, routing, `top`), how mitigating facts
//! lower a score, and tickets following their exposures through later scans and by hand.
//! Run by every backend beside `ctem_store::testsuite`.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use ctem_model::intel::{Enrichment, RansomwareUse};
use ctem_model::risk::Priority;
use ctem_model::work::{OwnershipRule, Role, RuleKind, Team, TicketState, User};
use ctem_model::{
    Asset, AssetKind, Exposure, ExposureKind, ExposureStatus, Package, Record, Severity,
};
use ctem_risk::{RiskModel, SlaConfig};

use ctem_store::work::{Delivery, TicketFilter};
use ctem_store::{ExposureFilter, ScanMeta, Store};

use crate::prioritize::{Prioritize, PrioritizeSummary};

type Case = (&'static str, fn(&mut dyn Store));

/// Every case, by name.
pub const CASES: &[Case] = &[
    (
        "teams_users_and_rules_round_trip",
        teams_users_and_rules_round_trip,
    ),
    (
        "reprioritize_scores_routes_caps_due_dates_and_groups",
        reprioritize_scores_routes_caps_due_dates_and_groups,
    ),
    (
        "accepted_and_vex_not_affected_lower_the_score_and_leave_tickets",
        accepted_and_vex_not_affected_lower_the_score_and_leave_tickets,
    ),
    (
        "tickets_are_verified_by_a_later_scan_and_reopened",
        tickets_are_verified_by_a_later_scan_and_reopened,
    ),
    (
        "manual_ticket_moves_assignment_comments_and_expiry",
        manual_ticket_moves_assignment_comments_and_expiry,
    ),
    ("deliveries_round_trip", deliveries_round_trip),
];

/// Runs every case on a fresh store from `make`.
pub fn run_all(make: &mut dyn FnMut() -> Box<dyn Store>) {
    for (name, case) in CASES {
        let mut store = make();
        eprintln!("work conformance: {name}");
        case(store.as_mut());
    }
}

fn day(d: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0)
        .single()
        .unwrap_or_default()
        + Duration::days(d)
}

fn date(d: i64) -> NaiveDate {
    day(d).date_naive()
}

/// One exposure: `cve` in `pkg` installed at 1.0, fixed in `fixed` when given.
fn vuln(cve: &str, pkg: &str, fixed: Option<&str>, sev: Severity) -> Exposure {
    let mut e = Exposure::new(ExposureKind::Vulnerability, format!("{cve} in {pkg}"), sev);
    e.add_vuln_id(cve);
    e.package = Some(Package {
        name: pkg.into(),
        version: Some("1.0".into()),
        fixed_version: fixed.map(str::to_owned),
        ..Package::default()
    });
    e
}

/// One scan of the scope `fleet` on `day_n`: each asset with its exposures.
fn scan(store: &mut dyn Store, day_n: i64, assets: &[(Asset, Vec<Exposure>)]) {
    let meta = ScanMeta {
        tool: "trivy".into(),
        format: "trivy".into(),
        scope: Some("fleet".into()),
        file: format!("scan-{day_n}.json"),
        sha256: format!("sha-{day_n}"),
        imported_at: day(day_n),
    };
    let mut s = store.begin_import(meta).expect("begin");
    for (k, (a, es)) in assets.iter().enumerate() {
        s.record(Record::Asset {
            key: k as u32,
            asset: a.clone(),
        })
        .expect("asset");
        for e in es {
            s.record(Record::Exposure {
                asset: k as u32,
                exposure: Box::new(e.clone()),
            })
            .expect("exposure");
        }
    }
    s.commit().expect("commit");
}

fn image(name: &str, tag: &str) -> Asset {
    let mut a = Asset::new(AssetKind::ContainerImage, name);
    a.tags = vec![tag.into()];
    a
}

fn kev(cve: &str, due: NaiveDate) -> (String, Enrichment) {
    (
        cve.to_string(),
        Enrichment {
            cve_id: cve.into(),
            kev: true,
            kev_date_added: None,
            kev_due_date: Some(due),
            kev_ransomware: Some(RansomwareUse::Known),
            epss: Some(0.9),
            epss_percentile: Some(0.99),
            epss_date: None,
            description: None,
            cwes: Vec::new(),
            cvss: Vec::new(),
        },
    )
}

fn rule(kind: RuleKind, pattern: &str, team: &str) -> OwnershipRule {
    OwnershipRule {
        id: None,
        position: 0,
        kind,
        pattern: pattern.into(),
        team: team.into(),
        priority: None,
    }
}

fn prioritize(
    store: &mut dyn Store,
    intel: &HashMap<String, Enrichment>,
    now: DateTime<Utc>,
) -> PrioritizeSummary {
    let model = RiskModel::default();
    let sla = SlaConfig::default();
    crate::prioritize::run(
        store,
        &Prioritize {
            model: &model,
            sla: &sla,
            intel: Some(intel),
            config_rules: None,
            config_teams: &[],
            context: &[],
            tickets: true,
            now,
        },
    )
    .expect("reprioritize")
}

fn id_of(store: &dyn Store, title: &str) -> i64 {
    store
        .exposures(&ExposureFilter::default())
        .expect("exposures")
        .iter()
        .find(|e| e.title == title)
        .and_then(|e| e.id)
        .unwrap_or_else(|| panic!("{title} not stored"))
}

fn all_tickets(store: &dyn Store) -> Vec<ctem_model::work::Ticket> {
    store.tickets(&TicketFilter::default()).expect("tickets")
}

fn ticket_by_key(store: &dyn Store, key: &str) -> ctem_model::work::Ticket {
    all_tickets(store)
        .into_iter()
        .find(|t| t.key == key)
        .unwrap_or_else(|| panic!("no ticket {key}: {:?}", all_tickets(store)))
}

fn teams_users_and_rules_round_trip(store: &mut dyn Store) {
    for (n, d) in [("platform", Some("images")), ("ops", None)] {
        store
            .put_team(&Team {
                name: n.into(),
                description: d.map(str::to_owned),
            })
            .expect("team");
    }
    let teams = store.teams().expect("teams");
    assert_eq!(teams.len(), 2);
    assert!(
        teams
            .iter()
            .any(|t| t.name == "platform" && t.description.as_deref() == Some("images"))
    );
    let u = User {
        name: "carol".into(),
        email: Some("carol@example.com".into()),
        role: Role::ItOperations,
        teams: vec!["platform".into()],
    };
    store.put_user(&u).expect("user");
    assert_eq!(store.users().expect("users"), vec![u.clone()]);
    let stray = User {
        teams: vec!["no_such_team".into()],
        ..u.clone()
    };
    assert!(store.put_user(&stray).is_err(), "a user's team must exist");
    let a = store
        .add_rule(&rule(RuleKind::Tag, "team:platform", "platform"))
        .expect("rule");
    let b = store
        .add_rule(&rule(RuleKind::AssetKind, "host", "ops"))
        .expect("rule");
    let rules = store.rules().expect("rules");
    assert_eq!(
        rules.iter().map(|r| r.id).collect::<Vec<_>>(),
        [Some(a), Some(b)]
    );
    store.remove_rule(a).expect("remove");
    let rules = store.rules().expect("rules");
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].team, "ops");
}

fn reprioritize_scores_routes_caps_due_dates_and_groups(store: &mut dyn Store) {
    store
        .put_team(&Team {
            name: "platform".into(),
            description: None,
        })
        .expect("team");
    store
        .add_rule(&rule(RuleKind::Tag, "team:platform", "platform"))
        .expect("rule");
    scan(
        store,
        0,
        &[
            (
                image("web:1", "team:platform"),
                vec![
                    vuln("CVE-2024-0001", "openssl", Some("3.0.13"), Severity::High),
                    vuln("CVE-2024-0002", "openssl", Some("3.0.12"), Severity::Medium),
                    vuln("CVE-2024-0003", "zlib", None, Severity::Low),
                ],
            ),
            (
                image("api:1", "team:other"),
                vec![vuln(
                    "CVE-2024-0001",
                    "openssl",
                    Some("3.0.13"),
                    Severity::High,
                )],
            ),
        ],
    );
    let kev_due = date(3);
    let intel: HashMap<String, Enrichment> = [kev("CVE-2024-0001", kev_due)].into();
    let s = prioritize(store, &intel, day(0));
    assert_eq!(s.scored, 4);
    assert_eq!(s.open_by_priority.iter().sum::<u64>(), 4);
    let k = id_of(store, "CVE-2024-0001 in openssl");
    let r = store.stored_risk(k).expect("risk").expect("stored");
    assert!(r.kev);
    assert!(r.priority <= Priority::P2, "KEV floor: {r:?}");
    assert_eq!(r.due, Some(kev_due), "capped by the KEV due date");
    assert_eq!(r.team.as_deref(), Some("platform"));
    assert!(r.ticket_id.is_some());
    let low = id_of(store, "CVE-2024-0003 in zlib");
    let lr = store.stored_risk(low).expect("risk").expect("stored");
    assert!(!lr.kev);
    assert!(lr.score < r.score);
    assert!(lr.due > Some(kev_due));
    // ranked: highest score first
    let ranked = store.ranked(None).expect("ranked");
    assert_eq!(ranked.len(), 4);
    assert!(ranked.windows(2).all(|w| w[0].1.score >= w[1].1.score));
    assert!(ranked[0].1.kev);
    // top: openssl to 3.0.13 on 2 assets closes 3, 2 in KEV, before zlib
    let top = crate::prioritize::top(store, date(0)).expect("top");
    assert_eq!(top.len(), 2, "{top:?}");
    assert_eq!(top[0].group.action, "upgrade openssl to 3.0.13");
    assert_eq!(
        (
            top[0].group.assets,
            top[0].group.exposures,
            top[0].group.kev
        ),
        (2, 3, 2)
    );
    assert_eq!(top[0].teams, ["platform", "unassigned"]);
    assert_eq!(top[1].group.action, "mitigate zlib (no fixed version)");
    // tickets: one per action per team
    let keys: Vec<String> = all_tickets(store).into_iter().map(|t| t.key).collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    let t = ticket_by_key(store, "platform|pkg:openssl|fix");
    assert_eq!((t.exposures, t.assets, t.kev), (2, 1, 1));
    assert_eq!(t.due, Some(kev_due));
    assert!(!t.breached);
    assert_eq!(t.state, TicketState::Open);
    ticket_by_key(store, "unassigned|pkg:openssl|fix");
    ticket_by_key(store, "platform|pkg:zlib|nofix");
    // later, past the KEV due date: breached; a second run creates nothing new
    let s = prioritize(store, &intel, day(10));
    assert_eq!(s.tickets_created, 0);
    assert!(ticket_by_key(store, "platform|pkg:openssl|fix").breached);
    assert_eq!(store.ticket_exposures(t.id).expect("ids").len(), 2);
}

fn accepted_and_vex_not_affected_lower_the_score_and_leave_tickets(store: &mut dyn Store) {
    let mut vex = vuln("CVE-2024-0011", "libx", Some("2.0"), Severity::High);
    vex.solution = Some("VEX analysis: not_affected (code_not_reachable)".into());
    scan(
        store,
        0,
        &[(
            image("web:1", "t"),
            vec![
                vuln("CVE-2024-0010", "libx", Some("2.0"), Severity::High),
                vex,
                vuln("CVE-2024-0012", "libx", Some("2.0"), Severity::High),
            ],
        )],
    );
    let intel = HashMap::new();
    prioritize(store, &intel, day(0));
    let plain = id_of(store, "CVE-2024-0010 in libx");
    let vexed = id_of(store, "CVE-2024-0011 in libx");
    let accepted = id_of(store, "CVE-2024-0012 in libx");
    let score = |s: &dyn Store, id| s.stored_risk(id).expect("risk").expect("stored").score;
    let before = score(store, accepted);
    assert!(score(store, vexed) < before * 0.1, "VEX not_affected");
    store
        .set_status(accepted, ExposureStatus::Accepted, "compensating control")
        .expect("accept");
    prioritize(store, &intel, day(1));
    let after = score(store, accepted);
    assert!(after < before, "{after} >= {before}");
    assert!((after - before * 0.3).abs() < 0.11, "{after} vs {before}");
    assert_eq!(score(store, plain), before);
    // only the plain exposure stays on the ticket and in top
    let t = ticket_by_key(store, "unassigned|pkg:libx|fix");
    assert_eq!(t.exposures, 1);
    assert_eq!(store.ticket_exposures(t.id).expect("ids")[0], plain);
    let top = crate::prioritize::top(store, date(1)).expect("top");
    assert_eq!(top[0].group.exposures, 1);
}

fn tickets_are_verified_by_a_later_scan_and_reopened(store: &mut dyn Store) {
    let both = vec![
        vuln("CVE-2024-0020", "curl", Some("8.5"), Severity::High),
        vuln("CVE-2024-0021", "expat", Some("2.6"), Severity::Medium),
    ];
    let intel = HashMap::new();
    scan(store, 0, &[(image("web:1", "t"), both.clone())]);
    let s = prioritize(store, &intel, day(0));
    assert_eq!(s.tickets_created, 2);
    // a later scan no longer sees curl's vulnerability
    scan(store, 1, &[(image("web:1", "t"), vec![both[1].clone()])]);
    let s = prioritize(store, &intel, day(1));
    assert_eq!(s.tickets_verified, 1);
    let curl = ticket_by_key(store, "unassigned|pkg:curl|fix");
    assert_eq!(curl.state, TicketState::Verified);
    assert_eq!(curl.exposures, 0);
    assert_eq!(
        ticket_by_key(store, "unassigned|pkg:expat|fix").state,
        TicketState::Open
    );
    // it comes back
    scan(store, 2, &[(image("web:1", "t"), both)]);
    let s = prioritize(store, &intel, day(2));
    assert_eq!(s.tickets_reopened, 1);
    let curl = ticket_by_key(store, "unassigned|pkg:curl|fix");
    assert_eq!(curl.state, TicketState::Open);
    assert_eq!((curl.reopened, curl.exposures), (1, 1));
    let kinds: Vec<String> = store
        .ticket_events(curl.id)
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["created", "verified", "reopened"]);
}

fn manual_ticket_moves_assignment_comments_and_expiry(store: &mut dyn Store) {
    store
        .put_team(&Team {
            name: "ops".into(),
            description: None,
        })
        .expect("team");
    store
        .put_user(&User {
            name: "bob".into(),
            email: None,
            role: Role::ItOperations,
            teams: vec!["ops".into()],
        })
        .expect("user");
    scan(
        store,
        0,
        &[(
            image("web:1", "t"),
            vec![vuln("CVE-2024-0030", "pcre", Some("8.45"), Severity::High)],
        )],
    );
    let intel = HashMap::new();
    prioritize(store, &intel, day(0));
    let id = ticket_by_key(store, "unassigned|pkg:pcre|fix").id;
    assert!(store.assign_ticket(id, "nobody", None).is_err());
    let t = store
        .assign_ticket(id, "bob", Some("alice"))
        .expect("assign");
    assert_eq!(t.assignee.as_deref(), Some("bob"));
    store
        .comment_ticket(id, "on it", Some("bob"))
        .expect("comment");
    let t = store
        .move_ticket(id, TicketState::InProgress, None, Some("bob"))
        .expect("move");
    assert_eq!(t.state, TicketState::InProgress);
    assert!(
        store
            .move_ticket(id, TicketState::RiskAccepted, None, None)
            .is_err(),
        "risk acceptance needs an expiry"
    );
    assert!(
        store
            .move_ticket(id, TicketState::Verified, None, None)
            .is_err(),
        "only a scan verifies"
    );
    let until = date(5);
    let t = store
        .move_ticket(id, TicketState::RiskAccepted, Some(until), Some("alice"))
        .expect("accept");
    assert_eq!(
        (t.state, t.accepted_until),
        (TicketState::RiskAccepted, Some(until))
    );
    // still accepted before the expiry, reopened after it
    prioritize(store, &intel, day(4));
    assert_eq!(
        store.ticket(id).expect("t").expect("t").state,
        TicketState::RiskAccepted
    );
    prioritize(store, &intel, day(6));
    let t = store.ticket(id).expect("t").expect("t");
    assert_eq!(t.state, TicketState::Open);
    assert_eq!(t.accepted_until, None);
    let events = store.ticket_events(id).expect("events");
    assert!(
        events
            .iter()
            .any(|e| e.kind == "comment" && e.actor.as_deref() == Some("bob") && e.text == "on it")
    );
    let by_state = store
        .tickets(&TicketFilter {
            states: vec![TicketState::Open],
            assignee: Some("bob".into()),
            ..TicketFilter::default()
        })
        .expect("filter");
    assert_eq!(by_state.len(), 1);
}

fn deliveries_round_trip(store: &mut dyn Store) {
    assert_eq!(store.delivery("jira:create:1").expect("get"), None);
    let mut d = Delivery {
        key: "jira:create:1".into(),
        target: "jira".into(),
        ticket_id: Some(1),
        external_id: None,
        state: "pending".into(),
        attempts: 1,
        last_error: Some("timeout".into()),
    };
    store.put_delivery(&d).expect("put");
    assert_eq!(store.delivery(&d.key).expect("get"), Some(d.clone()));
    d.state = "done".into();
    d.external_id = Some("SEC-7".into());
    d.attempts = 2;
    d.last_error = None;
    store.put_delivery(&d).expect("replace");
    assert_eq!(store.delivery(&d.key).expect("get"), Some(d));
}
