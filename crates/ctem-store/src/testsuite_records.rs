//! The conformance cases of the record stores every backend keeps row for row: detection
//! alerts ([`crate::alerts::AlertStore`]), incidents, KPI snapshots and reviews
//! ([`crate::measure::MeasureStore`]), identities ([`crate::auth::AuthStore`]) and exercises
//! ([`crate::exercise::ExerciseStore`]).
//!
//! Each case panics with a message on failure (it is test code).

use chrono::{DateTime, Duration, TimeZone, Utc};
use ctem_model::work::{Role, User};
use ctem_model::{Alert, Incident, IncidentState};

use crate::alerts::AlertFilter;
use crate::auth::{AuditEntry, NewToken, Session};
use crate::measure::{Grouping, Snapshot};
use crate::{ErrorKind, Store};

type Case = (&'static str, fn(&mut dyn Store));

/// Every case, by name.
pub const CASES: &[Case] = &[
    (
        "alerts_are_stored_once_and_filtered",
        alerts_are_stored_once_and_filtered,
    ),
    (
        "incidents_group_alerts_and_move_through_states",
        incidents_group_alerts_and_move_through_states,
    ),
    (
        "snapshots_and_reviews_round_trip",
        snapshots_and_reviews_round_trip,
    ),
    (
        "passwords_tokens_sessions_and_audit",
        passwords_tokens_sessions_and_audit,
    ),
    ("exercises_round_trip", exercises_round_trip),
];

/// Runs every case, each on a fresh store from `make`.
pub fn run_all(make: &mut dyn FnMut() -> Box<dyn Store>) {
    for (name, case) in CASES {
        let mut store = make();
        eprintln!("conformance: {name}");
        case(store.as_mut());
    }
}

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn alert(rule: &str, level: &str, host: &str, record: u64, minute: i64) -> Alert {
    Alert {
        id: None,
        rule_id: rule.into(),
        title: format!("{rule} fired"),
        level: level.into(),
        kind: Default::default(),
        tags: vec!["attack.t1059".into()],
        event_time: Some(t(minute)),
        detected_at: t(minute + 1),
        source: Some("sysmon.evtx".into()),
        record: Some(record),
        host: Some(host.into()),
        user: Some("alice".into()),
        process: None,
        event: serde_json::json!({"EventID": 1, "record": record}),
    }
}

fn alerts_are_stored_once_and_filtered(store: &mut dyn Store) {
    let batch = vec![
        alert("r1", "high", "web01", 1, 0),
        alert("r1", "low", "web02", 2, 5),
        alert("r2", "critical", "web01", 3, 10),
        // the same event twice in one batch is one alert
        alert("r2", "critical", "web01", 3, 10),
    ];
    let ids = store.store_alerts(&batch).expect("store");
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    // storing the same alerts again (a second detect run) adds nothing
    assert!(store.store_alerts(&batch).expect("again").is_empty());
    let more = store
        .store_alerts(&[alert("r3", "medium", "db01", 9, 20)])
        .expect("more");
    assert_eq!(more.len(), 1);
    assert!(more[0] > ids[2]);

    let all = store.alerts(&AlertFilter::default()).expect("all");
    let rules: Vec<&str> = all.iter().map(|a| a.rule_id.as_str()).collect();
    assert_eq!(rules, ["r3", "r2", "r1", "r1"], "newest detection first");
    let back = all.iter().find(|a| a.rule_id == "r2").expect("r2");
    assert_eq!(back.event_time, Some(t(10)));
    assert_eq!(back.detected_at, t(11));
    assert_eq!(back.record, Some(3));
    assert_eq!(back.tags, ["attack.t1059"]);
    assert_eq!(back.event["record"], 3);
    assert_eq!(back.user.as_deref(), Some("alice"));

    let f = |rule: Option<&str>, level: Option<&str>, host: Option<&str>, limit| AlertFilter {
        rule_id: rule.map(str::to_string),
        min_level: level.map(str::to_string),
        host: host.map(str::to_string),
        limit,
    };
    let n = |store: &dyn Store, filter| store.alerts(&filter).expect("filter").len();
    assert_eq!(n(store, f(Some("r1"), None, None, None)), 2);
    assert_eq!(n(store, f(None, Some("high"), None, None)), 2);
    assert_eq!(n(store, f(None, Some("medium"), Some("web01"), None)), 2);
    assert_eq!(n(store, f(None, None, None, Some(1))), 1);
    assert_eq!(n(store, f(Some("nope"), None, None, None)), 0);
}

fn incident(key: &str, minute: i64, alerts: u64) -> Incident {
    Incident {
        id: None,
        key_kind: "host".into(),
        key_value: key.into(),
        title: format!("activity on {key}"),
        severity: "high".into(),
        state: IncidentState::New,
        owner: Some("soc".into()),
        alerts,
        first_event: t(minute),
        last_event: t(minute + 5),
        detected_at: t(minute + 6),
        acknowledged_at: None,
        contained_at: None,
        resolved_at: None,
    }
}

fn incidents_group_alerts_and_move_through_states(store: &mut dyn Store) {
    let ids = store
        .store_alerts(&[
            alert("r1", "high", "web01", 1, 10),
            alert("r2", "high", "web01", 2, 0),
            alert("r3", "low", "db01", 3, 20),
        ])
        .expect("alerts");
    let open = store.ungrouped_alerts().expect("ungrouped");
    let times: Vec<_> = open.iter().map(|a| a.time).collect();
    assert_eq!(times, [t(0), t(10), t(20)], "ordered by event time");
    assert_eq!(open[0].host.as_deref(), Some("web01"));
    assert_eq!(open[0].tags, ["attack.t1059"]);

    let grouping = Grouping {
        incidents: vec![incident("web01", 0, 2), incident("db01", 20, 1)],
        links: vec![(ids[0], 0), (ids[1], 0), (ids[2], 1)],
    };
    let inc = store.save_grouping(&grouping).expect("group");
    assert_eq!(inc.len(), 2);
    assert!(store.ungrouped_alerts().expect("none left").is_empty());
    // linking an alert again is a no-op, and an incident with an id is updated in place
    let mut grown = store.incident(inc[0]).expect("read").expect("exists");
    grown.alerts = 3;
    let again = store
        .save_grouping(&Grouping {
            incidents: vec![grown],
            links: vec![(ids[0], 0)],
        })
        .expect("regroup");
    assert_eq!(again, [inc[0]]);
    assert_eq!(store.incidents().expect("list").len(), 2);
    assert_eq!(store.incident(inc[0]).expect("r").expect("e").alerts, 3);
    let mut linked = store.incident_alert_ids(inc[0]).expect("links");
    linked.sort_unstable();
    assert_eq!(linked, [ids[0], ids[1]]);
    let bad = store.save_grouping(&Grouping {
        incidents: vec![],
        links: vec![(ids[0], 4)],
    });
    assert!(bad.is_err(), "a link to an incident not in the grouping");

    let ack = store
        .set_incident_state(inc[0], IncidentState::Acknowledged, t(30), Some("bob"))
        .expect("ack");
    assert_eq!(
        (ack.state, ack.acknowledged_at, ack.resolved_at),
        (IncidentState::Acknowledged, Some(t(30)), None)
    );
    let done = store
        .set_incident_state(inc[0], IncidentState::Resolved, t(60), None)
        .expect("resolve");
    assert_eq!(
        (done.acknowledged_at, done.resolved_at),
        (Some(t(30)), Some(t(60)))
    );
    let open: Vec<_> = store
        .open_incidents()
        .expect("open")
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(open, [Some(inc[1])]);
    let back = store
        .set_incident_state(inc[0], IncidentState::Contained, t(90), None)
        .expect("reopen");
    assert_eq!((back.resolved_at, back.contained_at), (None, Some(t(90))));
    let events = store.incident_events(inc[0]).expect("events");
    let moves: Vec<_> = events.iter().map(|e| (e.from, e.to)).collect();
    use IncidentState as S;
    assert_eq!(
        moves,
        [
            (S::New, S::Acknowledged),
            (S::Acknowledged, S::Resolved),
            (S::Resolved, S::Contained)
        ]
    );
    assert_eq!(events[0].actor.as_deref(), Some("bob"));
    let missing = store.set_incident_state(inc[1] + 100, S::Resolved, t(1), None);
    assert_eq!(missing.expect_err("missing").kind(), ErrorKind::NotFound);
    assert!(store.incident(inc[1] + 100).expect("read").is_none());
}

fn snapshots_and_reviews_round_trip(store: &mut dyn Store) {
    let snap = |day: &str, data: &str| Snapshot {
        day: day.into(),
        taken_at: t(0),
        data: data.into(),
    };
    assert!(
        store
            .put_snapshot(&snap("2026-03-02", "b"), false)
            .expect("put")
    );
    assert!(
        store
            .put_snapshot(&snap("2026-03-01", "a"), false)
            .expect("put")
    );
    assert!(
        !store
            .put_snapshot(&snap("2026-03-01", "x"), false)
            .expect("kept")
    );
    assert!(store.has_snapshot("2026-03-01").expect("has"));
    assert!(!store.has_snapshot("2026-03-03").expect("has not"));
    let all = store.snapshots().expect("list");
    let got: Vec<_> = all
        .iter()
        .map(|s| (s.day.as_str(), s.data.as_str()))
        .collect();
    assert_eq!(got, [("2026-03-01", "a"), ("2026-03-02", "b")]);
    assert!(
        store
            .put_snapshot(&snap("2026-03-01", "y"), true)
            .expect("replace")
    );
    assert_eq!(store.snapshots().expect("list")[0].data, "y");

    assert!(store.last_review().expect("none").is_none());
    let first = store.add_review(t(0), None, "{}").expect("review");
    let second = store
        .add_review(t(60), Some(t(0)), "{\"n\":2}")
        .expect("review");
    assert_ne!(first, second);
    let last = store.last_review().expect("last").expect("some");
    assert_eq!((last.id, last.at, last.since), (second, t(60), Some(t(0))));
}

fn passwords_tokens_sessions_and_audit(store: &mut dyn Store) {
    let e = store
        .set_password("nobody", "$argon2id$x")
        .expect_err("no user");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    store
        .put_user(&User {
            name: "alice".into(),
            email: None,
            role: Role::Admin,
            teams: vec![],
        })
        .expect("user");
    store.set_password("alice", "$argon2id$one").expect("set");
    store
        .set_password("alice", "$argon2id$two")
        .expect("change");
    assert_eq!(
        store.password("alice").expect("read").as_deref(),
        Some("$argon2id$two")
    );
    assert!(store.password("bob").expect("read").is_none());

    let token = |name: &str, hash: &str| NewToken {
        name: name.into(),
        role: "viewer".into(),
        partner: Some("acme".into()),
        hash: hash.into(),
        expires_at: Some(t(600)),
        created_by: Some("alice".into()),
    };
    assert_eq!(
        store
            .add_token(&token(" ", "h0"))
            .expect_err("empty")
            .kind(),
        ErrorKind::Invalid
    );
    let a = store.add_token(&token("ci", "h1")).expect("token");
    let b = store.add_token(&token("bot", "h2")).expect("token");
    let dup = store
        .add_token(&token("again", "h1"))
        .expect_err("same hash");
    assert_eq!(dup.kind(), ErrorKind::Conflict);
    let got = store.token_by_hash("h1").expect("find").expect("found");
    assert_eq!((got.id, got.partner.as_deref()), (a, Some("acme")));
    assert_eq!(got.expires_at, Some(t(600)));
    store.revoke_token(b, t(5)).expect("revoke");
    store
        .revoke_token(b, t(9))
        .expect("revoke again keeps the first time");
    let all = store.tokens().expect("list");
    assert_eq!(all.iter().map(|t| t.id).collect::<Vec<_>>(), [a, b]);
    assert_eq!(all[1].revoked_at, Some(t(5)));
    assert_eq!(
        store
            .revoke_token(b + 100, t(5))
            .expect_err("missing")
            .kind(),
        ErrorKind::NotFound
    );

    let later = Utc::now() + Duration::hours(1);
    let s = Session {
        user: "alice".into(),
        csrf: "c".into(),
        expires_at: DateTime::from_timestamp(later.timestamp(), 0).expect("time"),
    };
    store.add_session("sid", &s).expect("session");
    assert_eq!(store.session("sid").expect("read"), Some(s));
    store.remove_session("sid").expect("remove");
    assert!(store.session("sid").expect("read").is_none());

    let entry = |action: &str| AuditEntry {
        id: 0,
        at: t(1),
        actor: "alice".into(),
        via: "cli".into(),
        remote: None,
        action: action.into(),
        target: "token 1".into(),
        detail: None,
    };
    let ids: Vec<i64> = ["create", "revoke", "login"]
        .iter()
        .map(|a| store.audit(&entry(a)).expect("audit"))
        .collect();
    let page = store.audit_log(Some(ids[0]), Some(1)).expect("page");
    assert_eq!(page.len(), 1);
    assert_eq!((page[0].id, page[0].action.as_str()), (ids[1], "revoke"));
    assert_eq!(store.audit_log(None, None).expect("all").len(), 3);
}

fn exercises_round_trip(store: &mut dyn Store) {
    crate::exercise::conformance(store);
}
