//! What a `chat_message`'s content asks for: a message, a stock quote, or a refusal.

use protocol::ErrorCode;
use protocol::stock_code;

use protocol::message::MAX_CONTENT_CHARS as MAX_MESSAGE_CHARS;

/// The meaning of a `chat_message`'s content.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Input<'a> {
    /// A message to store: the trimmed text.
    Message(&'a str),
    /// `/stock=CODE` with a valid code: goes to the bot, never stored.
    Stock(&'a str),
    /// Refused; only the sender is told.
    Refused(ErrorCode, &'static str),
}

/// Classifies `content`: trimmed; `/…` is a command; otherwise 1-1000 characters.
pub(crate) fn classify(content: &str) -> Input<'_> {
    let text = content.trim();
    if text.is_empty() {
        return Input::Refused(ErrorCode::EmptyMessage, "message is empty");
    }
    if let Some(command) = text.strip_prefix('/') {
        let word_end =
            command.find(|c: char| c == '=' || c.is_whitespace()).unwrap_or(command.len());
        let (word, rest) = command.split_at(word_end);
        if !word.eq_ignore_ascii_case("stock") {
            return Input::Refused(
                ErrorCode::UnknownCommand,
                "unknown command; try /stock=AAPL.US",
            );
        }
        return match rest.strip_prefix('=') {
            Some(code) if stock_code::is_valid(code) => Input::Stock(code),
            _ => Input::Refused(
                ErrorCode::InvalidStockCode,
                "a stock code is 1-20 letters, digits or dots, as in /stock=AAPL.US",
            ),
        };
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Input::Refused(ErrorCode::MessageTooLong, "message is longer than 1000 characters");
    }
    Input::Message(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_trimmed_and_bounded() {
        assert_eq!(classify("  hello \n"), Input::Message("hello"));
        assert_eq!(classify(&"é".repeat(1000)), Input::Message(&"é".repeat(1000)));
        assert!(matches!(
            classify(&"x".repeat(1001)),
            Input::Refused(ErrorCode::MessageTooLong, _)
        ));
        assert!(matches!(classify(" \t\n"), Input::Refused(ErrorCode::EmptyMessage, _)));
        assert_eq!(classify("a /stock=AAPL.US"), Input::Message("a /stock=AAPL.US"));
    }

    #[test]
    fn stock_commands_are_recognised_and_checked() {
        assert_eq!(classify("/stock=AAPL.US"), Input::Stock("AAPL.US"));
        assert_eq!(classify(" /STOCK=aapl.us "), Input::Stock("aapl.us"));
        for bad in
            ["/stock", "/stock=", "/stock AAPL", "/stock=AAPL US", "/stock=A-B", "/stock=<script>"]
        {
            assert!(
                matches!(classify(bad), Input::Refused(ErrorCode::InvalidStockCode, _)),
                "{bad}"
            );
        }
        assert!(matches!(
            classify(&format!("/stock={}", "A".repeat(21))),
            Input::Refused(ErrorCode::InvalidStockCode, _)
        ));
    }

    #[test]
    fn other_commands_are_unknown() {
        for other in ["/help", "/", "/stocks=AAPL", "/me waves", &format!("/{}", "x".repeat(2000))]
        {
            assert!(
                matches!(classify(other), Input::Refused(ErrorCode::UnknownCommand, _)),
                "{other}"
            );
        }
    }
}
