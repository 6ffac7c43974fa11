//! Classifies a Stooq body with `csv-core`, into fixed buffers on the stack:
//! nothing is allocated per row, only the final quote's two short strings.
//!
//! Stooq answers 200 whatever happens, so the body alone tells a quote from
//! an unknown symbol (`N/D`) from everything else (quota text, an HTML
//! challenge, an empty, cut or oversized body).

use csv_core::{ReadRecordResult, Reader};

use crate::answer::{Answer, Quote, Unavailable};

/// Larger than any real answer (about 110 bytes); bigger bodies are not quotes.
pub const MAX_BODY_BYTES: usize = 4 * 1024;
/// Longest record, unescaped, that can be part of a quote.
const MAX_RECORD_BYTES: usize = 512;
/// Most fields a record may have (Stooq sends 8).
const MAX_FIELDS: usize = 16;
/// Longest close, in characters.
const MAX_CLOSE_LEN: usize = 16;

/// Classifies a whole response body.
pub fn classify(body: &[u8]) -> Answer {
    match quote_row(body) {
        Ok(answer) => answer,
        Err(reason) => Answer::Unavailable(reason),
    }
}

/// Reads the header, locates Symbol and Close, then reads the first row.
fn quote_row(body: &[u8]) -> Result<Answer, Unavailable> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Unavailable::Oversized);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Unavailable::Empty);
    }
    let mut csv = Records { reader: Reader::new(), input: body };
    let mut data = [0u8; MAX_RECORD_BYTES];
    let mut ends = [0usize; MAX_FIELDS];

    let header = csv.next(&mut data, &mut ends).map_err(|_| Unavailable::NotCsv)?;
    let columns = header.filter(|h| h.terminated).and_then(|h| Columns::locate(&h));
    let columns = columns.ok_or(Unavailable::NotCsv)?;

    let row = csv.next(&mut data, &mut ends).map_err(|_| Unavailable::Malformed)?;
    let row = row.ok_or(Unavailable::Truncated)?;
    if !row.terminated || row.len() < columns.count {
        return Err(Unavailable::Truncated);
    }
    if row.len() > columns.count {
        return Err(Unavailable::Malformed);
    }
    let symbol = row.text(columns.symbol).ok_or(Unavailable::Malformed)?;
    let close = row.text(columns.close).ok_or(Unavailable::Malformed)?;
    if !protocol::stock_code::is_valid(symbol) {
        return Err(Unavailable::Malformed);
    }
    if close == "N/D" {
        return Ok(Answer::NotFound);
    }
    if !looks_like_price(close) {
        return Err(Unavailable::Malformed);
    }
    let symbol = symbol.to_ascii_uppercase();
    Ok(Answer::Quote(Quote { symbol, close: close.to_owned() }))
}

/// Where the interesting columns are, from the header.
struct Columns {
    /// Index of `Symbol`.
    symbol: usize,
    /// Index of `Close`.
    close: usize,
    /// How many fields every row must have.
    count: usize,
}

impl Columns {
    fn locate(header: &Record<'_>) -> Option<Self> {
        let find = |name: &str| {
            (0..header.len())
                .find(|&i| header.text(i).is_some_and(|f| f.eq_ignore_ascii_case(name)))
        };
        Some(Self { symbol: find("Symbol")?, close: find("Close")?, count: header.len() })
    }
}

/// A CSV reader over a whole body.
struct Records<'a> {
    /// The `csv-core` state machine.
    reader: Reader,
    /// What is left of the body.
    input: &'a [u8],
}

/// One record, unescaped into the caller's buffers.
struct Record<'b> {
    /// The fields' bytes, back to back.
    data: &'b [u8],
    /// Where each field ends in `data`.
    ends: &'b [usize],
    /// False when the body ended in the middle of the record.
    terminated: bool,
}

/// A record does not fit the fixed buffers: it cannot be part of a quote.
struct TooLarge;

impl Records<'_> {
    /// The next record, `None` at the end of the body.
    fn next<'b>(
        &mut self,
        data: &'b mut [u8],
        ends: &'b mut [usize],
    ) -> Result<Option<Record<'b>>, TooLarge> {
        let (mut written, mut fields) = (0, 0);
        loop {
            let at_end = self.input.is_empty();
            let (result, read, out, ends_out) =
                self.reader.read_record(self.input, &mut data[written..], &mut ends[fields..]);
            self.input = &self.input[read..];
            written += out;
            fields += ends_out;
            match result {
                ReadRecordResult::InputEmpty => continue,
                ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull => {
                    return Err(TooLarge);
                }
                ReadRecordResult::End => return Ok(None),
                ReadRecordResult::Record => {
                    let record = Record {
                        data: &data[..written],
                        ends: &ends[..fields],
                        terminated: !at_end,
                    };
                    return Ok(Some(record));
                }
            }
        }
    }
}

impl Record<'_> {
    fn len(&self) -> usize {
        self.ends.len()
    }

    /// Field `index` as trimmed text, `None` when missing or not UTF-8.
    fn text(&self, index: usize) -> Option<&str> {
        let end = *self.ends.get(index)?;
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        std::str::from_utf8(&self.data[start..end]).ok().map(str::trim)
    }
}

