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
    let mut c = ServerConfig::new(db.clone());
    c.importer = Some(Arc::new(TestImporter));
    cfg(&mut c);
    let state = AppState::new(c).expect("state");
    Env {
        _dir: dir,
        db,
        state,
    }
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
