//! Rocket.Chat's bad-words filter (`Message_AllowBadWordsFilter`): a message's words
//! found in a built-in English list or in `Message_BadWordsFilterList`, and not in
//! `Message_BadWordsWhitelist`, are stored with each letter and digit replaced by
//! `*`, as Rocket.Chat's `BeforeSaveBadWords` (the npm package bad-words) does.
//!
//! A word is a run of letters, digits and `_`, compared without regard to case, so
//! "Badword," is caught and "badwords" is not. Letters of any script count, where
//! the npm package knows ASCII only (and would cut "café" into "caf" and "é"): the
//! same results for English, and words of other languages on the list are caught.

use std::collections::HashSet;
use std::sync::LazyLock;

/// The built-in list (see the file's header for its origin).
static BUILT_IN: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("bad_words.txt")
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

/// The filter a workspace's settings make.
pub struct BadWords {
    extra: HashSet<String>,
    allowed: HashSet<String>,
}

/// Comma-separated words, trimmed and lowercased; empty ones dropped.
fn word_set(list: &str) -> HashSet<String> {
    list.split(',')
        .map(|w| w.trim().to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

impl BadWords {
    /// `list` adds to the built-in words, `allowed` takes words off both (each
    /// comma-separated, as the settings hold them).
    pub fn new(list: &str, allowed: &str) -> BadWords {
        BadWords {
            extra: word_set(list),
            allowed: word_set(allowed),
        }
    }

    fn is_bad(&self, word: &str) -> bool {
        let word = word.to_lowercase();
        !self.allowed.contains(&word)
            && (BUILT_IN.contains(word.as_str()) || self.extra.contains(&word))
    }

    /// `text` with its bad words masked; `None` when it has none.
    pub fn clean(&self, text: &str) -> Option<String> {
        let mut out = String::with_capacity(text.len());
        let mut changed = false;
        let mut rest = text;
        while let Some(start) = rest.find(is_word_char) {
            out.push_str(&rest[..start]);
            let tail = &rest[start..];
            let end = tail.find(|c| !is_word_char(c)).unwrap_or(tail.len());
            let word = &tail[..end];
            if self.is_bad(word) {
                changed = true;
                // The package drops what is not a letter or digit (`_`) and masks
                // the rest.
                out.extend(word.chars().filter(|c| c.is_alphanumeric()).map(|_| '*'));
            } else {
                out.push_str(word);
            }
            rest = &tail[end..];
        }
        out.push_str(rest);
        changed.then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_listed_words_whole_and_in_any_case() {
        let f = BadWords::new("badword, badword2", "");
        assert_eq!(
            f.clean("This message has badword badword2").as_deref(),
            Some("This message has ******* ********")
        );
        assert_eq!(
            f.clean("BadWord, (badword2)!").as_deref(),
            Some("*******, (********)!")
        );
        // Part of a longer word is not the word.
        assert_eq!(f.clean("badwords and notbadword"), None);
        assert_eq!(f.clean(""), None);
        assert_eq!(f.clean("!!!"), None);
    }

    #[test]
    fn the_built_in_list_applies_and_the_whitelist_wins() {
        let f = BadWords::new("", "");
        assert_eq!(f.clean("oh shit").as_deref(), Some("oh ****"));
        assert_eq!(f.clean("a_s_s").as_deref(), Some("***"));
        let allowed = BadWords::new("", " Shit ,");
        assert_eq!(allowed.clean("oh shit"), None);
        // The whitelist also takes words off the workspace's own list.
        assert_eq!(BadWords::new("darn", "darn").clean("darn"), None);
    }

    #[test]
    fn words_of_other_scripts_are_whole_words() {
        let f = BadWords::new("scheiß,caf", "");
        assert_eq!(f.clean("so ein Scheiß.").as_deref(), Some("so ein ******."));
        assert_eq!(f.clean("un café"), None);
    }
}
