//! The route table: which action of docs/roles.md each protected route needs, and the one
//! middleware that identifies the caller and asks [`crate::auth::authorize`].

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use ctem_model::work::{Action, Role};

use crate::auth::{Credential, Partner, Principal, authorize, same_secret, secret_hash};
use crate::error::{ApiError, ApiResult};
use crate::{AppState, api, jobs, taxii};

/// The session cookie.
pub const SESSION_COOKIE: &str = "ctem_session";
/// The header a session's non-form writes carry their CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A protected route and what it needs.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub method: &'static str,
    /// The route as registered (`{id}` for a path parameter).
    pub path: &'static str,
    pub action: Action,
    /// Partners whose scoped tokens may use the route.
    pub partners: &'static [Partner],
}

const fn rule(method: &'static str, path: &'static str, action: Action) -> Rule {
    Rule {
        method,
        path,
        action,
        partners: &[],
    }
}

const fn partner(
    method: &'static str,
    path: &'static str,
    action: Action,
    partners: &'static [Partner],
) -> Rule {
    Rule {
        method,
        path,
        action,
        partners,
    }
}

use Action as A;

/// Every protected route. The matrix test walks it for every role.
pub const RULES: &[Rule] = &[
    rule("GET", "/", A::ReadExposures),
    rule("GET", "/exposures", A::ReadExposures),
    rule("GET", "/exposures/{id}", A::ReadExposures),
    rule("GET", "/assets", A::ReadExposures),
    rule("GET", "/alerts", A::ReadAlerts),
    rule("GET", "/tickets", A::ReadTickets),
    rule("POST", "/tickets/{id}/move", A::WorkTickets),
    rule("GET", "/intel", A::ReadIntel),
    rule("GET", "/admin", A::ManageTeams),
    rule("GET", "/incidents", A::ReadAlerts),
    rule("GET", "/incidents/{id}", A::ReadAlerts),
    rule("POST", "/incidents/{id}/state", A::WorkIncidents),
    rule("GET", "/kpis", A::ReadExposures),
    rule("GET", "/goals", A::ReadExposures),
    rule("GET", "/assessment", A::ReadExposures),
    rule("GET", "/review", A::ReadExposures),
    rule("GET", "/paths", A::ReadExposures),
    rule("GET", "/scenarios", A::ReadExposures),
    rule("POST", "/exercises/{id}/tasks/{step}/ack", A::WorkExercises),
    rule(
        "POST",
        "/exercises/{id}/tasks/{step}/complete",
        A::WorkExercises,
    ),
    rule("GET", "/api/v1/assets", A::ReadExposures),
    rule("GET", "/api/v1/assets/{id}", A::ReadExposures),
    rule("GET", "/api/v1/exposures", A::ReadExposures),
    rule("GET", "/api/v1/exposures/{id}", A::ReadExposures),
    rule("POST", "/api/v1/exposures/{id}/status", A::TriageExposures),
    rule("GET", "/api/v1/scans", A::ReadExposures),
    rule("GET", "/api/v1/indicators", A::ReadIntel),
    partner("GET", "/api/v1/alerts", A::ReadAlerts, &[Partner::Mdr]),
    partner("GET", "/api/v1/incidents", A::ReadAlerts, &[Partner::Mdr]),
    partner(
        "GET",
        "/api/v1/incidents/{id}",
        A::ReadAlerts,
        &[Partner::Mdr],
    ),
    partner(
        "PATCH",
        "/api/v1/incidents/{id}",
        A::WorkIncidents,
        &[Partner::Mdr],
    ),
    rule("GET", "/api/v1/kpis", A::ReadExposures),
    rule("GET", "/api/v1/kpis/snapshots", A::ReadExposures),
    rule("GET", "/api/v1/goals", A::ReadExposures),
    rule("GET", "/api/v1/assessment", A::ReadExposures),
    rule("GET", "/api/v1/review", A::ReadExposures),
    rule("GET", "/api/v1/paths", A::ReadExposures),
    rule("GET", "/api/v1/chokepoints", A::ReadExposures),
    rule("GET", "/api/v1/scenarios", A::ReadExposures),
    rule("GET", "/api/v1/exercises", A::ReadExposures),
    rule("GET", "/api/v1/exercises/{id}", A::ReadExposures),
    rule(
        "POST",
        "/api/v1/exercises/{id}/tasks/{step}/ack",
        A::WorkExercises,
    ),
    rule(
        "POST",
        "/api/v1/exercises/{id}/tasks/{step}/complete",
        A::WorkExercises,
    ),
    rule("GET", "/api/v1/tickets", A::ReadTickets),
    rule("GET", "/api/v1/tickets/{id}", A::ReadTickets),
    rule("POST", "/api/v1/tickets/{id}/assign", A::WorkTickets),
    rule("POST", "/api/v1/tickets/{id}/move", A::WorkTickets),
    rule("GET", "/api/v1/teams", A::ReadTickets),
    rule("GET", "/api/v1/users", A::ManageTeams),
    rule("POST", "/api/v1/users", A::ManageTeams),
    rule("GET", "/api/v1/tokens", A::ManageTeams),
    rule("POST", "/api/v1/tokens", A::ManageTeams),
    rule("DELETE", "/api/v1/tokens/{id}", A::ManageTeams),
    rule("GET", "/api/v1/audit", A::ManageTeams),
    rule("POST", "/api/v1/imports", A::ImportScans),
    rule("GET", "/api/v1/jobs/{id}", A::ImportScans),
    rule("POST", "/api/v1/events", A::ManageDetections),
    partner("GET", "/taxii2/", A::ReadIntel, &[Partner::Sharing]),
    partner("GET", "/taxii2/ctem/", A::ReadIntel, &[Partner::Sharing]),
    partner(
        "GET",
        "/taxii2/ctem/collections/",
        A::ReadIntel,
        &[Partner::Sharing],
    ),
    partner(
        "GET",
        "/taxii2/ctem/collections/{id}/",
        A::ReadIntel,
        &[Partner::Sharing],
    ),
    partner(
        "GET",
        "/taxii2/ctem/collections/{id}/objects/",
        A::ReadIntel,
        &[Partner::Sharing],
    ),
    partner(
        "GET",
        "/taxii2/ctem/collections/{id}/manifest/",
        A::ReadIntel,
        &[Partner::Sharing],
    ),
];

