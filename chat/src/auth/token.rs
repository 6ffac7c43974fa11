//! Session tokens: 256 random bits in the cookie, only their SHA-256 in the database.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// How long a session lasts after login.
pub(crate) const SESSION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Length of an encoded token: 32 bytes in unpadded base64url.
const ENCODED_LEN: usize = 43;

/// A session token as the client holds it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SessionToken(String);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(..)")
    }
}

impl SessionToken {
    /// A new random token; `None` only if the OS has no randomness to give.
    pub(crate) fn generate() -> Option<Self> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).ok()?;
        Some(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Accepts a cookie value only if it has the shape of a token.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        let ok = value.len() == ENCODED_LEN
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(value.to_owned()))
    }

    /// The value for the cookie.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// What the database stores and looks up.
    pub(crate) fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::SessionToken;

    #[test]
    fn tokens_are_unique_parseable_and_hashed() {
        let a = SessionToken::generate().expect("random");
        let b = SessionToken::generate().expect("random");
        assert_ne!(a, b);
        assert_eq!(SessionToken::parse(a.as_str()), Some(a.clone()));
        assert_ne!(a.hash(), b.hash());
        assert_ne!(&a.hash()[..], a.as_str().as_bytes());
        for forged in ["", "short", &"a".repeat(44), &format!("{}=", &a.as_str()[..42]), "x;y"] {
            assert_eq!(SessionToken::parse(forged), None, "{forged}");
        }
    }
}
