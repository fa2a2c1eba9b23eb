//! The simulator's authoritative DNS server: UDP and TCP on one port, on hickory-server.
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

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tokio::net::{TcpListener, UdpSocket};
use tracing::{debug, warn};

use crate::csc::model::Zone;
use crate::dns::answer::{Answer, ZoneView};

/// How long an idle TCP connection stays open.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Replies queued per TCP connection (pipelined queries).
const TCP_RESPONSE_BUFFER: usize = 32;
/// The largest UDP reply we send, whatever size the client advertises.
const MAX_UDP_PAYLOAD: u16 = 4096;
/// Attempts to find a port free for both UDP and TCP when the caller asked for port 0.
const BIND_ATTEMPTS: usize = 10;

/// Where the DNS server reads the zones to answer from: the simulator's published state.
pub trait ZoneSource: Send + Sync + 'static {
    /// The zones with their currently published (live) records.
    fn published_zones(&self) -> Vec<Zone>;
}

/// A running DNS server; dropping it stops it too, [`DnsServer::shutdown`] waits for that.
pub struct DnsServer {
    local_addr: SocketAddr,
    server: Server<SimHandler>,
}

impl DnsServer {
    /// The address both the UDP socket and the TCP listener are bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops listening and waits for the server's tasks to end.
    pub async fn shutdown(mut self) {
        if let Err(error) = self.server.shutdown_gracefully().await {
            warn!(%error, "DNS server stopped with an error");
        }
    }
}

/// Starts an authoritative DNS server on `addr` (UDP and TCP, same port; port 0 picks one)
/// answering from `source`.
pub async fn serve(addr: SocketAddr, source: Arc<dyn ZoneSource>) -> io::Result<DnsServer> {
    let (udp, tcp) = bind_pair(addr).await?;
    let local_addr = udp.local_addr()?;
    let mut server = Server::new(SimHandler { source });
    server.register_socket(udp);
    server.register_listener(tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_BUFFER);
    debug!(%local_addr, "sim DNS listening on UDP and TCP");
    Ok(DnsServer { local_addr, server })
}

/// Binds UDP first, then TCP on the port UDP got. With port 0 the TCP port may be taken by
/// someone else: then try again with a fresh UDP port.
async fn bind_pair(addr: SocketAddr) -> io::Result<(UdpSocket, TcpListener)> {
    let mut last_error = None;
    for _ in 0..BIND_ATTEMPTS {
        let udp = UdpSocket::bind(addr).await?;
        let bound = udp.local_addr()?;
        match TcpListener::bind(bound).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(error) if addr.port() == 0 && error.kind() == io::ErrorKind::AddrInUse => {
                debug!(%bound, "TCP port taken, trying another");
                last_error = Some(error);
            }
            Err(error) => return Err(error),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no port free for both UDP and TCP")))
}

/// Answers queries from the zones of a [`ZoneSource`].
struct SimHandler {
    source: Arc<dyn ZoneSource>,
}

// `RequestHandler` is declared with `#[async_trait]`; this is that macro's expansion written out,
// so the crate does not need async-trait as a dependency of its own.
impl RequestHandler for SimHandler {
    fn handle_request<'life0, 'life1, 'async_trait, R, T>(
        &'life0 self,
        request: &'life1 Request,
        response_handle: R,
    ) -> Pin<Box<dyn Future<Output = ResponseInfo> + Send + 'async_trait>>
    where
        R: 'async_trait + ResponseHandler,
        T: 'async_trait + Time,
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(self.respond(request, response_handle))
    }
}

impl SimHandler {
    async fn respond<R: ResponseHandler>(&self, request: &Request, handle: R) -> ResponseInfo {
        let udp_limit = request.max_payload().min(MAX_UDP_PAYLOAD);
        let response_edns = request.edns.as_ref().map(|query_edns| {
            let mut edns = Edns::new();
            edns.set_max_payload(udp_limit);
            edns.set_version(0);
            // RFC 3225 §3: the DO bit is copied into the response.
            edns.set_dnssec_ok(query_edns.flags().dnssec_ok);
            edns
        });
        let answer = self.answer(request);
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = answer.authoritative;
        metadata.recursion_available = false;
        metadata.response_code = answer.rcode;

        let builder = MessageResponseBuilder::new(&request.queries, response_edns.as_ref());
        let fits = request.protocol() != Protocol::Udp
            || fits_in(
                request,
                &answer,
                metadata,
                response_edns.as_ref(),
                udp_limit,
            );
        let result = if fits {
            let response = builder.build(
                metadata,
                answer.answers.iter(),
                answer.authorities.iter(),
                std::iter::empty::<&Record>(),
                std::iter::empty::<&Record>(),
            );
            send(handle, response).await
        } else {
            // Too big for this client over UDP: an empty reply with TC makes it retry over TCP.
            metadata.truncation = true;
            send(handle, builder.build_no_records(metadata)).await
        };
        result.unwrap_or_else(|error| {
            warn!(%error, src = %request.src(), "could not send a DNS reply");
            let mut metadata = metadata;
            metadata.response_code = ResponseCode::ServFail;
            ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            })
        })
    }

    /// The answer to the request, or the error that replaces it.
    fn answer(&self, request: &Request) -> Answer {
        let error = |rcode| Answer {
            rcode,
            ..Answer::refused()
        };
        if request.metadata.message_type != MessageType::Query {
            return error(ResponseCode::FormErr);
        }
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

/// Whether the full reply fits `limit` bytes (encoded once into a scratch buffer to find out).
fn fits_in(
    request: &Request,
    answer: &Answer,
    metadata: Metadata,
    edns: Option<&Edns>,
    limit: u16,
) -> bool {
    let response = MessageResponseBuilder::new(&request.queries, edns).build(
        metadata,
        answer.answers.iter(),
        answer.authorities.iter(),
        std::iter::empty::<&Record>(),
        std::iter::empty::<&Record>(),
    );
    let mut buffer = Vec::with_capacity(usize::from(limit));
    let mut encoder = BinEncoder::new(&mut buffer);
    encoder.set_max_size(limit);
    matches!(response.destructive_emit(&mut encoder), Ok(header) if !header.truncation)
}

async fn send<'a, R: ResponseHandler>(
    mut handle: R,
    response: hickory_server::zone_handler::MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
) -> Result<ResponseInfo, hickory_server::net::NetError> {
    handle.send_response(response).await
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::{SystemTime, UNIX_EPOCH};

    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::rdata::TXT;
    use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
    use hickory_proto::rr::{DNSClass, Name, RData, RecordType, TSigner};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::time::timeout;

    use super::*;
    use crate::csc::model::{Record as CscRecord, Soa};

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
            soa: Some(Soa {
                serial: 1,
                refresh: 3600,
                retry: 600,
                expire: 1_209_600,
                ttl_min: 300,
                ttl_neg: 300,
                ttl_zone: 300,
                tech_email: "hostmaster@example.com".into(),
                master_host: "ns1.example.com".into(),
            }),
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
