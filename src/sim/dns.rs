//! The simulator's authoritative DNS server: UDP and TCP on one port, on the
//! gateway's own listener loops (`dns::listener`) and reply encoding (`dns::reply`).
//!
//! Every query is answered from the zones the simulator has published at that moment (records
//! of edits that reached PROPAGATING), through [`crate::dns::answer`]. What the server does
//! around the answer:
//! - only QUERY: any other opcode (UPDATE, NOTIFY…) is NOTIMP — the sim takes changes through
//!   its REST API only;
//! - exactly one question, else FORMERR; malformed packets get FORMERR from hickory, or are
//!   dropped when not even the header parses — never a panic;
//! - a TSIG-signed query is NOTAUTH: the sim has no keys, and an unsigned answer to a signed
//!   query would be wrong (clients.md);
//! - EDNS: an OPT goes into the reply only when the query had one (version 0; BADVERS for higher);
//! - UDP replies fit the client's size (512 without EDNS); a bigger answer is replaced by an empty
//!   reply with TC set, so the client retries over TCP;
//! - RD is echoed, RA stays clear: the answer is authoritative either way.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{MessageType, Metadata, OpCode, ResponseCode};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use tracing::debug;

use crate::csc::model::Zone;
use crate::dns::answer::{Answer, ZoneView};
use crate::dns::listener::{Handler, Limits, Listeners};
use crate::dns::reply;

/// Where the DNS server gets the zones it answers for.
pub trait ZoneSource: Send + Sync + 'static {
    /// The zones with their published records, as they are now.
    fn published_zones(&self) -> Vec<Zone>;
}

/// The running DNS server.
pub struct DnsServer {
    local_addr: SocketAddr,
    listeners: Listeners,
}

impl DnsServer {
    /// The bound address (UDP and TCP share the port).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops answering.
    pub async fn shutdown(self) {
        self.listeners.shutdown(Duration::from_secs(1)).await;
    }
}

/// Serves `source`'s zones on `addr` (UDP and TCP; port 0 picks a free port for both).
pub async fn serve(addr: SocketAddr, source: Arc<dyn ZoneSource>) -> io::Result<DnsServer> {
    let listeners =
        Listeners::bind(&[addr], Arc::new(SimHandler { source }), Limits::default()).await?;
    let local_addr = listeners.local_addrs()[0];
    debug!(%local_addr, "sim DNS listening on UDP and TCP");
    Ok(DnsServer {
        local_addr,
        listeners,
    })
}

struct SimHandler {
    source: Arc<dyn ZoneSource>,
}

impl Handler for SimHandler {
    async fn handle(&self, raw: Vec<u8>, src: SocketAddr, protocol: Protocol) -> Option<Vec<u8>> {
        let header: Vec<u8> = raw.iter().take(12).copied().collect();
        let Ok(request) = Request::from_bytes(raw, src, protocol) else {
            return reply::formerr_from_raw(&header);
        };
        if request.metadata.message_type != MessageType::Query {
            return None; // never answer a response
        }
        let answer = self.answer(&request);
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = answer.authoritative;
        metadata.recursion_available = false;
        metadata.response_code = answer.rcode;
        Some(reply::encode(
            &request,
            metadata,
            &answer.answers,
            &answer.authorities,
            0,
        ))
    }
}

