//! An alert as the store keeps it: the [`Alert`] plus the entities of its event (host, user,
//! process), found through the paths of `mappings/entities.yml`.

use std::sync::OnceLock;

use serde_json::Value;

use crate::engine::Alert;
use crate::event::json_path;

const ENTITIES: &str = include_str!("../mappings/entities.yml");

/// The paths of each entity, in order.
#[derive(Debug, Default, Clone)]
pub struct EntityPaths {
    pub host: Vec<String>,
    pub user: Vec<String>,
    pub process: Vec<String>,
}

impl EntityPaths {
    /// The built-in table (`mappings/entities.yml`).
    pub fn builtin() -> &'static EntityPaths {
        static PATHS: OnceLock<EntityPaths> = OnceLock::new();
        PATHS.get_or_init(|| {
            let v: Value = serde_saphyr::from_str(ENTITIES).unwrap_or_default();
            let list = |k: &str| -> Vec<String> {
                v.get(k)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            };
            EntityPaths {
                host: list("host"),
                user: list("user"),
                process: list("process"),
            }
        })
    }
}

/// The first non-empty text among `paths` in `event`.
fn first_text(event: &Value, paths: &[String]) -> Option<String> {
    paths.iter().find_map(|p| match json_path(event, p)? {
        Value::String(s) if !s.is_empty() && s != "-" => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => o.get("#text").and_then(Value::as_str).map(str::to_string),
        _ => None,
    })
}

impl Alert {
    /// The alert as the store keeps it, with the entities of its event; `now` is when it
    /// was detected.
    pub fn to_model(&self, now: chrono::DateTime<chrono::Utc>) -> ctem_model::Alert {
        let paths = EntityPaths::builtin();
        let event_time = self
            .timestamp
            .as_deref()
            .and_then(crate::epoch_secs)
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0));
        ctem_model::Alert {
            id: None,
            rule_id: self.rule_id.clone(),
            title: self.title.clone(),
            level: self.level.clone(),
            kind: self.kind,
            tags: self.tags.clone(),
            event_time,
            detected_at: now,
            source: self.source.clone(),
            record: self.record,
            host: first_text(&self.event, &paths.host),
            user: first_text(&self.event, &paths.user),
            process: first_text(&self.event, &paths.process),
            event: self.event.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alert(event: Value, ts: Option<&str>) -> Alert {
        Alert {
            rule_id: "r".into(),
            title: "t".into(),
            level: "high".into(),
            kind: Default::default(),
            tags: vec![],
            timestamp: ts.map(str::to_string),
            source: Some("f".into()),
            record: Some(3),
            event,
        }
    }

    #[test]
    fn entities_of_windows_zeek_and_cloudtrail_events() {
        let now = chrono::Utc::now();
        let nested = alert(
            json!({"Event": {"System": {"Computer": "ws1"},
                "EventData": {"TargetUserName": "bob", "Image": "C:\\x.exe"}}}),
            Some("2024-05-01T10:00:00.123Z"),
        );
        let m = nested.to_model(now);
        assert_eq!(m.host.as_deref(), Some("ws1"));
        assert_eq!(m.user.as_deref(), Some("bob"));
        assert_eq!(m.process.as_deref(), Some("C:\\x.exe"));
        assert_eq!(
            m.event_time.map(|t| t.to_rfc3339()).as_deref(),
            Some("2024-05-01T10:00:00+00:00")
        );
        let zeek = alert(json!({"id.orig_h": "10.0.0.1", "uid": "C"}), None).to_model(now);
        assert_eq!(zeek.host.as_deref(), Some("10.0.0.1"));
        let trail = alert(
            json!({"userIdentity": {"userName": "admin"}, "sourceIPAddress": "1.2.3.4"}),
            Some("2024-01-15 10:30:00"),
        )
        .to_model(now);
        assert_eq!(trail.user.as_deref(), Some("admin"));
        assert_eq!(trail.host.as_deref(), Some("1.2.3.4"));
        assert!(
            trail.event_time.is_some(),
            "a space-separated time parses too"
        );
    }
}
