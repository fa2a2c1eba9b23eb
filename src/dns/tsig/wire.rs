//! Finding the TSIG record in a raw message, and writing TSIG records and digest inputs.
//!
//! The scan walks every section with bounds-checked reads only: it must survive any bytes a
//! network peer can send. It records where the TSIG record starts, because the MAC covers the
//! message bytes before it (RFC 8945 §4.3.1).

use super::name::{self, NameError};
use super::{FormErrReason, RefusedReason, RequestTsig};

/// Length of the DNS header.
pub(crate) const HEADER_LEN: usize = 12;
/// RR type SIG, as used by SIG(0) (RFC 2931).
const TYPE_SIG: u16 = 24;
/// RR type TKEY (RFC 2930).
const TYPE_TKEY: u16 = 249;
/// RR type TSIG.
pub(crate) const TYPE_TSIG: u16 = 250;
/// Class ANY, the only class a TSIG record may have.
pub(crate) const CLASS_ANY: u16 = 255;

/// What the scan found.
#[derive(Debug)]
pub(crate) struct Scan {
    /// The TSIG record and the offset where it starts, when the message has one.
    pub tsig: Option<(RequestTsig, usize)>,
    /// SIG(0) or TKEY seen: the message must be refused.
    pub refused: Option<RefusedReason>,
}

/// Bounds-checked big-endian reads.
struct Reader<'a> {
    msg: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let slice = self.msg.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(slice)
    }

    fn u16(&mut self) -> Option<u16> {
        self.bytes(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.bytes(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u48(&mut self) -> Option<u64> {
        self.bytes(6).map(|b| {
            b.iter()
                .fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte))
        })
    }

    fn name(&mut self) -> Result<Vec<u8>, NameError> {
        let (name, next) = name::read(self.msg, self.pos)?;
        self.pos = next;
        Ok(name)
    }
}

const TRUNCATED: FormErrReason = FormErrReason::Malformed("message ends inside a record");

fn malformed_name(err: NameError) -> FormErrReason {
    FormErrReason::Malformed(match err {
        NameError::Truncated => "name runs past the end",
        NameError::BadPointer => "bad compression pointer",
        NameError::BadLabelType => "unknown label type",
        NameError::TooLong => "name longer than 255 bytes",
    })
}

/// The four section counts of the header.
fn counts(msg: &[u8]) -> Option<[u16; 4]> {
    let h = msg.get(..HEADER_LEN)?;
    Some([
        u16::from_be_bytes([h[4], h[5]]),
        u16::from_be_bytes([h[6], h[7]]),
        u16::from_be_bytes([h[8], h[9]]),
        u16::from_be_bytes([h[10], h[11]]),
    ])
}

/// Walks the whole message and locates TSIG, SIG(0) and TKEY records.
///
/// A TSIG record anywhere but last in the additional section, or followed by more bytes, is
/// FORMERR (RFC 8945 §5.2). Bytes after the last record of an unsigned message are left to the
/// DNS parser: they are not this layer's business.
pub(crate) fn scan(msg: &[u8]) -> Result<Scan, FormErrReason> {
    let [qd, an, ns, ar] =
        counts(msg).ok_or(FormErrReason::Malformed("shorter than a DNS header"))?;
    let mut reader = Reader {
        msg,
        pos: HEADER_LEN,
    };
    let mut refused = None;
    for _ in 0..qd {
        reader.name().map_err(malformed_name)?;
        let qtype = reader.u16().ok_or(TRUNCATED)?;
        reader.u16().ok_or(TRUNCATED)?;
        if qtype == TYPE_TKEY {
            refused = Some(RefusedReason::Tkey);
        }
    }
    let total = u32::from(an) + u32::from(ns) + u32::from(ar);
    let additional_from = u32::from(an) + u32::from(ns);
    let mut tsig = None;
    for index in 0..total {
        let start = reader.pos;
        let owner = reader.name().map_err(malformed_name)?;
        let rtype = reader.u16().ok_or(TRUNCATED)?;
        let class = reader.u16().ok_or(TRUNCATED)?;
        let ttl = reader.u32().ok_or(TRUNCATED)?;
        let rdlen = reader.u16().ok_or(TRUNCATED)?;
        let rdata_start = reader.pos;
        reader.bytes(usize::from(rdlen)).ok_or(TRUNCATED)?;
        let in_additional = index >= additional_from;
        match rtype {
            TYPE_TSIG => {
                if index + 1 != total || !in_additional {
                    return Err(FormErrReason::TsigNotLast);
                }
                if class != CLASS_ANY || ttl != 0 {
                    return Err(FormErrReason::BadClassOrTtl { class, ttl });
                }
                let rdata = RdataSpan {
                    start: rdata_start,
                    end: reader.pos,
                };
                tsig = Some((parse_rdata(msg, owner, rdata)?, start));
            }
            TYPE_TKEY => refused = Some(RefusedReason::Tkey),
            TYPE_SIG if in_additional => refused = refused.or(Some(RefusedReason::Sig0)),
            _ => {}
        }
    }
    if tsig.is_some() && reader.pos != msg.len() {
        return Err(FormErrReason::TsigNotLast);
    }
    Ok(Scan { tsig, refused })
}

/// Where a record's data lies in the message.
#[derive(Clone, Copy)]
struct RdataSpan {
    start: usize,
    end: usize,
}