impl SimHandler {
    /// The answer to the request, or the error that replaces it.
    fn answer(&self, request: &Request) -> Answer {
        let error = |rcode| Answer {
            rcode,
            ..Answer::refused()
        };
        if request.metadata.op_code != OpCode::Query {
            debug!(op = %request.metadata.op_code, src = %request.src(), "NOTIMP: not a query");
            return error(ResponseCode::NotImp);
        }
        if request.edns.as_ref().is_some_and(|edns| edns.version() > 0) {
            return error(ResponseCode::BADVERS);
        }
        if request.signature.is_some() {
            debug!(src = %request.src(), "NOTAUTH: signed query, the sim has no TSIG keys");
            return error(ResponseCode::NotAuth);
        }
        let [query] = request.queries.queries() else {
            return error(ResponseCode::FormErr);
        };
        let view: ZoneView = self.source.published_zones().iter().collect();
        let question = query.original();
        view.answer(
            question.name(),
            question.query_type(),
            question.query_class(),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::{SystemTime, UNIX_EPOCH};

    use hickory_proto::op::{Edns, Message, Query};
    use hickory_proto::rr::rdata::TXT;
    use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
    use hickory_proto::rr::{DNSClass, Name, RData, RecordType, TSigner};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpStream, UdpSocket};
    use tokio::time::timeout;

    use super::*;
    use crate::csc::model::Record as CscRecord;

    /// A source whose zones the test can change while the server runs.
    struct Zones(Mutex<Vec<Zone>>);

    impl ZoneSource for Zones {
        fn published_zones(&self) -> Vec<Zone> {
            self.0.lock().unwrap().clone()
        }
    }

    fn txt(key: &str, value: &str) -> CscRecord {
        CscRecord {
            id: String::new(),
            key: key.into(),
            value: value.into(),
            ttl: Some(300),
            status: None,
        }
    }

    fn zone() -> Zone {
        Zone {
            zone_name: "example.com".into(),
            hosting_type: None,
            a: vec![],
            aaaa: vec![],
            cname: vec![],
            mx: vec![],
            ns: vec![],
            srv: vec![],
            caa: vec![],
            // 12 values of 200 bytes: about 2.7 kB, more than 512 and less than 4096.
            txt: (0..12)
                .map(|i| txt("big", &format!("{i:02}{}", "x".repeat(198))))
                .chain([txt("@", "v=spf1 include:_spf.example.com ~all")])
                .collect(),
            soa: Some(crate::dns::answer::default_soa("example.com")),
        }
    }

    async fn start() -> (DnsServer, Arc<Zones>) {
        let zones = Arc::new(Zones(Mutex::new(vec![zone()])));
        let server = serve("127.0.0.1:0".parse().unwrap(), zones.clone())
            .await
            .unwrap();
        (server, zones)
    }

    fn query(name: &str, qtype: RecordType) -> Message {
        let mut message = Message::query();
        message.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
        message
    }

    fn with_edns(mut message: Message, size: u16, version: u8) -> Message {
        let mut edns = Edns::new();
        edns.set_max_payload(size).set_version(version);
        message.set_edns(edns);
        message
    }

    async fn udp_raw(addr: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        socket.send_to(bytes, addr).await.unwrap();
        let mut buffer = vec![0; 65535];
        let read = timeout(Duration::from_millis(500), socket.recv(&mut buffer)).await;
        let len = read.ok()?.unwrap();
        buffer.truncate(len);
        Some(buffer)
    }

    async fn udp(addr: SocketAddr, message: &Message) -> (Message, usize) {
        let reply = udp_raw(addr, &message.to_vec().unwrap())
            .await
            .expect("no UDP reply");
        let decoded = Message::from_vec(&reply).unwrap();
        assert_eq!(decoded.metadata.id, message.metadata.id);
        (decoded, reply.len())
    }

    async fn tcp(addr: SocketAddr, message: &Message) -> Message {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let bytes = message.to_vec().unwrap();
        stream.write_u16(bytes.len() as u16).await.unwrap();
        stream.write_all(&bytes).await.unwrap();
        let len = stream.read_u16().await.unwrap();
        let mut reply = vec![0; usize::from(len)];
        stream.read_exact(&mut reply).await.unwrap();
        Message::from_vec(&reply).unwrap()
    }

    #[tokio::test]
    async fn answers_over_udp_and_tcp_on_one_port() {
        let (server, _) = start().await;
        let addr = server.local_addr();
        assert_ne!(addr.port(), 0);
        let mut message = query("example.com.", RecordType::SOA);
        message.metadata.recursion_desired = true;
        for reply in [udp(addr, &message).await.0, tcp(addr, &message).await] {
            assert_eq!(reply.metadata.message_type, MessageType::Response);
            assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
            assert!(reply.metadata.authoritative);
            assert!(reply.metadata.recursion_desired, "RD is echoed");
            assert!(!reply.metadata.recursion_available);
            assert_eq!(reply.answers.len(), 1);
            assert_eq!(reply.answers[0].record_type(), RecordType::SOA);
            assert!(reply.edns.is_none(), "no OPT without one in the query");
        }
        server.shutdown().await;
    }

    #[tokio::test]
    async fn answers_follow_the_source() {
        let (server, zones) = start().await;
        let addr = server.local_addr();
        let message = query("_acme-challenge.example.com.", RecordType::TXT);
        assert_eq!(
            udp(addr, &message).await.0.metadata.response_code,
            ResponseCode::NXDomain
        );
        zones.0.lock().unwrap()[0]
            .txt
            .push(txt("_acme-challenge", "token"));
        let (reply, _) = udp(addr, &message).await;
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        assert_eq!(
            reply.answers[0].data,
            RData::TXT(TXT::new(vec!["token".into()]))
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn edns_is_echoed_and_bad_versions_refused() {
        let (server, _) = start().await;
        let addr = server.local_addr();
        let (reply, _) = udp(
            addr,
            &with_edns(query("example.com.", RecordType::SOA), 1232, 0),
        )
        .await;
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        let edns = reply.edns.expect("OPT echoed");
        assert_eq!(edns.version(), 0);

        let (reply, _) = udp(
            addr,
            &with_edns(query("example.com.", RecordType::SOA), 1232, 1),
        )
        .await;
        // BADVERS and BADSIG share the value 16; hickory decodes it as BADSIG.
        assert_eq!(u16::from(reply.metadata.response_code), 16);
        assert!(reply.edns.is_some());
        server.shutdown().await;
    }

    #[tokio::test]
    async fn udp_replies_fit_the_clients_size() {
        let (server, _) = start().await;
        let addr = server.local_addr();
        let message = query("big.example.com.", RecordType::TXT);

        let (reply, len) = udp(addr, &message).await;
        assert!(reply.metadata.truncation);
        assert!(reply.answers.is_empty());
        assert!(len <= 512);

        let (reply, len) = udp(addr, &with_edns(message.clone(), 1232, 0)).await;
        assert!(reply.metadata.truncation && reply.edns.is_some() && len <= 1232);

        let (reply, len) = udp(addr, &with_edns(message.clone(), 4096, 0)).await;
        assert!(!reply.metadata.truncation);
        assert_eq!(reply.answers.len(), 12);
        assert!(len > 1232);

        let reply = tcp(addr, &message).await;
        assert!(!reply.metadata.truncation);
        assert_eq!(reply.answers.len(), 12);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn only_single_question_queries_are_answered() {
        let (server, _) = start().await;
        let addr = server.local_addr();

        let mut update = query("example.com.", RecordType::SOA);
        update.metadata.op_code = OpCode::Update;
        assert_eq!(
            udp(addr, &update).await.0.metadata.response_code,
            ResponseCode::NotImp
        );

        let mut notify = query("example.com.", RecordType::SOA);
        notify.metadata.op_code = OpCode::Notify;
        assert_eq!(
            udp(addr, &notify).await.0.metadata.response_code,
            ResponseCode::NotImp
        );

        let mut two = query("example.com.", RecordType::SOA);
        two.add_query(Query::query(
            Name::from_ascii("example.com.").unwrap(),
            RecordType::NS,
        ));
        assert_eq!(
            udp(addr, &two).await.0.metadata.response_code,
            ResponseCode::FormErr
        );

        let none = Message::query();
        assert_eq!(
            udp(addr, &none).await.0.metadata.response_code,
            ResponseCode::FormErr
        );

        let mut chaos = query("version.bind.", RecordType::TXT);
        chaos.queries[0].set_query_class(DNSClass::CH);
        assert_eq!(
            udp(addr, &chaos).await.0.metadata.response_code,
            ResponseCode::Refused
        );

        let axfr = query("example.com.", RecordType::AXFR);
        assert_eq!(
            tcp(addr, &axfr).await.metadata.response_code,
            ResponseCode::Refused
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn signed_queries_are_notauth() {
        let (server, _) = start().await;
        let signer = TSigner::new(
            b"0123456789abcdef".to_vec(),
            TsigAlgorithm::HmacSha256,
            Name::from_ascii("key.").unwrap(),
            300,
        )
        .unwrap();
        let mut message = query("example.com.", RecordType::SOA);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        message.finalize(&signer, now).unwrap();
        let (reply, _) = udp(server.local_addr(), &message).await;
        assert_eq!(reply.metadata.response_code, ResponseCode::NotAuth);
        assert!(reply.signature.is_none());
        server.shutdown().await;
    }

    #[tokio::test]
    async fn garbage_never_stops_the_server() {
        let (server, _) = start().await;
        let addr = server.local_addr();
        let valid = query("example.com.", RecordType::SOA).to_vec().unwrap();
        let mut packets: Vec<Vec<u8>> = vec![
            vec![],
            vec![0xff],
            vec![0; 11],
            vec![0xff; 12],
            vec![0xab; 600],
            valid[..valid.len() - 3].to_vec(),
        ];
        // A header claiming many records, and a compression pointer loop.
        let mut lying = valid.clone();
        lying[6..12].copy_from_slice(&[0xff; 6]);
        packets.push(lying);
        let mut looped = valid[..12].to_vec();
        looped.extend_from_slice(&[0xc0, 0x0c, 0, 6, 0, 1]);
        packets.push(looped);
        let mut seed = 0x2545_f491_u32;
        for len in [13, 40, 200, 512] {
            packets.push(
                (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 17;
                        seed ^= seed << 5;
                        seed as u8
                    })
                    .collect(),
            );
        }
        for packet in &packets {
            if let Some(reply) = udp_raw(addr, packet).await {
                // Whatever came back is a well-formed DNS message.
                Message::from_vec(&reply).unwrap();
            }
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.write_u16(packet.len() as u16).await.unwrap();
            stream.write_all(packet).await.unwrap();
        }
        let reply = tcp(addr, &query("example.com.", RecordType::SOA)).await;
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        let (reply, _) = udp(addr, &query("example.com.", RecordType::SOA)).await;
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn a_fixed_port_is_bound_for_both_protocols() {
        let (first, _) = start().await;
        // The same fixed port again: UDP is taken, so serve fails rather than half-binding.
        let zones = Arc::new(Zones(Mutex::new(vec![])));
        assert!(serve(first.local_addr(), zones).await.is_err());
        first.shutdown().await;
    }
}
