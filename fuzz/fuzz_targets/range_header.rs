//! A download's `Range` header against any file size: it never panics or
//! overflows, a range it grants is inside the file and not empty, and a
//! plain `bytes=a-b` that starts inside the file is granted from `a` to `b`
//! or the file's end, however many digits `b` has.

#![no_main]

use chat::fuzzing::{Range, parse_range};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, u64)| {
    let (header, size) = input;
    let range = parse_range(header, size);
    if let Range::Bytes(start, end) = range {
        assert!(start < end && end <= size, "{header:?} of {size}: {start}..{end}");
    }
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let plain = header.strip_prefix("bytes=").and_then(|spec| spec.split_once('-'));
    if let Some((first, last)) = plain
        && digits(first)
        && digits(last)
        && let Ok(start) = first.parse::<u64>()
        && start < size
    {
        let last = last.parse::<u64>().unwrap_or(u64::MAX);
        let expected = if last >= start {
            Range::Bytes(start, last.saturating_add(1).min(size))
        } else {
            Range::Ignored
        };
        assert_eq!(range, expected, "{header:?} of {size}");
    }
});
