//! The web dashboard: server-rendered HTML, one stylesheet embedded in the binary, no
//! script and no CDN. Every page is a protected route of [`crate::routes::RULES`], so the role
//! check is the API's; the navigation shows only what the caller's role may open, and the
//! ticket forms only to roles that may work tickets. Forms carry the session's CSRF token.

use std::fmt::Write as _;

use axum::Form;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use ctem_model::work::{Action, TicketState};
use ctem_store::alerts::AlertFilter;
use ctem_store::intel::IndicatorFilter;
use ctem_store::work::TicketFilter;
use ctem_store::{AssetFilter, Overview};
use serde::Deserialize;

use crate::AppState;
use crate::api::{ExposureQuery, MoveBody, exposure_page, move_ticket_as};
use crate::auth::{Credential, authorize};
use crate::error::ApiError;
use crate::routes::Caller;
use crate::web::esc;

pub async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../assets/ctem.css"),
    )
}

const NAV: &[(&str, &str, Action)] = &[
    ("/", "Overview", Action::ReadExposures),
    ("/exposures", "Exposures", Action::ReadExposures),
    ("/assets", "Assets", Action::ReadExposures),
    ("/alerts", "Alerts", Action::ReadAlerts),
    ("/incidents", "Incidents", Action::ReadAlerts),
    ("/tickets", "Tickets", Action::ReadTickets),
    ("/intel", "Intel", Action::ReadIntel),
    ("/kpis", "KPIs", Action::ReadExposures),
    ("/goals", "Goals", Action::ReadExposures),
    ("/assessment", "Assessment", Action::ReadExposures),
    ("/review", "Review", Action::ReadExposures),
    ("/paths", "Attack paths", Action::ReadExposures),
    ("/scenarios", "Scenarios", Action::ReadExposures),
    ("/admin", "Users and tokens", Action::ManageTeams),
];

pub(crate) fn csrf(c: &Caller) -> String {
    match &c.principal.credential {
        Credential::Session { csrf } => csrf.clone(),
        _ => String::new(),
    }
}

/// The page frame: header with the role's navigation, main content.
pub(crate) fn frame(c: &Caller, current: &str, title: &str, body: &str) -> Html<String> {
    let mut nav = String::new();
    for (href, label, action) in NAV {
        if authorize(&c.principal, *action, &[]) {
            let cur = if *href == current {
                " aria-current=\"page\""
            } else {
                ""
            };
            let _ = write!(nav, "<a href=\"{href}\"{cur}>{label}</a>");
        }
    }
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} · ctem</title><link rel=\"stylesheet\" href=\"/static/ctem.css\"></head><body>\
         <a class=\"skip\" href=\"#main\">skip to content</a><header><strong>ctem</strong>\
         <nav aria-label=\"main\">{nav}</nav><form method=\"post\" action=\"/logout\">\
         <span class=\"who\">{who} ({role})</span> <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\">sign out</button></form></header>\
         <main id=\"main\"><h1>{t}</h1>{body}</main></body></html>",
        t = esc(title),
        who = esc(&c.principal.name),
        role = c.principal.role,
        csrf = esc(&csrf(c)),
    ))
}

pub(crate) fn error_page(c: &Caller, e: ApiError) -> Response {
    let status = e.status;
    (
        status,
        frame(
            c,
            "",
            "Error",
            &format!("<p class=\"err\" role=\"alert\">{}</p>", esc(&e.message)),
        ),
    )
        .into_response()
}

