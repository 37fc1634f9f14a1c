//! The REST handlers of `/api/v1/`: listings with filters, sort orders and keyset cursors;
//! ticket, exposure, user and token changes, each written to the audit log.

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use chrono::{NaiveDate, Utc};
use ctem_model::work::{Action, Role, TicketState, User};
use ctem_model::{ExposureStatus, Severity};
use ctem_store::alerts::AlertFilter;
use ctem_store::auth::{AuditEntry, NewToken};
use ctem_store::intel::IndicatorFilter;
use ctem_store::work::TicketFilter;
use ctem_store::{AssetFilter, ExposureCursor, ExposureFilter, ExposureSort, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Partner, authorize, hash_password, new_secret, secret_hash};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::Caller;

/// A page of a listing: `next_cursor` is `null` on the last page.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The shape of every listing, for the OpenAPI document.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageDoc {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
    /// Pass it back as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 1000;

pub(crate) fn limit(l: Option<usize>) -> ApiResult<usize> {
    match l.unwrap_or(DEFAULT_LIMIT) {
        0 => Err(ApiError::invalid("limit must be at least 1")),
        n if n > MAX_LIMIT => Err(ApiError::invalid(format!(
            "limit must be at most {MAX_LIMIT}"
        ))),
        n => Ok(n),
    }
}

/// Cuts `items` (fetched with one extra row) to `limit` and names the cursor after it.
pub(crate) fn page<T>(mut items: Vec<T>, limit: usize, cursor: impl Fn(&T) -> String) -> Page<T> {
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = if more { items.last().map(cursor) } else { None };
    Page { items, next_cursor }
}

pub(crate) fn id_cursor(c: Option<&str>) -> ApiResult<Option<i64>> {
    c.map(|c| {
        c.parse::<i64>()
            .map_err(|_| ApiError::invalid(format!("bad cursor {c:?}")))
    })
    .transpose()
}

/// Writes one audit entry for `caller`.
pub(crate) fn audit(
    s: &mut dyn Store,
    caller: &Caller,
    action: &str,
    target: String,
    detail: Option<Value>,
) -> ApiResult<()> {
    s.audit(&AuditEntry {
        id: 0,
        at: Utc::now(),
        actor: caller.principal.name.clone(),
        via: caller.principal.via().into(),
        remote: caller.remote.clone(),
        action: action.into(),
        target,
        detail: detail.map(|d| d.to_string()),
    })?;
    Ok(())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssetQuery {
    /// host, container_image, cloud_resource, repository, application, identity
    pub kind: Option<String>,
    /// Substring of the name or of any identifier
    pub search: Option<String>,
    pub tag: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// Assets in id order.
#[utoipa::path(get, path = "/api/v1/assets", params(AssetQuery),
    responses((status = 200, body = PageDoc), (status = 400, body = ErrorBody)))]
pub async fn assets(
    State(st): State<AppState>,
    Query(q): Query<AssetQuery>,
) -> ApiResult<Json<Page<ctem_store::AssetRow>>> {
    let n = limit(q.limit)?;
    let kind = match q.kind.as_deref() {
        Some(k) => Some(
            ctem_model::AssetKind::parse(k)
                .ok_or_else(|| ApiError::invalid(format!("unknown asset kind {k:?}")))?,
        ),
        None => None,
    };
    let f = AssetFilter {
        kind,
        search: q.search,
        tag: q.tag,
        limit: Some(n + 1),
        after_id: id_cursor(q.cursor.as_deref())?,
        ..AssetFilter::default()
    };
    let rows = st.store(move |s| Ok(s.assets(&f)?)).await?;
    Ok(Json(page(rows, n, |r| {
        r.asset.id.unwrap_or_default().to_string()
    })))
}

