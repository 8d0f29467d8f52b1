//! A small parser for slash command parameters.

use crate::{Error, Result};

/// The words of a slash command's parameters.
///
/// [`Args::parse`] splits on white space; a word that *starts* with `"` or `'` runs to
/// the matching quote, so `/todo add "buy milk" 'at 5'` gives `add`, `buy milk`,
/// `at 5`. Inside double quotes `\"` and `\\` are escapes. A quote inside a word is
/// kept as it is (`it's` stays one word), and an unterminated quote runs to the end.
///
/// When parsed from text, the parser remembers where each word started, so
/// [`rest`](Args::rest) can hand back the raw remainder (`/hello fetch <url with
/// spaces>`).
///
/// ```ignore
/// let args = Args::parse(r#"remind "the team" in 5 minutes"#);
/// let (sub, rest) = args.subcommand().unwrap();
/// assert_eq!(sub, "remind");
/// assert_eq!(rest.get(0), Some("the team"));
/// assert_eq!(rest.rest(1).as_deref(), Some("in 5 minutes"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    words: Vec<String>,
    /// The raw text and the byte offset each word starts at, when parsed from text.
    raw: Option<(String, Vec<usize>)>,
}

impl Args {
    /// Splits `raw` into words (see the type's documentation for the rules).
    pub fn parse(raw: &str) -> Args {
        let mut words = Vec::new();
        let mut starts = Vec::new();
        let mut chars = raw.char_indices().peekable();
        loop {
            // Skip white space between words.
            while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
            let Some(&(start, first)) = chars.peek() else {
                break;
            };
            let mut word = String::new();
            if first == '"' || first == '\'' {
                chars.next();
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    if c == first {
                        closed = true;
                        break;
                    }
                    if c == '\\' && first == '"' {
                        match chars.peek() {
                            Some(&(_, next)) if next == '"' || next == '\\' => {
                                word.push(next);
                                chars.next();
                                continue;
                            }
                            _ => {}
                        }
                    }
                    word.push(c);
                }
                // Text glued to the closing quote belongs to the same word.
                if closed {
                    while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace()) {
                        word.push(c);
                    }
                }
            } else {
                while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace()) {
                    word.push(c);
                }
            }
            words.push(word);
            starts.push(start);
        }
        Args {
            words,
            raw: Some((raw.to_string(), starts)),
        }
    }

    /// Wraps words that are already split (such as [`CommandContext::args`](crate::CommandContext)).
    pub fn from_words(words: Vec<String>) -> Args {
        Args { words, raw: None }
    }

    /// The number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether there are no words.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The word at `index`.
    pub fn get(&self, index: usize) -> Option<&str> {
        self.words.get(index).map(String::as_str)
    }

    /// The first word.
    pub fn first(&self) -> Option<&str> {
        self.get(0)
    }

    /// The word at `index`, or `Error::Invalid("missing <name>")`: for required
    /// parameters, with `?`.
    pub fn required(&self, index: usize, name: &str) -> Result<&str> {
        self.get(index)
            .ok_or_else(|| Error::Invalid(format!("missing <{name}>")))
    }

    /// The word at `index` parsed as `T`, `None` when absent, or `Error::Invalid` when it
    /// does not parse.
    pub fn parse_at<T: std::str::FromStr>(&self, index: usize, name: &str) -> Result<Option<T>> {
        match self.get(index) {
            None => Ok(None),
            Some(word) => word
                .parse()
                .map(Some)
                .map_err(|_| Error::Invalid(format!("<{name}> is not valid: {word}"))),
        }
    }

    /// All the words.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// An iterator over the words.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.words.iter().map(String::as_str)
    }

    /// Consumes the arguments, returning the words.
    pub fn into_words(self) -> Vec<String> {
        self.words
    }

    /// The first word and the arguments after it, for commands with sub-commands
    /// (`/todo add …`, `/todo list`). `None` when there are no words.
    pub fn subcommand(&self) -> Option<(&str, Args)> {
        let first = self.first()?;
        Some((first, self.skip(1)))
    }

    /// The arguments without the first `n` words.
    pub fn skip(&self, n: usize) -> Args {
        let words = self.words.iter().skip(n).cloned().collect();
        let raw = self
            .raw
            .as_ref()
            .map(|(raw, starts)| (raw.clone(), starts.iter().skip(n).copied().collect()));
        Args { words, raw }
    }

    /// Everything from the word at `index` on, as typed when the arguments were parsed
    /// from text (quotes and spacing kept, trailing white space trimmed), or the words
    /// joined with single spaces otherwise. `None` when there is no word at `index`.
    pub fn rest(&self, index: usize) -> Option<String> {
        if index >= self.words.len() {
            return None;
        }
        match &self.raw {
            Some((raw, starts)) => {
                let start = *starts.get(index)?;
                raw.get(start..).map(|s| s.trim_end().to_string())
            }
            None => Some(self.words[index..].join(" ")),
        }
    }
}