/// The trend as an SVG chart: new and fixed exposures per day.
fn trend_svg(trend: &[(NaiveDate, u64, u64)]) -> String {
    let (w, h, pad) = (720.0, 180.0, 28.0);
    let max = trend.iter().map(|t| t.1.max(t.2)).max().unwrap_or(0).max(1) as f64;
    let n = trend.len().max(2) as f64 - 1.0;
    let line = |pick: fn(&(NaiveDate, u64, u64)) -> u64| {
        trend
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let x = pad + i as f64 * (w - 2.0 * pad) / n;
                let y = h - pad - pick(t) as f64 * (h - 2.0 * pad) / max;
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let first = trend.first().map(|t| t.0.to_string()).unwrap_or_default();
    let last = trend.last().map(|t| t.0.to_string()).unwrap_or_default();
    format!(
        "<svg id=\"trend\" viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\" \
         aria-label=\"new and fixed exposures per day, {first} to {last}\">\
         <line x1=\"{pad}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#d0d7de\"/>\
         <polyline class=\"new\" fill=\"none\" stroke=\"#cf222e\" stroke-width=\"2\" points=\"{new}\"/>\
         <polyline class=\"fixed\" fill=\"none\" stroke=\"#1a7f37\" stroke-width=\"2\" points=\"{fixed}\"/>\
         <text x=\"{pad}\" y=\"{h}\">{first}</text><text x=\"{r}\" y=\"{h}\" text-anchor=\"end\">{last}</text>\
         <text x=\"{pad}\" y=\"12\">max {max} a day · red new, green fixed</text></svg>",
        b = h - pad,
        r = w - pad,
        new = line(|t| t.1),
        fixed = line(|t| t.2),
    )
}

fn overview_html(o: &Overview) -> String {
    let open: u64 = o.open_by_severity.iter().sum();
    let mut s = String::from("<section class=\"cards\" aria-label=\"counts\">");
    for (label, v, id) in [
        ("assets", o.assets, "assets"),
        ("open exposures", open, "open"),
        ("KEV open", o.kev_open, "kev"),
        ("SLA breached", o.sla_breached, "breached"),
    ] {
        let _ = write!(
            s,
            "<div class=\"card\" id=\"card-{id}\"><b>{v}</b>{label}</div>"
        );
    }
    s.push_str("</section><h2>Open by priority</h2><table class=\"num\"><tr>");
    for p in ["P1", "P2", "P3", "P4"] {
        let _ = write!(s, "<th class=\"{p}\">{p}</th>");
    }
    s.push_str("</tr><tr>");
    for (i, v) in o.open_by_priority.iter().enumerate() {
        let _ = write!(s, "<td class=\"n P{}\">{v}</td>", i + 1);
    }
    s.push_str("</tr></table><h2>Open by severity</h2><table class=\"num\"><tr>");
    let names = ["unknown", "info", "low", "medium", "high", "critical"];
    for n in names.iter().rev() {
        let _ = write!(s, "<th>{n}</th>");
    }
    s.push_str("</tr><tr>");
    for (i, v) in o.open_by_severity.iter().enumerate().rev() {
        let _ = write!(
            s,
            "<td class=\"n sev-{}\"><a href=\"/exposures?severity={}\">{v}</a></td>",
            names[i], names[i]
        );
    }
    s.push_str("</tr></table><h2>Last 30 days</h2>");
    s.push_str(&trend_svg(&o.trend));
    s
}

pub async fn overview(State(st): State<AppState>, Extension(c): Extension<Caller>) -> Response {
    let today = chrono::Utc::now().date_naive();
    match st.store(move |s| Ok(s.overview(today, 30)?)).await {
        Ok(o) => frame(&c, "/", "Overview", &overview_html(&o)).into_response(),
        Err(e) => error_page(&c, e),
    }
}

pub(crate) fn select(name: &str, current: Option<&str>, options: &[&str]) -> String {
    let mut s = format!("<select name=\"{name}\" id=\"f-{name}\">");
    for o in options {
        let sel = if Some(*o) == current { " selected" } else { "" };
        let _ = write!(s, "<option value=\"{o}\"{sel}>{o}</option>");
    }
    s.push_str("</select>");
    s
}

fn exposure_filters(q: &ExposureQuery) -> String {
    format!(
        "<form class=\"filters\" method=\"get\" action=\"/exposures\" role=\"search\">\
         <label>minimum severity{sev}</label><label>status{status}</label>\
         <label>CVE <input name=\"cve\" id=\"f-cve\" value=\"{cve}\" size=\"16\"></label>\
         <label>asset <input name=\"asset\" id=\"f-asset\" value=\"{asset}\" size=\"16\"></label>\
         <label>sort{sort}</label><label class=\"inline\"><input type=\"checkbox\" name=\"kev\" value=\"true\"{kev}> KEV only</label>\
         <button type=\"submit\" id=\"f-apply\">apply</button></form>",
        sev = select(
            "severity",
            q.severity.as_deref(),
            &["", "info", "low", "medium", "high", "critical"]
        ),
        status = select(
            "status",
            q.status.as_deref(),
            &[
                "active",
                "all",
                "open",
                "reopened",
                "fixed",
                "accepted",
                "false_positive"
            ]
        ),
        cve = esc(q.cve.as_deref().unwrap_or("")),
        asset = esc(q.asset.as_deref().unwrap_or("")),
        sort = select("sort", q.sort.as_deref(), &["severity", "-id", "id"]),
        kev = if q.kev == Some(true) { " checked" } else { "" },
    )
}

fn query_string(q: &ExposureQuery, cursor: &str) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("severity", &q.severity),
        ("status", &q.status),
        ("cve", &q.cve),
        ("asset", &q.asset),
        ("sort", &q.sort),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            parts.push(format!("{k}={}", pct(v)));
        }
    }
    if q.kev == Some(true) {
        parts.push("kev=true".into());
    }
    parts.push(format!("cursor={}", pct(cursor)));
    parts.join("&amp;")
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub async fn exposures(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(mut q): Query<ExposureQuery>,
) -> Response {
    // an empty select means no filter
    q.severity = q.severity.filter(|s| !s.is_empty());
    let page = match exposure_page(&st, &q).await {
        Ok(p) => p,
        Err(e) => return error_page(&c, e),
    };
    let mut s = exposure_filters(&q);
    s.push_str("<table id=\"exposures\"><thead><tr><th>id</th><th>severity</th><th>title</th><th>CVE</th><th>asset</th><th>status</th><th>last seen</th></tr></thead><tbody>");
    for e in &page.items {
        let id = e.id.unwrap_or_default();
        let _ = write!(
            s,
            "<tr><td class=\"n\">{id}</td><td class=\"sev-{sev}\">{sev}</td><td><a href=\"/exposures/{id}\">{title}</a></td>\
             <td>{cve}</td><td><a href=\"/exposures?asset={aid}\">{aid}</a></td><td>{status}</td><td>{seen}</td></tr>",
            sev = e.severity.as_str(),
            title = esc(&e.title),
            cve = esc(&e.cves.first().cloned().unwrap_or_default()),
            aid = e.asset_id.unwrap_or_default(),
            status = e.status.as_str(),
            seen = e
                .last_seen
                .map(|t| t.date_naive().to_string())
                .unwrap_or_default(),
        );
    }
    s.push_str("</tbody></table>");
    if page.items.is_empty() {
        s.push_str("<p>No exposures match.</p>");
    }
    if let Some(next) = &page.next_cursor {
        let _ = write!(
            s,
            "<p class=\"pager\"><a id=\"next\" href=\"/exposures?{}\">next page →</a></p>",
            query_string(&q, next)
        );
    }
    frame(&c, "/exposures", "Exposures", &s).into_response()
}

