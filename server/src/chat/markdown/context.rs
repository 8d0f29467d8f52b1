//! The grammar's state and the tables that spare it rescanning: the original's
//! global flags, a work budget, and for each run the grammar would otherwise scan
//! again from every position, where that run ends.

use std::cell::Cell;

use super::classes::{ALPHA_CHAR, DECIMAL_NUMBER_CHAR, EMOJI_CHAR, MARK_CHAR};

pub(super) fn in_class(c: char, class: &[(char, char)]) -> bool {
    // Most text is ASCII: a few comparisons instead of a search.
    if c.is_ascii() {
        return class
            .iter()
            .take_while(|&&(lo, _)| lo <= c)
            .any(|&(_, hi)| c <= hi);
    }
    class
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

pub(super) fn is_emoji_char(c: char) -> bool {
    c > '\u{FFFF}' || in_class(c, EMOJI_CHAR)
}

/// Enters a guarded emphasis: fails if already inside one of its kind.
pub(super) fn enter(flag: &Cell<bool>) -> Result<(), &'static str> {
    if flag.get() {
        Err("nested")
    } else {
        flag.set(true);
        Ok(())
    }
}

/// The parse's state: the original's global flags (an emphasis is never parsed
/// inside itself: `skipBold`, `skipItalic`, `skipStrikethrough`, `skipReferences`)
/// and a work budget the original lacks.
pub(super) struct Context {
    pub(super) bold: Cell<bool>,
    pub(super) italic: Cell<bool>,
    pub(super) strike: Cell<bool>,
    pub(super) references: Cell<bool>,
    /// Inline items tried so far, and how many may be. Some texts make the grammar
    /// try each position against the rest of the text (5,000 `[` take seconds);
    /// past the budget every rule fails, so the parse ends at once, unparsed.
    steps: Cell<u64>,
    budget: u64,
    /// For each byte offset, where a run from there ends (0: no match): of
    /// `domain_char()+`, of an e-mail's `local_part_char()+`, of ASCII letters and
    /// digits. The grammar tries these after every character of text, and
    /// rescanning the rest of a long word each time made a text of one long word
    /// cost the square of its length.
    pub(super) domain_runs: Vec<u32>,
    pub(super) local_part_runs: Vec<u32>,
    pub(super) alnum_runs: Vec<u32>,
    /// Where a run of one repeated character ends (`*`, `_`, `~` runs).
    pub(super) same_char_runs: Vec<u32>,
    /// Where `url_body()+` and `auto_link_url_body()+` end.
    pub(super) url_body_runs: Vec<u32>,
    pub(super) auto_link_body_runs: Vec<u32>,
}

impl Context {
    pub(super) fn new(text: &str, budget: u64) -> Context {
        let after = after_extras(text);
        Context {
            domain_runs: runs(text, |pos| domain_char_at(text, pos)),
            local_part_runs: local_part_runs(text),
            alnum_runs: runs(text, |pos| {
                let c = text[pos..].chars().next()?;
                c.is_ascii_alphanumeric().then_some(pos + 1)
            }),
            same_char_runs: same_char_runs(text),
            url_body_runs: url_body_runs(text, &after),
            auto_link_body_runs: auto_link_body_runs(text, &after),
            bold: Cell::new(false),
            italic: Cell::new(false),
            strike: Cell::new(false),
            references: Cell::new(false),
            steps: Cell::new(0),
            budget,
        }
    }

    pub(super) fn step(&self) -> Result<(), &'static str> {
        let steps = self.steps.get() + 1;
        self.steps.set(steps);
        if steps > self.budget {
            Err("over budget")
        } else {
            Ok(())
        }
    }

    /// Inline items tried.
    pub(super) fn steps(&self) -> u64 {
        self.steps.get()
    }

    pub(super) fn run(table: &[u32], pos: usize) -> peg::RuleResult<()> {
        match table.get(pos) {
            Some(&end) if end > 0 => peg::RuleResult::Matched(end as usize, ()),
            _ => peg::RuleResult::Failed,
        }
    }
}

/// Where `domain_char()` at `pos` ends, if it matches there: not an `extra`
/// character; a `_` or `-` is taken with the character after it, any other
/// character that is not `safe` alone; and the character taken last must not be
/// a line end, a space, a backslash, or one of `/ | > < %` and the backtick.
fn domain_char_at(text: &str, pos: usize) -> Option<usize> {
    let mut chars = text.get(pos..)?.chars();
    let first = chars.next()?;
    if is_extra(first) {
        return None;
    }
    let (last, end) = if matches!(first, '_' | '-') {
        let second = chars.next()?;
        (second, pos + first.len_utf8() + second.len_utf8())
    } else if matches!(first, '$' | '@' | '&' | '+' | '#' | '?') {
        return None;
    } else {
        (first, pos + first.len_utf8())
    };
    if matches!(
        last,
        '\r' | '\n' | ' ' | '\t' | '\\' | '/' | '|' | '>' | '<' | '%' | '`'
    ) {
        return None;
    }
    Some(end)
}

