//! The simulated CSC REST API under [`BASE_PATH`]: routes, paging, links and answers.
//!
//! | method | path (under `/dbs/api/v2`)   | answer                                              |
//! |--------|------------------------------|-----------------------------------------------------|
//! | GET    | `/zones`                     | `{"meta","zones","links"}`, paged (`page`, `size`), `filter` |
//! | GET    | `/zones/{zone}`              | one `Zone`, or `404 ZONE_NOT_FOUND`                 |
//! | POST   | `/zones/edits`               | `201 {"content","links":{"self","status"}}` or a 400 error |
//! | GET    | `/zones/edits`               | `{"meta","zoneEdits","links"}`, newest first, paged, `filter` |
//! | GET    | `/zones/edits/{id}`          | one edit                                            |
//! | GET    | `/zones/edits/status/{id}`   | `{"content":{"status","errorDescription"},"links":{"cancel"}}` |
//! | DELETE | `/zones/edits/{id}`          | `200 {"content":{"status":"SUCCESS","message"},"links"}` (cancel) |
//! | PUT    | `/token/refresh`             | `200 {"content":{"status":"SUCCESS","message"}}`   |
//!
//! Every route sits behind [`super::gate`] (auth, faults) and [`super::calllog`]. Links are
//! absolute `http://` URLs built from the request's `Host` header. Filters accept the fields
//! `zoneName` (zones and edits), `status` and `id` (edits); `sort` is accepted and ignored.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::{get, post, put};
use serde::Serialize;

use super::calllog::{self, CallLog};
use super::error::{ApiError, json_response};
use super::filter::Filter;
use super::gate::{self, Gate};
use super::state::{EditView, SimState};
use crate::csc::model::{
    EditRequest, Links, Meta, StatusContent, StatusResponse, SubmitContent, SubmitResponse,
    ZoneList,
};

/// The path every API route lives under, as on CSC's servers.
pub const BASE_PATH: &str = "/dbs/api/v2";

/// The message of CSC's `201` answer to `POST /zones/edits`.
pub const ENQUEUED_MESSAGE: &str = "The publish request was successfully enqueued.";

/// What the API handlers share.
#[derive(Debug)]
pub struct Api {
    /// The simulated world.
    pub state: Arc<SimState>,
    /// Page size when the client sends no `size`.
    pub page_size: u64,
    /// Where the API listens; the host of links when a request has no `Host` header.
    pub local_addr: SocketAddr,
}

/// The API router under [`BASE_PATH`], wrapped by the gate and the call log.
pub fn router(api: Arc<Api>, gate: Arc<Gate>, calls: Arc<CallLog>) -> Router {
    let routes = Router::new()
        .route("/zones", get(list_zones))
        .route("/zones/edits", post(submit_edit).get(list_edits))
        .route("/zones/edits/status/{id}", get(edit_status))
        .route("/zones/edits/{id}", get(get_edit).delete(cancel_edit))
        .route("/zones/{zone}", get(get_zone))
        .route("/token/refresh", put(refresh_token))
        .fallback(not_found)
        .layer(from_fn_with_state(gate, gate::check))
        .with_state(api);
    // The call log wraps the nest so it sees the full path (nested handlers see it stripped).
    Router::new()
        .nest(BASE_PATH, routes)
        .layer(from_fn_with_state(calls, calllog::record))
}

type ApiResult = Result<Response, ApiError>;

/// `https://` is never simulated: links use the request's `Host` over plain HTTP.
fn origin(api: &Api, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty())
        .map_or_else(|| api.local_addr.to_string(), str::to_owned);
    format!("http://{host}")
}

fn edit_url(api: &Api, headers: &HeaderMap, id: &str) -> String {
    format!("{}{BASE_PATH}/zones/edits/{id}", origin(api, headers))
}

fn status_url(api: &Api, headers: &HeaderMap, id: &str) -> String {
    format!(
        "{}{BASE_PATH}/zones/edits/status/{id}",
        origin(api, headers)
    )
}

/// The query string as decoded pairs.
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn number(pairs: &[(String, String)], name: &str) -> Result<Option<u64>, ApiError> {
    param(pairs, name)
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| {
                    ApiError::validation(format!("{name} must be a positive integer"), v)
                })
        })
        .transpose()
}

fn filter(pairs: &[(String, String)], fields: &[&str]) -> Result<Filter, ApiError> {
    match param(pairs, "filter") {
        Some(text) if !text.trim().is_empty() => {
            Filter::parse(text, fields).map_err(|e| ApiError::validation(e.to_string(), text))
        }
        _ => Ok(Filter::default()),
    }
}

/// One page of `items` with `meta` and `links` (`next` when another page exists).
struct Paged<T> {
    items: Vec<T>,
    meta: Meta,
    links: Links,
}

