//! The one error shape of the API: `{"error": {"kind", "message"}}` with its status code.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// What went wrong, as a client can act on it (../shared/CLI.md "API").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    NotFound,
    Conflict,
    Invalid,
    Forbidden,
    Unauthorized,
    Unavailable,
    Internal,
}

/// An error answered to a client. Internal details are logged, never returned.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    pub status: StatusCode,
    /// Seconds for `Retry-After` (429 and 503).
    pub retry_after: Option<u64>,
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub kind: ErrorKind,
    pub message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    fn new(kind: ErrorKind, status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
            status,
            retry_after: None,
        }
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, StatusCode::NOT_FOUND, m)
    }
    pub fn conflict(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, StatusCode::CONFLICT, m)
    }
    pub fn invalid(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, StatusCode::BAD_REQUEST, m)
    }
    /// A well-formed request the domain refuses (a ticket move the lifecycle forbids).
    pub fn unprocessable(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, StatusCode::UNPROCESSABLE_ENTITY, m)
    }
    pub fn forbidden(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, StatusCode::FORBIDDEN, m)
    }
    pub fn unauthorized(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthorized, StatusCode::UNAUTHORIZED, m)
    }
    pub fn unavailable(m: impl Into<String>) -> Self {
        let mut e = Self::new(ErrorKind::Unavailable, StatusCode::SERVICE_UNAVAILABLE, m);
        e.retry_after = Some(1);
        e
    }
    /// The queue is full: come back after `seconds`.
    pub fn too_many(m: impl Into<String>, seconds: u64) -> Self {
        let mut e = Self::new(ErrorKind::Unavailable, StatusCode::TOO_MANY_REQUESTS, m);
        e.retry_after = Some(seconds);
        e
    }
    /// Logs `detail` on stderr and answers a bare 500.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        eprintln!("error: internal: {detail}");
        Self::new(
            ErrorKind::Internal,
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error",
        )
    }
}

impl From<ctem_store::Error> for ApiError {
    fn from(e: ctem_store::Error) -> Self {
        use ctem_store::Error as E;
        if e.is_busy() {
            return ApiError::unavailable("the store is busy");
        }
        match e {
            E::NotFound(what) => ApiError::not_found(format!("not found: {what}")),
            E::Invalid(what) => ApiError::unprocessable(what),
            other => ApiError::internal(other),
        }
    }
}

impl From<ctem_measure::Error> for ApiError {
    fn from(e: ctem_measure::Error) -> Self {
        match e {
            ctem_measure::Error::Store(e) => e.into(),
            // settings and goals were validated when the server started; a bad snapshot row
            // is the store's fault
            other => ApiError::internal(other),
        }
    }
}

impl From<ctem_core::Error> for ApiError {
    fn from(e: ctem_core::Error) -> Self {
        match e {
            ctem_core::Error::Store(e) => e.into(),
            ctem_core::Error::Paths(ctem_paths::Error::UnknownAsset(a)) => {
                ApiError::not_found(format!("no asset named {a:?}"))
            }
            ctem_core::Error::Paths(p) => ApiError::unprocessable(p.to_string()),
            other => ApiError::forbidden(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                kind: self.kind,
                message: self.message,
            },
        };
        let mut r = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}