/// Digits with at most one inner dot, like `181.18` or `5`.
fn looks_like_price(text: &str) -> bool {
    let mut parts = text.splitn(2, '.');
    let whole = parts.next().unwrap_or_default();
    let fraction = parts.next();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    text.len() <= MAX_CLOSE_LEN && digits(whole) && fraction.is_none_or(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AAPL: &str = include_str!("../../testkit/fixtures/stooq/quote-aapl.csv");
    const MSFT_LF: &str = include_str!("../../testkit/fixtures/stooq/quote-msft-lf.csv");
    const UNKNOWN: &str = include_str!("../../testkit/fixtures/stooq/unknown-symbol.csv");
    const QUOTA: &str = include_str!("../../testkit/fixtures/stooq/quota-exceeded.txt");
    const CHALLENGE: &str = include_str!("../../testkit/fixtures/stooq/challenge.html");

    fn quote(symbol: &str, close: &str) -> Answer {
        Answer::Quote(Quote { symbol: symbol.into(), close: close.into() })
    }

    fn classify_str(body: &str) -> Answer {
        classify(body.as_bytes())
    }

    #[test]
    fn reads_quotes_with_crlf_and_lf_line_ends() {
        assert!(AAPL.contains("\r\n") && !MSFT_LF.contains('\r'));
        assert_eq!(classify_str(AAPL), quote("AAPL.US", "181.18"));
        assert_eq!(classify_str(MSFT_LF), quote("MSFT.US", "367.75"));
    }

    #[test]
    fn recognises_an_unknown_symbol() {
        assert_eq!(classify_str(UNKNOWN), Answer::NotFound);
    }

    #[test]
    fn refuses_quota_text_and_html() {
        assert_eq!(classify_str(QUOTA), Answer::Unavailable(Unavailable::NotCsv));
        assert_eq!(classify_str(CHALLENGE), Answer::Unavailable(Unavailable::NotCsv));
    }

    #[test]
    fn locates_columns_from_the_header() {
        let body = "Close,Volume,Symbol\r\n93.42,1,aapl.us\r\n";
        assert_eq!(classify_str(body), quote("AAPL.US", "93.42"));
        let quoted = "\"Symbol\",\"Close\"\n\"AAPL.US\",\"93.42\"\n";
        assert_eq!(classify_str(quoted), quote("AAPL.US", "93.42"));
        let no_close = "Symbol,Date,Time,Open,High,Low,Volume\r\nAAPL.US,1,2,3,4,5,6\r\n";
        assert_eq!(classify_str(no_close), Answer::Unavailable(Unavailable::NotCsv));
    }

    #[test]
    fn refuses_every_truncation_of_a_quote() {
        for cut in 0..AAPL.len() - 1 {
            let answer = classify_str(&AAPL[..cut]);
            assert!(matches!(answer, Answer::Unavailable(_)), "cut at {cut}: {answer:?}");
        }
        for cut in 0..MSFT_LF.len() - 1 {
            let answer = classify_str(&MSFT_LF[..cut]);
            assert!(matches!(answer, Answer::Unavailable(_)), "cut at {cut}: {answer:?}");
        }
        let header_only = AAPL.lines().next().map(|h| format!("{h}\r\n")).unwrap_or_default();
        assert_eq!(classify_str(&header_only), Answer::Unavailable(Unavailable::Truncated));
    }

    #[test]
    fn refuses_empty_and_oversized_bodies() {
        assert_eq!(classify(b""), Answer::Unavailable(Unavailable::Empty));
        assert_eq!(classify(b" \r\n"), Answer::Unavailable(Unavailable::Empty));
        let padded = format!("{AAPL}{}", " ".repeat(MAX_BODY_BYTES));
        assert_eq!(classify_str(&padded), Answer::Unavailable(Unavailable::Oversized));
        let long_field = format!("Symbol,Close\n{},1.0\n", "A".repeat(MAX_RECORD_BYTES));
        assert!(matches!(classify_str(&long_field), Answer::Unavailable(_)));
        let many_fields = format!("Symbol,Close{}\nA,1{}\n", ",x".repeat(20), ",1".repeat(20));
        assert!(matches!(classify_str(&many_fields), Answer::Unavailable(_)));
    }

    #[test]
    fn refuses_garbage() {
        let bodies: [&[u8]; 8] = [
            b"\x00\xff\xfe garbage \x01\x02",
            b"Symbol,Close\r\n\xff\xfe,1.0\r\n",
            b"Symbol,Close\r\nAAPL.US,abc\r\n",
            b"Symbol,Close\r\nAAPL.US,-1\r\n",
            b"Symbol,Close\r\nAAPL.US,1.2.3\r\n",
            b"Symbol,Close\r\nAAPL.US,\r\n",
            b"Symbol,Close\r\n<script>x</script>,1.0\r\n",
            b"Symbol,Close\r\nAAPL.US,1.0,extra\r\n",
        ];
        for body in bodies {
            let answer = classify(body);
            assert!(matches!(answer, Answer::Unavailable(_)), "{body:?}: {answer:?}");
        }
    }

    #[test]
    fn recognises_prices() {
        for ok in ["181.18", "5", "0.0012", "367.75"] {
            assert!(looks_like_price(ok), "{ok}");
        }
        for bad in ["", ".5", "5.", "1.2.3", "1e5", "-1", "N/D", "12345678901234567"] {
            assert!(!looks_like_price(bad), "{bad}");
        }
    }
}

#[cfg(test)]
mod properties;
