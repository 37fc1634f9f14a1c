//! `/openapi.json`, generated from the handlers' annotations, and `/api/docs`, a small
//! viewer embedded in the binary (no CDN).

use axum::Json;
use axum::response::Html;
use utoipa::OpenApi;

use crate::{api, api_measure, api_validate, error, events, jobs};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ctem",
        description = "Continuous Threat Exposure Management. Authenticate with \
                       `Authorization: Bearer TOKEN` (`ctem tokens create`) or a session \
                       cookie; every route checks the role table of docs/roles.md."
    ),
    paths(
        api::assets,
        api::asset,
        api::exposures,
        api::exposure,
        api::exposure_status,
        api::scans,
        api::indicators,
        api::alerts,
        api::tickets,
        api::ticket,
        api::assign_ticket,
        api::move_ticket,
        api::teams,
        api::users,
        api::add_user,
        api::tokens,
        api::create_token,
        api::revoke_token,
        api::audit_log,
        api_measure::incidents,
        api_measure::incident,
        api_measure::patch_incident,
        api_measure::kpis,
        api_measure::kpi_snapshots,
        api_measure::goal_statuses,
        api_measure::assessment,
        api_measure::review,
        api_validate::paths,
        api_validate::chokepoints,
        api_validate::scenarios,
        api_validate::exercises,
        api_validate::exercise,
        api_validate::ack_task,
        api_validate::complete_task,
        jobs::create_import,
        jobs::job,
        events::post_events
    ),
    components(schemas(
        error::ErrorBody,
        error::ErrorDetail,
        error::ErrorKind,
        api::PageDoc,
        api::StatusBody,
        api::AssignBody,
        api::MoveBody,
        api::NewUserBody,
        api::NewTokenBody,
        api_measure::IncidentStateBody,
        jobs::Job,
        jobs::JobStatus
    ))
)]
pub struct ApiDoc;

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

pub async fn viewer() -> Html<&'static str> {
    Html(include_str!("../assets/apidocs.html"))
}