/// Parses TSIG RDATA (RFC 8945 §4.2). The algorithm name should not be compressed; a pointer is
/// tolerated since the MAC uses the canonical expanded form either way.
fn parse_rdata(msg: &[u8], owner: Vec<u8>, span: RdataSpan) -> Result<RequestTsig, FormErrReason> {
    const SHORT: FormErrReason = FormErrReason::BadRdata("too short");
    // Names may point before the record, so read within the whole message and check the end.
    let mut reader = Reader {
        msg: msg.get(..span.end).ok_or(SHORT)?,
        pos: span.start,
    };
    let algorithm = reader
        .name()
        .map_err(|_| FormErrReason::BadRdata("bad algorithm name"))?;
    let time_signed = reader.u48().ok_or(SHORT)?;
    let fudge = reader.u16().ok_or(SHORT)?;
    let mac_len = reader.u16().ok_or(SHORT)?;
    let mac = reader.bytes(usize::from(mac_len)).ok_or(SHORT)?.to_vec();
    let original_id = reader.u16().ok_or(SHORT)?;
    let error = reader.u16().ok_or(SHORT)?;
    let other_len = reader.u16().ok_or(SHORT)?;
    let other = reader.bytes(usize::from(other_len)).ok_or(SHORT)?.to_vec();
    if reader.pos != span.end {
        return Err(FormErrReason::BadRdata("bytes after Other Data"));
    }
    Ok(RequestTsig {
        key_name_wire: owner,
        algorithm_wire: algorithm,
        time_signed,
        fudge,
        mac,
        original_id,
        error,
        other,
    })
}

/// The message as the sender signed it: without the TSIG record at `tsig_start`, ARCOUNT one
/// less, and the ID replaced by the TSIG's Original ID (RFC 8945 §4.3.1, §4.3.3).
pub(crate) fn unsigned_part(msg: &[u8], tsig_start: usize, original_id: u16) -> Option<Vec<u8>> {
    let mut out = msg.get(..tsig_start)?.to_vec();
    let arcount = u16::from_be_bytes([*out.get(10)?, *out.get(11)?]).checked_sub(1)?;
    out.get_mut(0..2)?
        .copy_from_slice(&original_id.to_be_bytes());
    out.get_mut(10..12)?.copy_from_slice(&arcount.to_be_bytes());
    Some(out)
}

/// The values of a TSIG record other than its owner name.
pub(crate) struct TsigFields<'a> {
    /// Algorithm name, uncompressed wire form.
    pub algorithm: &'a [u8],
    pub time_signed: u64,
    pub fudge: u16,
    pub mac: &'a [u8],
    pub original_id: u16,
    pub error: u16,
    pub other: &'a [u8],
}

/// Time Signed is 48 bits on the wire.
fn u48_bytes(value: u64) -> [u8; 6] {
    let b = value.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

/// The TSIG variables of RFC 8945 §4.3.3, which the MAC covers after the message.
///
/// `key_name` and the algorithm name must already be canonical (lower case, uncompressed).
pub(crate) fn variables(key_name: &[u8], fields: &TsigFields<'_>) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(key_name.len() + fields.algorithm.len() + 22 + fields.other.len());
    out.extend_from_slice(key_name);
    out.extend_from_slice(&CLASS_ANY.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(fields.algorithm);
    out.extend_from_slice(&u48_bytes(fields.time_signed));
    out.extend_from_slice(&fields.fudge.to_be_bytes());
    out.extend_from_slice(&fields.error.to_be_bytes());
    out.extend_from_slice(&other_len(fields.other).to_be_bytes());
    out.extend_from_slice(fields.other);
    out
}

/// Other Data comes from us (empty or 6 bytes) or from a parsed record, so it always fits.
fn other_len(other: &[u8]) -> u16 {
    u16::try_from(other.len()).unwrap_or(u16::MAX)
}

/// A whole TSIG resource record, owner name uncompressed.
pub(crate) fn record(owner: &[u8], fields: &TsigFields<'_>) -> Vec<u8> {
    let mac_len = u16::try_from(fields.mac.len()).unwrap_or(u16::MAX);
    let rdlen = fields.algorithm.len() + 16 + fields.mac.len() + fields.other.len();
    let mut out = Vec::with_capacity(owner.len() + 10 + rdlen);
    out.extend_from_slice(owner);
    out.extend_from_slice(&TYPE_TSIG.to_be_bytes());
    out.extend_from_slice(&CLASS_ANY.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&u16::try_from(rdlen).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(fields.algorithm);
    out.extend_from_slice(&u48_bytes(fields.time_signed));
    out.extend_from_slice(&fields.fudge.to_be_bytes());
    out.extend_from_slice(&mac_len.to_be_bytes());
    out.extend_from_slice(fields.mac);
    out.extend_from_slice(&fields.original_id.to_be_bytes());
    out.extend_from_slice(&fields.error.to_be_bytes());
    out.extend_from_slice(&other_len(fields.other).to_be_bytes());
    out.extend_from_slice(fields.other);
    out
}

/// The message ID in the header (`None` if shorter than a header).
pub(crate) fn message_id(msg: &[u8]) -> Option<u16> {
    msg.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

/// `msg` with `rr` appended to the additional section and ARCOUNT incremented.
pub(crate) fn append_record(msg: &[u8], rr: &[u8]) -> Result<Vec<u8>, super::SignError> {
    let [_, _, _, ar] = counts(msg).ok_or(super::SignError::ShortMessage)?;
    let ar = ar.checked_add(1).ok_or(super::SignError::TooManyRecords)?;
    let mut out = Vec::with_capacity(msg.len() + rr.len());
    out.extend_from_slice(msg);
    out[10..12].copy_from_slice(&ar.to_be_bytes());
    out.extend_from_slice(rr);
    Ok(out)
}
