//! The simulator's authoritative DNS, over real UDP and TCP sockets against the real
//! `csc-rfc2136 sim` binary: apex SOA/NS/TXT with AA, NXDOMAIN and NODATA with the SOA in
//! authority, REFUSED outside the zones, EDNS echo, TCP, and a TXT added through the REST API
//! appearing once its edit is PROPAGATING. Queries are hand-built hickory messages, and the same
//! answers are checked with BIND's `dig` (required: `apt-get install -y bind9-dnsutils`).

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use common::{SimProcess, add_txt, edit_id};
use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

/// How long to wait for any one DNS reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

fn start_sim() -> SimProcess {
    let _ = rustls::crypto::ring::default_provider().install_default();
    SimProcess::start(&["--zones", "example.com,other.test", "--edit-seconds", "1"])
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

/// A query as certbot sends it: RD clear, no EDNS.
fn query(qname: &str, qtype: RecordType) -> Message {
    let mut message = Message::query();
    message.add_query(Query::query(name(qname), qtype));
    message
}

async fn udp(addr: SocketAddr, message: &Message) -> Message {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket
        .send_to(&message.to_vec().unwrap(), addr)
        .await
        .unwrap();
    let mut buffer = vec![0; 65535];
    let len = timeout(REPLY_TIMEOUT, socket.recv(&mut buffer))
        .await
        .unwrap_or_else(|_| panic!("no UDP reply from {addr} to {message}"))
        .unwrap();
    let reply = Message::from_vec(&buffer[..len]).expect("a well-formed reply");
    assert_eq!(reply.metadata.id, message.metadata.id);
    reply
}

/// Sends every message on one TCP connection (pipelined) and reads the replies.
async fn tcp(addr: SocketAddr, messages: &[Message]) -> Vec<Message> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    for message in messages {
        let bytes = message.to_vec().unwrap();
        stream.write_u16(bytes.len() as u16).await.unwrap();
        stream.write_all(&bytes).await.unwrap();
    }
    let mut replies = Vec::new();
    for _ in messages {
        let read = async {
            let len = stream.read_u16().await?;
            let mut reply = vec![0; usize::from(len)];
            stream.read_exact(&mut reply).await?;
            std::io::Result::Ok(reply)
        };
        let reply = timeout(REPLY_TIMEOUT, read)
            .await
            .expect("TCP reply in time")
            .unwrap();
        replies.push(Message::from_vec(&reply).expect("a well-formed reply"));
    }
    replies
}

