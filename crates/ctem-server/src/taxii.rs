//! TAXII 2.1 (read-only): discovery, one API root (`/taxii2/ctem/`) and one collection of the
//! shared indicators. What may leave is what `ctem share stix` exports: the same
//! `ctem_intel::share::ShareFilter` (nothing above TLP:AMBER, never revoked or expired).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use ctem_intel::share::ShareFilter;
use ctem_store::intel::IndicatorFilter;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};

/// The TAXII media type every answer carries.
pub const TAXII: &str = "application/taxii+json;version=2.1";
/// The id of the one collection.
pub const COLLECTION: &str = "5f8a1a4e-7c2b-4e1f-9a0d-3c6b2e9d8f10";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/taxii2/", get(discovery))
        .route("/taxii2/ctem/", get(api_root))
        .route("/taxii2/ctem/collections/", get(collections))
        .route("/taxii2/ctem/collections/{id}/", get(collection))
        .route("/taxii2/ctem/collections/{id}/objects/", get(objects))
        .route("/taxii2/ctem/collections/{id}/manifest/", get(manifest))
}

fn taxii(v: Value) -> Response {
    let mut r = (StatusCode::OK, v.to_string()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(TAXII));
    r
}

async fn discovery() -> Response {
    taxii(json!({
        "title": "ctem",
        "description": "indicators ctem shares (the `ctem share stix` filter)",
        "default": "/taxii2/ctem/",
        "api_roots": ["/taxii2/ctem/"]
    }))
}

async fn api_root() -> Response {
    taxii(json!({
        "title": "ctem shared intelligence",
        "versions": [TAXII],
        "max_content_length": 0
    }))
}

fn the_collection() -> Value {
    json!({
        "id": COLLECTION,
        "title": "ctem shared indicators",
        "description": "active indicators up to TLP:AMBER",
        "can_read": true,
        "can_write": false,
        "media_types": ["application/stix+json;version=2.1"]
    })
}

async fn collections() -> Response {
    taxii(json!({"collections": [the_collection()]}))
}

fn check(id: &str) -> ApiResult<()> {
    if id == COLLECTION {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("collection {id}")))
    }
}

async fn collection(Path(id): Path<String>) -> ApiResult<Response> {
    check(&id)?;
    Ok(taxii(the_collection()))
}

#[derive(Debug, Deserialize)]
pub struct ObjectsQuery {
    #[serde(rename = "match[type]")]
    pub match_type: Option<String>,
    #[serde(rename = "match[id]")]
    pub match_id: Option<String>,
}

/// The STIX objects shared under the `ctem share stix` filter.
async fn shared(st: &AppState) -> ApiResult<Vec<Value>> {
    let now = Utc::now();
    let all = st
        .store(move |s| {
            Ok(s.indicators(&IndicatorFilter {
                active_at: Some(now),
                ..IndicatorFilter::default()
            })?)
        })
        .await?;
    let text = ctem_intel::stix::export::export_stix(&all, &ShareFilter::new(now));
    let bundle: Value = serde_json::from_str(&text).map_err(ApiError::internal)?;
    Ok(match bundle.get("objects") {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    })
}

fn matches(o: &Value, q: &ObjectsQuery) -> bool {
    let field_in = |field: &str, list: &Option<String>| {
        list.as_ref().is_none_or(|l| {
            let v = o.get(field).and_then(Value::as_str).unwrap_or("");
            l.split(',').any(|x| x == v)
        })
    };
    field_in("type", &q.match_type) && field_in("id", &q.match_id)
}

async fn objects(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ObjectsQuery>,
) -> ApiResult<Response> {
    check(&id)?;
    let objects: Vec<Value> = shared(&st)
        .await?
        .into_iter()
        .filter(|o| matches(o, &q))
        .collect();
    Ok(taxii(json!({"more": false, "objects": objects})))
}

async fn manifest(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ObjectsQuery>,
) -> ApiResult<Response> {
    check(&id)?;
    let items: Vec<Value> = shared(&st)
        .await?
        .into_iter()
        .filter(|o| matches(o, &q))
        .map(|o| {
            let modified = o.get("modified").or(o.get("created")).cloned();
            json!({
                "id": o.get("id"),
                "date_added": modified,
                "version": modified,
                "media_type": "application/stix+json;version=2.1"
            })
        })
        .collect();
    Ok(taxii(json!({"more": false, "objects": items})))
}
