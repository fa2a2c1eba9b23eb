//! Signing replies (RFC 8945 §4.3.2, §5.3) and the unsigned error TSIG of §5.3.2.
//!
//! Replies echo the request's key and algorithm names byte for byte and always carry the full
//! MAC. The MAC chains to the request's MAC as received (truncated or not).

use super::wire::{self, TsigFields};
use super::{RequestTsig, SignError, TsigContext, TsigError};

/// Time Signed is 48 bits.
const TIME_MASK: u64 = (1 << 48) - 1;

/// Appends a signed TSIG record to `reply` (a complete message without TSIG) and increments
/// ARCOUNT.
///
/// The MAC covers the request MAC (length and bytes), the reply, and the TSIG variables, with
/// the secret that verified the request (during a rotation the client may have only the old
/// one). Time Signed is `now_unix`, except for BADTIME (RFC 8945 §5.2.3): Time Signed is then
/// the request's and Other Data is our time in 6 bytes, so that the client can verify the reply
/// despite the skew (nsupdate then reports "clocks are unsynchronized"; with a bad MAC it would
/// say "tsig verify failure"). Fudge is always the request's. Errors that are answered unsigned (BADSIG,
/// BADKEY) are refused with [`SignError::MustBeUnsigned`].
pub fn sign_reply(
    reply: &[u8],
    ctx: &TsigContext,
    error: TsigError,
    now_unix: u64,
) -> Result<Vec<u8>, SignError> {
    if !error.reply_is_signed() {
        return Err(SignError::MustBeUnsigned(error));
    }
    let original_id = wire::message_id(reply).ok_or(SignError::ShortMessage)?;
    let request = ctx.request();
    let now = now_unix & TIME_MASK;
    let (time_signed, other) = match error {
        TsigError::BadTime => (request.time_signed, u48(now).to_vec()),
        _ => (now, Vec::new()),
    };
    let mut fields = TsigFields {
        algorithm: &request.algorithm_wire,
        time_signed,
        fudge: request.fudge,
        mac: &[],
        original_id,
        error: error.code(),
        other: &other,
    };
    let canonical_algorithm = request.algorithm_wire.to_ascii_lowercase();
    let variables = wire::variables(
        &request.key_name_wire.to_ascii_lowercase(),
        &TsigFields {
            algorithm: &canonical_algorithm,
            ..fields
        },
    );
    let mac = super::mac::compute(
        ctx.key().algorithm(),
        ctx.secret(),
        &[&mac_length(&request.mac), &request.mac, reply, &variables],
    );
    fields.mac = &mac;
    wire::append_record(reply, &wire::record(&request.key_name_wire, &fields))
}

/// The unsigned error TSIG record for a BADKEY or BADSIG reply (RFC 8945 §5.3.2): the request's
/// key and algorithm names as sent, MAC size 0, the error code, our time, the request's fudge.
///
/// `original_id` is the reply's message ID. Both clients read the error field without trying to
/// verify the empty MAC (checked in `tests/tsig_interop.rs`): BIND 9.18's nsupdate prints
/// `; TSIG error with server: tsig indicates error` and `update failed: NOTAUTH(BADSIG)` (or
/// `BADKEY`); dnspython 2.9 raises `PeerBadSignature` / `PeerBadKey`. A reply without any TSIG
/// would instead look like an unsigned answer to a signed request, fatal to nsupdate.
pub fn unsigned_error_tsig(
    request: &RequestTsig,
    error: TsigError,
    original_id: u16,
    now_unix: u64,
) -> Vec<u8> {
    wire::record(
        &request.key_name_wire,
        &TsigFields {
            algorithm: &request.algorithm_wire,
            time_signed: now_unix & TIME_MASK,
            fudge: request.fudge,
            mac: &[],
            original_id,
            error: error.code(),
            other: &[],
        },
    )
}

/// `reply` with the [`unsigned_error_tsig`] appended and ARCOUNT incremented.
pub fn append_unsigned_error(
    reply: &[u8],
    request: &RequestTsig,
    error: TsigError,
    now_unix: u64,
) -> Result<Vec<u8>, SignError> {
    let id = wire::message_id(reply).ok_or(SignError::ShortMessage)?;
    wire::append_record(reply, &unsigned_error_tsig(request, error, id, now_unix))
}

/// The 2-byte length that precedes the request MAC in a reply's digest.
pub(crate) fn mac_length(mac: &[u8]) -> [u8; 2] {
    u16::try_from(mac.len()).unwrap_or(u16::MAX).to_be_bytes()
}

fn u48(value: u64) -> [u8; 6] {
    let b = value.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}
