//! What an encrypted room's clients send in place of text: a message (or
//! an edit) sealed with AES-256-GCM under the room key of one epoch. The
//! server checks only its shape; it cannot read it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// Most bytes of a sealed message's ciphertext (its GCM tag included).
pub const MAX_SEALED_BYTES: usize = 16 * 1024;
/// Bytes of an AES-GCM nonce.
pub const IV_BYTES: usize = 12;
/// Bytes of an AES-GCM tag: the shortest ciphertext (of an empty plaintext).
pub const TAG_BYTES: usize = 16;

/// A sealed message or edit: `epoch` names the room key, `iv` and
/// `ciphertext` are base64url without padding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// The room key's generation, from 1.
    pub epoch: u32,
    /// 12 random bytes.
    pub iv: String,
    /// The AES-256-GCM ciphertext and tag, at most [`MAX_SEALED_BYTES`].
    pub ciphertext: String,
}

impl Sealed {
    /// Whether the fields have the scheme's shape; the sentence says why not.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.epoch == 0 {
            return Err("encrypted.epoch starts at 1");
        }
        match decoded_len(&self.iv) {
            Some(IV_BYTES) => {}
            _ => return Err("encrypted.iv must be 12 bytes in base64url without padding"),
        }
        match decoded_len(&self.ciphertext) {
            Some(TAG_BYTES..=MAX_SEALED_BYTES) => Ok(()),
            _ => {
                Err("encrypted.ciphertext must be 16 bytes to 16 KiB in base64url without padding")
            }
        }
    }
}

/// How many bytes `text` decodes to, when it is canonical base64url
/// without padding (and not absurdly long).
fn decoded_len(text: &str) -> Option<usize> {
    if text.len() > MAX_SEALED_BYTES * 4 / 3 + 4 {
        return None;
    }
    URL_SAFE_NO_PAD.decode(text).ok().map(|bytes| bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(epoch: u32, iv: usize, ciphertext: usize) -> Sealed {
        Sealed {
            epoch,
            iv: URL_SAFE_NO_PAD.encode(vec![7u8; iv]),
            ciphertext: URL_SAFE_NO_PAD.encode(vec![9u8; ciphertext]),
        }
    }

    #[test]
    fn checks_the_shape_of_the_scheme() {
        assert!(sealed(1, 12, 16).check().is_ok());
        assert!(sealed(3, 12, MAX_SEALED_BYTES).check().is_ok());
        for bad in [
            sealed(0, 12, 40),
            sealed(1, 11, 40),
            sealed(1, 16, 40),
            sealed(1, 12, 15),
            sealed(1, 12, MAX_SEALED_BYTES + 1),
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
        let mut wrong = sealed(1, 12, 17);
        wrong.ciphertext.push('=');
        assert!(wrong.check().is_err(), "padding is refused");
        wrong.ciphertext = "not+base64/url".into();
        assert!(wrong.check().is_err());
    }
}