impl<'a> IntoIterator for &'a Args {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.words.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(raw: &str) -> Vec<String> {
        Args::parse(raw).into_words()
    }

    #[test]
    fn splits_on_white_space() {
        assert_eq!(words("  a  b\tc \n d "), ["a", "b", "c", "d"]);
        assert!(words("").is_empty());
        assert!(words("   ").is_empty());
    }

    #[test]
    fn groups_quoted_words() {
        assert_eq!(
            words(r#"add "buy milk" 'at 5' x"#),
            ["add", "buy milk", "at 5", "x"]
        );
        assert_eq!(words(r#""""#), [""]);
        assert_eq!(words(r#""a b"c d"#), ["a bc", "d"]);
    }

    #[test]
    fn escapes_inside_double_quotes() {
        assert_eq!(words(r#""say \"hi\" \\ now""#), [r#"say "hi" \ now"#]);
        assert_eq!(words(r#"'no \' escape'"#), [r#"no \"#, "escape'"]);
        assert_eq!(words(r#""a\nb""#), [r#"a\nb"#]);
    }

    #[test]
    fn quotes_inside_words_are_literal() {
        assert_eq!(words("it's fine"), ["it's", "fine"]);
        assert_eq!(words(r#"say"hi""#), [r#"say"hi""#]);
    }

    #[test]
    fn unterminated_quote_runs_to_the_end() {
        assert_eq!(words(r#"a "b c"#), ["a", "b c"]);
    }

    #[test]
    fn handles_non_ascii() {
        assert_eq!(words("héllo «wörld» 🙂"), ["héllo", "«wörld»", "🙂"]);
        assert_eq!(
            Args::parse("fetch  https://exämple.com/ä b")
                .rest(1)
                .as_deref(),
            Some("https://exämple.com/ä b")
        );
    }

    #[test]
    fn subcommand_and_rest() {
        let args = Args::parse(r#"fetch   https://example.com/a b  "#);
        let (sub, rest) = args.subcommand().unwrap();
        assert_eq!(sub, "fetch");
        assert_eq!(rest.len(), 2);
        assert_eq!(rest.first(), Some("https://example.com/a"));
        assert_eq!(rest.rest(0).as_deref(), Some("https://example.com/a b"));
        assert_eq!(rest.rest(1).as_deref(), Some("b"));
        assert_eq!(rest.rest(2), None);
        assert_eq!(
            args.rest(0).as_deref(),
            Some("fetch   https://example.com/a b")
        );
        assert!(Args::parse("").subcommand().is_none());
    }

    #[test]
    fn rest_without_raw_text_joins_words() {
        let args = Args::from_words(vec!["a".into(), "b c".into(), "d".into()]);
        assert_eq!(args.rest(1).as_deref(), Some("b c d"));
        assert_eq!(args.skip(2).rest(0).as_deref(), Some("d"));
    }

    #[test]
    fn required_and_parse_at() {
        let args = Args::parse("7 x");
        assert_eq!(args.required(0, "n").unwrap(), "7");
        assert_eq!(
            args.required(2, "name"),
            Err(Error::Invalid("missing <name>".into()))
        );
        assert_eq!(args.parse_at::<u32>(0, "n").unwrap(), Some(7));
        assert_eq!(args.parse_at::<u32>(5, "n").unwrap(), None);
        assert!(matches!(
            args.parse_at::<u32>(1, "n"),
            Err(Error::Invalid(_))
        ));
    }
}
