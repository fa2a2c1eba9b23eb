//! Our TSIG against real clients: dnspython signs UPDATEs and checks our signed replies, and
//! BIND's nsupdate sends to a socket this test holds and must accept our replies.
//!
//! Both programs must be installed (`scripts/test.sh` does it); a missing one fails the test.

use std::io::Write;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use csc_rfc2136::config::TsigAlgorithm;
use csc_rfc2136::dns::tsig::{self, KeyRing, TsigVerdict};
use serde_json::{Value, json};

const SECRET: &[u8] = b"interop secret, 32 bytes long!!!";
const WRONG_SECRET: &[u8] = b"not the configured secret at all";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex from python"))
        .collect()
}

/// The reply an UPDATE server sends: the request's header with QR and `rcode`, and its zone
/// section (the first question, whose name the clients write uncompressed).
fn update_reply(request: &[u8], rcode: u8) -> Vec<u8> {
    let mut end = 12;
    while let Some(&len) = request.get(end) {
        end += 1 + usize::from(len);
        if len == 0 {
            break;
        }
    }
    let mut reply = request[..12].to_vec();
    reply[2] |= 0x80;
    reply[3] = (reply[3] & 0xF0) | rcode;
    reply[4..12].copy_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    reply.extend_from_slice(&request[12..end + 4]);
    reply
}

/// The gateway's whole TSIG path for one request: verify, build the reply, seal it.
fn answer(request: &[u8], keyring: &KeyRing, now: u64) -> (TsigVerdict, Vec<u8>) {
    let verdict = tsig::verify(request, keyring, now);
    let rcode = verdict.error_rcode().map_or(0, |code| code.low());
    let reply = verdict
        .seal(&update_reply(request, rcode), now)
        .expect("seal the reply");
    (verdict, reply)
}

// ---- dnspython -----------------------------------------------------------------------------

fn python() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        path.exists(),
        "{} is missing: run scripts/test.sh once to create the venv with dnspython",
        path.display()
    );
    path
}

