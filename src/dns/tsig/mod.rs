//! TSIG (RFC 8945) on raw message bytes, socket-free: verify a request, sign its reply.
//!
//! The gateway hands [`verify`] the request exactly as received and gets a [`TsigVerdict`]. The
//! verdict says whether to process the message ([`TsigVerdict::Unsigned`],
//! [`TsigVerdict::Signed`]) or which error to answer, and [`TsigVerdict::seal`] turns the reply the
//! gateway built into the bytes to send: signed, carrying an unsigned error TSIG, or untouched.
//!
//! Checks run in RFC 8945 §5.2 order: placement and format (FORMERR), key and algorithm (BADKEY),
//! MAC length bounds of §5.2.2.1 (FORMERR), MAC (BADSIG), time (BADTIME), truncation policy
//! (BADTRUNC). Names are matched case-insensitively and hashed in canonical lower case, but the
//! request's own spelling of the key and algorithm names is echoed in the reply.
//!
//! hickory-proto has a TSIG signer, but it covers only SHA-256/384/512, matches algorithm names
//! case-sensitively and mishandles BADTIME, so this layer is ours.

mod client;
mod keyring;
mod mac;
mod name;
mod sign;
mod verify;
mod wire;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use hickory_proto::op::ResponseCode;

use crate::config::TsigAlgorithm;

pub use client::{ClientKey, ReplyError, ReplyTsig, SignedRequest, sign_request, verify_reply};
pub use keyring::{KeyRing, TruncationPolicy, TsigKey};
pub use sign::{append_unsigned_error, sign_reply, unsigned_error_tsig};
pub use verify::verify;

/// TSIG error codes (RFC 8945 §3) that the gateway sends or receives in the TSIG Error field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum TsigError {
    /// No error: the normal signed reply.
    NoError = 0,
    /// The MAC did not verify (sent in an unsigned reply).
    BadSig = 16,
    /// Unknown key, or a known key with another algorithm (sent in an unsigned reply).
    BadKey = 17,
    /// Time Signed outside the fudge window (sent in a signed reply with the server's time).
    BadTime = 18,
    /// A MAC truncated below the local policy (sent in a signed reply).
    BadTrunc = 22,
}

impl TsigError {
    /// The 16-bit code on the wire.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The error for a wire code, if it is one of ours.
    pub fn from_code(code: u16) -> Option<Self> {
        [
            Self::NoError,
            Self::BadSig,
            Self::BadKey,
            Self::BadTime,
            Self::BadTrunc,
        ]
        .into_iter()
        .find(|e| e.code() == code)
    }

    /// Whether a reply carrying this error is signed (RFC 8945 §5.3.2): only when the request's
    /// MAC verified, i.e. not for BADKEY and BADSIG.
    pub fn reply_is_signed(self) -> bool {
        !matches!(self, Self::BadSig | Self::BadKey)
    }
}

/// Why a message was answered FORMERR by the TSIG layer. Safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormErrReason {
    #[error("the message is truncated or malformed ({0})")]
    Malformed(&'static str),
    #[error("a TSIG record is not the last record of the additional section, or there are several")]
    TsigNotLast,
    #[error("the TSIG record data is malformed ({0})")]
    BadRdata(&'static str),
    #[error("the TSIG record has class {class} and TTL {ttl}, expected class ANY and TTL 0")]
    BadClassOrTtl { class: u16, ttl: u32 },
    #[error("MAC of {len} bytes for {algorithm}: allowed {min}..={max} (RFC 8945 §5.2.2.1)")]
    MacSize {
        algorithm: TsigAlgorithm,
        len: usize,
        min: usize,
        max: usize,
    },
}

/// Why a message carrying another kind of transaction signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefusedReason {
    #[error("SIG(0) signatures are not supported")]
    Sig0,
    #[error("TKEY (GSS-TSIG) is not supported")]
    Tkey,
}