/// The rule of a matched route.
pub fn rule_for(method: &str, path: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.method == method && r.path == path)
}

/// Routes behind [`authz`].
pub(crate) fn protected() -> Router<AppState> {
    use crate::dashboard as d;
    Router::new()
        .route("/", get(d::overview))
        .route("/exposures", get(d::exposures))
        .route("/exposures/{id}", get(d::exposure))
        .route("/assets", get(d::assets))
        .route("/alerts", get(d::alerts))
        .route("/tickets", get(d::tickets))
        .route("/tickets/{id}/move", post(d::move_ticket))
        .route("/intel", get(d::intel))
        .route("/admin", get(d::admin))
        .merge(crate::pages_measure::routes())
        .merge(crate::pages_validate::routes())
        .route("/api/v1/assets", get(api::assets))
        .route("/api/v1/assets/{id}", get(api::asset))
        .route("/api/v1/exposures", get(api::exposures))
        .route("/api/v1/exposures/{id}", get(api::exposure))
        .route("/api/v1/exposures/{id}/status", post(api::exposure_status))
        .route("/api/v1/scans", get(api::scans))
        .route("/api/v1/indicators", get(api::indicators))
        .route("/api/v1/alerts", get(api::alerts))
        .route("/api/v1/tickets", get(api::tickets))
        .route("/api/v1/tickets/{id}", get(api::ticket))
        .route("/api/v1/tickets/{id}/assign", post(api::assign_ticket))
        .route("/api/v1/tickets/{id}/move", post(api::move_ticket))
        .merge(measure_api())
        .merge(validate_api())
        .route("/api/v1/teams", get(api::teams))
        .route("/api/v1/users", get(api::users).post(api::add_user))
        .route("/api/v1/tokens", get(api::tokens).post(api::create_token))
        .route(
            "/api/v1/tokens/{id}",
            axum::routing::delete(api::revoke_token),
        )
        .route("/api/v1/audit", get(api::audit_log))
        .route("/api/v1/imports", post(jobs::create_import))
        .route("/api/v1/jobs/{id}", get(jobs::job))
        .route("/api/v1/events", post(crate::events::post_events))
        .merge(taxii::routes())
}

fn measure_api() -> Router<AppState> {
    use crate::api_measure as m;
    Router::new()
        .route("/api/v1/incidents", get(m::incidents))
        .route(
            "/api/v1/incidents/{id}",
            get(m::incident).patch(m::patch_incident),
        )
        .route("/api/v1/kpis", get(m::kpis))
        .route("/api/v1/kpis/snapshots", get(m::kpi_snapshots))
        .route("/api/v1/goals", get(m::goal_statuses))
        .route("/api/v1/assessment", get(m::assessment))
        .route("/api/v1/review", get(m::review))
}

fn validate_api() -> Router<AppState> {
    use crate::api_validate as v;
    Router::new()
        .route("/api/v1/paths", get(v::paths))
        .route("/api/v1/chokepoints", get(v::chokepoints))
        .route("/api/v1/scenarios", get(v::scenarios))
        .route("/api/v1/exercises", get(v::exercises))
        .route("/api/v1/exercises/{id}", get(v::exercise))
        .route("/api/v1/exercises/{id}/tasks/{step}/ack", post(v::ack_task))
        .route(
            "/api/v1/exercises/{id}/tasks/{step}/complete",
            post(v::complete_task),
        )
}

