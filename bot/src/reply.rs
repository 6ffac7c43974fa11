//! The text of the bot's replies, exactly as `API.md` specifies them.

use crate::answer::Answer;

/// Most characters of an invalid code repeated back to the user.
const MAX_SHOWN_CHARS: usize = 24;

/// The reply to a valid `code` whose lookup came to `answer`.
pub fn text(code: &str, answer: &Answer) -> String {
    let code = code.to_ascii_uppercase();
    match answer {
        Answer::Quote(quote) => format!("{} quote is ${} per share", quote.symbol, quote.close),
        Answer::NotFound => format!("No quote was found for {code}: Stooq does not know it."),
        Answer::Unavailable(_) => {
            format!(
                "The quote service is unavailable right now, so there is no quote for {code}; please try again later."
            )
        }
    }
}

/// The reply to a command whose code is not 1–20 of `[A-Za-z0-9.]`.
pub fn invalid_code(code: &str) -> String {
    let shown: String = code.chars().filter(|c| !c.is_control()).take(MAX_SHOWN_CHARS).collect();
    format!(
        "\"{shown}\" is not a valid stock code: use 1-20 letters, digits or dots, like AAPL.US."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::{Quote, Unavailable};

    #[test]
    fn quote_reply_is_exact() {
        let quote = Answer::Quote(Quote { symbol: "AAPL.US".into(), close: "181.18".into() });
        assert_eq!(text("aapl.us", &quote), "AAPL.US quote is $181.18 per share");
    }

    #[test]
    fn other_replies_name_the_code() {
        let not_found = text("xxxx.us", &Answer::NotFound);
        assert!(not_found.contains("XXXX.US") && not_found.contains("No quote was found"));
        let down = text("aapl.us", &Answer::Unavailable(Unavailable::Timeout));
        assert!(down.contains("AAPL.US") && down.contains("quote service is unavailable"));
        let invalid = invalid_code("bad code\n!");
        assert!(invalid.contains("\"bad code!\"") && invalid.contains("not a valid stock code"));
        assert!(invalid_code(&"x".repeat(500)).len() < 120);
    }
}
