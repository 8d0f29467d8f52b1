//! The message parser's cost (`md`, Rocket.Chat's message-parser grammar): time per
//! parse of everyday messages and of 5,000-character texts built to make a PEG
//! retry every position, in this process (`cargo bench` builds it optimized).
//!
//! `cargo bench -p palaver-tests --bench markdown`

use std::time::{Duration, Instant};

use palaver_server::chat::markdown::{parse, KatexSyntax, Options};

/// Median time of `runs` parses, and whether a tree came out.
fn time(text: &str, options: &Options, runs: usize) -> (Duration, bool) {
    let mut times = Vec::with_capacity(runs);
    let mut parsed = false;
    for _ in 0..runs {
        let start = Instant::now();
        parsed = std::hint::black_box(parse(std::hint::black_box(text), options)).is_some();
        times.push(start.elapsed());
    }
    times.sort();
    (times[runs / 2], parsed)
}

fn main() {
    // Rocket.Chat's server defaults.
    let options = Options {
        colors: true,
        emoticons: true,
        katex: Some(KatexSyntax {
            dollar: false,
            parenthesis: true,
        }),
        custom_domains: Vec::new(),
    };
    let everyday: &[(&str, String)] = &[
        ("hello", "Hello".into()),
        ("sentence", "Can we move the stand-up to 10:30 tomorrow? @alice @bob".into()),
        (
            "markup",
            "**Release 7.2** is out :tada: see https://rocket.chat/docs and _thanks_ ~~all~~ everyone"
                .into(),
        ),
        (
            "code block",
            "```rust\nfn main() {\n    println!(\"hi\");\n}\n```".into(),
        ),
        (
            "list",
            "Plan:\n1. fix the build\n2. ship it\n- [x] tests\n- [ ] docs".into(),
        ),
        (
            "5,000 chars of prose",
            "The quick brown fox, *bold* and _italic_, jumps over https://rocket.chat :) "
                .repeat(66),
        ),
    ];
    println!("everyday messages (median of 2,000 parses)");
    for (name, text) in everyday {
        let (t, parsed) = time(text, &options, 2000);
        println!(
            "  {name:<24} {:>6} chars {:>10.1} µs  tree: {parsed}",
            text.chars().count(),
            t.as_secs_f64() * 1e6
        );
    }
    let hostile: &[(&str, String)] = &[
        ("[ x 5000", "[".repeat(5000)),
        ("_a *b ~c [d", "_a *b ~c [d".repeat(454)),
        ("- [x]  x 833", "- [x] ".repeat(833)),
        ("\\[ x 2500", "\\[".repeat(2500)),
        ("* x 5000", "*".repeat(5000)),
        ("a x 5000", "a".repeat(5000)),
        ("+1- x 1666", "+1-".repeat(1666)),
        ("<t: x 1666", "<t:".repeat(1666)),
        ("a.b then 4997 dots", format!("a.b{}", ".".repeat(4997))),
        ("*_~*_~a x 714", "*_~*_~a".repeat(714)),
    ];
    println!("hostile texts (median of 20 parses; no tree: stopped at the work budget)");
    for (name, text) in hostile {
        let (t, parsed) = time(text, &options, 20);
        println!(
            "  {name:<24} {:>6} chars {:>10.2} ms  tree: {parsed}",
            text.chars().count(),
            t.as_secs_f64() * 1e3
        );
    }
}
