//! Sign-in for browsers: a password form, an HttpOnly SameSite=Strict session cookie and a
//! per-session CSRF token that every form post carries (checked in [`crate::routes::authz`]).

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use ctem_store::auth::Session;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{new_secret, secret_hash, verify_password};
use crate::error::ApiError;
use crate::routes::{SESSION_COOKIE, identify};

/// How long a session lasts.
pub const SESSION_HOURS: i64 = 12;

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn login_page(message: &str) -> Html<String> {
    let msg = if message.is_empty() {
        String::new()
    } else {
        format!("<p role=\"alert\" class=\"err\">{}</p>", esc(message))
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>ctem: sign in</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"stylesheet\" href=\"/static/ctem.css\"></head><body class=\"login\"><main>\
         <h1>ctem</h1>{msg}<form method=\"post\" action=\"/login\">\
         <label>user <input name=\"name\" id=\"name\" autocomplete=\"username\" required autofocus></label>\
         <label>password <input name=\"password\" id=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
         <button type=\"submit\" id=\"signin\">sign in</button></form></main></body></html>"
    ))
}

pub async fn login_form() -> Html<String> {
    login_page("")
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    pub name: String,
    pub password: String,
}

/// Checks the password and opens a session.
pub async fn login(State(st): State<AppState>, Form(f): Form<LoginForm>) -> Response {
    let name = f.name.clone();
    let phc = match st.store(move |s| Ok(s.password(&name)?)).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let password = f.password;
    // verifying is deliberately slow (argon2id): off the async workers
    let ok = match phc {
        Some(phc) => tokio::task::spawn_blocking(move || verify_password(&phc, &password))
            .await
            .unwrap_or(false),
        None => false,
    };
    if !ok {
        return (
            StatusCode::UNAUTHORIZED,
            login_page("wrong user name or password"),
        )
            .into_response();
    }
    let sid = new_secret("");
    let session = Session {
        user: f.name,
        csrf: new_secret(""),
        expires_at: Utc::now() + Duration::hours(SESSION_HOURS),
    };
    let hash = secret_hash(&sid);
    if let Err(e) = st.store(move |s| Ok(s.add_session(&hash, &session)?)).await {
        return e.into_response();
    }
    let cookie = format!(
        "{SESSION_COOKIE}={sid}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        SESSION_HOURS * 3600
    );
    let mut r = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    pub csrf: String,
}

/// Ends the session (a form post carrying the session's CSRF token).
pub async fn logout(
    State(st): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<LogoutForm>,
) -> Response {
    let who = match identify(&st, &headers).await {
        Ok(Some(p)) => p,
        _ => return Redirect::to("/login").into_response(),
    };
    let crate::auth::Credential::Session { csrf } = &who.credential else {
        return ApiError::invalid("not a browser session").into_response();
    };
    if !crate::auth::same_secret(csrf, &f.csrf) {
        return ApiError::forbidden("missing or wrong CSRF token").into_response();
    }
    let sid = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| secret_hash(v));
    if let Some(h) = sid {
        let _ = st.store(move |s| Ok(s.remove_session(&h)?)).await;
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("ctem_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    r
}
