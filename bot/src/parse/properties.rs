//! Property tests of [`classify`]: it never panics, recognises every quote
//! and `N/D` body Stooq could send (any columns order, quoting, line ending),
//! and never reads a cut body as a quote with a wrong close.

use proptest::prelude::*;

use super::classify;
use crate::answer::{Answer, Quote};

/// The columns of `f=sd2t2ohlcv&h`, as Stooq names them.
const COLUMNS: [&str; 8] = ["Symbol", "Date", "Time", "Open", "High", "Low", "Close", "Volume"];

/// A quote body and the quote it holds.
#[derive(Debug, Clone)]
struct QuoteBody {
    body: String,
    quote: Quote,
}

fn line_ending() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("\r\n"), Just("\n")]
}

fn symbol() -> impl Strategy<Value = String> {
    "[A-Za-z0-9.]{1,20}"
}

/// A valid decimal close, at most 16 characters, as Stooq writes it.
fn close() -> impl Strategy<Value = String> {
    "[0-9]{1,8}(\\.[0-9]{1,7})?"
}

/// The fields other than Symbol and Close: dates, times, prices, volumes.
fn other_field() -> impl Strategy<Value = String> {
    "[0-9:.-]{0,12}"
}

/// Writes one CSV record, quoting the fields chosen by `quoted`.
fn record(fields: &[String], quoted: &[bool], ending: &str) -> String {
    let fields: Vec<String> = fields
        .iter()
        .zip(quoted)
        .map(|(field, &quoted)| if quoted { format!("\"{field}\"") } else { field.clone() })
        .collect();
    format!("{}{ending}", fields.join(","))
}

/// A header and one row, the columns in any order, `fill` giving each value.
fn body(order: &[&str], fill: impl Fn(&str) -> String, quoted: &[bool], ending: &str) -> String {
    let header: Vec<String> = order.iter().map(|name| (*name).to_owned()).collect();
    let row: Vec<String> = order.iter().map(|name| fill(name)).collect();
    let unquoted = [false; COLUMNS.len()];
    format!("{}{}", record(&header, &unquoted, ending), record(&row, quoted, ending))
}

fn columns_in_any_order() -> impl Strategy<Value = Vec<&'static str>> {
    Just(COLUMNS.to_vec()).prop_shuffle()
}

fn quote_body() -> impl Strategy<Value = QuoteBody> {
    let others = proptest::collection::vec(other_field(), COLUMNS.len());
    let quoted = proptest::collection::vec(any::<bool>(), COLUMNS.len());
    (symbol(), close(), others, columns_in_any_order(), quoted, line_ending()).prop_map(
        |(symbol, close, others, order, quoted, ending)| {
            let fill = |name: &str| match name {
                "Symbol" => symbol.clone(),
                "Close" => close.clone(),
                other => {
                    let at = COLUMNS.iter().position(|c| *c == other).unwrap_or_default();
                    others[at].clone()
                }
            };
            let body = body(&order, fill, &quoted, ending);
            QuoteBody { body, quote: Quote { symbol: symbol.to_ascii_uppercase(), close } }
        },
    )
}

fn not_found_body() -> impl Strategy<Value = String> {
    let quoted = proptest::collection::vec(any::<bool>(), COLUMNS.len());
    (symbol(), columns_in_any_order(), quoted, line_ending()).prop_map(
        |(symbol, order, quoted, ending)| {
            let fill = |name: &str| if name == "Symbol" { symbol.clone() } else { "N/D".into() };
            body(&order, fill, &quoted, ending)
        },
    )
}

/// A quote body with a few bytes replaced, inserted or removed.
fn mutated_quote_body() -> impl Strategy<Value = Vec<u8>> {
    let edits =
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..8);
    (quote_body(), edits).prop_map(|(quote, edits)| {
        let mut bytes = quote.body.into_bytes();
        for (at, byte, kind) in edits {
            let at = at.index(bytes.len() + 1);
            match kind {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => {}
            }
        }
        bytes
    })
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = classify(&body);
    }

    #[test]
    fn never_panics_on_a_damaged_quote(body in mutated_quote_body()) {
        if let Answer::Quote(quote) = classify(&body) {
            // Whatever was damaged, a quote is still a plausible one.
            prop_assert!(protocol::stock_code::is_valid(&quote.symbol));
            prop_assert!(super::looks_like_price(&quote.close));
        }
    }

    #[test]
    fn reads_every_quote_body(quote in quote_body()) {
        prop_assert_eq!(classify(quote.body.as_bytes()), Answer::Quote(quote.quote));
    }

    #[test]
    fn reads_every_not_found_body(body in not_found_body()) {
        prop_assert_eq!(classify(body.as_bytes()), Answer::NotFound);
    }

    #[test]
    fn no_cut_body_is_a_quote_with_a_wrong_close(
        quote in quote_body(),
        cut in any::<prop::sample::Index>(),
    ) {
        let cut = cut.index(quote.body.len());
        let kept = &quote.body[..cut];
        match classify(kept.as_bytes()) {
            Answer::Unavailable(_) => {}
            // Only a CRLF body cut between its `\r` and `\n` still holds the
            // whole row, so the whole quote; any shorter cut is unavailable.
            Answer::Quote(found) => {
                prop_assert_eq!(found, quote.quote);
                prop_assert!(kept.ends_with('\r') && cut == quote.body.len() - 1, "cut at {}", cut);
            }
            Answer::NotFound => prop_assert!(false, "cut at {}: not found", cut),
        }
    }
}
