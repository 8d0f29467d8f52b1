//! Messages' parsed text (`md`): a port of Rocket.Chat's `@rocket.chat/message-parser`
//! (its PEG grammar and node builders), so the tree stored with a message is the one
//! Rocket.Chat would store and its clients render it as they would there.
//!
//! Tested with Rocket.Chat's own cases (`testdata/rocketchat_fixtures.json`, taken
//! from the package's tests) and with what its parser answered for several hundred
//! more inputs (`testdata/differential.json`); `tests/rc-conformance/message-parser`
//! regenerates both. Ported from Rocket.Chat's MIT-licensed source: see `NOTICE`.

mod classes;
mod context;
mod grammar;
mod hosts;
mod nodes;

use crate::store::message_md::MdNode;

/// What the parser recognizes beyond the fixed syntax; Rocket.Chat's `Options`,
/// filled from the workspace settings by [`crate::chat::Chat`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    /// `color:#rrggbb` becomes a colour (`HexColorPreview_Enabled`).
    pub colors: bool,
    /// `:)` and the like become emoji.
    pub emoticons: bool,
    /// KaTeX formulas, when enabled (`Katex_Enabled`), by which delimiters.
    pub katex: Option<KatexSyntax>,
    /// Domains linked although not under a public suffix
    /// (`Message_CustomDomain_AutoLink`).
    pub custom_domains: Vec<String>,
}

/// Which delimiters mark a KaTeX formula.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KatexSyntax {
    /// `$$…$$` blocks and `$…$` inline.
    pub dollar: bool,
    /// `\[…\]` blocks and `\(…\)` inline.
    pub parenthesis: bool,
}

impl Options {
    fn katex_dollar(&self) -> bool {
        self.katex.is_some_and(|k| k.dollar)
    }

    fn katex_parenthesis(&self) -> bool {
        self.katex.is_some_and(|k| k.parenthesis)
    }
}

/// Inline items the grammar may try per character of text, beyond a fixed
/// allowance. Ordinary text takes a few per character; the budget only stops
/// texts built to make the grammar retry every position against the rest.
const STEPS_PER_CHAR: u64 = 32;
const STEPS_BASE: u64 = 20_000;

/// Parses a message's text. `None` for empty text (Rocket.Chat stores no `md`
/// then), when the grammar does not accept it (as there; its rules leave that to
/// no text in practice), and when the text would cost the parser too much: the
/// message is then stored without `md`, and clients show `msg` as it is.
pub fn parse(text: &str, options: &Options) -> Option<Vec<MdNode>> {
    if text.is_empty() {
        return None;
    }
    let budget = STEPS_BASE + STEPS_PER_CHAR * text.len() as u64;
    let state = context::Context::new(text, budget);
    let parsed = grammar::message::start(text, options, &state);
    if state.steps() > budget {
        tracing::warn!(
            chars = text.chars().count(),
            "message text too costly to parse; stored without md"
        );
        return None;
    }
    match parsed {
        Ok(tree) => Some(tree),
        Err(error) => {
            tracing::debug!(%error, "message text the grammar does not accept");
            None
        }
    }
}

#[cfg(test)]
mod tests;
