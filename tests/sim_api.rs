//! The simulated CSC REST API, over real HTTP against the real `csc-rfc2136 sim` binary: shapes
//! and paging, auth, validation, the per-zone lock, the edit lifecycle on the clock, FAILED edits
//! and cancel, and the injected faults (rate limit, server errors, latency).

mod common;

use std::time::{Duration, Instant};

use common::{Reply, SimProcess, add_txt, edit_id, purge_txt, send};
use serde_json::{Value, json};

const JSON: &str = "application/json;charset=UTF-8";
const RATE_LIMIT_BODY: &str = "Requests exceeded API Rate limit.";

fn zone_names(page: &Value) -> Vec<String> {
    page["zones"]
        .as_array()
        .unwrap_or_else(|| panic!("no zones list in {page}"))
        .iter()
        .map(|z| z["zoneName"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn assert_error(reply: &Reply, status: u16, code: &str) -> Value {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.content_type, JSON, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["description"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    body
}

#[tokio::test]
async fn zones_have_the_documented_shape_and_pages() {
    let sim = SimProcess::start(&["--zones", "a.test,b.test,c.test", "--page-size", "2"]);
    assert_eq!(sim.zones, ["a.test", "b.test", "c.test"]);

    let first = sim.get("/zones").await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.content_type, JSON);
    let first = first.json();
    assert_eq!(first["meta"], json!({"numResults": 3, "pages": 2}));
    assert_eq!(zone_names(&first), ["a.test", "b.test"]);
    assert_eq!(first["links"]["self"], sim.url("/zones"));
    let next = first["links"]["next"]
        .as_str()
        .expect("links.next on page 1");
    assert!(next.starts_with(&sim.api_base), "absolute next: {next}");

    let second = sim.get_url(next).await.json();
    assert_eq!(zone_names(&second), ["c.test"]);
    assert_eq!(second["meta"]["numResults"], 3);
    assert!(second["links"].get("next").is_none(), "{second}");

    // `size` from the client wins over --page-size.
    let sized = sim.get("/zones?size=1&page=2").await.json();
    assert_eq!(zone_names(&sized), ["b.test"]);
    assert_eq!(sized["meta"], json!({"numResults": 3, "pages": 3}));
    let next = sized["links"]["next"].as_str().expect("next");
    assert_eq!(zone_names(&sim.get_url(next).await.json()), ["c.test"]);

    // Each zone: SOA block, two NS records, the unrelated SPF record at the apex.
    let zone = &first["zones"][1];
    assert_eq!(zone["soa"]["techEmail"], "hostmaster@b.test");
    assert_eq!(zone["soa"]["masterHost"], "ns1.b.test");
    assert!(zone["soa"]["serial"].as_u64().is_some_and(|s| s > 0));
    let ns: Vec<&str> = zone["ns"]
        .as_array()
        .expect("ns")
        .iter()
        .filter_map(|r| r["value"].as_str())
        .collect();
    assert_eq!(ns, ["ns1.b.test", "ns2.b.test"]);
    let txt = &zone["txt"][0];
    assert_eq!(txt["key"], "@");
    assert_eq!(txt["value"], "v=spf1 include:_spf.b.test ~all");
    assert!(txt["id"].as_str().is_some_and(|id| id.len() == 36), "{txt}");

    // filter=zoneName=="b.test"
    let filtered = sim
        .get("/zones?filter=zoneName%3D%3D%22b.test%22")
        .await
        .json();
    assert_eq!(zone_names(&filtered), ["b.test"]);
    assert_eq!(filtered["meta"], json!({"numResults": 1, "pages": 1}));
    let bad_filter = sim.get("/zones?filter=owner%3D%3Dx").await;
    assert_error(&bad_filter, 400, "VALIDATION_ERROR");
    let bad_page = sim.get("/zones?page=0").await;
    assert_error(&bad_page, 400, "VALIDATION_ERROR");

    // One zone, case-insensitively; unknown zones are a JSON 404.
    let one = sim.get("/zones/B.TEST").await;
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.json()["zoneName"], "b.test");
    let missing = sim.get("/zones/nope.test").await;
    assert_eq!(
        assert_error(&missing, 404, "ZONE_NOT_FOUND")["value"],
        "nope.test"
    );
}

#[tokio::test]
async fn both_auth_headers_are_required() {
    let sim = SimProcess::start(&["--api-key", "K1", "--bearer-token", "T1"]);
    let url = sim.url("/zones");
    let cases: [(&str, Option<&str>, Option<&str>); 6] = [
        ("no headers", None, None),
        ("no apikey", None, Some("Bearer T1")),
        ("no bearer", Some("K1"), None),
        ("wrong apikey", Some("K2"), Some("Bearer T1")),
        ("wrong token", Some("K1"), Some("Bearer T2")),
        ("not a bearer", Some("K1"), Some("Basic T1")),
    ];
    for (what, api_key, authorization) in cases {
        let mut request = sim.http.get(&url);
        if let Some(key) = api_key {
            request = request.header("apikey", key);
        }
        if let Some(auth) = authorization {
            request = request.header("Authorization", auth);
        }
        let reply = send(request).await;
        assert_eq!(reply.status, 401, "{what}: {}", reply.body);
        assert!(
            !reply.is_json(),
            "{what}: 401 body is not JSON: {}",
            reply.body
        );
        assert!(!reply.content_type.contains("json"), "{what}");
    }
    // A rejected POST has no side effect.
    let post = send(
        sim.http
            .post(sim.url("/zones/edits"))
            .json(&add_txt("example.com", "x", "v")),
    )
    .await;
    assert_eq!(post.status, 401);
    assert!(sim.edits().await.is_empty());

    assert_eq!(sim.get("/zones").await.status, 200);
    let refresh = send(sim.request(reqwest::Method::PUT, "/token/refresh")).await;
    assert_eq!(refresh.status, 200, "{}", refresh.body);
    assert_eq!(refresh.json()["content"]["status"], "SUCCESS");

    let calls = sim.calls().await;
    let statuses: Vec<u64> = calls.iter().filter_map(|c| c["status"].as_u64()).collect();
    assert_eq!(statuses, [401, 401, 401, 401, 401, 401, 401, 200, 200]);
    assert_eq!(calls[0]["path"], "/dbs/api/v2/zones");
    assert_eq!(calls[6]["method"], "POST");
    assert_eq!(calls[6]["requestBody"]["zoneName"], "example.com");
    assert!(calls[6]["responseBody"].is_string(), "{}", calls[6]);
}

#[tokio::test]
async fn bad_edits_are_refused_with_json_errors_and_no_side_effect() {
    let sim = SimProcess::start(&["--zones", "example.com", "--edit-seconds", "0"]);
    let spf = "v=spf1 include:_spf.example.com ~all";
    let item = |fields: Value| json!({"zoneName": "example.com", "edits": [fields]});
    let cases: Vec<(&str, Reply, &str, &str)> = vec![
        (
            "not JSON",
            sim.post_edit_raw("{not json").await,
            "VALIDATION_ERROR",
            "",
        ),
        (
            "unknown action",
            sim.post_edit(&item(json!({"recordType": "TXT", "action": "UPSERT", "newKey": "a", "newValue": "b"}))).await,
            "VALIDATION_ERROR",
            "",
        ),
        (
            "unknown record type",
            sim.post_edit(&item(json!({"recordType": "SPF", "action": "ADD", "newKey": "a", "newValue": "b"}))).await,
            "VALIDATION_ERROR",
            "",
        ),
        (
            "missing zoneName",
            sim.post_edit(&json!({"edits": []})).await,
            "VALIDATION_ERROR",
            "",
        ),
        (
            "unknown zone",
            sim.post_edit(&add_txt("nope.test", "_acme-challenge", "v")).await,
            "INVALID_ZONE",
            "nope.test",
        ),
        (
            "empty edit list",
            sim.post_edit(&json!({"zoneName": "example.com", "edits": []})).await,
            "VALIDATION_ERROR",
            "edits",
        ),
        (
            "ADD without newValue",
            sim.post_edit(&item(json!({"recordType": "TXT", "action": "ADD", "newKey": "a"}))).await,
            "VALIDATION_ERROR",
            "edits[0].newValue",
        ),
        (
            "ADD without newKey",
            sim.post_edit(&item(json!({"recordType": "TXT", "action": "ADD", "newValue": "b"}))).await,
            "VALIDATION_ERROR",
            "edits[0].newKey",
        ),
        (
            "PURGE without currentValue",
            sim.post_edit(&item(json!({"recordType": "TXT", "action": "PURGE", "currentKey": "@"}))).await,
            "VALIDATION_ERROR",
            "edits[0].currentValue",
        ),
        (
            "EDIT without currentKey",
            sim.post_edit(&item(json!({"recordType": "TXT", "action": "EDIT", "currentValue": spf, "newValue": "x"}))).await,
            "VALIDATION_ERROR",
            "edits[0].currentKey",
        ),
        (
            "EDIT without any new field",
            sim.post_edit(&item(json!({"recordType": "TXT", "action": "EDIT", "currentKey": "@", "currentValue": spf}))).await,
            "VALIDATION_ERROR",
            "edits[0]",
        ),
        (
            "empty TXT value",
            sim.post_edit(&add_txt("example.com", "_acme-challenge", "")).await,
            "VALIDATION_ERROR",
            "edits[0].newValue",
        ),
        (
            "PURGE of a missing record",
            sim.post_edit(&purge_txt("example.com", "_acme-challenge", "never-added")).await,
            "RECORD_NOT_FOUND",
            "_acme-challenge never-added",
        ),
        (
            "exact duplicate ADD (keys compare case-insensitively)",
            sim.post_edit(&json!({"zoneName": "example.com", "edits": [
                {"recordType": "TXT", "action": "ADD", "newKey": "@", "newValue": spf}
            ]}))
            .await,
            "DUPLICATE_RECORD",
            "",
        ),
        (
            "a bad second item refuses the whole edit",
            sim.post_edit(&json!({"zoneName": "example.com", "edits": [
                {"recordType": "TXT", "action": "ADD", "newKey": "_acme-challenge", "newValue": "ok"},
                {"recordType": "TXT", "action": "PURGE", "currentKey": "_acme-challenge", "currentValue": "missing"}
            ]}))
            .await,
            "RECORD_NOT_FOUND",
            "",
        ),
    ];
    for (what, reply, code, value) in &cases {
        let body = assert_error(reply, 400, code);
        if !value.is_empty() {
            assert_eq!(body["value"], *value, "{what}: {body}");
        }
        assert!(body["value"].is_string(), "{what}: {body}");
    }
    // A duplicate key in another case is the same record.
    let upper = sim
        .post_edit(&json!({"zoneName": "example.com", "edits": [
            {"recordType": "TXT", "action": "PURGE", "currentKey": "_ACME-CHALLENGE", "currentValue": "nope"}
        ]}))
        .await;
    assert_error(&upper, 400, "RECORD_NOT_FOUND");

    assert!(sim.edits().await.is_empty(), "no edit was accepted");
    assert_eq!(sim.txt_values("example.com", "@").await, [spf]);
    assert!(
        sim.txt_values("example.com", "_acme-challenge")
            .await
            .is_empty()
    );
    assert_eq!(sim.accepted_edits().await, 0);

    // Now the same ADD is accepted, and then it is an exact duplicate.
    let add = add_txt("example.com", "_acme-challenge", "token-1");
    edit_id(&sim.post_edit(&add).await);
    let again = sim
        .post_edit(&add_txt("example.com", "_ACME-Challenge", "token-1"))
        .await;
    assert_error(&again, 400, "DUPLICATE_RECORD");
}

#[tokio::test]
async fn one_open_edit_per_zone_and_zones_are_independent() {
    let sim = SimProcess::start(&["--zones", "a.test,b.test", "--edit-seconds", "5"]);
    let first = edit_id(
        &sim.post_edit(&add_txt("a.test", "_acme-challenge", "one"))
            .await,
    );
    let blocked = sim
        .post_edit(&add_txt("a.test", "_acme-challenge", "two"))
        .await;
    let body = assert_error(&blocked, 400, "OPEN_ZONE_EDITS");
    assert_eq!(
        body,
        json!({
            "code": "OPEN_ZONE_EDITS",
            "description": "Existing zone edits need to be resolved before publishing a new edit",
            "value": first,
        })
    );
    // The lock is per zone.
    let other = edit_id(
        &sim.post_edit(&add_txt("b.test", "_acme-challenge", "one"))
            .await,
    );
    assert_ne!(first, other);
    // Even an invalid POST to a locked zone names the blocking edit once its fields are fine.
    let still = sim
        .post_edit(&purge_txt("a.test", "_acme-challenge", "unknown"))
        .await;
    assert_eq!(assert_error(&still, 400, "OPEN_ZONE_EDITS")["value"], first);
    assert_eq!(sim.accepted_edits().await, 2);
}

#[tokio::test]
async fn an_edit_goes_new_processing_propagating_completed_on_the_clock() {
    let sim = SimProcess::start(&["--zones", "example.com", "--edit-seconds", "2"]);
    let reply = sim
        .post_edit(&add_txt("example.com", "_acme-challenge.www", "token-1"))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.content_type, JSON);
    let body = reply.json();
    let id = edit_id(&reply);
    assert_eq!(
        body["content"],
        json!({"status": "SUCCESS", "message": "The publish request was successfully enqueued."})
    );
    assert_eq!(
        body["links"]["self"],
        sim.url(&format!("/zones/edits/{id}"))
    );
    assert_eq!(
        body["links"]["status"],
        sim.url(&format!("/zones/edits/status/{id}"))
    );

    let status = sim.get(&format!("/zones/edits/status/{id}")).await.json();
    assert_eq!(
        status["links"]["cancel"],
        sim.url(&format!("/zones/edits/{id}"))
    );
    assert_eq!(status["content"]["errorDescription"], "");

    // Follow the edit; whenever it is before PROPAGATING the record must not be published, and
    // from PROPAGATING on it must be (over the API and the control endpoint).
    let mut seen: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.last().map(String::as_str) != Some("COMPLETED") {
        assert!(Instant::now() < deadline, "edit did not complete: {seen:?}");
        let before = sim.edit_status(&id).await;
        let zone = sim.get("/zones/example.com").await.json();
        let after = sim.edit_status(&id).await;
        let published = zone["txt"]
            .as_array()
            .expect("txt")
            .iter()
            .any(|r| r["key"] == "_acme-challenge.www" && r["value"] == "token-1");
        if matches!(after.as_str(), "NEW" | "PROCESSING") {
            assert!(!published, "published while {after}");
        }
        if matches!(before.as_str(), "PROPAGATING" | "COMPLETED") {
            assert!(published, "not published while {before}");
            assert_eq!(
                sim.txt_values("example.com", "_acme-challenge.www").await,
                ["token-1"]
            );
        }
        for status in [before, after] {
            if seen.last() != Some(&status) {
                seen.push(status);
            }
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let expected_tail = ["PROCESSING", "PROPAGATING", "COMPLETED"];
    let start = usize::from(seen.first().map(String::as_str) == Some("NEW"));
    assert_eq!(&seen[start..], expected_tail, "status sequence {seen:?}");

    // The lock is released: the next edit is accepted, and the SPF record never moved.
    let purge = sim
        .post_edit(&purge_txt("example.com", "_acme-challenge.www", "token-1"))
        .await;
    let second = edit_id(&purge);
    let edit = sim.get(&format!("/zones/edits/{id}")).await.json();
    assert_eq!(edit["id"], id.as_str());
    assert_eq!(edit["zoneName"], "example.com");
    assert_eq!(edit["status"], "COMPLETED");
    assert!(
        edit["modifiedDate"]
            .as_str()
            .is_some_and(|d| d.ends_with('Z')),
        "{edit}"
    );
    assert!(edit["requestedBy"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(edit["edits"][0]["newValue"], "token-1");

    let list = sim
        .get("/zones/edits?filter=zoneName%3D%3D%22example.com%22")
        .await
        .json();
    let ids: Vec<&str> = list["zoneEdits"]
        .as_array()
        .expect("zoneEdits")
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect();
    assert_eq!(ids, [second.as_str(), id.as_str()], "newest first");
    assert_eq!(list["meta"]["numResults"], 2);
    let none = sim
        .get("/zones/edits?filter=zoneName%3D%3D%22other.test%22")
        .await
        .json();
    assert_eq!(none["zoneEdits"], json!([]));

    sim.wait_for_status(&second, "COMPLETED", Duration::from_secs(20))
        .await;
    assert!(
        sim.txt_values("example.com", "_acme-challenge.www")
            .await
            .is_empty()
    );
    assert_eq!(
        sim.txt_values("example.com", "@").await,
        ["v=spf1 include:_spf.example.com ~all"]
    );
    let serial = sim.records().await["example.com"]["soa"]["serial"].as_u64();
    assert_eq!(serial, Some(2025010103), "one serial bump per applied edit");
    let unknown = sim
        .get("/zones/edits/status/00000000-0000-0000-0000-000000000000")
        .await;
    assert_error(&unknown, 404, "EDIT_NOT_FOUND");
}

#[tokio::test]
async fn multi_item_edits_apply_together() {
    let sim = SimProcess::start(&["--zones", "example.com", "--edit-seconds", "0"]);
    let both = json!({"zoneName": "example.com", "edits": [
        {"recordType": "TXT", "action": "ADD", "newKey": "_acme-challenge", "newValue": "a", "newTtl": 300},
        {"recordType": "TXT", "action": "ADD", "newKey": "_acme-challenge", "newValue": "b", "newTtl": 300},
        {"recordType": "TXT", "action": "ADD", "newKey": "_acme-challenge.www", "newValue": "c", "newTtl": 300}
    ]});
    let id = edit_id(&sim.post_edit(&both).await);
    // --edit-seconds 0: applied and COMPLETED at once.
    assert_eq!(sim.edit_status(&id).await, "COMPLETED");
    assert_eq!(
        sim.txt_values("example.com", "_acme-challenge").await,
        ["a", "b"]
    );
    assert_eq!(
        sim.txt_values("example.com", "_acme-challenge.www").await,
        ["c"]
    );

    let swap = json!({"zoneName": "example.com", "edits": [
        {"recordType": "TXT", "action": "PURGE", "currentKey": "_acme-challenge", "currentValue": "a"},
        {"recordType": "TXT", "action": "EDIT", "currentKey": "_acme-challenge", "currentValue": "b", "newValue": "b2"}
    ]});
    edit_id(&sim.post_edit(&swap).await);
    assert_eq!(
        sim.txt_values("example.com", "_acme-challenge").await,
        ["b2"]
    );
    assert_eq!(sim.accepted_edits().await, 2);
}

#[tokio::test]
async fn failed_edits_keep_the_lock_until_cancelled() {
    let sim = SimProcess::start(&[
        "--zones",
        "example.com",
        "--edit-seconds",
        "1.5",
        "--fail-every",
        "2",
    ]);
    let first = edit_id(
        &sim.post_edit(&add_txt("example.com", "_acme-challenge", "one"))
            .await,
    );
    sim.wait_for_status(&first, "COMPLETED", Duration::from_secs(20))
        .await;

    let second = edit_id(
        &sim.post_edit(&add_txt("example.com", "_acme-challenge", "two"))
            .await,
    );
    sim.wait_for_status(&second, "FAILED", Duration::from_secs(20))
        .await;
    let status = sim
        .get(&format!("/zones/edits/status/{second}"))
        .await
        .json();
    assert!(
        status["content"]["errorDescription"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{status}"
    );
    // Nothing applied, and still FAILED after the edit time.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(sim.edit_status(&second).await, "FAILED");
    assert_eq!(
        sim.txt_values("example.com", "_acme-challenge").await,
        ["one"]
    );
    let blocked = sim
        .post_edit(&add_txt("example.com", "_acme-challenge", "three"))
        .await;
    assert_eq!(
        assert_error(&blocked, 400, "OPEN_ZONE_EDITS")["value"],
        second
    );

    let cancel = sim.cancel(&second).await;
    assert_eq!(cancel.status, 200, "{}", cancel.body);
    assert_eq!(cancel.content_type, JSON);
    assert_eq!(cancel.json()["content"]["status"], "SUCCESS");
    assert_eq!(sim.edit_status(&second).await, "CANCELED");

    // The lock is free; a pending edit can be cancelled too (edit 3 succeeds, edit 4 would fail).
    let third = edit_id(
        &sim.post_edit(&add_txt("example.com", "_acme-challenge", "three"))
            .await,
    );
    assert_eq!(sim.cancel(&third).await.status, 200);
    assert_eq!(sim.edit_status(&third).await, "CANCELED");
    let fourth = edit_id(
        &sim.post_edit(&add_txt("example.com", "_acme-challenge", "four"))
            .await,
    );
    sim.wait_for_status(&fourth, "FAILED", Duration::from_secs(20))
        .await;
    assert_eq!(sim.cancel(&fourth).await.status, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sim.txt_values("example.com", "_acme-challenge").await,
        ["one"]
    );

    assert_error(&sim.cancel(&first).await, 400, "EDIT_NOT_CANCELABLE");
    assert_error(&sim.cancel("no-such-edit").await, 404, "EDIT_NOT_FOUND");
}

#[tokio::test]
async fn over_the_rate_limit_answers_plain_text_400_without_side_effects() {
    let sim = SimProcess::start(&[
        "--zones",
        "example.com",
        "--rate-limit",
        "3",
        "--edit-seconds",
        "0",
    ]);
    let mut replies = Vec::new();
    for _ in 0..12 {
        replies.push(sim.get("/zones").await);
    }
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(
        &statuses[..3],
        [200, 200, 200],
        "burst of 3 allowed: {statuses:?}"
    );
    let limited: Vec<&Reply> = replies.iter().filter(|r| r.status == 400).collect();
    assert!(
        limited.len() >= 6,
        "most of the rest are limited: {statuses:?}"
    );
    for reply in &limited {
        assert_eq!(reply.body, RATE_LIMIT_BODY);
        assert!(
            reply.content_type.starts_with("text/plain"),
            "{}",
            reply.content_type
        );
    }
    // A limited POST changes nothing.
    let post = sim
        .post_edit(&add_txt("example.com", "_acme-challenge", "v"))
        .await;
    assert_eq!((post.status, post.body.as_str()), (400, RATE_LIMIT_BODY));
    assert!(sim.edits().await.is_empty());

    let calls = sim.calls().await;
    assert_eq!(calls.len(), 13, "every call is logged");
    let logged_limited = calls
        .iter()
        .filter(|c| c["status"] == 400 && c["responseBody"] == RATE_LIMIT_BODY)
        .count();
    assert_eq!(logged_limited, limited.len() + 1);

    // After a pause the bucket refills.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(sim.get("/zones").await.status, 200);
}

#[tokio::test]
async fn error_rate_one_answers_500_to_everything_before_any_side_effect() {
    let sim = SimProcess::start(&[
        "--zones",
        "example.com",
        "--error-rate",
        "1.0",
        "--edit-seconds",
        "0",
    ]);
    let mut replies = vec![sim.get("/zones").await, sim.get("/zones/example.com").await];
    replies.push(
        sim.post_edit(&add_txt("example.com", "_acme-challenge", "v"))
            .await,
    );
    assert!(replies.iter().all(|r| r.status == 500), "{replies:?}");
    // Clients meet both kinds of 500 bodies: CSC-style JSON and an HTML page.
    assert!(replies.iter().any(Reply::is_json), "{replies:?}");
    assert!(replies.iter().any(|r| !r.is_json()), "{replies:?}");
    let json_500 = replies.iter().find(|r| r.is_json()).expect("a JSON 500");
    assert_eq!(json_500.error_code(), "INTERNAL_SERVER_ERROR");

    assert!(sim.edits().await.is_empty());
    assert!(
        sim.txt_values("example.com", "_acme-challenge")
            .await
            .is_empty()
    );
    let statuses: Vec<u64> = sim
        .calls()
        .await
        .iter()
        .filter_map(|c| c["status"].as_u64())
        .collect();
    assert_eq!(statuses, [500, 500, 500]);
    // Control endpoints are never faulted.
    sim.reset_calls().await;
    assert!(sim.calls().await.is_empty());
}

#[tokio::test]
async fn latency_delays_every_call() {
    let sim = SimProcess::start(&["--latency", "300"]);
    for path in ["/zones", "/zones/nope.test"] {
        let started = Instant::now();
        let reply = sim.get(path).await;
        let elapsed = started.elapsed();
        assert!(reply.status == 200 || reply.status == 404, "{}", reply.body);
        assert!(
            elapsed >= Duration::from_millis(300),
            "{path} took {elapsed:?}"
        );
    }
    let unauthorized = Instant::now();
    assert_eq!(send(sim.http.get(sim.url("/zones"))).await.status, 401);
    assert!(unauthorized.elapsed() >= Duration::from_millis(300));
    let calls = sim.calls().await;
    assert_eq!(calls.len(), 3);
    assert!(
        calls.iter().all(|c| c["durationMs"].as_u64() >= Some(300)),
        "{calls:?}"
    );
}

#[tokio::test]
async fn unknown_paths_under_the_base_are_json_404s() {
    let sim = SimProcess::start(&[]);
    let reply = sim.get("/nothing/here").await;
    assert_eq!(
        assert_error(&reply, 404, "NOT_FOUND")["value"],
        "/dbs/api/v2/nothing/here"
    );
    assert_eq!(sim.calls().await[0]["path"], "/dbs/api/v2/nothing/here");
}

#[test]
fn bad_options_are_refused_at_start() {
    for (args, expected) in [
        (&["--error-rate", "2"][..], "--error-rate"),
        (&["--edit-seconds=-1"][..], "--edit-seconds"),
        (&["--zones", "bad zone"][..], "bad zone"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_csc-rfc2136"))
            .args(["sim", "--http", "127.0.0.1:0", "--dns", "127.0.0.1:0"])
            .args(args)
            .output()
            .expect("the binary runs");
        assert!(!output.status.success(), "{args:?} accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "no ready line for {args:?}");
    }
}