/// Runs `dig @addr` with `args` and returns its output; panics if dig is missing.
fn dig(addr: SocketAddr, args: &[&str]) -> String {
    let output = Command::new("dig")
        .arg(format!("@{}", addr.ip()))
        .args(["-p", &addr.port().to_string(), "+time=3", "+tries=1"])
        .args(args)
        .output()
        .unwrap_or_else(|err| {
            panic!("cannot run dig ({err}): install it with `apt-get install -y bind9-dnsutils`")
        });
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "dig {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The header flags line of dig's output, e.g. `;; flags: qr aa; QUERY: 1, ...`.
fn dig_flags(output: &str) -> &str {
    output
        .lines()
        .find(|line| line.starts_with(";; flags:"))
        .unwrap_or_else(|| panic!("no flags line in dig output:\n{output}"))
}

fn txt_values(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// NXDOMAIN or NODATA: AA, nothing in the answer section, the zone SOA alone in authority.
fn assert_negative(reply: &Message, rcode: ResponseCode, apex: &str) {
    assert_eq!(reply.metadata.response_code, rcode, "{reply}");
    assert!(reply.metadata.authoritative, "{reply}");
    assert!(reply.answers.is_empty(), "{reply}");
    assert_eq!(reply.authorities.len(), 1, "{reply}");
    assert_eq!(reply.authorities[0].record_type(), RecordType::SOA);
    assert_eq!(reply.authorities[0].name, name(apex));
}

#[tokio::test]
async fn soa_at_the_apex_is_authoritative_in_the_answer_section() {
    let sim = start_sim();
    let reply = udp(sim.dns_addr, &query("example.com.", RecordType::SOA)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.metadata.authoritative);
    assert!(!reply.metadata.recursion_available);
    assert!(reply.edns.is_none(), "no OPT without one in the query");
    // certbot's test: an SOA owned by exactly the queried name in the answer section.
    assert_eq!(reply.answers.len(), 1, "{reply}");
    let soa = &reply.answers[0];
    assert_eq!(soa.name, name("example.com."));
    let RData::SOA(data) = &soa.data else {
        panic!("not an SOA: {soa}")
    };
    assert_eq!(data.mname, name("ns1.example.com."));
    assert_eq!(data.rname, name("hostmaster.example.com."));

    let other = udp(sim.dns_addr, &query("OTHER.test.", RecordType::SOA)).await;
    assert_eq!(other.answers.len(), 1);
    assert_eq!(other.answers[0].name, name("other.test."));

    let out = dig(sim.dns_addr, &["+norec", "example.com", "SOA"]);
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(dig_flags(&out).contains(" aa"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("example.com.") && l.contains("SOA")),
        "{out}"
    );
}

#[tokio::test]
async fn ns_at_the_apex() {
    let sim = start_sim();
    let reply = udp(sim.dns_addr, &query("example.com.", RecordType::NS)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.metadata.authoritative);
    let mut hosts: Vec<String> = reply
        .answers
        .iter()
        .map(|r| match &r.data {
            RData::NS(ns) => ns.0.to_ascii(),
            other => panic!("not NS: {other:?}"),
        })
        .collect();
    hosts.sort();
    assert_eq!(hosts, ["ns1.example.com.", "ns2.example.com."]);

    let out = dig(sim.dns_addr, &["+short", "example.com", "NS"]);
    assert!(out.contains("ns1.example.com."), "{out}");
}

#[tokio::test]
async fn the_seeded_spf_record_is_served_at_the_apex() {
    let sim = start_sim();
    let reply = udp(sim.dns_addr, &query("example.com.", RecordType::TXT)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.metadata.authoritative);
    assert_eq!(
        txt_values(&reply.answers),
        ["v=spf1 include:_spf.example.com ~all"]
    );

    let out = dig(sim.dns_addr, &["+short", "example.com", "TXT"]);
    assert_eq!(out.trim(), "\"v=spf1 include:_spf.example.com ~all\"");
}

#[tokio::test]
async fn missing_names_below_an_apex_are_nxdomain_with_the_soa() {
    let sim = start_sim();
    let reply = udp(sim.dns_addr, &query("nope.example.com.", RecordType::TXT)).await;
    assert_negative(&reply, ResponseCode::NXDomain, "example.com.");
    // certbot's zone walk starts below the apex: never an answer-section SOA there.
    let reply = udp(
        sim.dns_addr,
        &query("_acme-challenge.www.example.com.", RecordType::SOA),
    )
    .await;
    assert_negative(&reply, ResponseCode::NXDomain, "example.com.");

    let out = dig(sim.dns_addr, &["+norec", "nope.example.com", "TXT"]);
    assert!(out.contains("status: NXDOMAIN"), "{out}");
    assert!(dig_flags(&out).contains(" aa"), "{out}");
    assert!(out.contains("AUTHORITY: 1"), "{out}");
}

#[tokio::test]
async fn existing_names_without_the_type_are_nodata() {
    let sim = start_sim();
    let reply = udp(sim.dns_addr, &query("example.com.", RecordType::AAAA)).await;
    assert_negative(&reply, ResponseCode::NoError, "example.com.");
    let reply = udp(sim.dns_addr, &query("other.test.", RecordType::MX)).await;
    assert_negative(&reply, ResponseCode::NoError, "other.test.");

    let out = dig(sim.dns_addr, &["+norec", "example.com", "AAAA"]);
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(out.contains("ANSWER: 0, AUTHORITY: 1"), "{out}");
}

#[tokio::test]
async fn names_outside_the_zones_are_refused() {
    let sim = start_sim();
    for qname in ["example.net.", "com.", "notexample.com."] {
        let reply = udp(sim.dns_addr, &query(qname, RecordType::SOA)).await;
        assert_eq!(
            reply.metadata.response_code,
            ResponseCode::Refused,
            "{qname}"
        );
        assert!(!reply.metadata.authoritative);
        assert!(reply.answers.is_empty() && reply.authorities.is_empty());
    }
    let reply = tcp(sim.dns_addr, &[query("example.com.", RecordType::AXFR)]).await;
    assert_eq!(reply[0].metadata.response_code, ResponseCode::Refused);

    let out = dig(sim.dns_addr, &["+norec", "example.net", "SOA"]);
    assert!(out.contains("status: REFUSED"), "{out}");
}

#[tokio::test]
async fn edns_is_echoed_only_when_asked_and_rd_is_answered_authoritatively() {
    let sim = start_sim();
    // lego's SOA query: RD set, EDNS0 with 4096 bytes.
    let mut message = query("example.com.", RecordType::SOA);
    message.metadata.recursion_desired = true;
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    message.set_edns(edns);
    let reply = udp(sim.dns_addr, &message).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.metadata.authoritative);
    assert!(reply.metadata.recursion_desired);
    assert!(!reply.metadata.recursion_available);
    let edns = reply.edns.expect("OPT in the reply to an EDNS query");
    assert_eq!(edns.version(), 0);
    assert_eq!(reply.answers.len(), 1);

    let out = dig(sim.dns_addr, &["+edns=0", "example.com", "SOA"]);
    assert!(out.contains("OPT PSEUDOSECTION"), "{out}");
    let out = dig(sim.dns_addr, &["+noedns", "example.com", "SOA"]);
    assert!(!out.contains("OPT PSEUDOSECTION"), "{out}");
    assert!(out.contains("status: NOERROR"), "{out}");
}

#[tokio::test]
async fn tcp_answers_pipelined_queries() {
    let sim = start_sim();
    let messages = [
        query("example.com.", RecordType::SOA),
        query("example.com.", RecordType::TXT),
        query("nope.example.com.", RecordType::TXT),
    ];
    let replies = tcp(sim.dns_addr, &messages).await;
    // Replies may come in any order; match them by id.
    let by_id = |id: u16| {
        replies
            .iter()
            .find(|r| r.metadata.id == id)
            .unwrap_or_else(|| panic!("no reply with id {id}"))
    };
    let soa = by_id(messages[0].metadata.id);
    assert!(soa.metadata.authoritative);
    assert_eq!(soa.answers[0].record_type(), RecordType::SOA);
    let txt = by_id(messages[1].metadata.id);
    assert_eq!(
        txt_values(&txt.answers),
        ["v=spf1 include:_spf.example.com ~all"]
    );
    assert_negative(
        by_id(messages[2].metadata.id),
        ResponseCode::NXDomain,
        "example.com.",
    );

    let out = dig(sim.dns_addr, &["+tcp", "+norec", "example.com", "SOA"]);
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(dig_flags(&out).contains(" aa"), "{out}");
}

#[tokio::test]
async fn a_txt_added_through_the_api_is_served_once_propagating() {
    let sim = start_sim();
    let challenge = "_acme-challenge.example.com.";
    let before = udp(sim.dns_addr, &query(challenge, RecordType::TXT)).await;
    assert_negative(&before, ResponseCode::NXDomain, "example.com.");

    let reply = sim
        .post_edit(&add_txt("example.com", "_acme-challenge", "dns-01-token"))
        .await;
    let id = edit_id(&reply);
    sim.wait_for_status(&id, "PROPAGATING", Duration::from_secs(10))
        .await;

    let after = udp(sim.dns_addr, &query(challenge, RecordType::TXT)).await;
    assert_eq!(
        after.metadata.response_code,
        ResponseCode::NoError,
        "{after}"
    );
    assert!(after.metadata.authoritative);
    assert_eq!(txt_values(&after.answers), ["dns-01-token"]);
    assert_eq!(after.answers[0].name, name(challenge));
    assert_eq!(after.answers[0].ttl, 300);
    let over_tcp = tcp(sim.dns_addr, &[query(challenge, RecordType::TXT)]).await;
    assert_eq!(txt_values(&over_tcp[0].answers), ["dns-01-token"]);

    // The SPF record beside it is untouched.
    let apex = udp(sim.dns_addr, &query("example.com.", RecordType::TXT)).await;
    assert_eq!(
        txt_values(&apex.answers),
        ["v=spf1 include:_spf.example.com ~all"]
    );

    let out = dig(
        sim.dns_addr,
        &["+short", "TXT", "_acme-challenge.example.com"],
    );
    assert_eq!(out.trim(), "\"dns-01-token\"");
}
