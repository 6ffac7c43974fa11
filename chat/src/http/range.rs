//! The `Range` header of a download (RFC 9110, one range): parsed without
//! overflow however many digits a position has. Public for the fuzz target
//! (through `chat::fuzzing`), not part of the API.

/// One byte range of a file, as a `Range` header asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// Bytes `start..end`.
    Bytes(u64, u64),
    /// Outside the file: 416.
    Unsatisfiable,
    /// Several ranges or a malformed header: the whole file.
    Ignored,
}

/// Reads `bytes=a-b`, `bytes=a-` or `bytes=-n` against a file of `size`.
pub fn parse_range(value: &str, size: u64) -> Range {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Range::Ignored;
    };
    if spec.contains(',') {
        return Range::Ignored;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return Range::Ignored };
    let (first, last) = (first.trim(), last.trim());
    match (first.is_empty(), position(first), position(last)) {
        (true, _, Some(0)) => Range::Unsatisfiable,
        (true, _, Some(suffix)) if size > 0 => Range::Bytes(size.saturating_sub(suffix), size),
        (true, _, _) => Range::Unsatisfiable,
        (false, Some(start), _) if start >= size => Range::Unsatisfiable,
        (false, Some(start), None) if last.is_empty() => Range::Bytes(start, size),
        (false, Some(start), Some(end)) if end >= start => {
            Range::Bytes(start, end.saturating_add(1).min(size))
        }
        _ => Range::Ignored,
    }
}

/// A byte position: decimal digits only. One too large for `u64` is past the
/// end of any file, so it counts as `u64::MAX` (clamped like any last
/// position past the end, or unsatisfiable as a first one).
fn position(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        let range = |text: &'static str| parse_range(text, 100);
        assert_eq!(range("bytes=0-9"), Range::Bytes(0, 10));
        assert_eq!(range("bytes=90-"), Range::Bytes(90, 100));
        assert_eq!(range("bytes=-10"), Range::Bytes(90, 100));
        assert_eq!(range("bytes=-500"), Range::Bytes(0, 100));
        assert_eq!(range("bytes=50-5000"), Range::Bytes(50, 100));
        assert_eq!(range("bytes=100-"), Range::Unsatisfiable);
        assert_eq!(range("bytes=-0"), Range::Unsatisfiable);
        assert_eq!(range("bytes=0-1,5-6"), Range::Ignored);
        assert_eq!(range("bytes=9-1"), Range::Ignored);
        assert_eq!(range("items=0-1"), Range::Ignored);
        assert_eq!(range("bytes=+5-9"), Range::Ignored);
    }

    #[test]
    fn no_position_overflows() {
        let range = |text: &str| parse_range(text, 11);
        assert_eq!(range("bytes=0-18446744073709551615"), Range::Bytes(0, 11));
        assert_eq!(range("bytes=1-18446744073709551615"), Range::Bytes(1, 11));
        assert_eq!(range("bytes=1-99999999999999999999999999999999"), Range::Bytes(1, 11));
        assert_eq!(range("bytes=18446744073709551615-"), Range::Unsatisfiable);
        assert_eq!(range("bytes=99999999999999999999999999-"), Range::Unsatisfiable);
        assert_eq!(range("bytes=-99999999999999999999999999"), Range::Bytes(0, 11));
    }
}