/// One asset with its services.
#[utoipa::path(get, path = "/api/v1/assets/{id}",
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn asset(State(st): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    st.store(move |s| {
        let a = s
            .asset(id)?
            .ok_or_else(|| ApiError::not_found(format!("asset {id}")))?;
        let services = s.services(id)?;
        Ok(Json(json!({"asset": a, "services": services})))
    })
    .await
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExposureQuery {
    /// Minimum severity: info, low, medium, high, critical
    pub severity: Option<String>,
    /// Comma-separated statuses; `active` (open and reopened, the default) or `all`
    pub status: Option<String>,
    /// Asset id, name or identifier
    pub asset: Option<String>,
    pub cve: Option<String>,
    pub tool: Option<String>,
    /// Only exposures whose CVE is in CISA KEV
    pub kev: Option<bool>,
    /// `severity` (default, most severe first), `id` or `-id`
    pub sort: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// Parses a status list: `active`, `all` or comma-separated names.
pub fn statuses(s: Option<&str>) -> ApiResult<Vec<ExposureStatus>> {
    match s.unwrap_or("active") {
        "all" => Ok(Vec::new()),
        "active" => Ok(vec![ExposureStatus::Open, ExposureStatus::Reopened]),
        list => list
            .split(',')
            .map(|x| {
                ExposureStatus::parse(x.trim())
                    .ok_or_else(|| ApiError::invalid(format!("unknown status {x:?}")))
            })
            .collect(),
    }
}

impl ExposureQuery {
    /// The store filter of this query, fetching `n` rows.
    pub fn filter(&self, n: usize) -> ApiResult<ExposureFilter> {
        let sort = match self.sort.as_deref().unwrap_or("severity") {
            "severity" => ExposureSort::SeverityNewest,
            "id" => ExposureSort::Id,
            "-id" => ExposureSort::IdDesc,
            other => {
                return Err(ApiError::invalid(format!(
                    "unknown sort {other:?}: severity, id or -id"
                )));
            }
        };
        let after = match self.cursor.as_deref() {
            Some(c) => {
                let bad = || ApiError::invalid(format!("bad cursor {c:?}"));
                let (k, i) = c.split_once('.').ok_or_else(bad)?;
                Some(ExposureCursor {
                    key: k.parse().map_err(|_| bad())?,
                    id: i.parse().map_err(|_| bad())?,
                })
            }
            None => None,
        };
        let min_severity = match self.severity.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => Some(
                Severity::parse(s)
                    .ok_or_else(|| ApiError::invalid(format!("unknown severity {s:?}")))?,
            ),
            None => None,
        };
        // an empty parameter (a blank form field) filters nothing
        let given = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
        Ok(ExposureFilter {
            min_severity,
            statuses: statuses(self.status.as_deref().filter(|s| !s.is_empty()))?,
            asset: given(&self.asset),
            cve: given(&self.cve),
            tool: given(&self.tool),
            kev: self.kev.unwrap_or(false),
            limit: Some(n),
            sort,
            after,
        })
    }
}

/// One page of exposures and the cursor after it.
pub async fn exposure_page(
    st: &AppState,
    q: &ExposureQuery,
) -> ApiResult<Page<ctem_model::Exposure>> {
    let n = limit(q.limit)?;
    let f = q.filter(n + 1)?;
    let sort = f.sort;
    let rows = st.store(move |s| Ok(s.exposures(&f)?)).await?;
    Ok(page(rows, n, |e| {
        ExposureCursor::after(e, sort)
            .map(|c| format!("{}.{}", c.key, c.id))
            .unwrap_or_default()
    }))
}

/// Exposures: filters, a sort order and keyset cursors.
#[utoipa::path(get, path = "/api/v1/exposures", params(ExposureQuery),
    responses((status = 200, body = PageDoc), (status = 400, body = ErrorBody)))]
pub async fn exposures(
    State(st): State<AppState>,
    Query(q): Query<ExposureQuery>,
) -> ApiResult<Json<Page<ctem_model::Exposure>>> {
    Ok(Json(exposure_page(&st, &q).await?))
}