/// Routes anyone may call.
pub(crate) fn public() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(crate::metrics::render))
        .route("/openapi.json", get(crate::openapi::document))
        .route("/api/docs", get(crate::openapi::viewer))
        .route(
            "/login",
            get(crate::web::login_form).post(crate::web::login),
        )
        .route("/logout", post(crate::web::logout))
        .route("/static/ctem.css", get(crate::dashboard::stylesheet))
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

/// The authenticated caller of a request, with the peer address (for the audit log).
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub remote: Option<String>,
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Who sent `headers`: a bearer token or a session cookie; `None` when neither is there.
pub async fn identify(state: &AppState, headers: &HeaderMap) -> ApiResult<Option<Principal>> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    if let Some(token) = bearer {
        let hash = secret_hash(&token);
        let t = state.store(move |s| Ok(s.token_by_hash(&hash)?)).await?;
        let Some(t) = t else {
            return Err(ApiError::unauthorized("unknown token"));
        };
        if t.revoked_at.is_some() {
            return Err(ApiError::unauthorized("the token was revoked"));
        }
        if t.expires_at.is_some_and(|e| e <= Utc::now()) {
            return Err(ApiError::unauthorized("the token has expired"));
        }
        let role = Role::parse(&t.role).ok_or_else(|| ApiError::internal("token role"))?;
        return Ok(Some(Principal {
            name: format!("token:{}", t.name),
            role,
            partner: t.partner.as_deref().and_then(Partner::parse),
            credential: Credential::Token(t.id),
        }));
    }
    let Some(sid) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let hash = secret_hash(sid);
    let found = state
        .store(move |s| {
            let Some(sess) = s.session(&hash)? else {
                return Ok(None);
            };
            let user = s.users()?.into_iter().find(|u| u.name == sess.user);
            Ok(user.map(|u| (sess, u)))
        })
        .await?;
    match found {
        Some((sess, user)) if sess.expires_at > Utc::now() => Ok(Some(Principal {
            name: user.name,
            role: user.role,
            partner: None,
            credential: Credential::Session { csrf: sess.csrf },
        })),
        _ => Ok(None),
    }
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Checks a session's write for its CSRF token (header, or `csrf` field of a form body);
/// gives the request back rebuilt when the body had to be read.
async fn check_csrf(req: Request, expected: &str) -> Result<Request, ApiError> {
    let refused = || ApiError::forbidden("missing or wrong CSRF token");
    if let Some(v) = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return if same_secret(v, expected) {
            Ok(req)
        } else {
            Err(refused())
        };
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(refused());
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .map_err(|_| ApiError::invalid("form body too large"))?;
    let text = String::from_utf8_lossy(&bytes);
    let ok = text
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .any(|(k, v)| k == "csrf" && same_secret(v, expected));
    if !ok {
        return Err(refused());
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// The one authorization middleware of every protected route.
pub async fn authz(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match authz_inner(&state, req).await {
        Ok(req) => next.run(req).await,
        Err(resp) => resp,
    }
}

async fn authz_inner(state: &AppState, req: Request) -> Result<Request, Response> {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let Some(rule) = rule_for(req.method().as_str(), &path) else {
        // fail closed: a route nobody gave a rule is nobody's
        return Err(ApiError::forbidden("no role rule covers this route").into_response());
    };
    let is_page = !(path.starts_with("/api/") || path.starts_with("/taxii2"));
    let principal = match identify(state, req.headers()).await {
        Ok(Some(p)) => p,
        Ok(None) if is_page => return Err(Redirect::to("/login").into_response()),
        Ok(None) => {
            return Err(
                ApiError::unauthorized("sign in or send Authorization: Bearer TOKEN")
                    .into_response(),
            );
        }
        Err(e) => return Err(e.into_response()),
    };
    let mut req = req;
    if let Credential::Session { csrf } = &principal.credential
        && !is_safe(req.method())
    {
        req = check_csrf(req, csrf).await.map_err(|e| e.into_response())?;
    }
    if !authorize(&principal, rule.action, rule.partners) {
        state.metrics().refused_authz();
        let scope = principal
            .partner
            .map(|p| format!(" (partner {})", p.as_str()))
            .unwrap_or_default();
        let message = format!(
            "role {}{scope} may not {}",
            principal.role,
            rule.action.as_str()
        );
        if is_page {
            return Err(crate::dashboard::forbidden_page(&message));
        }
        return Err(ApiError::forbidden(message).into_response());
    }
    let remote = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    req.extensions_mut().insert(Caller { principal, remote });
    Ok(req)
}
