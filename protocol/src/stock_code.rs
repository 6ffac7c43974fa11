//! The shape of a stock code: 1–20 of `[A-Za-z0-9.]`.

/// Longest accepted stock code.
pub const MAX_LEN: usize = 20;

/// True when `code` is 1–20 ASCII letters, digits or dots.
pub fn is_valid(code: &str) -> bool {
    (1..=MAX_LEN).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn accepts_codes_and_refuses_everything_else() {
        for ok in ["AAPL.US", "aapl.us", "X", "12345678901234567890", "BRK.B.US"] {
            assert!(is_valid(ok), "{ok}");
        }
        for bad in ["", "AAPL US", "AAPL-US", "123456789012345678901", "ÄPPL", "a/b"] {
            assert!(!is_valid(bad), "{bad}");
        }
    }
}
