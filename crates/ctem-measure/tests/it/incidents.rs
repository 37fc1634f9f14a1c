//! Grouping on a stored set of alerts: keys, idempotence, owners and state times.

use chrono::Duration;
use ctem_measure::incidents::{self, IncidentsConfig};
use ctem_model::IncidentState;
use ctem_model::work::{Role, User};
use ctem_store::alerts::AlertStore;
use ctem_store::measure::MeasureStore;
use ctem_store::work::WorkStore;

use crate::fixture::{alerts, built, now};

#[test]
fn grouping_is_idempotent_and_new_alerts_join_the_open_incident() {
    let mut b = built();
    b.store
        .put_user(&User {
            name: "ann".into(),
            email: None,
            role: Role::IncidentResponder,
            teams: vec![],
        })
        .unwrap();
    let s = IncidentsConfig::default().build().unwrap();
    let first = incidents::group(&mut b.store, &s).unwrap();
    assert_eq!((first.alerts, first.opened), (3, 2));
    let again = incidents::group(&mut b.store, &s).unwrap();
    assert_eq!(again.alerts, 0, "a second pass changes nothing");
    let list = b.store.incidents().unwrap();
    assert_eq!(list.len(), 2);
    let h1 = list.iter().find(|i| i.key_value == "h1").unwrap();
    assert_eq!((h1.alerts, h1.severity.as_str()), (2, "high"));
    assert_eq!(h1.owner.as_deref(), Some("ann"));
    assert_eq!(h1.first_event, now() - Duration::minutes(600));
    // one more alert on h1 within the hour joins it
    let mut more = alerts();
    more.truncate(1);
    more[0].event_time = Some(now() - Duration::minutes(550));
    b.store.store_alerts(&more).unwrap();
    let third = incidents::group(&mut b.store, &s).unwrap();
    assert_eq!((third.opened, third.updated), (0, 1));
    let id = h1.id.unwrap();
    assert_eq!(b.store.incident(id).unwrap().unwrap().alerts, 3);
    assert_eq!(b.store.incident_alert_ids(id).unwrap().len(), 3);
}

#[test]
fn each_state_keeps_its_time_and_a_history() {
    let mut b = built();
    let s = IncidentsConfig::default().build().unwrap();
    incidents::group(&mut b.store, &s).unwrap();
    let id = b.store.incidents().unwrap()[0].id.unwrap();
    let t = |h| now() + Duration::hours(h);
    b.store
        .set_incident_state(id, IncidentState::Contained, t(1), Some("ann"))
        .unwrap();
    let i = b
        .store
        .set_incident_state(id, IncidentState::Resolved, t(3), None)
        .unwrap();
    assert_eq!(i.acknowledged_at, Some(t(1)), "containing acknowledges");
    assert_eq!(i.contained_at, Some(t(1)));
    assert_eq!(i.resolved_at, Some(t(3)));
    let i = b
        .store
        .set_incident_state(id, IncidentState::Acknowledged, t(4), None)
        .unwrap();
    assert_eq!(i.resolved_at, None, "reopening clears the resolution");
    let h = b.store.incident_events(id).unwrap();
    assert_eq!(h.len(), 3);
    assert_eq!(
        (h[0].from, h[0].to),
        (IncidentState::New, IncidentState::Contained)
    );
    assert_eq!(h[0].actor.as_deref(), Some("ann"));
    assert!(
        b.store
            .set_incident_state(999, IncidentState::Resolved, t(1), None)
            .is_err()
    );
}

#[test]
fn only_responders_and_admins_change_states() {
    for r in Role::ALL {
        assert_eq!(
            incidents::may_change_state(r),
            matches!(r, Role::Admin | Role::IncidentResponder),
            "{r:?}"
        );
    }
}

#[test]
fn bad_settings_name_the_field() {
    let c = IncidentsConfig {
        keys: vec!["ip".into()],
        ..Default::default()
    };
    assert!(c.build().unwrap_err().to_string().contains("keys"));
    let c = IncidentsConfig {
        window: "soon".into(),
        ..Default::default()
    };
    assert!(c.build().unwrap_err().to_string().contains("window"));
}