/// One exposure with its history, sources and stored prioritisation (the explanation's
/// figures: score, priority, SSVC decision, KEV, SLA due date, team, ticket).
#[utoipa::path(get, path = "/api/v1/exposures/{id}",
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn exposure(State(st): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    st.store(move |s| {
        let e = s
            .exposure(id)?
            .ok_or_else(|| ApiError::not_found(format!("exposure {id}")))?;
        let sources = s.exposure_sources(id)?;
        let risk = s.stored_risk(id)?;
        Ok(Json(
            json!({"exposure": e, "sources": sources, "risk": risk}),
        ))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusBody {
    /// open, accepted, false_positive, fixed
    pub status: String,
    #[serde(default)]
    pub reason: String,
}

/// Triage: sets an exposure's status by hand.
#[utoipa::path(post, path = "/api/v1/exposures/{id}/status", request_body = StatusBody,
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn exposure_status(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    Json(b): Json<StatusBody>,
) -> ApiResult<Json<Value>> {
    let status = ExposureStatus::parse(&b.status)
        .ok_or_else(|| ApiError::invalid(format!("unknown status {:?}", b.status)))?;
    st.store(move |s| {
        s.set_status(id, status, &b.reason)?;
        let detail = json!({"status": status.as_str(), "reason": b.reason});
        audit(
            s,
            &caller,
            "exposures.status",
            format!("exposure {id}"),
            Some(detail),
        )?;
        Ok(Json(json!({"id": id, "status": status.as_str()})))
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IdPageQuery {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// Imports (scans), oldest first.
#[utoipa::path(get, path = "/api/v1/scans", params(IdPageQuery),
    responses((status = 200, body = PageDoc)))]
pub async fn scans(
    State(st): State<AppState>,
    Query(q): Query<IdPageQuery>,
) -> ApiResult<Json<Page<ctem_model::Scan>>> {
    let n = limit(q.limit)?;
    let after = id_cursor(q.cursor.as_deref())?.unwrap_or(i64::MIN);
    let rows = st.store(|s| Ok(s.scans()?)).await?;
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| r.id.unwrap_or_default() > after)
        .take(n + 1)
        .collect();
    Ok(Json(page(rows, n, |r| {
        r.id.unwrap_or_default().to_string()
    })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IndicatorQuery {
    /// ipv4, ipv6, domain, url, email, sha256, ...
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    pub source: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// Indicators, by type and value.
#[utoipa::path(get, path = "/api/v1/indicators", params(IndicatorQuery),
    responses((status = 200, body = PageDoc)))]
pub async fn indicators(
    State(st): State<AppState>,
    Query(q): Query<IndicatorQuery>,
) -> ApiResult<Json<Page<ctem_model::intel::Indicator>>> {
    let n = limit(q.limit)?;
    let kind = match q.kind.as_deref() {
        Some(k) => Some(
            k.parse::<ctem_model::intel::IndicatorType>()
                .map_err(|_| ApiError::invalid(format!("unknown indicator type {k:?}")))?,
        ),
        None => None,
    };
    let after = match q.cursor.as_deref() {
        Some(c) => Some(
            hex::decode(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| ApiError::invalid(format!("bad cursor {c:?}")))?,
        ),
        None => None,
    };
    let f = IndicatorFilter {
        kind,
        source: q.source,
        ..IndicatorFilter::default()
    };
    let mut rows = st.store(move |s| Ok(s.indicators(&f)?)).await?;
    let key = |i: &ctem_model::intel::Indicator| format!("{}\t{}\t{}", i.kind, i.value, i.source);
    rows.sort_by_cached_key(key);
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|i| after.as_ref().is_none_or(|a| key(i) > *a))
        .take(n + 1)
        .collect();
    Ok(Json(page(rows, n, |i| hex::encode(key(i)))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// Minimum level: informational, low, medium, high, critical
    pub level: Option<String>,
    pub rule: Option<String>,
    pub host: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// Detection alerts, newest first.
#[utoipa::path(get, path = "/api/v1/alerts", params(AlertQuery),
    responses((status = 200, body = PageDoc)))]
pub async fn alerts(
    State(st): State<AppState>,
    Query(q): Query<AlertQuery>,
) -> ApiResult<Json<Page<ctem_model::Alert>>> {
    let n = limit(q.limit)?;
    let before = id_cursor(q.cursor.as_deref())?.unwrap_or(i64::MAX);
    let f = AlertFilter {
        rule_id: q.rule,
        min_level: q.level,
        host: q.host,
        limit: None,
    };
    let rows = st.store(move |s| Ok(s.alerts(&f)?)).await?;
    let mut rows: Vec<_> = rows
        .into_iter()
        .filter(|a| a.id.unwrap_or_default() < before)
        .collect();
    rows.sort_by_key(|a| std::cmp::Reverse(a.id));
    rows.truncate(n + 1);
    Ok(Json(page(rows, n, |a| {
        a.id.unwrap_or_default().to_string()
    })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketQuery {
    pub team: Option<String>,
    /// Comma-separated ticket states
    pub state: Option<String>,
    pub assignee: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// Remediation tickets in id order.
#[utoipa::path(get, path = "/api/v1/tickets", params(TicketQuery),
    responses((status = 200, body = PageDoc)))]
pub async fn tickets(
    State(st): State<AppState>,
    Query(q): Query<TicketQuery>,
) -> ApiResult<Json<Page<ctem_model::work::Ticket>>> {
    let n = limit(q.limit)?;
    let after = id_cursor(q.cursor.as_deref())?.unwrap_or(i64::MIN);
    let states = match q.state.as_deref() {
        Some(s) => s
            .split(',')
            .map(|x| {
                TicketState::parse(x.trim())
                    .ok_or_else(|| ApiError::invalid(format!("unknown ticket state {x:?}")))
            })
            .collect::<ApiResult<Vec<_>>>()?,
        None => Vec::new(),
    };
    let f = TicketFilter {
        team: q.team,
        states,
        assignee: q.assignee,
        limit: None,
    };
    let rows = st.store(move |s| Ok(s.tickets(&f)?)).await?;
    let mut rows: Vec<_> = rows.into_iter().filter(|t| t.id > after).collect();
    rows.sort_by_key(|t| t.id);
    rows.truncate(n + 1);
    Ok(Json(page(rows, n, |t| t.id.to_string())))
}

/// One ticket with its exposures and history.
#[utoipa::path(get, path = "/api/v1/tickets/{id}",
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn ticket(State(st): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    st.store(move |s| {
        let t = s
            .ticket(id)?
            .ok_or_else(|| ApiError::not_found(format!("ticket {id}")))?;
        let exposures = s.ticket_exposures(id)?;
        let events = s.ticket_events(id)?;
        Ok(Json(
            json!({"ticket": t, "exposures": exposures, "events": events}),
        ))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AssignBody {
    pub user: String,
}

/// Assigns a ticket to a user.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/assign", request_body = AssignBody,
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn assign_ticket(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    Json(b): Json<AssignBody>,
) -> ApiResult<Json<ctem_model::work::Ticket>> {
    st.store(move |s| {
        let t = s.assign_ticket(id, &b.user, Some(&caller.principal.name))?;
        audit(
            s,
            &caller,
            "tickets.assign",
            format!("ticket {id}"),
            Some(json!({"user": b.user})),
        )?;
        Ok(Json(t))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MoveBody {
    /// The new state (`in_progress`, `done`, `risk_accepted`, ...)
    pub state: String,
    /// Until when a risk is accepted (YYYY-MM-DD); required for `risk_accepted`
    #[schema(value_type = Option<String>, format = Date)]
    pub until: Option<NaiveDate>,
}

/// Moves a ticket; `risk_accepted` also needs the `accept_risk` action.
pub async fn move_ticket_as(
    st: &AppState,
    caller: Caller,
    id: i64,
    b: MoveBody,
) -> ApiResult<ctem_model::work::Ticket> {
    let to = TicketState::parse(&b.state)
        .ok_or_else(|| ApiError::invalid(format!("unknown ticket state {:?}", b.state)))?;
    if to == TicketState::RiskAccepted && !authorize(&caller.principal, Action::AcceptRisk, &[]) {
        return Err(ApiError::forbidden(format!(
            "role {} may not accept_risk",
            caller.principal.role
        )));
    }
    st.store(move |s| {
        let current = s
            .ticket(id)?
            .ok_or_else(|| ApiError::not_found(format!("ticket {id}")))?;
        if !current.state.can_move_to(to) {
            return Err(ApiError::conflict(format!(
                "ticket {id} cannot move from {} to {}",
                current.state.as_str(),
                to.as_str()
            )));
        }
        let t = s.move_ticket(id, to, b.until, Some(&caller.principal.name))?;
        let detail = json!({"from": current.state.as_str(), "to": to.as_str(), "until": b.until});
        audit(
            s,
            &caller,
            "tickets.move",
            format!("ticket {id}"),
            Some(detail),
        )?;
        Ok(t)
    })
    .await
}

/// Moves a ticket along its lifecycle.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/move", request_body = MoveBody,
    responses((status = 200, body = Object), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn move_ticket(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    Json(b): Json<MoveBody>,
) -> ApiResult<Json<ctem_model::work::Ticket>> {
    Ok(Json(move_ticket_as(&st, caller, id, b).await?))
}

/// Teams.
#[utoipa::path(get, path = "/api/v1/teams", responses((status = 200, body = PageDoc)))]
pub async fn teams(State(st): State<AppState>) -> ApiResult<Json<Page<ctem_model::work::Team>>> {
    let items = st.store(|s| Ok(s.teams()?)).await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

/// Users with their roles and teams (admin).
#[utoipa::path(get, path = "/api/v1/users", responses((status = 200, body = PageDoc)))]
pub async fn users(State(st): State<AppState>) -> ApiResult<Json<Page<User>>> {
    let items = st.store(|s| Ok(s.users()?)).await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUserBody {
    pub name: String,
    pub role: String,
    pub password: String,
    pub email: Option<String>,
    #[serde(default)]
    pub teams: Vec<String>,
}

fn parse_role(r: &str) -> ApiResult<Role> {
    Role::parse(r).ok_or_else(|| {
        ApiError::invalid(format!(
            "unknown role {r:?}: admin, vulnerability_manager, threat_analyst, \
             incident_responder, it_operations, viewer"
        ))
    })
}

/// Creates or updates a user and sets its password (admin).
#[utoipa::path(post, path = "/api/v1/users", request_body = NewUserBody,
    responses((status = 201, body = Object), (status = 400, body = ErrorBody)))]
pub async fn add_user(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    Json(b): Json<NewUserBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let role = parse_role(&b.role)?;
    let phc = hash_password(&b.password).map_err(ApiError::invalid)?;
    st.store(move |s| {
        let user = User {
            name: b.name.clone(),
            email: b.email,
            role,
            teams: b.teams,
        };
        s.put_user(&user)?;
        s.set_password(&user.name, &phc)?;
        audit(
            s,
            &caller,
            "users.add",
            format!("user {}", user.name),
            Some(json!({"role": role})),
        )?;
        Ok((
            StatusCode::CREATED,
            Json(json!({"name": user.name, "role": role})),
        ))
    })
    .await
}

/// API tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/tokens", responses((status = 200, body = PageDoc)))]
pub async fn tokens(
    State(st): State<AppState>,
) -> ApiResult<Json<Page<ctem_store::auth::ApiToken>>> {
    let items = st.store(|s| Ok(s.tokens()?)).await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewTokenBody {
    pub name: String,
    pub role: String,
    /// `mdr` or `sharing`
    pub partner: Option<String>,
    /// The last day the token works (YYYY-MM-DD)
    #[schema(value_type = Option<String>, format = Date)]
    pub expires: Option<NaiveDate>,
}

/// Parses a partner name.
pub fn parse_partner(p: Option<&str>) -> ApiResult<Option<Partner>> {
    p.map(|p| {
        Partner::parse(p)
            .ok_or_else(|| ApiError::invalid(format!("unknown partner {p:?}: mdr or sharing")))
    })
    .transpose()
}

/// The stored form of a new token and its secret (shown once).
pub fn mint_token(
    name: &str,
    role: Role,
    partner: Option<Partner>,
    expires: Option<NaiveDate>,
    created_by: &str,
) -> (NewToken, String) {
    let secret = new_secret("ctem_");
    let t = NewToken {
        name: name.to_string(),
        role: role.as_str().into(),
        partner: partner.map(|p| p.as_str().into()),
        hash: secret_hash(&secret),
        // valid through the whole of its last day
        expires_at: expires
            .and_then(|d| d.succ_opt())
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc()),
        created_by: Some(created_by.to_string()),
    };
    (t, secret)
}

/// Creates a token; the answer is the only time its secret is shown (admin).
#[utoipa::path(post, path = "/api/v1/tokens", request_body = NewTokenBody,
    responses((status = 201, body = Object), (status = 400, body = ErrorBody)))]
pub async fn create_token(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    Json(b): Json<NewTokenBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let role = parse_role(&b.role)?;
    let partner = parse_partner(b.partner.as_deref())?;
    let (t, secret) = mint_token(&b.name, role, partner, b.expires, &caller.principal.name);
    st.store(move |s| {
        let id = s.add_token(&t)?;
        let detail = json!({"name": t.name, "role": t.role, "partner": t.partner});
        audit(
            s,
            &caller,
            "tokens.create",
            format!("token {id}"),
            Some(detail),
        )?;
        Ok((
            StatusCode::CREATED,
            Json(json!({"id": id, "name": t.name, "token": secret})),
        ))
    })
    .await
}

/// Revokes a token (admin).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}",
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn revoke_token(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    st.store(move |s| {
        s.revoke_token(id, Utc::now())?;
        audit(s, &caller, "tokens.revoke", format!("token {id}"), None)?;
        Ok(Json(json!({"id": id, "revoked": true})))
    })
    .await
}

/// The audit log, oldest first (admin).
#[utoipa::path(get, path = "/api/v1/audit", params(IdPageQuery),
    responses((status = 200, body = PageDoc)))]
pub async fn audit_log(
    State(st): State<AppState>,
    Query(q): Query<IdPageQuery>,
) -> ApiResult<Json<Page<AuditEntry>>> {
    let n = limit(q.limit)?;
    let after = id_cursor(q.cursor.as_deref())?;
    let rows = st
        .store(move |s| Ok(s.audit_log(after, Some(n + 1))?))
        .await?;
    Ok(Json(page(rows, n, |e| e.id.to_string())))
}
