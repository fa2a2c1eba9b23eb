//! Verifying a request's TSIG (RFC 8945 §5.2), in the RFC's order.

use super::keyring::{KeyRing, TruncationPolicy};
use super::wire::{self, TsigFields};
use super::{FormErrReason, RequestTsig, TsigContext, TsigVerdict, mac};
use crate::config::TsigAlgorithm;

/// Time Signed is 48 bits: a clock beyond that wraps the same way the client's does.
const TIME_MASK: u64 = (1 << 48) - 1;

/// The widest clock skew accepted, in seconds, whatever fudge a client asks for (every stock
/// client asks for 300). It bounds how long a captured message stays valid.
pub const MAX_FUDGE: u16 = 300;

/// Verifies the TSIG of `request` (the raw bytes as received) against `keyring` at `now_unix`.
///
/// Order (RFC 8945 §5.2): placement and format → SIG(0)/TKEY → key and algorithm (BADKEY) →
/// MAC length bounds of §5.2.2.1 (FORMERR) → MAC against each secret (BADSIG) → time, with the
/// request's fudge capped at [`MAX_FUDGE`] (BADTIME) → truncation policy (BADTRUNC). The length bounds need the
/// algorithm, so they come after the key check, and they must pass before a MAC is compared.
///
/// The RFC also suggests (SHOULD) refusing a Time Signed older than the last one seen for the
/// key; we do not, because concurrent clients sharing a key legitimately arrive out of order.
/// Replays inside the window are the replay cache's job.
pub fn verify(request: &[u8], keyring: &KeyRing, now_unix: u64) -> TsigVerdict {
    let scan = match wire::scan(request) {
        Ok(scan) => scan,
        Err(reason) => return TsigVerdict::FormErr(reason),
    };
    if let Some(reason) = scan.refused {
        return TsigVerdict::Refused(reason);
    }
    let Some((tsig, tsig_start)) = scan.tsig else {
        return TsigVerdict::Unsigned;
    };

    let Some(key) = keyring.get_wire(&tsig.key_name_wire).cloned() else {
        return TsigVerdict::BadKey(tsig);
    };
    if algorithm_of(&tsig.algorithm_wire) != Some(key.algorithm()) {
        return TsigVerdict::BadKey(tsig);
    }
    let algorithm = key.algorithm();

    let (min, max) = (mac::min_len(algorithm), algorithm.mac_len());
    if !(min..=max).contains(&tsig.mac.len()) {
        return TsigVerdict::FormErr(FormErrReason::MacSize {
            algorithm,
            len: tsig.mac.len(),
            min,
            max,
        });
    }

    let Some(signed) = wire::unsigned_part(request, tsig_start, tsig.original_id) else {
        return TsigVerdict::FormErr(FormErrReason::Malformed("no room for the TSIG record"));
    };
    let variables = request_variables(&tsig);
    let matched = key.secrets().position(|secret| {
        let computed = mac::compute(algorithm, secret, &[&signed, &variables]);
        mac::matches(&computed, &tsig.mac)
    });
    let Some(secret_index) = matched else {
        return TsigVerdict::BadSig(tsig);
    };

    let truncated = tsig.mac.len() < max;
    // The window is the client's fudge, capped so a replayed message can never outlive the
    // replay cache (which keeps answers for 2 × MAX_FUDGE).
    let fudge = tsig.fudge.min(MAX_FUDGE);
    let in_window = (now_unix & TIME_MASK).abs_diff(tsig.time_signed) <= u64::from(fudge);
    let ctx = TsigContext {
        request: tsig,
        key,
        secret_index,
    };
    if !in_window {
        return TsigVerdict::BadTime(ctx);
    }
    if truncated && keyring.truncation() == TruncationPolicy::FullLength {
        return TsigVerdict::BadTrunc(ctx);
    }
    TsigVerdict::Signed(ctx)
}

/// The algorithm an on-the-wire algorithm name stands for, in any letter case.
///
/// Only the registered names match (`hmac-md5.sig-alg.reg.int.`, `hmac-sha256.`, …): the
/// config-file shorthands that [`TsigAlgorithm::from_name`] also accepts are not wire names.
pub(crate) fn algorithm_of(wire_name: &[u8]) -> Option<TsigAlgorithm> {
    let text = super::name::to_text(wire_name);
    TsigAlgorithm::ALL
        .into_iter()
        .find(|alg| alg.wire_name().eq_ignore_ascii_case(&text))
}

/// A TSIG record's variables with both names canonical (RFC 8945 §4.3.3), as a request's or a
/// reply's MAC covers them.
pub(super) fn request_variables(tsig: &RequestTsig) -> Vec<u8> {
    let algorithm = tsig.algorithm_wire.to_ascii_lowercase();
    wire::variables(
        &tsig.key_name_wire.to_ascii_lowercase(),
        &TsigFields {
            algorithm: &algorithm,
            time_signed: tsig.time_signed,
            fudge: tsig.fudge,
            mac: &[],
            original_id: tsig.original_id,
            error: tsig.error,
            other: &tsig.other,
        },
    )
}
