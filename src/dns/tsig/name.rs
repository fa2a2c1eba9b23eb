//! Domain names inside raw messages: reading them (compression pointers included), converting
//! between wire and presentation forms.
//!
//! Names are kept in uncompressed wire form with the sender's letter case. Their canonical form
//! (RFC 4034 §6.2) is simply `to_ascii_lowercase` of those bytes: label lengths are at most 63,
//! below `A` (65), so lowering the whole buffer never touches a length byte.

/// A name's wire form is at most 255 bytes (RFC 1035 §3.1).
const MAX_NAME_LEN: usize = 255;

/// Why a name could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameError {
    /// The name runs past the end of the message.
    Truncated,
    /// A pointer that does not point strictly backwards (this is what rules out loops).
    BadPointer,
    /// Label types 0x40 and 0x80 are not defined.
    BadLabelType,
    /// Longer than 255 bytes once expanded.
    TooLong,
}

/// Reads the name at `start` in `msg`, following compression pointers.
///
/// Returns the expanded name (uncompressed wire form, case as sent) and the offset just after
/// the name as it sits at `start` (after the first pointer, if any).
pub(crate) fn read(msg: &[u8], start: usize) -> Result<(Vec<u8>, usize), NameError> {
    let mut out = Vec::with_capacity(32);
    let mut pos = start;
    // Each pointer must go below the lowest position read so far, so the walk always ends.
    let mut limit = start;
    let mut end_after: Option<usize> = None;
    loop {
        let len = *msg.get(pos).ok_or(NameError::Truncated)?;
        match len & 0xC0 {
            0x00 => {
                let label_len = usize::from(len);
                let label = msg
                    .get(pos..pos + 1 + label_len)
                    .ok_or(NameError::Truncated)?;
                out.extend_from_slice(label);
                if out.len() > MAX_NAME_LEN {
                    return Err(NameError::TooLong);
                }
                pos += 1 + label_len;
                if label_len == 0 {
                    return Ok((out, end_after.unwrap_or(pos)));
                }
            }
            0xC0 => {
                let low = *msg.get(pos + 1).ok_or(NameError::Truncated)?;
                let target = (usize::from(len & 0x3F) << 8) | usize::from(low);
                if target >= limit {
                    return Err(NameError::BadPointer);
                }
                end_after.get_or_insert(pos + 2);
                limit = target;
                pos = target;
            }
            _ => return Err(NameError::BadLabelType),
        }
    }
}

/// Presentation form of a wire name, for logs and key lookup: `Acme-Client.`; the root is `.`.
///
/// Bytes other than letters, digits, `-` and `_` are escaped (`\.` and `\DDD`) so that a label
/// containing a dot can never pass for two labels.
pub(crate) fn to_text(wire: &[u8]) -> String {
    let mut text = String::with_capacity(wire.len());
    let mut pos = 0;
    while let Some(&len) = wire.get(pos) {
        if len == 0 {
            break;
        }
        let label = wire
            .get(pos + 1..pos + 1 + usize::from(len))
            .unwrap_or_default();
        for &b in label {
            match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => text.push(char::from(b)),
                b'.' | b'\\' => {
                    text.push('\\');
                    text.push(char::from(b));
                }
                _ => text.push_str(&format!("\\{b:03}")),
            }
        }
        text.push('.');
        pos += 1 + usize::from(len);
    }
    if text.is_empty() {
        text.push('.');
    }
    text
}

/// Wire form of a plain presentation name (`acme-client` or `acme-client.`), without escapes.
///
/// Returns `None` for empty labels or labels over 63 bytes. Case is kept.
pub(crate) fn from_text(text: &str) -> Option<Vec<u8>> {
    let trimmed = text.strip_suffix('.').unwrap_or(text);
    let mut wire = Vec::with_capacity(trimmed.len() + 2);
    if !trimmed.is_empty() {
        for label in trimmed.split('.') {
            let len = u8::try_from(label.len())
                .ok()
                .filter(|&l| (1..=63).contains(&l))?;
            wire.push(len);
            wire.extend_from_slice(label.as_bytes());
        }
    }
    wire.push(0);
    (wire.len() <= MAX_NAME_LEN).then_some(wire)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_and_compressed_names() {
        // "Example.com." at 0, then a pointer to it at 13.
        let mut msg = b"\x07Example\x03com\x00".to_vec();
        msg.extend_from_slice(b"\x03www\xC0\x00");
        assert_eq!(read(&msg, 0), Ok((b"\x07Example\x03com\x00".to_vec(), 13)));
        assert_eq!(
            read(&msg, 13),
            Ok((b"\x03www\x07Example\x03com\x00".to_vec(), msg.len()))
        );
    }

    #[test]
    fn refuses_loops_forward_pointers_and_truncation() {
        assert_eq!(read(b"\xC0\x00", 0), Err(NameError::BadPointer));
        assert_eq!(read(b"\x01a\xC0\x02", 0), Err(NameError::BadPointer));
        assert_eq!(read(b"\x03ab", 0), Err(NameError::Truncated));
        assert_eq!(read(b"\xC0", 0), Err(NameError::Truncated));
        assert_eq!(read(b"\x40", 0), Err(NameError::BadLabelType));
        let long: Vec<u8> = std::iter::repeat_n(
            b"\x3fxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            5,
        )
        .flatten()
        .copied()
        .chain([0])
        .collect();
        assert_eq!(read(&long, 0), Err(NameError::TooLong));
    }

    #[test]
    fn text_round_trip_and_escapes() {
        let wire = from_text("Acme-Client").unwrap();
        assert_eq!(wire, b"\x0bAcme-Client\x00");
        assert_eq!(to_text(&wire), "Acme-Client.");
        assert_eq!(from_text("a.").unwrap(), from_text("a").unwrap());
        assert_eq!(to_text(b"\x03a.b\x00"), "a\\.b.");
        assert_eq!(to_text(b"\x00"), ".");
        assert_eq!(from_text("a..b"), None);
    }
}
