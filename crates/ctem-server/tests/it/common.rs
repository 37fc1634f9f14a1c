//! A seeded store in a temporary folder, a router on it, and request helpers.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::Utc;
use ctem_core::prioritize::Prioritize;
use ctem_model::work::{OwnershipRule, Role, RuleKind, Team, User};
use ctem_model::{Asset, AssetKind, Exposure, ExposureKind, ImportSummary, Record, Severity};
use ctem_risk::{RiskModel, SlaConfig};
use ctem_server::auth::{Partner, hash_password};
use ctem_server::{AppState, ImportRequest, Importer, ServerConfig};
use ctem_store::{ScanMeta, Store};
use serde_json::Value;
use tower::ServiceExt;

pub struct Env {
    pub _dir: tempfile::TempDir,
    pub db: String,
    pub state: AppState,
}

/// Exposures seeded: severities cycle through all five.
pub const EXPOSURES: usize = 120;
/// The first this many exposures have a port (443): remote exploits of the crown jewel.
pub const REMOTE: usize = 6;

pub fn records() -> Vec<Record> {
    let mut out = vec![Record::Asset {
        key: 0,
        asset: Asset::new(AssetKind::Host, "web01.corp"),
    }];
    for i in 0..EXPOSURES {
        let mut e = Exposure::new(
            ExposureKind::Vulnerability,
            format!("finding {i}"),
            Severity::ALL[1 + i % 5],
        );
        e.cves = vec![format!("CVE-2024-{:04}", 1000 + i)];
        if i < REMOTE {
            e.port = Some(443);
        }
        out.push(Record::Exposure {
            asset: 0,
            exposure: Box::new(e),
        });
    }
    out
}

fn meta(file: &str) -> ScanMeta {
    ScanMeta {
        tool: "test".into(),
        format: "test".into(),
        scope: None,
        file: file.into(),
        sha256: "0".into(),
        imported_at: Utc::now(),
    }
}

pub fn import(store: &mut dyn Store, records: Vec<Record>, file: &str) -> ImportSummary {
    let mut s = store.begin_import(meta(file)).expect("begin");
    for r in records {
        s.record(r).expect("record");
    }
    s.commit().expect("commit")
}

/// Imports through ctem-ingest, as the binary's pipeline does (without prioritisation).
pub struct TestImporter;

impl Importer for TestImporter {
    fn import(&self, req: ImportRequest) -> Result<ImportSummary, String> {
        let format = if req.format == "auto" {
            ctem_ingest::detect(&req.bytes, &req.file_name).map_err(|e| e.to_string())?
        } else {
            ctem_ingest::by_name(&req.format).map_err(|e| e.to_string())?
        };
        let mut records = Vec::new();
        let mut reader = std::io::Cursor::new(&req.bytes);
        (format.parse)(&mut reader, &mut |r| {
            records.push(r);
            Ok(())
        })
        .map_err(|e| format!("{}: {e}", req.file_name))?;
        let mut store = ctem_store::open(&req.db).map_err(|e| e.to_string())?;
        Ok(import(store.as_mut(), records, &req.file_name))
    }
}

/// A store with exposures, a team, tickets and one user per role (password `pw-ROLE`).
pub fn env_with(cfg: impl FnOnce(&mut ServerConfig)) -> Env {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("ctem.db").display().to_string();
    {
        let mut s = ctem_store::open(&db).expect("open");
        import(s.as_mut(), records(), "seed.json");
        s.put_team(&Team {
            name: "platform".into(),
            description: None,
        })
        .expect("team");
        let rules = [OwnershipRule {
            id: None,
            position: 0,
            kind: RuleKind::AssetKind,
            pattern: "*".into(),
            team: "platform".into(),
            priority: None,
        }];
        ctem_core::prioritize::run(
            s.as_mut(),
            &Prioritize {
                model: &RiskModel::default(),
                sla: &SlaConfig::default(),
                intel: None,
                config_rules: Some(&rules),
                config_teams: &[],
                context: &[],
                tickets: true,
                now: Utc::now(),
            },
        )
        .expect("prioritize");
        for role in Role::ALL {
            s.put_user(&User {
                name: role.as_str().into(),
                email: None,
                role,
                teams: vec!["platform".into()],
            })
            .expect("user");
        }
    }
    seed_measure(&db);
    let mut c = ServerConfig::new(db.clone());
    c.importer = Some(Arc::new(TestImporter));
    c.settings = settings();
    cfg(&mut c);
    let state = AppState::new(c).expect("state");
    Env {
        _dir: dir,
        db,
        state,
    }
}

/// The settings of the seeded store: web01.corp is an internet-facing crown jewel, and four
/// goals on MTTD and MTTR (2 h by construction, see [`seed_measure`]) that are met, at risk,
/// missed and unknown.
pub const SETTINGS: &str = r#"
[paths]
crown_jewel_tags = ["crown-jewel"]

[[paths.assets]]
match = "name:web01*"
zone = "dmz"
internet_facing = true
criticality = 5
tags = ["crown-jewel"]

[[goals]]
kpi = "mttd.hours"
op = "<="
target = 4
owner = "threat_analyst"

[[goals]]
kpi = "mttd.hours"
op = "<="
target = 1
due = "2099-12-31"

[[goals]]
kpi = "mttd.hours"
op = "<="
target = 1
due = "2020-01-01"

