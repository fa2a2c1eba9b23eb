//! The simulator's API errors and how they go on the wire.
//!
//! CSC answers errors as `{"code":"...","description":"...","value":"..."}`. Only
//! `OPEN_ZONE_EDITS` is a documented code; every other code below is a **simulator choice**
//! (CSC's real codes for these situations are unknown, see `shared/docs/csc-api.md`):
//!
//! | code                  | HTTP | when                                                              |
//! |-----------------------|------|-------------------------------------------------------------------|
//! | `OPEN_ZONE_EDITS`     | 400  | another edit of the zone holds the lock; `value` is its id         |
//! | `VALIDATION_ERROR`    | 400  | unparseable JSON, unknown action/type, missing or empty field, empty edit list, bad query parameter or filter |
//! | `INVALID_ZONE`        | 400  | `POST /zones/edits` names a zone that is not served               |
//! | `RECORD_NOT_FOUND`    | 400  | `PURGE`/`EDIT` of a record that does not exist                     |
//! | `DUPLICATE_RECORD`    | 400  | `ADD` (or `EDIT` result) of a record that already exists exactly   |
//! | `EDIT_NOT_CANCELABLE` | 400  | `DELETE /zones/edits/{id}` of a COMPLETED edit                     |
//! | `ZONE_NOT_FOUND`      | 404  | `GET /zones/{zone}` of an unknown zone                             |
//! | `EDIT_NOT_FOUND`      | 404  | an edit id that does not exist                                     |
//! | `NOT_FOUND`           | 404  | any other path under the base path                                 |
//! | `INTERNAL_SERVER_ERROR` | 500 | a fault injected by `--error-rate` (every other one has a text body instead) |

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::csc::model::{ErrorBody, OPEN_ZONE_EDITS};

/// The content type of every JSON answer, as CSC's gateway sends it.
pub const JSON_CONTENT_TYPE: &str = "application/json;charset=UTF-8";

/// An error answer of the simulated API: an HTTP status and CSC's JSON error body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{status} {code}: {description} ({value})")]
pub struct ApiError {
    /// The HTTP status of the answer.
    pub status: StatusCode,
    /// CSC's machine-readable code, e.g. `OPEN_ZONE_EDITS`.
    pub code: &'static str,
    /// A human-readable description.
    pub description: String,
    /// The offending value (edit id, zone, field path…); empty when there is none.
    pub value: String,
}

impl ApiError {
    /// An error with the given status, code, description and value.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        description: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code,
            description: description.into(),
            value: value.into(),
        }
    }

    /// `400 VALIDATION_ERROR`.
    pub fn validation(description: impl Into<String>, value: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            description,
            value,
        )
    }

    /// `400 OPEN_ZONE_EDITS` naming the edit that holds the zone lock (CSC's documented answer).
    pub fn open_zone_edits(blocking_id: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            OPEN_ZONE_EDITS,
            "Existing zone edits need to be resolved before publishing a new edit",
            blocking_id,
        )
    }

    /// `400 INVALID_ZONE` for an edit of a zone that is not served.
    pub fn invalid_zone(zone: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "INVALID_ZONE",
            "The zone does not exist or is not managed by this account",
            zone,
        )
    }

    /// `404 ZONE_NOT_FOUND`.
    pub fn zone_not_found(zone: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ZONE_NOT_FOUND",
            "Zone not found",
            zone,
        )
    }

    /// `404 EDIT_NOT_FOUND`.
    pub fn edit_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "EDIT_NOT_FOUND",
            "Zone edit not found",
            id,
        )
    }

    /// `404 NOT_FOUND` for a path the API does not have.
    pub fn no_such_path(path: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", "No such resource", path)
    }

    /// The wire body of this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code.to_owned(),
            description: self.description.clone(),
            value: Some(self.value.clone()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body())
    }
}

/// A response with `body` serialized as JSON and CSC's `application/json;charset=UTF-8`.
pub fn json_response<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut response = (status, bytes).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(JSON_CONTENT_TYPE),
            );
            response
        }
        Err(err) => text_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            format!("simulator could not serialize its answer: {err}"),
        ),
    }
}

/// A response with a non-JSON body of the given content type.
pub fn text_response(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
