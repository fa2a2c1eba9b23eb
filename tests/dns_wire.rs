//! The DNS front on exact wire cases, built with dnspython (`tests/py/`): certbot-dns-rfc2136's
//! and lego's flows replayed message for message, every refusal rcode (TSIG errors, RFC 2136
//! zone, prerequisite, permission and prescan failures) with proof that nothing reached CSC, a
//! replayed signed update, and a burst of hostile packets.

mod common;
mod dns_common;

use std::net::UdpSocket;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use common::gateway::{GatewayProcess, TestKey};
use dns_common::{
    ZONE, assert_no_new_posts, assert_spf_intact, assert_success, edit_posts, nsupdate, py,
    start_sim, wait_for_txt,
};

/// certbot's default algorithm, as it spells it on the wire.
const CERTBOT_ALGORITHM: &str = "HMAC-MD5.SIG-ALG.REG.INT.";

fn key_json(key: &TestKey) -> Value {
    json!({"name": key.name, "secret": key.secret, "algorithm": key.algorithm})
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Runs certbot's flow (`action` "add" or "del") for `records` and checks each one went through:
/// the SOA walk found example.com the way certbot decides, and the signed reply verified.
fn certbot(gateway: &GatewayProcess, key: &TestKey, action: &str, records: &[(&str, &str)]) {
    let out = py(
        "certbot_flow.py",
        &json!({
            "server": "127.0.0.1", "port": gateway.dns_addr.port(),
            "key_name": key.name, "secret": key.secret,
            "action": action, "records": records,
        }),
    );
    for record in out["records"].as_array().expect("records") {
        let name = record["name"].as_str().unwrap_or_default();
        assert!(
            record.get("error").is_none(),
            "certbot {action} {name}: {record:#}"
        );
        assert_eq!(
            record["zone"], ZONE,
            "certbot's zone for {name}: {record:#}"
        );
        assert_eq!(record["rcode"], "NOERROR", "{record:#}");
        assert_eq!(record["reply_signed"], true, "{record:#}");
        // The upper-case algorithm name comes back byte for byte.
        assert_eq!(record["reply_algorithm"], CERTBOT_ALGORITHM, "{record:#}");
        assert_eq!(record["reply_key_name"], key.name, "{record:#}");

        let walk = record["walk"].as_array().expect("walk");
        let labels: Vec<&str> = name.split('.').collect();
        let expected: Vec<String> = (0..labels.len() - 1)
            .map(|i| labels[i..].join("."))
            .collect();
        let asked: Vec<&str> = walk.iter().filter_map(|s| s["name"].as_str()).collect();
        assert_eq!(
            asked, expected,
            "certbot walks label by label up to the zone: {record:#}"
        );
        for (i, step) in walk.iter().enumerate() {
            assert_eq!(
                step["transport"], "tcp",
                "TCP first, and it works: {step:#}"
            );
            assert_eq!(step["edns_sent"], false);
            assert_eq!(
                step["edns"], -1,
                "no OPT in a reply to a query without one: {step:#}"
            );
            assert_eq!(step["aa"], true, "{step:#}");
            let last = i == walk.len() - 1;
            assert_eq!(step["accepted"], last, "{step:#}");
            if !last {
                let soa_answers = step["answer"]
                    .as_array()
                    .expect("answer")
                    .iter()
                    .filter(|r| r["type"] == "SOA")
                    .count();
                assert_eq!(
                    soa_answers, 0,
                    "never an answer-section SOA below the apex: {step:#}"
                );
                assert!(
                    step["rcode"] == "NXDOMAIN" || step["rcode"] == "NOERROR",
                    "{step:#}"
                );
                assert_eq!(step["authority"][0]["type"], "SOA", "{step:#}");
                assert_eq!(step["authority"][0]["name"], format!("{ZONE}."), "{step:#}");
            }
        }
    }
}

// Proves certbot-dns-rfc2136's exact flow finds the zone, adds, keeps two values and cleans up.
#[tokio::test]
async fn certbot_flow_finds_the_zone_and_updates_over_tcp() {
    let sim = start_sim();
    let key = TestKey::new("certbot-key.", "hmac-md5");
    let gateway = GatewayProcess::start(&sim, std::slice::from_ref(&key), "");
    let deep = format!("_acme-challenge.a.b.{ZONE}");
    let apex = format!("_acme-challenge.{ZONE}");

    certbot(
        &gateway,
        &key,
        "add",
        &[(&deep, "deep-token"), (&apex, "apex-token")],
    );
    // The wildcard's walk now meets an existing `_acme-challenge` name (NODATA, not NXDOMAIN).
    certbot(&gateway, &key, "add", &[(&apex, "wildcard-token")]);
    wait_for_txt(&sim, "_acme-challenge.a.b", &["deep-token"]).await;
    wait_for_txt(&sim, "_acme-challenge", &["apex-token", "wildcard-token"]).await;

    certbot(&gateway, &key, "del", &[(&apex, "apex-token")]);
    wait_for_txt(&sim, "_acme-challenge", &["wildcard-token"]).await;
    certbot(
        &gateway,
        &key,
        "del",
        &[(&apex, "wildcard-token"), (&deep, "deep-token")],
    );
    wait_for_txt(&sim, "_acme-challenge", &[]).await;
    wait_for_txt(&sim, "_acme-challenge.a.b", &[]).await;
    assert_spf_intact(&sim).await;
}

/// Runs lego's flow and returns its records, checking the walk as lego would.
fn lego(
    gateway: &GatewayProcess,
    key: &TestKey,
    action: &str,
    records: &[(&str, &str)],
) -> Vec<Value> {
    let out = py(
        "lego_flow.py",
        &json!({
            "server": "127.0.0.1", "port": gateway.dns_addr.port(),
            "key_name": key.name, "secret": key.secret, "algorithm": "hmac-sha1.",
            "action": action, "records": records,
        }),
    );
    let records = out["records"].as_array().expect("records").clone();
    for record in &records {
        assert!(record.get("error").is_none(), "lego {action}: {record:#}");
        assert_eq!(record["zone"], format!("{ZONE}."), "{record:#}");
        for step in record["walk"].as_array().expect("walk") {
            assert_eq!(step["transport"], "udp", "no TC: {step:#}");
            assert!(
                step["rcode"] == "NOERROR" || step["rcode"] == "NXDOMAIN",
                "REFUSED or SERVFAIL inside the zone is fatal to lego: {step:#}"
            );
            let flags = step["flags"].as_array().expect("flags");
            assert!(flags.contains(&json!("rd")), "RD is copied: {step:#}");
            assert!(
                !flags.contains(&json!("ra")),
                "no recursion offered: {step:#}"
            );
            assert!(flags.contains(&json!("aa")), "{step:#}");
            assert_eq!(step["edns"], 0, "EDNS asked, EDNS answered: {step:#}");
            assert_eq!(step["payload"], 4096, "{step:#}");
        }
        if action != "walk" {
            let reply = &record["reply"];
            assert_eq!(reply["rcode"], "NOERROR", "{reply:#}");
            assert_eq!(reply["validation"], "ok", "the reply verifies: {reply:#}");
            assert_eq!(reply["tsig"]["algorithm"], "hmac-sha1.", "{reply:#}");
            assert!(
                reply["length"].as_u64().unwrap_or(0) <= 512,
                "fits 512 bytes: {reply:#}"
            );
            assert_eq!(reply["edns"], -1, "no OPT asked, none sent: {reply:#}");
        }
    }
    records
}

// Proves lego's SOA walk meets no fatal rcode and its delete-then-add UDP updates work.
#[tokio::test]
async fn lego_walk_and_updates() {
    let sim = start_sim();
    let key = TestKey::new("lego-key.", "hmac-sha1");
    let gateway = GatewayProcess::start(&sim, std::slice::from_ref(&key), "");
    let fqdn = format!("_acme-challenge.www.{ZONE}.");

    let records = lego(&gateway, &key, "add", &[(&fqdn, "lego-1")]);
    let walk = records[0]["walk"].as_array().expect("walk");
    assert_eq!(walk.len(), 3, "{walk:#?}");
    assert_eq!(walk[2]["answer"][0]["type"], "SOA");
    wait_for_txt(&sim, "_acme-challenge.www", &["lego-1"]).await;

    // The challenge name now exists: its walk step is NODATA, and lego moves on.
    let records = lego(&gateway, &key, "add", &[(&fqdn, "lego-2")]);
    assert_eq!(records[0]["walk"][0]["rcode"], "NOERROR");
    assert_eq!(records[0]["walk"][0]["answer"], json!([]));
    wait_for_txt(&sim, "_acme-challenge.www", &["lego-2"]).await;

    lego(&gateway, &key, "del", &[(&fqdn, "lego-2")]);
    wait_for_txt(&sim, "_acme-challenge.www", &[]).await;
    // A walk through a deeper missing name, and one from the apex itself.
    lego(
        &gateway,
        &key,
        "walk",
        &[
            (&format!("_acme-challenge.a.b.c.{ZONE}."), ""),
            (&format!("{ZONE}."), ""),
        ],
    );
    assert_spf_intact(&sim).await;
}

/// Runs `tests/py/cases.py` for `cases` with `key` and returns the replies by case.
fn cases(gateway: &GatewayProcess, key: &TestKey, transport: &str, cases: &[&str]) -> Value {
    py(
        "cases.py",
        &json!({
            "server": "127.0.0.1", "port": gateway.dns_addr.port(), "zone": ZONE,
            "key": key_json(key), "transport": transport, "cases": cases,
        }),
    )
}

/// Asserts a reply is signed with `key`, echoes its names and verifies as the client checks it.
fn assert_signed(case: &str, reply: &Value, key: &TestKey) {
    assert_eq!(
        reply["signed"], true,
        "{case}: signed request → signed reply: {reply:#}"
    );
    assert_eq!(reply["validation"], "ok", "{case}: {reply:#}");
    assert_eq!(reply["mac_ok"], true, "{case}: {reply:#}");
    assert_eq!(reply["tsig"]["error"], "NOERROR", "{case}: {reply:#}");
    assert_eq!(reply["tsig"]["key_name"], key.name, "{case}: {reply:#}");
}

// Proves every refusal rcode (TSIG, zone, prerequisites, grant, prescan) and that none reaches CSC.
#[tokio::test]
async fn refusals_are_answered_and_reach_nothing() {
    let sim = start_sim();
    let key = TestKey::new("wire-key.", "hmac-sha256");
    let fenced = TestKey::new("fenced-key.", "hmac-sha256").with("zones = [\"other.org\"]");
    let gateway = GatewayProcess::start(&sim, &[key.clone(), fenced.clone()], "");
    let before = edit_posts(&sim).await.len();

    // (case, rcode, how the reply is signed: "signed", "unsigned" (a TSIG without MAC), "none")
    let expected: &[(&str, &str, &str)] = &[
        ("unsigned", "REFUSED", "none"),
        ("notauth", "NOTAUTH", "signed"),
        ("notauth_below_apex", "NOTAUTH", "signed"),
        ("notzone", "NOTZONE", "signed"),
        ("a_record", "REFUSED", "signed"),
        ("txt_outside_acme", "REFUSED", "signed"),
        ("txt_outside_acme_in_second_record", "REFUSED", "signed"),
        ("any_with_rdata", "FORMERR", "signed"),
        ("badsig", "NOTAUTH", "unsigned"),
        ("badkey", "NOTAUTH", "unsigned"),
        ("badkey_other_algorithm", "NOTAUTH", "unsigned"),
        ("badtime", "NOTAUTH", "badtime"),
        ("short_mac_8", "FORMERR", "none"),
        ("short_mac_12", "FORMERR", "none"),
        ("pre_yxdomain", "YXDOMAIN", "signed"),
        ("pre_yxrrset", "YXRRSET", "signed"),
        ("pre_nxdomain", "NXDOMAIN", "signed"),
        ("pre_nxrrset", "NXRRSET", "signed"),
        ("pre_value_nxrrset", "NXRRSET", "signed"),
        ("pre_notzone", "NOTZONE", "signed"),
        ("tsig_not_last", "FORMERR", "none"),
        ("sig0", "REFUSED", "none"),
    ];
    let names: Vec<&str> = expected.iter().map(|(case, _, _)| *case).collect();
    for transport in ["udp", "tcp"] {
        let replies = cases(&gateway, &key, transport, &names);
        for (case, rcode, signing) in expected {
            let reply = &replies[*case];
            let case = format!("{case} over {transport}");
            assert_eq!(reply["reply"], true, "{case}: no reply");
            assert_eq!(reply["rcode"], *rcode, "{case}: {reply:#}");
            assert_eq!(reply["opcode"], "UPDATE", "{case}: {reply:#}");
            match *signing {
                "signed" => assert_signed(&case, reply, &key),
                "none" => assert!(reply.get("tsig").is_none(), "{case}: no TSIG: {reply:#}"),
                "unsigned" => {
                    let error = if case.starts_with("badsig") {
                        "BADSIG"
                    } else {
                        "BADKEY"
                    };
                    assert_eq!(reply["tsig"]["error"], error, "{case}: {reply:#}");
                    assert_eq!(reply["tsig"]["mac_len"], 0, "{case}: unsigned: {reply:#}");
                }
                "badtime" => {
                    assert_eq!(reply["tsig"]["error"], "BADTIME", "{case}: {reply:#}");
                    assert_eq!(
                        reply["signed"], true,
                        "{case}: BADTIME is signed: {reply:#}"
                    );
                    assert_eq!(reply["mac_ok"], true, "{case}: {reply:#}");
                    assert_eq!(reply["validation"], "PeerBadTime", "{case}: {reply:#}");
                    assert_eq!(
                        reply["tsig"]["time_signed"], reply["request_time_signed"],
                        "{case}: Time Signed copied from the request: {reply:#}"
                    );
                    let server_time = reply["tsig"]["other_time"].as_i64().unwrap_or_else(|| {
                        panic!("{case}: 6 bytes of server time in Other Data: {reply:#}")
                    });
                    assert!((server_time - unix_now()).abs() <= 5, "{case}: {reply:#}");
                    let skew = reply["request_time_signed"].as_i64().unwrap_or(0) - server_time;
                    assert!(
                        (3590..=3610).contains(&skew),
                        "{case}: an hour off: {reply:#}"
                    );
                }
                other => unreachable!("{other}"),
            }
        }
    }
    // A key fenced to another zone may not touch this one; signed queries are signed back, with
    // the key and algorithm names echoed in the request's letter case.
    let fenced_reply = &cases(&gateway, &fenced, "udp", &["plain_add"])["plain_add"];
    assert_eq!(fenced_reply["rcode"], "REFUSED", "{fenced_reply:#}");
    assert_signed("fenced", fenced_reply, &fenced);
    let queries = cases(&gateway, &key, "udp", &["signed_query", "upper_case_names"]);
    let query = &queries["signed_query"];
    assert_eq!(query["rcode"], "NOERROR", "{query:#}");
    assert!(
        query["flags"]
            .as_array()
            .expect("flags")
            .contains(&json!("aa")),
        "{query:#}"
    );
    assert_eq!(query["answer"][0]["type"], "SOA", "{query:#}");
    assert_signed("signed query", query, &key);
    let upper = &queries["upper_case_names"];
    assert_eq!(upper["rcode"], "NOERROR", "{upper:#}");
    assert_eq!(upper["validation"], "ok", "{upper:#}");
    assert_eq!(
        upper["tsig"]["key_name"],
        key.name.to_uppercase(),
        "{upper:#}"
    );
    assert_eq!(upper["tsig"]["algorithm"], "HMAC-SHA256.", "{upper:#}");

    // Every refusal is logged with its source, key and reason.
    let log = gateway.stderr_tail();
    for needle in [
        "UPDATE refused",
        "key=wire-key.",
        "src=127.0.0.1:",
        "may not change name www.example.com",
    ] {
        assert!(log.contains(needle), "the log names `{needle}`:\n{log}");
    }
    assert!(log.contains("request refused by the TSIG check"), "{log}");

    assert_no_new_posts(&sim, before, "refused UPDATEs").await;
    let records = sim.records().await;
    let published: Vec<&str> = records[ZONE]["txt"]
        .as_array()
        .expect("txt")
        .iter()
        .filter_map(|r| r["key"].as_str())
        .collect();
    assert_eq!(published, ["@"], "only the SPF record: {records:#}");

    // The same update with prerequisites that hold goes through.
    let ok = &cases(&gateway, &key, "tcp", &["pre_ok"])["pre_ok"];
    assert_eq!(ok["rcode"], "NOERROR", "{ok:#}");
    assert_signed("pre_ok", ok, &key);
    wait_for_txt(&sim, "_acme-challenge.pre-ok", &["prereq-held"]).await;
    assert_spf_intact(&sim).await;
}

/// Sends `wire` over UDP to the gateway and returns the reply's bytes.
fn udp_exchange(gateway: &GatewayProcess, wire: &[u8]) -> Vec<u8> {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("UDP socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    socket.send_to(wire, gateway.dns_addr).expect("send");
    let mut buffer = vec![0u8; 65_535];
    let (len, _) = socket.recv_from(&mut buffer).expect("a reply within 5 s");
    buffer.truncate(len);
    buffer
}

fn hex_decode(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

// Proves a replayed signed UDP update gets the first reply byte for byte and is applied once.
#[tokio::test]
async fn replayed_signed_update_is_answered_alike_and_applied_once() {
    let sim = start_sim();
    let key = TestKey::new("replay-key.", "hmac-sha256");
    let gateway = GatewayProcess::start(&sim, std::slice::from_ref(&key), "");
    let name = format!("_acme-challenge.replay.{ZONE}.");
    let signed = py(
        "cases.py",
        &json!({
            "server": "127.0.0.1", "port": gateway.dns_addr.port(), "zone": ZONE,
            "key": key_json(&key), "sign_add": {"name": name, "value": "once"},
        }),
    );
    let wire = hex_decode(signed["wire"].as_str().expect("wire"));

    let first = udp_exchange(&gateway, &wire);
    assert_eq!(first[3] & 0x0f, 0, "NOERROR");
    let second = udp_exchange(&gateway, &wire);
    assert_eq!(
        second, first,
        "a resend gets the first reply, byte for byte"
    );
    wait_for_txt(&sim, "_acme-challenge.replay", &["once"]).await;
    let posts = edit_posts(&sim).await;
    assert_eq!(posts.len(), 1, "one edit: {posts:#?}");
    let body = posts[0]["requestBody"].to_string();
    assert_eq!(body.matches("\"ADD\"").count(), 1, "one ADD: {body}");

    let deleted = nsupdate(
        &gateway,
        &["-y", &key.nsupdate_arg()],
        &format!("update delete {name} TXT \"once\"\n"),
    );
    assert_success("nsupdate delete", &deleted);
    wait_for_txt(&sim, "_acme-challenge.replay", &[]).await;
    let posts = edit_posts(&sim).await.len();

    let third = udp_exchange(&gateway, &wire);
    assert_eq!(third, first, "a later replay gets the first reply");
    assert_no_new_posts(&sim, posts, "the replayed update").await;
    assert!(
        sim.txt_values(ZONE, "_acme-challenge.replay")
            .await
            .is_empty()
    );
}

// Proves hostile UDP/TCP input gets FORMERR or silence and the gateway keeps serving updates.
#[tokio::test]
async fn hostile_packets_leave_the_gateway_serving() {
    let sim = start_sim();
    let key = TestKey::new("garbage-key.", "hmac-sha256");
    let mut gateway = GatewayProcess::start(&sim, std::slice::from_ref(&key), "");
    let before = edit_posts(&sim).await.len();

    let out = py(
        "garbage.py",
        &json!({
            "server": "127.0.0.1", "port": gateway.dns_addr.port(), "zone": ZONE,
            "key": key_json(&key), "seed": 2136,
        }),
    );
    for (kind, rcodes) in out["udp"]["replies"].as_object().expect("replies") {
        for rcode in rcodes.as_object().expect("rcodes").keys() {
            assert_eq!(rcode, "FORMERR", "UDP {kind}: {out:#}");
        }
    }
    let truncated = out["udp"]["replies"]["truncated"]["FORMERR"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        truncated > 100,
        "truncated updates are answered FORMERR: {out:#}"
    );
    for case in out["tcp"].as_array().expect("tcp") {
        let rcodes: Vec<&str> = case["rcodes"]
            .as_array()
            .expect("rcodes")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            case.get("timeout").is_none(),
            "the server closes or answers: {case:#}"
        );
        match case["case"].as_str().unwrap_or_default() {
            "truncated-update" => assert_eq!(rcodes, ["FORMERR"], "{case:#}"),
            "junk-then-query" | "query-while-20-idle" => {
                assert_eq!(
                    rcodes.last(),
                    Some(&"NOERROR"),
                    "the connection goes on: {case:#}"
                );
                assert!(
                    rcodes[..rcodes.len() - 1].iter().all(|r| *r == "FORMERR"),
                    "{case:#}"
                );
            }
            _ => assert!(rcodes.iter().all(|r| *r == "FORMERR"), "{case:#}"),
        }
    }
    for alive in ["alive_udp", "alive_tcp"] {
        assert_eq!(out[alive]["rcode"], "NOERROR", "{alive}: {out:#}");
    }
    assert!(gateway.is_running(), "the gateway survived the burst");
    assert_no_new_posts(&sim, before, "garbage").await;

    let added = nsupdate(
        &gateway,
        &["-y", &key.nsupdate_arg()],
        &format!("update add _acme-challenge.after.{ZONE}. 60 TXT \"still-works\"\n"),
    );
    assert_success("nsupdate after the burst", &added);
    wait_for_txt(&sim, "_acme-challenge.after", &["still-works"]).await;
    let records = sim.records().await;
    assert!(
        !records.to_string().contains("garbage-"),
        "no hostile update applied: {records:#}"
    );
    assert!(gateway.is_running());
    assert_spf_intact(&sim).await;
}

/// Sends `wire` over a new TCP connection and returns the reply's bytes.
fn tcp_exchange(addr: std::net::SocketAddr, wire: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("TCP connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let len = u16::try_from(wire.len()).expect("fits").to_be_bytes();
    stream.write_all(&[&len[..], wire].concat()).expect("send");
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).expect("a reply length");
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut reply).expect("the reply");
    reply
}

// Proves a copy that arrives while the first is still being answered (reply mode "accepted",
// the zone locked by a foreign edit) waits for and gets the first reply, and changes nothing.
#[tokio::test]
async fn a_copy_sent_while_the_first_waits_gets_the_same_reply() {
    let sim = common::SimProcess::start(&["--zones", ZONE, "--edit-seconds", "3"]);
    let key = TestKey::new("copy-key.", "hmac-sha256");
    let accepted = "[edits]\nreply = \"accepted\"\nbatch_window = \"100ms\"\nbatch_max_wait = \"1s\"\npoll_interval = \"200ms\"\n";
    let gateway = GatewayProcess::start(&sim, std::slice::from_ref(&key), accepted);
    let foreign = sim
        .post_edit(&common::add_txt(ZONE, "_acme-challenge.foreign", "lock"))
        .await;
    assert_eq!(foreign.status, 201, "the foreign edit holds the lock");
    let name = format!("_acme-challenge.copy.{ZONE}.");
    let signed = py(
        "cases.py",
        &json!({
            "server": "127.0.0.1", "port": gateway.dns_addr.port(), "zone": ZONE,
            "key": key_json(&key), "sign_add": {"name": name, "value": "copied"},
        }),
    );
    let wire = hex_decode(signed["wire"].as_str().expect("wire"));
    let addr = gateway.dns_addr;
    let first = std::thread::spawn({
        let wire = wire.clone();
        move || tcp_exchange(addr, &wire)
    });
    std::thread::sleep(Duration::from_millis(500));
    let second = std::thread::spawn(move || tcp_exchange(addr, &wire));
    let (first, second) = (first.join().unwrap(), second.join().unwrap());
    assert_eq!(first[3] & 0x0f, 0, "NOERROR once CSC accepted the edit");
    assert_eq!(
        second, first,
        "the copy gets the first reply, byte for byte"
    );
    wait_for_txt(&sim, "_acme-challenge.copy", &["copied"]).await;
    let adds: usize = edit_posts(&sim)
        .await
        .iter()
        .filter(|p| p["status"] == 201)
        .map(|p| p["requestBody"].to_string().matches("copied").count())
        .sum();
    assert_eq!(adds, 1, "one accepted edit carried the value");
}
