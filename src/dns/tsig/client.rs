//! The client side, for tests and tools: sign a request, check the signed reply.
//!
//! It shares the MAC and record code with the server side, so tests that also run against
//! dnspython and BIND's nsupdate cover both.

use std::fmt;

use super::wire::{self, TsigFields};
use super::{SignError, TsigError, mac, name};
use crate::config::TsigAlgorithm;

/// A key as a client holds it.
#[derive(Clone)]
pub struct ClientKey {
    /// Key name in uncompressed wire form, case as given.
    name: Vec<u8>,
    /// Algorithm name in wire form as it will be sent (certbot sends it upper case).
    algorithm_name: Vec<u8>,
    algorithm: TsigAlgorithm,
    secret: Vec<u8>,
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientKey")
            .field("name", &name::to_text(&self.name))
            .field("algorithm", &name::to_text(&self.algorithm_name))
            .finish_non_exhaustive()
    }
}

impl ClientKey {
    /// A key named `name` (sent in this letter case) using `algorithm`'s registered name.
    pub fn new(name: &str, algorithm: TsigAlgorithm, secret: &[u8]) -> Result<Self, SignError> {
        Ok(ClientKey {
            name: name::from_text(name).ok_or_else(|| SignError::BadName(name.to_owned()))?,
            algorithm_name: name::from_text(algorithm.wire_name())
                .ok_or_else(|| SignError::BadName(algorithm.wire_name().to_owned()))?,
            algorithm,
            secret: secret.to_vec(),
        })
    }

    /// The same key sending another spelling of the algorithm name, e.g.
    /// `HMAC-MD5.SIG-ALG.REG.INT.` as certbot does.
    pub fn with_algorithm_name(mut self, name: &str) -> Result<Self, SignError> {
        self.algorithm_name =
            name::from_text(name).ok_or_else(|| SignError::BadName(name.to_owned()))?;
        Ok(self)
    }
}

/// A signed request and its MAC (the reply's MAC chains to it).
#[derive(Debug, Clone)]
pub struct SignedRequest {
    pub message: Vec<u8>,
    pub mac: Vec<u8>,
}

/// Signs `message` (complete, without TSIG) as a client would (RFC 8945 §4.3.1): appends the
/// TSIG record and increments ARCOUNT. `mac_len` truncates the MAC (`None`: full length).
pub fn sign_request(
    message: &[u8],
    key: &ClientKey,
    time_signed: u64,
    fudge: u16,
    mac_len: Option<usize>,
) -> Result<SignedRequest, SignError> {
    let full = key.algorithm.mac_len();
    let len = mac_len.unwrap_or(full);
    if len > full || len < mac::min_len(key.algorithm) {
        return Err(SignError::BadMacLength {
            algorithm: key.algorithm,
            len,
        });
    }
    let original_id = wire::message_id(message).ok_or(SignError::ShortMessage)?;
    let canonical_algorithm = key.algorithm_name.to_ascii_lowercase();
    let mut fields = TsigFields {
        algorithm: &canonical_algorithm,
        time_signed,
        fudge,
        mac: &[],
        original_id,
        error: 0,
        other: &[],
    };
    let variables = wire::variables(&key.name.to_ascii_lowercase(), &fields);
    let mut computed = mac::compute(key.algorithm, &key.secret, &[message, &variables]);
    computed.truncate(len);
    fields.algorithm = &key.algorithm_name;
    fields.mac = &computed;
    let message = wire::append_record(message, &wire::record(&key.name, &fields))?;
    Ok(SignedRequest {
        message,
        mac: computed,
    })
}

/// What a verified reply's TSIG said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTsig {
    /// The TSIG error code (0, or 18 BADTIME, 22 BADTRUNC for signed error replies).
    pub error: u16,
    pub time_signed: u64,
    pub fudge: u16,
    /// Other Data: the server's time (6 bytes) in a BADTIME reply.
    pub other: Vec<u8>,
    /// The key name as the server spelled it, wire form.
    pub key_name_wire: Vec<u8>,
    /// The algorithm name as the server spelled it, wire form.
    pub algorithm_wire: Vec<u8>,
}

/// Why a reply did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("the reply is malformed: {0}")]
    Malformed(#[from] super::FormErrReason),
    #[error("the reply is not signed")]
    Unsigned,
    #[error("the reply carries an unsigned TSIG error {0}")]
    UnsignedError(u16),
    #[error("the reply is signed with another key or algorithm")]
    OtherKey,
    #[error("the reply's MAC does not verify")]
    BadSig,
    #[error("the reply's time is outside its fudge")]
    BadTime,
}

/// Verifies a reply to a request whose MAC was `request_mac` (RFC 8945 §5.4). The time is not
/// checked for BADTIME replies, whose Time Signed is the client's own.
pub fn verify_reply(
    reply: &[u8],
    request_mac: &[u8],
    key: &ClientKey,
    now_unix: u64,
) -> Result<ReplyTsig, ReplyError> {
    let scan = wire::scan(reply)?;
    let (tsig, start) = scan.tsig.ok_or(ReplyError::Unsigned)?;
    if tsig.mac.is_empty() && tsig.error != 0 {
        return Err(ReplyError::UnsignedError(tsig.error));
    }
    if !tsig.key_name_wire.eq_ignore_ascii_case(&key.name)
        || super::verify::algorithm_of(&tsig.algorithm_wire) != Some(key.algorithm)
    {
        return Err(ReplyError::OtherKey);
    }
    let signed = wire::unsigned_part(reply, start, tsig.original_id).ok_or(
        super::FormErrReason::Malformed("no room for the TSIG record"),
    )?;
    let variables = super::verify::request_variables(&tsig);
    let computed = mac::compute(
        key.algorithm,
        &key.secret,
        &[
            &super::sign::mac_length(request_mac),
            request_mac,
            &signed,
            &variables,
        ],
    );
    if tsig.mac.len() < mac::min_len(key.algorithm) || !mac::matches(&computed, &tsig.mac) {
        return Err(ReplyError::BadSig);
    }
    let skew = now_unix.abs_diff(tsig.time_signed);
    if tsig.error != TsigError::BadTime.code() && skew > u64::from(tsig.fudge) {
        return Err(ReplyError::BadTime);
    }
    Ok(ReplyTsig {
        error: tsig.error,
        time_signed: tsig.time_signed,
        fudge: tsig.fudge,
        other: tsig.other,
        key_name_wire: tsig.key_name_wire,
        algorithm_wire: tsig.algorithm_wire,
    })
}