/// The request's TSIG record as received, with the names in their original spelling.
///
/// Holds no secret; enough to build the unsigned BADKEY/BADSIG error record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTsig {
    /// Owner name (the key name) in uncompressed wire form, letter case as sent.
    key_name_wire: Vec<u8>,
    /// Algorithm name in uncompressed wire form, letter case as sent.
    algorithm_wire: Vec<u8>,
    time_signed: u64,
    fudge: u16,
    mac: Vec<u8>,
    original_id: u16,
    error: u16,
    other: Vec<u8>,
}

impl RequestTsig {
    /// The key name as sent, in presentation form (for logs), e.g. `Acme-Client.`.
    pub fn key_name(&self) -> String {
        name::to_text(&self.key_name_wire)
    }

    /// The algorithm name as sent, in presentation form, e.g. `HMAC-MD5.SIG-ALG.REG.INT.`.
    pub fn algorithm_name(&self) -> String {
        name::to_text(&self.algorithm_wire)
    }

    /// The key name in uncompressed wire form, exactly as the client spelled it.
    pub fn key_name_wire(&self) -> &[u8] {
        &self.key_name_wire
    }

    /// The algorithm name in uncompressed wire form, exactly as the client spelled it.
    pub fn algorithm_wire(&self) -> &[u8] {
        &self.algorithm_wire
    }

    /// The client's Time Signed (seconds since the epoch, 48 bits).
    pub fn time_signed(&self) -> u64 {
        self.time_signed
    }

    /// The client's allowed clock skew, in seconds.
    pub fn fudge(&self) -> u16 {
        self.fudge
    }

    /// The request's MAC as received (possibly truncated); replies chain to it, and together
    /// with the key name it identifies a replayed message.
    pub fn mac(&self) -> &[u8] {
        &self.mac
    }

    /// The message ID the client signed.
    pub fn original_id(&self) -> u16 {
        self.original_id
    }

    /// The key name in canonical form (lower case, final dot), as the key ring stores it.
    pub fn canonical_key_name(&self) -> String {
        name::to_text(&self.key_name_wire.to_ascii_lowercase())
    }
}

/// A request whose key and MAC verified: what the reply's signature needs.
///
/// `Debug` shows the key's name and algorithm, never its secrets.
#[derive(Debug, Clone)]
pub struct TsigContext {
    request: RequestTsig,
    key: Arc<TsigKey>,
    /// Index into the key's secrets of the one that verified the request: during a rotation the
    /// reply must be signed with the secret the client has.
    secret_index: usize,
}

impl TsigContext {
    /// The request's TSIG record.
    pub fn request(&self) -> &RequestTsig {
        &self.request
    }

    /// The key that verified the request (its grant is looked up by [`TsigKey::name`]).
    pub fn key(&self) -> &TsigKey {
        &self.key
    }

    /// Which of the key's secrets verified the request (0 = the first, the current one).
    pub fn secret_index(&self) -> usize {
        self.secret_index
    }

    fn secret(&self) -> &[u8] {
        self.key.secret(self.secret_index).unwrap_or_default()
    }
}

/// The outcome of [`verify`] for one request.
#[derive(Debug, Clone)]
pub enum TsigVerdict {
    /// No TSIG record: process the request, reply unsigned.
    Unsigned,
    /// Key, MAC, time and truncation are good: process the request, sign the reply.
    Signed(TsigContext),
    /// FORMERR, unsigned, without a TSIG record.
    FormErr(FormErrReason),
    /// SIG(0) or TKEY: REFUSED, unsigned (never processed as if unsigned).
    Refused(RefusedReason),
    /// Unknown key, or the key's algorithm differs: NOTAUTH with an unsigned BADKEY TSIG.
    BadKey(RequestTsig),
    /// The MAC matches none of the key's secrets: NOTAUTH with an unsigned BADSIG TSIG.
    BadSig(RequestTsig),
    /// Time Signed outside ± fudge of our clock: NOTAUTH, signed, BADTIME with our time.
    BadTime(TsigContext),
    /// A permitted but locally too short MAC: NOTAUTH, signed, BADTRUNC.
    BadTrunc(TsigContext),
}