pub async fn exposure(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
) -> Response {
    let got = st
        .store(move |s| {
            let e = s
                .exposure(id)?
                .ok_or_else(|| ApiError::not_found(format!("exposure {id}")))?;
            let asset = match e.asset_id {
                Some(a) => s.asset(a)?,
                None => None,
            };
            Ok((e, asset, s.stored_risk(id)?, s.exposure_sources(id)?))
        })
        .await;
    let (e, asset, risk, sources) = match got {
        Ok(x) => x,
        Err(err) => return error_page(&c, err),
    };
    let mut s = String::from("<dl>");
    let mut row = |k: &str, v: String| {
        let _ = write!(s, "<dt>{k}</dt><dd>{v}</dd>");
    };
    row(
        "severity",
        format!("<span class=\"sev-{0}\">{0}</span>", e.severity.as_str()),
    );
    row("status", e.status.as_str().into());
    row("CVEs", esc(&e.cves.join(", ")));
    row("asset", asset.map(|a| esc(&a.name)).unwrap_or_default());
    if let Some(p) = &e.package {
        row(
            "package",
            esc(&format!(
                "{} {}",
                p.name,
                p.version.clone().unwrap_or_default()
            )),
        );
    }
    s.push_str("</dl><h2>Why this priority</h2>");
    match risk {
        Some(r) => {
            let _ = write!(
                s,
                "<dl id=\"explanation\"><dt>priority</dt><dd class=\"{p:?}\">{p:?}</dd><dt>risk score</dt><dd>{score:.1}</dd>\
                 <dt>SSVC decision</dt><dd>{ssvc:?}</dd><dt>in CISA KEV</dt><dd>{kev}</dd><dt>SLA due</dt><dd>{due}</dd>\
                 <dt>team</dt><dd>{team}</dd><dt>ticket</dt><dd>{ticket}</dd></dl>",
                p = r.priority,
                score = r.score,
                ssvc = r.ssvc,
                kev = if r.kev { "yes" } else { "no" },
                due = r
                    .due
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "none".into()),
                team = esc(r.team.as_deref().unwrap_or("unrouted")),
                ticket = r
                    .ticket_id
                    .map(|t| format!("<a href=\"/tickets#t{t}\">#{t}</a>"))
                    .unwrap_or_else(|| "none".into()),
            );
        }
        None => s.push_str("<p>Not prioritised yet.</p>"),
    }
    if let Some(d) = &e.description {
        let _ = write!(s, "<h2>Description</h2><p>{}</p>", esc(d));
    }
    s.push_str("<h2>Reported by</h2><table><tr><th>tool</th><th>scope</th><th>active</th><th>last seen</th></tr>");
    for x in &sources {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&x.tool),
            esc(&x.scope),
            x.active,
            x.last_seen.date_naive()
        );
    }
    s.push_str("</table><h2>History</h2><table><tr><th>when</th><th>to</th><th>why</th></tr>");
    for h in &e.history {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            h.at.date_naive(),
            h.to.as_str(),
            esc(&h.reason)
        );
    }
    s.push_str("</table>");
    frame(&c, "/exposures", &e.title, &s).into_response()
}