/// The end of `item+` from every byte offset (0 where it does not match), from
/// the right: a run from `p` goes on wherever the run from its first item's end
/// goes. `item` gives where one item at an offset ends.
fn runs(text: &str, item: impl Fn(usize) -> Option<usize>) -> Vec<u32> {
    let mut runs = vec![0u32; text.len() + 1];
    for pos in (0..text.len()).rev() {
        if !text.is_char_boundary(pos) {
            continue;
        }
        if let Some(end) = item(pos) {
            runs[pos] = match runs[end] {
                0 => end as u32,
                further => further,
            };
        }
    }
    runs
}

fn is_extra(c: char) -> bool {
    matches!(
        c,
        '.' | ',' | '!' | '%' | '~' | '*' | '"' | '\'' | ':' | ';' | '(' | ')' | '='
    )
}

/// For every byte offset, the first character after the run of `extra` characters
/// from there (the character there if it is not one).
fn after_extras(text: &str) -> Vec<Option<char>> {
    let mut after = vec![None; text.len() + 1];
    let mut next: Option<char> = None;
    for (pos, c) in text.char_indices().rev() {
        after[pos] = if is_extra(c) { next } else { Some(c) };
        next = after[pos];
    }
    after
}

/// `url_body()+`: characters of text and URL punctuation, up to a space, or up to
/// punctuation that ends the URL (`extra` characters before a space or line end).
/// `after` is [`after_extras`] of the text.
fn url_body_runs(text: &str, after: &[Option<char>]) -> Vec<u32> {
    runs(text, |pos| {
        let c = text[pos..].chars().next()?;
        let ends_url = is_extra(c) && matches!(after[pos], Some(' ' | '\t' | '\r' | '\n'));
        if ends_url || matches!(c, ' ' | '\t') {
            return None;
        }
        let text_char =
            matches!(c, '\x20'..='\x27' | '\x2B'..='\x5A' | '\x61'..='\x7A') || c >= '\u{80}';
        let url_char = matches!(
            c,
            '*' | '[' | '/' | ']' | '^' | '_' | '`' | '{' | '}' | '~' | '('
        );
        (text_char || url_char).then(|| pos + c.len_utf8())
    })
}

/// `auto_link_url_body()+`: any characters up to a space or line end, less the
/// `extra` characters right before it.
fn auto_link_body_runs(text: &str, after: &[Option<char>]) -> Vec<u32> {
    runs(text, |pos| {
        let c = text[pos..].chars().next()?;
        (!matches!(after[pos], Some(' ' | '\t' | '\r' | '\n'))).then(|| pos + c.len_utf8())
    })
}

/// For every byte offset, the end of the run of the character there.
fn same_char_runs(text: &str) -> Vec<u32> {
    let mut runs = vec![0u32; text.len() + 1];
    let mut after: Option<char> = None;
    for (pos, c) in text.char_indices().rev() {
        let next = pos + c.len_utf8();
        runs[pos] = if after == Some(c) {
            runs[next]
        } else {
            next as u32
        };
        after = Some(c);
    }
    runs
}

fn is_alpha_numeric_or_mark(c: char) -> bool {
    in_class(c, ALPHA_CHAR)
        || is_emoji_char(c)
        || in_class(c, MARK_CHAR)
        || in_class(c, DECIMAL_NUMBER_CHAR)
}

fn is_local_part_special(c: char) -> bool {
    matches!(
        c,
        '!' | '#'
            | '$'
            | '%'
            | '&'
            | '\''
            | '*'
            | '+'
            | '/'
            | '='
            | '?'
            | '^'
            | '_'
            | '`'
            | '{'
            | '|'
            | '}'
            | '~'
            | '-'
    )
}

/// `local_part_char()+` (`alpha_numeric_or_mark_char()+ local_part_special_chars()*`,
/// repeated): a run of letters, digits, marks, emoji and specials that starts
/// with one of the first four.
fn local_part_runs(text: &str) -> Vec<u32> {
    let mut starts = runs(text, |pos| {
        let c = text[pos..].chars().next()?;
        (is_alpha_numeric_or_mark(c) || is_local_part_special(c)).then(|| pos + c.len_utf8())
    });
    for (pos, end) in starts.iter_mut().enumerate() {
        let first = text.get(pos..).and_then(|t| t.chars().next());
        if !first.is_some_and(is_alpha_numeric_or_mark) {
            *end = 0;
        }
    }
    starts
}
