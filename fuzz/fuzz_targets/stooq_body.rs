//! The bot's Stooq body parser on arbitrary bytes: it never panics, and any
//! quote it finds has a valid upper-case symbol and a plain decimal close,
//! so the reply text is always well formed.

#![no_main]

use bot::answer::Answer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let answer = bot::parse::classify(body);
    if let Answer::Quote(quote) = &answer {
        assert!(protocol::stock_code::is_valid(&quote.symbol), "{quote:?}");
        assert_eq!(quote.symbol, quote.symbol.to_ascii_uppercase());
        let (whole, fraction) = quote.close.split_once('.').unwrap_or((&quote.close, "0"));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        assert!(quote.close.len() <= 16 && digits(whole) && digits(fraction), "{quote:?}");
    }
    let reply = bot::reply::text("AAPL.US", &answer);
    assert!(!reply.is_empty() && !reply.contains(['\r', '\n']), "{reply:?}");
});