#[derive(Debug, Deserialize)]
pub struct CursorQuery {
    pub cursor: Option<i64>,
}

pub async fn assets(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(q): Query<CursorQuery>,
) -> Response {
    let f = AssetFilter {
        limit: Some(101),
        after_id: q.cursor,
        ..AssetFilter::default()
    };
    let rows = match st.store(move |s| Ok(s.assets(&f)?)).await {
        Ok(r) => r,
        Err(e) => return error_page(&c, e),
    };
    let mut s = String::from(
        "<table id=\"assets\"><tr><th>id</th><th>name</th><th>kind</th><th>zone</th><th>internet facing</th><th>open exposures</th></tr>",
    );
    for r in rows.iter().take(100) {
        let a = &r.asset;
        let id = a.id.unwrap_or_default();
        let _ = write!(
            s,
            "<tr><td class=\"n\">{id}</td><td><a href=\"/exposures?asset={id}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            esc(&a.name),
            a.kind.as_str(),
            esc(a.zone.as_deref().unwrap_or("")),
            a.internet_facing.map(|b| b.to_string()).unwrap_or_default(),
            r.open_exposures
        );
    }
    s.push_str("</table>");
    if rows.len() > 100
        && let Some(last) = rows.get(99).and_then(|r| r.asset.id)
    {
        let _ = write!(
            s,
            "<p class=\"pager\"><a href=\"/assets?cursor={last}\">next page →</a></p>"
        );
    }
    frame(&c, "/assets", "Assets", &s).into_response()
}

pub async fn alerts(State(st): State<AppState>, Extension(c): Extension<Caller>) -> Response {
    let f = AlertFilter {
        limit: Some(200),
        ..AlertFilter::default()
    };
    let rows = match st.store(move |s| Ok(s.alerts(&f)?)).await {
        Ok(r) => r,
        Err(e) => return error_page(&c, e),
    };
    let mut s = String::from(
        "<p>The newest 200 alerts.</p><table id=\"alerts\"><tr><th>detected</th><th>level</th><th>rule</th><th>host</th><th>user</th></tr>",
    );
    for a in &rows {
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=\"sev-{lvl}\">{lvl}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            a.detected_at.format("%Y-%m-%d %H:%M"),
            esc(&a.title),
            esc(a.host.as_deref().unwrap_or("")),
            esc(a.user.as_deref().unwrap_or("")),
            lvl = esc(&a.level)
        );
    }
    s.push_str("</table>");
    frame(&c, "/alerts", "Alerts", &s).into_response()
}

const STATES: &[&str] = &["open", "in_progress", "done", "risk_accepted", "wont_fix"];

