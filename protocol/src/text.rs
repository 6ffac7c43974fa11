//! What text the server accepts, wherever it comes from (a frame, a JSON body,
//! a query parameter): the rules every edge applies before anything is stored.
//!
//! PostgreSQL refuses U+0000 in `text`, so it is refused at the edge, in every
//! field. Names that others see (rooms, files) must also read as what they
//! are: no control characters, no bidirectional controls that reorder what
//! follows them (`evil\u{202e}gnp.exe` shows as `evilexe.png`), and no
//! invisible characters that make two names look alike.

/// Why a piece of text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextError {
    /// It holds U+0000, which cannot be stored.
    Nul,
    /// A name holds a control, bidirectional or zero-width character.
    Invisible,
}

impl TextError {
    /// A sentence for the client, naming `field`.
    pub fn describe(self, field: &str) -> String {
        match self {
            TextError::Nul => format!("{field} must not contain U+0000"),
            TextError::Invisible => {
                format!("{field} must not contain control, bidirectional or zero-width characters")
            }
        }
    }
}

/// Text that can be stored: anything but U+0000.
pub fn check_storable(text: &str) -> Result<(), TextError> {
    if text.contains('\0') { Err(TextError::Nul) } else { Ok(()) }
}

/// A name others will see: storable, and without a character that hides or
/// reorders what is shown (see [`is_invisible`]).
pub fn check_visible_name(name: &str) -> Result<(), TextError> {
    check_storable(name)?;
    if name.chars().any(is_invisible) { Err(TextError::Invisible) } else { Ok(()) }
}

/// Control characters (C0, DEL, C1), bidirectional controls (U+061C,
/// U+200E–U+200F, U+202A–U+202E, U+2066–U+2069) and zero-width characters
/// (U+200B–U+200D, U+2060, U+FEFF).
pub fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_never_storable() {
        assert_eq!(check_storable("fine\ttext\nwith lines"), Ok(()));
        assert_eq!(check_storable("bad\0"), Err(TextError::Nul));
        assert_eq!(check_visible_name("\0"), Err(TextError::Nul));
    }

    #[test]
    fn names_refuse_what_hides_or_reorders_them() {
        for fine in ["General", "Résumé 2026.pdf", "日本語", "a-b_c (1)", "👍 room"] {
            assert_eq!(check_visible_name(fine), Ok(()), "{fine}");
        }
        let hidden = [
            "evil\u{202e}gnp.exe",
            "a\u{200b}b",
            "a\u{200c}b",
            "a\u{200d}b",
            "a\u{200e}",
            "a\u{200f}",
            "\u{061c}x",
            "\u{2066}x\u{2069}",
            "x\u{2060}",
            "\u{feff}x",
            "tab\there",
            "new\nline",
            "del\u{7f}",
            "c1\u{85}",
        ];
        for name in hidden {
            assert_eq!(check_visible_name(name), Err(TextError::Invisible), "{name:?}");
        }
    }
}