/// Runs `script` with `input` as JSON on stdin, returns its JSON stdout.
fn run_python(script: &str, input: &Value) -> Value {
    let mut child = Command::new(python())
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write to python");
    let out = child.wait_with_output().expect("python output");
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|err| {
        panic!(
            "python printed no JSON ({err}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Builds one TSIG-signed UPDATE per case, as certbot-dns-rfc2136 does (dnspython).
const MAKE_REQUESTS: &str = r#"
import base64, json, sys, time
import dns.tsig, dns.update
out = []
for case in json.load(sys.stdin):
    key = dns.tsig.Key(case["key_name"], base64.b64decode(case["secret"]), case["algorithm_name"])
    update = dns.update.UpdateMessage("example.com.")
    update.add("_acme-challenge.example.com.", 120, "TXT", "token-value")
    update.use_tsig(key, fudge=300)
    wire = update.to_wire()
    out.append({"request": wire.hex(), "mac": update.mac.hex()})
print(json.dumps(out))
"#;

/// Reads each reply with the key and request MAC, as the client would.
///
/// Stock dnspython raises the peer's TSIG error (PeerBadTime, …) before it looks at the MAC, so
/// a reply with an error is read a second time through the same `from_wire` path with the error
/// check skipped: dnspython's own digest code then proves the reply is signed.
const CHECK_REPLIES: &str = r#"
import base64, json, struct, sys
import dns.message, dns.name, dns.rcode, dns.tsig

def validate_despite_error(wire, key, owner, rdata, now, request_mac, tsig_start, ctx=None, multi=False):
    (adcount,) = struct.unpack("!H", wire[10:12])
    new_wire = wire[0:10] + struct.pack("!H", adcount - 1) + wire[12:tsig_start]
    if key.name != owner:
        raise dns.tsig.BadKey
    if key.algorithm != rdata.algorithm:
        raise dns.tsig.BadAlgorithm
    dns.tsig._digest(new_wire, key, rdata, None, request_mac, ctx, multi).verify(rdata.mac)
    return None

out = []
for case in json.load(sys.stdin):
    name = dns.name.from_text(case["key_name"])
    key = dns.tsig.Key(name, base64.b64decode(case["secret"]), case["algorithm_name"])
    reply = bytes.fromhex(case["reply"])
    mac = bytes.fromhex(case["mac"])
    result = {}
    try:
        msg = dns.message.from_wire(reply, keyring={name: key}, request_mac=mac)
        result["outcome"] = "ok"
        result["rcode"] = dns.rcode.to_text(msg.rcode())
    except Exception as err:
        result["outcome"] = type(err).__name__
    raw = dns.message.from_wire(reply, keyring=False)
    if raw.tsig is not None:
        result["tsig_owner"] = raw.tsig.name.to_text()
        result["tsig_algorithm"] = raw.tsig[0].algorithm.to_text()
        result["tsig_error"] = raw.tsig[0].error
        result["tsig_time"] = raw.tsig[0].time_signed
        result["tsig_other"] = raw.tsig[0].other.hex()
        result["mac_len"] = len(raw.tsig[0].mac)
        real_validate = dns.tsig.validate
        dns.tsig.validate = validate_despite_error
        try:
            dns.message.from_wire(reply, keyring={name: key}, request_mac=mac)
            result["mac_ok"] = True
        except Exception as err:
            result["mac_ok"] = type(err).__name__
        finally:
            dns.tsig.validate = real_validate
    out.append(result)
print(json.dumps(out))
"#;

struct Case {
    algorithm: TsigAlgorithm,
    algorithm_name: &'static str,
    key_name: &'static str,
    /// The secret the client signs with.
    secret: &'static [u8],
    /// How far our clock is ahead of the client's.
    skew: u64,
    expect: &'static str,
}

#[test]
fn dnspython_requests_verify_and_dnspython_accepts_our_replies() {
    let mut cases: Vec<Case> = TsigAlgorithm::ALL
        .into_iter()
        .map(|algorithm| Case {
            algorithm,
            algorithm_name: algorithm.wire_name(),
            key_name: "acme-key.",
            secret: SECRET,
            skew: 0,
            expect: "Signed",
        })
        .collect();
    cases.extend([
        // certbot's default: upper-case HMAC-MD5, here with a mixed-case key name.
        Case {
            algorithm: TsigAlgorithm::HmacMd5,
            algorithm_name: "HMAC-MD5.SIG-ALG.REG.INT.",
            key_name: "Acme-Key.",
            secret: SECRET,
            skew: 0,
            expect: "Signed",
        },
        Case {
            algorithm: TsigAlgorithm::HmacSha256,
            algorithm_name: "hmac-sha256.",
            key_name: "acme-key.",
            secret: SECRET,
            skew: 3600,
            expect: "BadTime",
        },
        Case {
            algorithm: TsigAlgorithm::HmacMd5,
            algorithm_name: "HMAC-MD5.SIG-ALG.REG.INT.",
            key_name: "Acme-Key.",
            secret: SECRET,
            skew: 3600,
            expect: "BadTime",
        },
        Case {
            algorithm: TsigAlgorithm::HmacSha512,
            algorithm_name: "hmac-sha512.",
            key_name: "acme-key.",
            secret: WRONG_SECRET,
            skew: 0,
            expect: "BadSig",
        },
        Case {
            algorithm: TsigAlgorithm::HmacSha1,
            algorithm_name: "hmac-sha1.",
            key_name: "unknown-key.",
            secret: SECRET,
            skew: 0,
            expect: "BadKey",
        },
    ]);
    let describe = |c: &Case| {
        json!({
            "key_name": c.key_name,
            "algorithm_name": c.algorithm_name,
            "secret": b64(c.secret),
        })
    };
    let made = run_python(
        MAKE_REQUESTS,
        &Value::Array(cases.iter().map(describe).collect()),
    );

    let mut checks = Vec::new();
    for (case, made) in cases.iter().zip(made.as_array().expect("a list")) {
        let keyring =
            KeyRing::default().with_key("ACME-KEY", case.algorithm, vec![SECRET.to_vec()]);
        let request = unhex(made["request"].as_str().expect("request"));
        let at = now() + case.skew;
        let (verdict, reply) = answer(&request, &keyring, at);
        let kind = format!("{verdict:?}");
        assert!(
            kind.starts_with(case.expect),
            "{} {}: expected {}, got {kind}",
            case.key_name,
            case.algorithm_name,
            case.expect
        );
        let mut check = describe(case);
        check["reply"] = json!(hex(&reply));
        check["mac"] = made["mac"].clone();
        checks.push(check);
    }
    // Control: a BADTIME reply with a damaged MAC (12 bytes follow it) must fail the MAC check.
    let mut damaged = checks
        .iter()
        .zip(&cases)
        .find(|(_, case)| case.expect == "BadTime")
        .map(|(check, _)| check.clone())
        .expect("a BADTIME case");
    let mut reply = unhex(damaged["reply"].as_str().expect("reply"));
    let at = reply.len() - 13;
    reply[at] ^= 1;
    damaged["reply"] = json!(hex(&reply));
    checks.push(damaged);
    let results = run_python(CHECK_REPLIES, &Value::Array(checks));
    let results = results.as_array().expect("a list");
    assert_eq!(
        results.last().expect("the control")["mac_ok"],
        json!("BadSignature"),
        "the MAC check of this test must notice a damaged reply"
    );

    for (case, result) in cases.iter().zip(results) {
        let what = format!(
            "{} {} {}: {result}",
            case.expect, case.key_name, case.algorithm_name
        );
        // The names come back exactly as the client wrote them.
        assert_eq!(result["tsig_owner"], json!(case.key_name), "{what}");
        assert_eq!(
            result["tsig_algorithm"],
            json!(case.algorithm_name),
            "{what}"
        );
        match case.expect {
            "Signed" => {
                assert_eq!(result["outcome"], json!("ok"), "{what}");
                assert_eq!(result["rcode"], json!("NOERROR"), "{what}");
            }
            "BadTime" => {
                assert_eq!(result["outcome"], json!("PeerBadTime"), "{what}");
                assert_eq!(result["mac_ok"], json!(true), "signed BADTIME: {what}");
                assert_eq!(result["tsig_error"], json!(18), "{what}");
                let client_time = result["tsig_time"].as_u64().expect("time");
                assert!(
                    now().abs_diff(client_time) < 60,
                    "Time Signed is the client's: {what}"
                );
                let other = unhex(result["tsig_other"].as_str().expect("other"));
                let server_time = other.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
                assert_eq!(other.len(), 6, "{what}");
                assert!(
                    server_time.abs_diff(now() + 3600) < 60,
                    "Other Data is our time: {what}"
                );
            }
            "BadSig" => {
                assert_eq!(result["outcome"], json!("PeerBadSignature"), "{what}");
                assert_eq!(result["mac_len"], json!(0), "unsigned: {what}");
            }
            "BadKey" => {
                assert_eq!(result["outcome"], json!("PeerBadKey"), "{what}");
                assert_eq!(result["mac_len"], json!(0), "unsigned: {what}");
            }
            other => unreachable!("{other}"),
        }
    }
}

// ---- BIND nsupdate -------------------------------------------------------------------------

const NSUPDATE: &str = "/usr/bin/nsupdate";

struct NsupdateRun {
    /// nsupdate's exit status and output.
    success: bool,
    output: String,
    /// The verdict on the first datagram.
    verdict: String,
}

/// Runs `nsupdate -y KEYSPEC` against a UDP socket held here; answers its first datagram with
/// our TSIG code (our clock `skew` seconds ahead) and lets nsupdate judge the reply.
/// `tamper` flips the reply byte that many bytes from its end (a control: nsupdate must notice).
fn run_nsupdate(keyspec: &str, keyring: &KeyRing, skew: u64, tamper: Option<usize>) -> NsupdateRun {
    assert!(
        std::path::Path::new(NSUPDATE).exists(),
        "{NSUPDATE} is missing: install bind9-dnsutils (scripts/test.sh does)"
    );
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let port = socket.local_addr().expect("address").port();
    let mut child = Command::new(NSUPDATE)
        .args(["-y", keyspec, "-t", "5", "-u", "2", "-r", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nsupdate");
    let script = format!(
        "server 127.0.0.1 {port}\nzone example.com\n\
         update add _acme-challenge.example.com 60 TXT \"token\"\nsend\n"
    );
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write to nsupdate");
    let mut buf = [0u8; 4096];
    let (len, from) = match socket.recv_from(&mut buf) {
        Ok(got) => got,
        Err(err) => {
            let _ = child.kill();
            let out = child.wait_with_output().expect("nsupdate output");
            panic!(
                "no datagram from nsupdate ({err}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        }
    };
    let (verdict, mut reply) = answer(&buf[..len], keyring, now() + skew);
    if let Some(back) = tamper {
        let at = reply.len() - back;
        reply[at] ^= 0x01;
    }
    socket.send_to(&reply, from).expect("send the reply");
    let out = child.wait_with_output().expect("nsupdate output");
    NsupdateRun {
        success: out.status.success(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        verdict: format!("{verdict:?}"),
    }
}

fn ring_for(algorithm: TsigAlgorithm) -> KeyRing {
    KeyRing::default().with_key("acme-key", algorithm, vec![SECRET.to_vec()])
}

#[test]
fn nsupdate_requests_verify_and_nsupdate_accepts_our_replies() {
    for algorithm in TsigAlgorithm::ALL {
        let keyspec = format!("{}:Acme-Key:{}", algorithm.config_name(), b64(SECRET));
        let run = run_nsupdate(&keyspec, &ring_for(algorithm), 0, None);
        assert!(
            run.verdict.starts_with("Signed"),
            "{keyspec}: {}",
            run.verdict
        );
        assert!(run.success, "{keyspec}: nsupdate failed: {}", run.output);
    }
    // Control: a damaged MAC (followed by 6 bytes in a NOERROR reply) makes nsupdate fail.
    let keyspec = format!("hmac-sha256:acme-key:{}", b64(SECRET));
    let run = run_nsupdate(&keyspec, &ring_for(TsigAlgorithm::HmacSha256), 0, Some(7));
    eprintln!("NOERROR, damaged MAC: {}", run.output);
    assert!(run.output.contains("tsig verify failure"), "{}", run.output);
    // `-y name:secret` means hmac-md5, BIND's default.
    let run = run_nsupdate(
        &format!("acme-key:{}", b64(SECRET)),
        &ring_for(TsigAlgorithm::HmacMd5),
        0,
        None,
    );
    assert!(run.verdict.starts_with("Signed"), "{}", run.verdict);
    assert!(run.success, "default algorithm: {}", run.output);
}

#[test]
fn nsupdate_sees_our_tsig_errors() {
    // BADTIME: signed with our time; nsupdate verifies it and reports the clock skew.
    let keyspec = format!("hmac-sha256:acme-key:{}", b64(SECRET));
    let run = run_nsupdate(&keyspec, &ring_for(TsigAlgorithm::HmacSha256), 3600, None);
    assert!(run.verdict.starts_with("BadTime"), "{}", run.verdict);
    assert!(!run.success, "BADTIME must fail: {}", run.output);
    // BIND says this only once the reply's MAC verified ("tsig verify failure" otherwise).
    assert!(
        run.output.contains("clocks are unsynchronized"),
        "{}",
        run.output
    );
    eprintln!("BADTIME: {}", run.output);
    // Control: the same reply with its MAC damaged (the MAC is followed by 12 bytes here).
    let run = run_nsupdate(
        &keyspec,
        &ring_for(TsigAlgorithm::HmacSha256),
        3600,
        Some(13),
    );
    eprintln!("BADTIME, damaged MAC: {}", run.output);
    assert!(run.output.contains("tsig verify failure"), "{}", run.output);

    // BADSIG: unsigned NOTAUTH.
    let keyspec = format!("hmac-sha1:acme-key:{}", b64(WRONG_SECRET));
    let run = run_nsupdate(&keyspec, &ring_for(TsigAlgorithm::HmacSha1), 0, None);
    assert!(run.verdict.starts_with("BadSig"), "{}", run.verdict);
    assert!(!run.success, "BADSIG must fail: {}", run.output);
    assert!(run.output.contains("NOTAUTH(BADSIG)"), "{}", run.output);
    eprintln!("BADSIG: {}", run.output);

    // BADKEY: a known key with another algorithm.
    let keyspec = format!("hmac-sha512:acme-key:{}", b64(SECRET));
    let run = run_nsupdate(&keyspec, &ring_for(TsigAlgorithm::HmacSha256), 0, None);
    assert!(run.verdict.starts_with("BadKey"), "{}", run.verdict);
    assert!(!run.success, "BADKEY must fail: {}", run.output);
    assert!(run.output.contains("NOTAUTH(BADKEY)"), "{}", run.output);
    eprintln!("BADKEY: {}", run.output);
}