pub async fn tickets(State(st): State<AppState>, Extension(c): Extension<Caller>) -> Response {
    let rows = match st
        .store(|s| {
            Ok(s.tickets(&TicketFilter {
                limit: Some(500),
                ..TicketFilter::default()
            })?)
        })
        .await
    {
        Ok(r) => r,
        Err(e) => return error_page(&c, e),
    };
    let can_work = authorize(&c.principal, Action::WorkTickets, &[]);
    let token = esc(&csrf(&c));
    let mut s = String::from(
        "<table id=\"tickets\"><tr><th>id</th><th>priority</th><th>team</th><th>action</th><th>exposures</th><th>state</th><th>assignee</th><th>due</th>",
    );
    if can_work {
        s.push_str("<th>move</th>");
    }
    s.push_str("</tr>");
    for t in &rows {
        let _ = write!(
            s,
            "<tr id=\"t{id}\"><td class=\"n\">{id}</td><td class=\"{p}\">{p}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"state\">{}</td><td>{}</td><td>{}</td>",
            esc(&t.team),
            esc(&t.action),
            t.exposures,
            t.state.as_str(),
            esc(t.assignee.as_deref().unwrap_or("")),
            t.due.map(|d| d.to_string()).unwrap_or_default(),
            id = t.id,
            p = esc(&t.priority)
        );
        if can_work {
            let options: String = STATES
                .iter()
                .filter(|x| TicketState::parse(x).is_some_and(|to| t.state.can_move_to(to)))
                .map(|x| format!("<option value=\"{x}\">{x}</option>"))
                .collect();
            let _ = write!(
                s,
                "<td><form class=\"inline\" method=\"post\" action=\"/tickets/{id}/move\">\
                <input type=\"hidden\" name=\"csrf\" value=\"{token}\"><label class=\"inline\">to <select name=\"state\" id=\"move-{id}\">{options}</select></label>\
                <input name=\"until\" type=\"date\" aria-label=\"risk accepted until\">\
                <button type=\"submit\" id=\"move-btn-{id}\">move</button></form></td>",
                id = t.id
            );
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    frame(&c, "/tickets", "Tickets", &s).into_response()
}

#[derive(Debug, Deserialize)]
pub struct MoveForm {
    pub state: String,
    #[serde(default)]
    pub until: String,
}

pub async fn move_ticket(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
    Form(f): Form<MoveForm>,
) -> Response {
    let until = if f.until.is_empty() {
        None
    } else {
        match f.until.parse::<NaiveDate>() {
            Ok(d) => Some(d),
            Err(_) => return error_page(&c, ApiError::invalid(format!("bad date {:?}", f.until))),
        }
    };
    match move_ticket_as(
        &st,
        c.clone(),
        id,
        MoveBody {
            state: f.state,
            until,
        },
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("/tickets#t{id}")).into_response(),
        Err(e) => error_page(&c, e),
    }
}

pub async fn intel(State(st): State<AppState>, Extension(c): Extension<Caller>) -> Response {
    let now = chrono::Utc::now();
    let got = st
        .store(move |s| {
            Ok((
                s.indicators(&IndicatorFilter {
                    active_at: Some(now),
                    limit: Some(200),
                    ..IndicatorFilter::default()
                })?,
                s.intel_counts()?,
            ))
        })
        .await;
    let (rows, counts) = match got {
        Ok(r) => r,
        Err(e) => return error_page(&c, e),
    };
    let mut s = String::from("<h2>In the store</h2><table id=\"intel-counts\">");
    if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(&counts) {
        for (k, v) in m {
            let _ = write!(
                s,
                "<tr><th>{}</th><td class=\"n\">{}</td></tr>",
                esc(&k.replace('_', " ")),
                esc(&v.to_string())
            );
        }
    }
    s.push_str("</table><h2>Active indicators (first 200)</h2><table id=\"indicators\"><tr><th>type</th><th>value</th><th>source</th><th>TLP</th></tr>");
    for i in &rows {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            i.kind,
            esc(&i.value),
            esc(&i.source),
            i.tlp.map(|t| t.to_string()).unwrap_or_default()
        );
    }
    s.push_str("</table>");
    frame(&c, "/intel", "Intel", &s).into_response()
}

pub async fn admin(State(st): State<AppState>, Extension(c): Extension<Caller>) -> Response {
    let got = st.store(|s| Ok((s.users()?, s.tokens()?))).await;
    let (users, tokens) = match got {
        Ok(r) => r,
        Err(e) => return error_page(&c, e),
    };
    let mut s = String::from(
        "<h2>Users</h2><table id=\"users\"><tr><th>user</th><th>role</th><th>teams</th></tr>",
    );
    for u in &users {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&u.name),
            u.role,
            esc(&u.teams.join(", "))
        );
    }
    s.push_str("</table><h2>API tokens</h2><table id=\"tokens\"><tr><th>id</th><th>name</th><th>role</th><th>partner</th><th>expires</th><th>revoked</th></tr>");
    for t in &tokens {
        let _ = write!(
            s,
            "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            t.id,
            esc(&t.name),
            esc(&t.role),
            esc(t.partner.as_deref().unwrap_or("")),
            t.expires_at
                .map(|e| e.date_naive().to_string())
                .unwrap_or_default(),
            t.revoked_at
                .map(|e| e.date_naive().to_string())
                .unwrap_or_default()
        );
    }
    s.push_str("</table><p>Create users with <code>ctem users add</code> or <code>POST /api/v1/users</code>, tokens with <code>ctem tokens create</code>.</p>");
    frame(&c, "/admin", "Users and tokens", &s).into_response()
}

/// A 403 page for a browser (the API answers JSON).
pub fn forbidden_page(message: &str) -> Response {
    (StatusCode::FORBIDDEN, Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>forbidden · ctem</title>\
         <link rel=\"stylesheet\" href=\"/static/ctem.css\"></head><body><main><h1>Forbidden</h1>\
         <p class=\"err\" role=\"alert\" id=\"forbidden\">{}</p><p><a href=\"/\">back to the overview</a></p></main></body></html>",
        esc(message)
    ))).into_response()
}
