//! Property tests of the command parser and matcher against real shells:
//! whatever text a plugin sends, a command the parser accepts splits into
//! exactly the words `sh` (and `bash`, when present) would pass to the
//! program, and a command a pattern accepts runs nothing the pattern did
//! not allow. The arbitrary-text property doubles as the matcher's fuzz
//! run (`FUZZ_CASES`).

use std::process::Command;

use proptest::prelude::*;
use runner_types::capability::{Access, Capabilities, Grant};
use runner_types::shell::{self, Token};

/// Shell-looking text: words, quotes, escapes, operators, expansions,
/// comments, globs, braces, control characters.
fn shellish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("a"),
        Just("bc"),
        Just("-x"),
        Just("--dry-run"),
        Just(" "),
        Just("  "),
        Just("'"),
        Just("\""),
        Just("\\"),
        Just(";"),
        Just("#"),
        Just("$"),
        Just("$(id)"),
        Just("`id`"),
        Just("*"),
        Just("?"),
        Just("["),
        Just("{"),
        Just("}"),
        Just("{}"),
        Just("{a,b}"),
        Just("|"),
        Just("&"),
        Just(">"),
        Just("2>&1"),
        Just("<"),
        Just("~"),
        Just("("),
        Just(")"),
        Just("!"),
        Just("="),
        Just("\n"),
        Just("\t"),
        Just("\0"),
        Just("\u{1b}"),
        Just("é"),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|p| p.concat())
}

/// The words `shell` passes to a program for `args` (run as `printf`'s
/// arguments), or `None` when the shell refuses the text.
fn shell_words(shell: &str, args: &str) -> Option<Vec<String>> {
    let out = Command::new(shell)
        .arg("-c")
        .arg(format!("printf '%s\\0' {args}"))
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let mut words: Vec<String> = text.split('\0').map(str::to_string).collect();
    words.pop(); // after the last NUL
    Some(words)
}

fn shells() -> Vec<&'static str> {
    ["sh", "bash"]
        .into_iter()
        .filter(|s| Command::new(s).arg("-c").arg("true").status().is_ok())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn accepted_words_are_the_shells_words(args in shellish()) {
        let Ok(tokens) = shell::words(&args) else { return Ok(()) };
        if tokens.iter().any(|t| matches!(t, Token::Op(_))) {
            return Ok(());
        }
        let ours: Vec<String> = tokens
            .into_iter()
            .map(|t| match t { Token::Word(w) => w, Token::Op(_) => unreachable!() })
            .collect();
        for sh in shells() {
            // printf with no argument prints one empty word.
            let expected = if ours.is_empty() { vec![String::new()] } else { ours.clone() };
            prop_assert_eq!(shell_words(sh, &args), Some(expected), "{} split {:?}", sh, args);
        }
    }

    #[test]
    fn a_granted_command_runs_only_what_the_pattern_allows(args in shellish()) {
        let caps = Capabilities {
            probes: vec!["printf * --dry-run".into()],
            ..Default::default()
        };
        let grant = Grant::new("p", &caps, &serde_json::json!({}));
        let command = format!("printf {args} --dry-run");
        if grant.check(Access::Probe, &command).is_err() {
            return Ok(());
        }
        // Accepted: the shell must see one printf whose last word is
        // --dry-run, and nothing else.
        for sh in shells() {
            let words = shell_words(sh, &format!("{args} --dry-run"));
            prop_assert!(words.is_some(), "{} refused {:?}", sh, command);
            let words = words.unwrap_or_default();
            prop_assert_eq!(words.last().map(String::as_str), Some("--dry-run"));
        }
    }

    #[test]
    fn a_parameter_is_one_word_only_when_quoted(value in shellish()) {
        let caps = Capabilities {
            probes: vec!["test -e {path}".into()],
            ..Default::default()
        };
        let grant = Grant::new("p", &caps, &serde_json::json!({ "path": value }));
        let Ok(quoted) = shell::quote(&value) else { return Ok(()) };
        let accepted = grant.check(Access::Probe, &format!("test -e {quoted}")).is_ok();
        prop_assert_eq!(accepted, !value.chars().any(char::is_control), "{:?}", value);
        // The unquoted form passes only where the shell reads it as that
        // one word anyway.
        let unquoted = format!("test -e {value}");
        if grant.check(Access::Probe, &unquoted).is_ok() {
            prop_assert_eq!(
                shell::words(&unquoted).unwrap(),
                vec![Token::Word("test".into()), Token::Word("-e".into()), Token::Word(value.clone())]
            );
        }
    }
}

/// Cases for the arbitrary-text property: 2000 in the suite; a long fuzz
/// run sets `FUZZ_CASES` (e.g. `FUZZ_CASES=1000000 cargo test -p
/// runner-types --test shell_prop any_text`).
fn fuzz_cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(fuzz_cases()))]

    /// Arbitrary text (any Unicode, any bytes a string can hold): the
    /// parser never panics, and every word it accepts quotes back to
    /// itself.
    #[test]
    fn any_text_is_parsed_or_refused_never_misread(text in "\\PC{0,40}|[\\x00-\\x7f]{0,40}") {
        if let Ok(tokens) = shell::words(&text) {
            for t in tokens {
                if let Token::Word(w) = t {
                    let q = shell::quote(&w).expect("accepted words hold no NUL");
                    prop_assert_eq!(shell::words(&q).unwrap(), vec![Token::Word(w)]);
                }
            }
        }
        let caps = Capabilities {
            probes: vec!["ls -l *".into(), "cat '/srv/*'".into(), "test -e {p}".into()],
            ..Default::default()
        };
        let grant = Grant::new("p", &caps, &serde_json::json!({ "p": text }));
        for command in [format!("ls -l {text}"), format!("cat {text}"), format!("test -e {text}")] {
            if grant.check(Access::Probe, &command).is_ok() {
                let tokens = shell::words(&command).unwrap();
                prop_assert!(tokens.iter().all(|t| matches!(t, Token::Word(_))), "{:?}", command);
            }
        }
    }
}
