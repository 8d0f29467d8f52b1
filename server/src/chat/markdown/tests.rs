//! The parser against Rocket.Chat's: its own test cases and its answers for more.

use serde::Deserialize;

use super::{parse, KatexSyntax, Options};

#[derive(Deserialize)]
struct Case {
    file: String,
    input: String,
    options: Option<JsOptions>,
    #[serde(default)]
    expected: serde_json::Value,
    #[serde(default)]
    expected_error: bool,
}

/// The options object as passed to Rocket.Chat's `parse`.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsOptions {
    #[serde(default)]
    colors: bool,
    #[serde(default)]
    emoticons: bool,
    katex: Option<JsKatex>,
    #[serde(default)]
    custom_domains: Vec<String>,
}

#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsKatex {
    #[serde(default)]
    dollar_syntax: bool,
    #[serde(default)]
    parenthesis_syntax: bool,
}

impl From<JsOptions> for Options {
    fn from(o: JsOptions) -> Options {
        Options {
            colors: o.colors,
            emoticons: o.emoticons,
            katex: o.katex.map(|k| KatexSyntax {
                dollar: k.dollar_syntax,
                parenthesis: k.parenthesis_syntax,
            }),
            custom_domains: o.custom_domains,
        }
    }
}

/// Runs every case and reports all mismatches at once.
fn check(cases_json: &str) {
    let cases: Vec<Case> = serde_json::from_str(cases_json).expect("fixture file");
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for case in &cases {
        if case.expected_error {
            continue;
        }
        let options = case.options.clone().map(Options::from).unwrap_or_default();
        let got = parse(&case.input, &options)
            .map(|tree| serde_json::to_value(tree).unwrap())
            .unwrap_or(serde_json::Value::Null);
        if !same_json(&got, &case.expected) {
            failures.push(format!(
                "{} {:?}\n  expected {}\n  got      {}",
                case.file, case.input, case.expected, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// JSON equality, but for numbers past 2^53, which JavaScript writes rounded to
/// 17 digits and serde_json reads back to within one unit in the last place.
fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            (x - y).abs() <= x.abs().max(y.abs()) * 4.0 * f64::EPSILON
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn rocket_chat_test_cases() {
    check(include_str!("testdata/rocketchat_fixtures.json"));
}

#[test]
fn agrees_with_rocket_chat_parser() {
    check(include_str!("testdata/differential.json"));
}

#[test]
fn empty_text_has_no_tree() {
    assert_eq!(parse("", &Options::default()), None);
}

/// Texts built to make the grammar retry every position against the rest stop at
/// the work budget and are stored without a tree; ordinary text of the same length
/// is parsed. (`cargo bench -p palaver-tests --bench markdown` prints the times.)
#[test]
fn costly_texts_stop_at_the_budget() {
    let options = Options {
        emoticons: true,
        ..Options::default()
    };
    assert_eq!(parse(&"[".repeat(5000), &options), None);
    assert_eq!(parse(&"_a *b ~c [d".repeat(454), &options), None);
    let prose = "The quick brown fox, *bold* and _italic_, jumps over https://rocket.chat :) ";
    let long = prose.repeat(5000 / prose.len());
    assert!(parse(&long, &options).is_some());
}
