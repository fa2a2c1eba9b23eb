//! Building reply bytes: header and records through hickory's encoder, EDNS only when asked,
//! and truncation (TC) when a UDP reply would not fit the client's size.

use hickory_proto::op::{Edns, Metadata, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use hickory_server::zone_handler::MessageResponseBuilder;

/// Largest UDP reply we send, whatever the client advertises.
pub const MAX_UDP_PAYLOAD: u16 = 4096;

/// The EDNS record of the reply: present only when the request had one (RFC 6891 §6.1.1).
pub fn reply_edns(request: &Request) -> Option<Edns> {
    request.edns.as_ref().map(|query_edns| {
        let mut edns = Edns::new();
        edns.set_max_payload(udp_limit(request));
        edns.set_version(0);
        // RFC 3225 §3: the DO bit is copied into the response.
        edns.set_dnssec_ok(query_edns.flags().dnssec_ok);
        edns
    })
}

/// The largest reply the client accepts over UDP (512 without EDNS).
pub fn udp_limit(request: &Request) -> u16 {
    request.max_payload().min(MAX_UDP_PAYLOAD)
}

/// Encodes a reply with `metadata` and records. Over UDP, a reply larger than the client's
/// size is replaced by an empty one with TC set, so the client retries over TCP. `reserve`
/// leaves room for a TSIG record that will be appended.
pub fn encode(
    request: &Request,
    metadata: Metadata,
    answers: &[Record],
    authorities: &[Record],
    reserve: usize,
) -> Vec<u8> {
    let edns = reply_edns(request);
    let limit = match request.protocol() {
        Protocol::Udp => usize::from(udp_limit(request)).saturating_sub(reserve),
        _ => usize::from(u16::MAX),
    };
    let full = emit(request, metadata, answers, authorities, edns.as_ref());
    if full.len() <= limit {
        return full;
    }
    let mut truncated = metadata;
    truncated.truncation = true;
    emit(request, truncated, &[], &[], edns.as_ref())
}

fn emit(
    request: &Request,
    metadata: Metadata,
    answers: &[Record],
    authorities: &[Record],
    edns: Option<&Edns>,
) -> Vec<u8> {
    let response = MessageResponseBuilder::new(&request.queries, edns).build(
        metadata,
        answers.iter(),
        authorities.iter(),
        std::iter::empty::<&Record>(),
        std::iter::empty::<&Record>(),
    );
    let mut buffer = Vec::with_capacity(512);
    let mut encoder = BinEncoder::new(&mut buffer);
    match response.destructive_emit(&mut encoder) {
        Ok(_) => buffer,
        Err(err) => {
            tracing::error!(error = %err, "cannot encode a reply; answering SERVFAIL");
            let mut metadata = metadata;
            metadata.response_code = ResponseCode::ServFail;
            header_only(request.metadata.id, metadata)
        }
    }
}

/// A bare 12-byte reply header for `metadata` (no sections), e.g. when a request cannot be
/// parsed beyond its header.
pub fn header_only(id: u16, metadata: Metadata) -> Vec<u8> {
    let mut header = vec![0u8; 12];
    header[0..2].copy_from_slice(&id.to_be_bytes());
    let op: u8 = u8::from(metadata.op_code) & 0x0f;
    header[2] = 0x80
        | (op << 3)
        | u8::from(metadata.authoritative) << 2
        | u8::from(metadata.recursion_desired);
    header[3] = (u16::from(metadata.response_code) & 0x0f) as u8;
    header
}

/// A FORMERR reply to a message whose header parsed but whose body did not.
pub fn formerr_from_raw(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.len() < 12 || raw[2] & 0x80 != 0 {
        // Not even a header, or a response: say nothing (answering responses invites loops).
        return None;
    }
    let mut header = raw[..12].to_vec();
    header[2] = 0x80 | (raw[2] & 0x79); // QR, keep opcode and RD
    header[3] = 0x01; // FORMERR
    header[4..12].fill(0);
    Some(header)
}
