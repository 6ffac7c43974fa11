//! `@username` in a message: whole words only, any case, resolved to the
//! users that exist, as their names are stored.

use crate::store::Store;

/// The most names one message may mention.
const MAX_MENTIONS: usize = 20;

/// The names `@` introduces in `text`, lowercased, without repeats: an `@`
/// at the start or after a character that cannot be in a username, then
/// 3-50 username characters, then the end or such a character again (so
/// `ann@example.com` mentions nobody).
pub(crate) fn candidates(text: &str) -> Vec<String> {
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = text.as_bytes();
    let mut names: Vec<String> = Vec::new();
    let mut at = 0;
    while let Some(offset) = text[at..].find('@') {
        let start = at + offset;
        at = start + 1;
        if start > 0 && (is_name(bytes[start - 1]) || bytes[start - 1] == b'@') {
            continue;
        }
        let length = bytes[start + 1..].iter().take_while(|b| is_name(**b)).count();
        let end = start + 1 + length;
        if !(3..=50).contains(&length) || bytes.get(end) == Some(&b'@') {
            continue;
        }
        let name = text[start + 1..end].to_ascii_lowercase();
        if !names.contains(&name) {
            names.push(name);
            if names.len() == MAX_MENTIONS {
                break;
            }
        }
        at = end;
    }
    names
}

/// The users `text` mentions, as their names are stored; asks the store
/// only when the text has a candidate.
pub(crate) async fn resolve(store: &Store, text: &str) -> Vec<String> {
    let names = candidates(text);
    if names.is_empty() {
        return names;
    }
    match store.usernames_among(&names).await {
        Ok(mut found) => {
            found.sort_by_key(|name| names.iter().position(|n| *n == name.to_ascii_lowercase()));
            found
        }
        Err(error) => {
            // The message is worth more than its mention marks.
            tracing::warn!(%error, "mentions not resolved");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_words_any_case() {
        assert_eq!(candidates("hi @Ann and @bob_2!"), ["ann", "bob_2"]);
        assert_eq!(candidates("@ann @ANN @Ann"), ["ann"]);
        assert_eq!(candidates("(@ann) @ann,"), ["ann"]);
        assert!(candidates("mail ann@example.com").is_empty());
        assert!(candidates("@@ann @an @ann@x").is_empty());
        assert!(candidates(&format!("@{}", "a".repeat(51))).is_empty());
        assert_eq!(candidates("ünï @ann"), ["ann"]);
        assert!(candidates("no one").is_empty());
    }
}
