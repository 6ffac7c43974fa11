//! The input rules of the API, each returning the sentence shown to the client.

use protocol::text::{check_storable, check_visible_name};

/// 3-50 of `[A-Za-z0-9_]`.
pub(crate) fn validate_username(username: &str) -> Result<(), &'static str> {
    let ok = (3..=50).contains(&username.len())
        && username.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then_some(()).ok_or("username must be 3-50 letters, digits or underscores")
}

/// 8-128 characters, none of them U+0000.
pub(crate) fn validate_password(password: &str) -> Result<(), &'static str> {
    let ok = (8..=128).contains(&password.chars().count()) && check_storable(password).is_ok();
    ok.then_some(()).ok_or("password must be 8-128 characters, without U+0000")
}

/// What a login may name: any text but U+0000 (which no stored name or
/// password holds, and which PostgreSQL cannot even compare).
pub(crate) fn validate_credentials(username: &str, password: &str) -> Result<(), &'static str> {
    let ok = check_storable(username).is_ok() && check_storable(password).is_ok();
    ok.then_some(()).ok_or("username and password must not contain U+0000")
}

/// Looks like `local@domain.tld`, at most 254 characters, no spaces.
pub(crate) fn validate_email(email: &str) -> Result<(), &'static str> {
    let looks_right = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.split('.').count() >= 2
                && domain.split('.').all(|label| !label.is_empty())
        });
    looks_right.then_some(()).ok_or("email must look like name@example.com")
}

/// 1-100 characters after trimming, none of them control, bidirectional or
/// zero-width characters; returns the trimmed name.
pub(crate) fn validate_room_name(name: &str) -> Result<&str, &'static str> {
    let name = name.trim();
    let ok = (1..=100).contains(&name.chars().count()) && check_visible_name(name).is_ok();
    ok.then_some(name).ok_or(
        "name must be 1-100 characters, without control, bidirectional or zero-width characters",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for ok in ["ann", "Ann_99", &"a".repeat(50)] {
            assert!(validate_username(ok).is_ok(), "{ok}");
        }
        for bad in ["", "an", "ann smith", "änn", "ann-1", &"a".repeat(51), "<b>"] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_count_characters() {
        assert!(validate_password("12345678").is_ok());
        assert!(validate_password("ééééééé").is_err());
        assert!(validate_password("éééééééé").is_ok());
        assert!(validate_password(&"x".repeat(128)).is_ok());
        assert!(validate_password(&"x".repeat(129)).is_err());
    }

    #[test]
    fn emails() {
        for ok in ["a@b.co", "first.last+tag@mail.example.org"] {
            assert!(validate_email(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "a@b", "@b.co", "a@@b.co", "a b@c.co", "a@.co", "a@b.", "a@b@c.co"] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn room_names_are_trimmed() {
        assert_eq!(validate_room_name("  General "), Ok("General"));
        assert!(validate_room_name("   ").is_err());
        assert!(validate_room_name(&"x".repeat(101)).is_err());
        assert!(validate_room_name("a\u{0}b").is_err());
        assert!(validate_room_name("evil\u{202e}gnp.exe").is_err());
        assert!(validate_room_name("zero\u{200b}width").is_err());
    }

    #[test]
    fn nul_is_refused_in_credentials() {
        assert!(validate_password("12345678\u{0}").is_err());
        assert!(validate_credentials("ann\u{0}", "secret-password").is_err());
        assert!(validate_credentials("ann", "secret\u{0}").is_err());
        assert!(validate_credentials("änn", "anything").is_ok());
    }
}