fn paginate<T>(
    api: &Api,
    headers: &HeaderMap,
    uri: &Uri,
    pairs: &[(String, String)],
    all: Vec<T>,
) -> Result<Paged<T>, ApiError> {
    let page = number(pairs, "page")?.unwrap_or(1);
    let size = number(pairs, "size")?.unwrap_or(api.page_size.max(1));
    let total = all.len() as u64;
    let pages = total.div_ceil(size);
    let skip = usize::try_from((page - 1).saturating_mul(size)).unwrap_or(usize::MAX);
    let take = usize::try_from(size).unwrap_or(usize::MAX);
    let items: Vec<T> = all.into_iter().skip(skip).take(take).collect();

    let origin = origin(api, headers);
    let path = full_path(uri);
    let self_url = match uri.query() {
        Some(query) => format!("{origin}{path}?{query}"),
        None => format!("{origin}{path}"),
    };
    let next = (page < pages)
        .then(|| {
            let mut url = url::Url::parse(&format!("{origin}{path}")).ok()?;
            url.query_pairs_mut()
                .extend_pairs(pairs.iter().filter(|(k, _)| k != "page" && k != "size"))
                .append_pair("page", &(page + 1).to_string())
                .append_pair("size", &size.to_string());
            Some(url.to_string())
        })
        .flatten();
    Ok(Paged {
        items,
        meta: Meta {
            num_results: total,
            pages,
        },
        links: Links {
            self_: Some(self_url),
            next,
            ..Links::default()
        },
    })
}

async fn list_zones(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let pairs = query_pairs(query.as_deref());
    let filter = filter(&pairs, &["zoneName"])?;
    let zones: Vec<_> = api
        .state
        .zones()
        .into_iter()
        .filter(|z| filter.matches(|field| (field == "zoneName").then_some(z.zone_name.as_str())))
        .collect();
    let page = paginate(&api, &headers, &uri, &pairs, zones)?;
    Ok(json_response(
        StatusCode::OK,
        &ZoneList {
            meta: page.meta,
            zones: page.items,
            links: page.links,
        },
    ))
}

async fn get_zone(State(api): State<Arc<Api>>, Path(zone): Path<String>) -> ApiResult {
    let found = api
        .state
        .zone(&zone)
        .ok_or_else(|| ApiError::zone_not_found(&zone))?;
    Ok(json_response(StatusCode::OK, &found))
}

async fn submit_edit(State(api): State<Arc<Api>>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let request: EditRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::validation(format!("Invalid request body: {e}"), ""))?;
    let id = api.state.submit(&request)?;
    let answer = SubmitResponse {
        content: SubmitContent {
            status: "SUCCESS".to_owned(),
            message: ENQUEUED_MESSAGE.to_owned(),
        },
        links: Links {
            self_: Some(edit_url(&api, &headers, &id)),
            status: Some(status_url(&api, &headers, &id)),
            ..Links::default()
        },
    };
    Ok(json_response(StatusCode::CREATED, &answer))
}

async fn edit_status(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let view = api
        .state
        .edit(&id)
        .ok_or_else(|| ApiError::edit_not_found(&id))?;
    let answer = StatusResponse {
        content: StatusContent {
            status: view.edit.status,
            error_description: view.error_description,
        },
        links: Links {
            cancel: Some(edit_url(&api, &headers, &id)),
            ..Links::default()
        },
    };
    Ok(json_response(StatusCode::OK, &answer))
}

async fn get_edit(State(api): State<Arc<Api>>, Path(id): Path<String>) -> ApiResult {
    let view = api
        .state
        .edit(&id)
        .ok_or_else(|| ApiError::edit_not_found(&id))?;
    Ok(json_response(StatusCode::OK, &view))
}

/// `GET /zones/edits`: the documented `{"meta","zoneEdits","links"}` with the simulator's views.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EditPage {
    meta: Meta,
    zone_edits: Vec<EditView>,
    links: Links,
}

async fn list_edits(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let pairs = query_pairs(query.as_deref());
    let filter = filter(&pairs, &["zoneName", "status", "id"])?;
    let edits: Vec<EditView> = api
        .state
        .edits()
        .into_iter()
        .filter(|view| {
            let status = serde_json::to_value(view.edit.status).ok();
            let status = status.as_ref().and_then(|s| s.as_str()).unwrap_or("");
            filter.matches(|field| match field {
                "zoneName" => Some(view.edit.zone_name.as_str()),
                "id" => Some(view.edit.id.as_str()),
                _ => Some(status),
            })
        })
        .collect();
    let page = paginate(&api, &headers, &uri, &pairs, edits)?;
    Ok(json_response(
        StatusCode::OK,
        &EditPage {
            meta: page.meta,
            zone_edits: page.items,
            links: page.links,
        },
    ))
}

async fn cancel_edit(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    api.state.cancel(&id)?;
    let answer = SubmitResponse {
        content: SubmitContent {
            status: "SUCCESS".to_owned(),
            message: "The zone edit was canceled.".to_owned(),
        },
        links: Links {
            self_: Some(edit_url(&api, &headers, &id)),
            status: Some(status_url(&api, &headers, &id)),
            ..Links::default()
        },
    };
    Ok(json_response(StatusCode::OK, &answer))
}

async fn refresh_token() -> ApiResult {
    let answer = SubmitResponse {
        content: SubmitContent {
            status: "SUCCESS".to_owned(),
            message: "The token was refreshed.".to_owned(),
        },
        links: Links::default(),
    };
    Ok(json_response(StatusCode::OK, &answer))
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::no_such_path(&full_path(&uri))
}

/// The request path including [`BASE_PATH`] (`nest` strips the prefix from what handlers see).
fn full_path(uri: &Uri) -> String {
    let path = uri.path();
    if path.starts_with(BASE_PATH) {
        path.to_owned()
    } else {
        format!("{BASE_PATH}{path}")
    }
}
