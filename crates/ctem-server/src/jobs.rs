//! Upload jobs: `POST /api/v1/imports` answers 202 with a job id at once and the import
//! runs on the blocking pool, one at a time (imports are store transactions);
//! `GET /api/v1/jobs/ID` polls it. Jobs live in memory: a restart forgets finished jobs
//! (the scans they wrote stay in the store, `GET /api/v1/scans`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use ctem_model::ImportSummary;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::Caller;
use crate::{AppState, ImportRequest};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

/// A job as `GET /api/v1/jobs/ID` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Job {
    pub id: u64,
    pub status: JobStatus,
    /// The import summary once it succeeded.
    #[schema(value_type = Option<Object>)]
    pub summary: Option<ImportSummary>,
    pub error: Option<String>,
}

#[derive(Default)]
pub struct Jobs {
    next: AtomicU64,
    map: Mutex<HashMap<u64, Job>>,
    /// One import at a time.
    gate: tokio::sync::Mutex<()>,
}

impl Jobs {
    fn set(&self, id: u64, f: impl FnOnce(&mut Job)) {
        if let Ok(mut m) = self.map.lock()
            && let Some(j) = m.get_mut(&id)
        {
            f(j);
        }
    }

    fn get(&self, id: u64) -> Option<Job> {
        self.map.lock().ok().and_then(|m| m.get(&id).cloned())
    }

    /// Jobs by status, for `/metrics`.
    pub fn counts(&self) -> Vec<(&'static str, u64)> {
        let mut c = [0u64; 4];
        if let Ok(m) = self.map.lock() {
            for j in m.values() {
                c[j.status as usize] += 1;
            }
        }
        vec![
            ("queued", c[0]),
            ("running", c[1]),
            ("succeeded", c[2]),
            ("failed", c[3]),
        ]
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// A format name, or `auto` (the default) to detect it
    pub format: Option<String>,
    /// Lifecycle scope: the report covers all of it
    pub scope: Option<String>,
    /// The file name to record for the scan
    pub name: Option<String>,
}

/// Uploads a scanner report; the import runs as a job.
#[utoipa::path(post, path = "/api/v1/imports", params(ImportQuery),
    request_body(content = String, content_type = "application/octet-stream"),
    responses((status = 202, body = Object), (status = 503, body = ErrorBody)))]
pub async fn create_import(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<ImportQuery>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let importer = st
        .importer()
        .ok_or_else(|| ApiError::unavailable("this server has no import pipeline"))?;
    if body.is_empty() {
        return Err(ApiError::invalid("the report is empty"));
    }
    let jobs = st.jobs();
    let id = jobs.next.fetch_add(1, Ordering::Relaxed) + 1;
    if let Ok(mut m) = jobs.map.lock() {
        m.insert(
            id,
            Job {
                id,
                status: JobStatus::Queued,
                summary: None,
                error: None,
            },
        );
    }
    let file_name = q.name.unwrap_or_else(|| "upload".into());
    let detail = json!({"file": file_name, "bytes": body.len(), "format": q.format});
    let caller2 = caller.clone();
    st.store(move |s| {
        crate::api::audit(
            s,
            &caller2,
            "imports.create",
            format!("job {id}"),
            Some(detail),
        )
    })
    .await?;
    let req = ImportRequest {
        db: st.db().to_string(),
        file_name,
        bytes: body.to_vec(),
        format: q.format.unwrap_or_else(|| "auto".into()),
        scope: q.scope,
    };
    let st2 = st.clone();
    tokio::spawn(async move {
        let jobs = st2.jobs();
        let _one = jobs.gate.lock().await;
        jobs.set(id, |j| j.status = JobStatus::Running);
        let out = tokio::task::spawn_blocking(move || importer.import(req)).await;
        let out = out.unwrap_or_else(|e| Err(format!("the import stopped: {e}")));
        jobs.set(id, |j| match out {
            Ok(s) => {
                j.status = JobStatus::Succeeded;
                j.summary = Some(s);
            }
            Err(e) => {
                j.status = JobStatus::Failed;
                j.error = Some(e);
            }
        });
    });
    Ok((StatusCode::ACCEPTED, Json(json!({"job": id}))))
}

/// The state of an upload job.
#[utoipa::path(get, path = "/api/v1/jobs/{id}",
    responses((status = 200, body = Job), (status = 404, body = ErrorBody)))]
pub async fn job(State(st): State<AppState>, Path(id): Path<u64>) -> ApiResult<Json<Job>> {
    st.jobs()
        .get(id)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("job {id}")))
}