[[goals]]
kpi = "mttr.hours"
op = "<="
target = 24
"#;

pub fn settings() -> ctem_core::Settings {
    ctem_core::Settings::from_toml(SETTINGS, None).expect("test settings")
}

/// Three alerts detected 2 h after their events (MTTD 2 h): two on ws1 half an hour apart
/// (one incident), one on ws2 (another); KPI snapshots of the five days before today with
/// MTTD rising from 1 to 1.8 h (a gap on the third day); an exercise of two tasks and one
/// recorded scenario run.
pub fn seed_measure(db: &str) {
    use chrono::Duration;
    let mut s = ctem_store::open(db).expect("open");
    let now = Utc::now();
    let alert = |rule: &str, host: &str, ago_min: i64| ctem_model::Alert {
        id: None,
        rule_id: rule.into(),
        title: format!("rule {rule}"),
        level: "high".into(),
        tags: vec!["attack.t1003.001".into()],
        event_time: Some(now - Duration::minutes(ago_min)),
        detected_at: now - Duration::minutes(ago_min - 120),
        source: None,
        record: None,
        host: Some(host.into()),
        user: None,
        process: None,
        event: serde_json::json!({"Image": "x.exe"}),
        kind: Default::default(),
    };
    s.store_alerts(&[
        alert("r1", "ws1", 300),
        alert("r2", "ws1", 270),
        alert("r3", "ws2", 180),
    ])
    .expect("alerts");
    ctem_measure::incidents::group(s.as_mut(), &settings().measure.incidents).expect("group");
    for d in 1..=5i64 {
        let day = now - Duration::days(6 - d);
        let mttd = if d == 3 {
            None
        } else {
            Some(1.0 + 0.2 * (d - 1) as f64)
        };
        let data = serde_json::json!({"mttd.hours": mttd, "incidents.per_week": d});
        s.put_snapshot(
            &ctem_store::measure::Snapshot {
                day: day.format("%Y-%m-%d").to_string(),
                taken_at: day,
                data: data.to_string(),
            },
            true,
        )
        .expect("snapshot");
    }
    let task = |step: i64, team: &str| ctem_store::exercise::ExerciseTask {
        step,
        technique: format!("T100{step}"),
        title: format!("step {step}"),
        team: team.into(),
        response: Some(format!("response {step}")),
        acked_at: None,
        completed_at: None,
    };
    let x = s
        .open_exercise(
            "drill",
            "drill.yml",
            now - Duration::hours(1),
            &[task(1, "incident_responder"), task(2, "it_operations")],
        )
        .expect("exercise");
    let report = serde_json::json!({"name": "drill", "steps": [
        {"technique": "T1190", "name": "exploit", "feasible": true,
         "evidence": {"feasible": true, "basis": "remote exploit", "exposures": [1], "assets": []},
         "rules": ["a", "b"], "detectable": ["a"], "proven": ["a"], "events": 3,
         "team": "incident_responder"},
        {"technique": "T1486", "feasible": null,
         "evidence": {"feasible": null, "basis": "no rule judges it", "exposures": [], "assets": []},
         "rules": [], "detectable": [], "proven": [], "events": 0, "team": "it_operations"}
    ]});
    s.record_scenario_run(
        "drill",
        "drill.yml",
        now - Duration::hours(1),
        Some(x),
        &report.to_string(),
    )
    .expect("run");
}

pub fn env() -> Env {
    env_with(|_| {})
}

impl Env {
    pub fn app(&self) -> Router {
        ctem_server::router(self.state.clone())
    }

    /// A new token (its secret) for `role`, optionally partner-scoped.
    pub fn token(&self, role: Role, partner: Option<Partner>) -> String {
        let mut s = ctem_store::open(&self.db).expect("open");
        let (t, secret) = ctem_server::api::mint_token("test", role, partner, None, "test");
        s.add_token(&t).expect("token");
        secret
    }

    /// Gives the user named after `role` the password `pw-ROLE` (argon2 is slow in debug
    /// builds: only the tests that sign in pay for it).
    pub fn password(&self, role: Role) {
        let phc = hash_password(&format!("pw-{role}")).expect("hash");
        let mut s = self.store();
        s.set_password(role.as_str(), &phc).expect("password");
    }

    pub fn store(&self) -> Box<dyn Store> {
        ctem_store::open(&self.db).expect("open")
    }
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{}: not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts the one error shape and returns its kind.
    pub fn error_kind(&self) -> String {
        let v = self.json();
        let kind = v["error"]["kind"].as_str().expect("error.kind").to_string();
        assert!(v["error"]["message"].is_string(), "{v}");
        kind
    }
}

pub async fn send(app: Router, req: Request<Body>) -> Answer {
    let resp = app.oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 64 << 20)
        .await
        .expect("body")
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

/// A request with a bearer token and an optional JSON body.
pub fn req(method: Method, uri: &str, token: Option<&str>, body: Option<Value>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    match body {
        Some(v) => b
            .header("content-type", "application/json")
            .body(Body::from(v.to_string()))
            .expect("request"),
        None => b.body(Body::empty()).expect("request"),
    }
}

pub async fn get(env: &Env, uri: &str, token: &str) -> Answer {
    send(env.app(), req(Method::GET, uri, Some(token), None)).await
}