impl TsigVerdict {
    /// The response code to answer with instead of processing the request, or `None` when the
    /// request may be processed ([`Unsigned`](Self::Unsigned), [`Signed`](Self::Signed)).
    pub fn error_rcode(&self) -> Option<ResponseCode> {
        match self {
            TsigVerdict::Unsigned | TsigVerdict::Signed(_) => None,
            TsigVerdict::FormErr(_) => Some(ResponseCode::FormErr),
            TsigVerdict::Refused(_) => Some(ResponseCode::Refused),
            TsigVerdict::BadKey(_)
            | TsigVerdict::BadSig(_)
            | TsigVerdict::BadTime(_)
            | TsigVerdict::BadTrunc(_) => Some(ResponseCode::NotAuth),
        }
    }

    /// The TSIG error code of the verdict, if it has one.
    pub fn tsig_error(&self) -> Option<TsigError> {
        match self {
            TsigVerdict::Signed(_) => Some(TsigError::NoError),
            TsigVerdict::BadKey(_) => Some(TsigError::BadKey),
            TsigVerdict::BadSig(_) => Some(TsigError::BadSig),
            TsigVerdict::BadTime(_) => Some(TsigError::BadTime),
            TsigVerdict::BadTrunc(_) => Some(TsigError::BadTrunc),
            TsigVerdict::Unsigned | TsigVerdict::FormErr(_) | TsigVerdict::Refused(_) => None,
        }
    }

    /// The request's TSIG record, when it had a well-formed one.
    pub fn request_tsig(&self) -> Option<&RequestTsig> {
        match self {
            TsigVerdict::Signed(ctx) | TsigVerdict::BadTime(ctx) | TsigVerdict::BadTrunc(ctx) => {
                Some(ctx.request())
            }
            TsigVerdict::BadKey(req) | TsigVerdict::BadSig(req) => Some(req),
            TsigVerdict::Unsigned | TsigVerdict::FormErr(_) | TsigVerdict::Refused(_) => None,
        }
    }

    /// Finishes `reply` (a complete message without TSIG, with the right rcode already set) as
    /// the verdict requires: signed for `Signed`, `BadTime` and `BadTrunc`; with an unsigned
    /// error TSIG for `BadKey` and `BadSig`; unchanged for the rest.
    pub fn seal(&self, reply: &[u8], now_unix: u64) -> Result<Vec<u8>, SignError> {
        match self {
            TsigVerdict::Signed(ctx) => sign_reply(reply, ctx, TsigError::NoError, now_unix),
            TsigVerdict::BadTime(ctx) => sign_reply(reply, ctx, TsigError::BadTime, now_unix),
            TsigVerdict::BadTrunc(ctx) => sign_reply(reply, ctx, TsigError::BadTrunc, now_unix),
            TsigVerdict::BadKey(req) => {
                append_unsigned_error(reply, req, TsigError::BadKey, now_unix)
            }
            TsigVerdict::BadSig(req) => {
                append_unsigned_error(reply, req, TsigError::BadSig, now_unix)
            }
            TsigVerdict::Unsigned | TsigVerdict::FormErr(_) | TsigVerdict::Refused(_) => {
                Ok(reply.to_vec())
            }
        }
    }
}

/// Why a TSIG record could not be added to a message we built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("the message is shorter than a DNS header")]
    ShortMessage,
    #[error("the message already has 65535 additional records")]
    TooManyRecords,
    #[error("TSIG error {0:?} is answered unsigned; use append_unsigned_error")]
    MustBeUnsigned(TsigError),
    #[error("`{0}` is not a valid domain name")]
    BadName(String),
    #[error("MAC length {len} not allowed for {algorithm} (RFC 8945 §5.2.2.1)")]
    BadMacLength {
        algorithm: TsigAlgorithm,
        len: usize,
    },
}
