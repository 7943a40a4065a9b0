//! Shell words: the one quoting function, and a strict parser of the POSIX
//! shell subset a plugin's commands may use, so that capability checks
//! match commands as the shell will split them — not as text.
//!
//! The parser accepts plain words, single quotes, double quotes without
//! expansions, backslash escapes, and the operators `|`, `||`, `&&`, `;`,
//! `<`, `>`, `>>` with an optional file descriptor (`2>`, `2>&1`).
//! Everything whose meaning it cannot prove — expansions (`$`, `` ` ``),
//! subshells, globs, comments, brace and tilde expansion, background
//! jobs, here-documents, control characters — is refused, never guessed.

use std::fmt;

/// A token of a parsed command: a word (quotes removed) or an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Word(String),
    Op(String),
}

/// Why a command (or a word) is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShellError {
    #[error("it contains the control character {}", escape_char(*.0))]
    Control(char),
    #[error("it contains a NUL byte, which no shell word can hold")]
    Nul,
    #[error("it holds {what} at byte {at}, which cannot be checked")]
    Unsupported { what: &'static str, at: usize },
    #[error("it holds an unterminated {0} quote")]
    Unterminated(&'static str),
}

fn escape_char(c: char) -> String {
    c.escape_default().to_string()
}

/// Control characters (C0, DEL and C1): refused in every command and path.
pub fn is_control(c: char) -> bool {
    c.is_control()
}

/// The first control character of `text`, if any.
pub fn find_control(text: &str) -> Option<char> {
    text.chars().find(|c| is_control(*c))
}

/// `text` with its control characters shown escaped (`\n`, `\u{1b}`) and
/// everything else as it is: for messages about hostile input.
pub fn escape_controls(text: &str) -> String {
    text.chars()
        .map(|c| {
            if is_control(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Quote one word for a POSIX shell, faithfully: the shell reads back
/// exactly `word`. A NUL byte cannot be in a shell word, so a word holding
/// one is refused — quoting never changes what it is given. (Plugin input
/// never gets here with any control character: the grant refuses it.)
pub fn quote(word: &str) -> Result<String, ShellError> {
    if word.contains('\0') {
        return Err(ShellError::Nul);
    }
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@,+%".contains(&b))
    {
        return Ok(word.to_string());
    }
    Ok(format!("'{}'", word.replace('\'', r"'\''")))
}

/// One unit of input: a character, or (in a capability pattern) a `*`
/// wildcard or a parameter's value, which are opaque to the shell rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unit {
    Ch(char),
    Star,
    Param(String),
}

/// A token as parsed: a word (its units, quotes removed), a lone unquoted
/// `*` (in patterns: any number of whole words), or an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lexeme {
    Word(Vec<Unit>),
    AnyWords,
    Op(String),
}

/// Split a command into shell tokens, or refuse it.
pub fn words(command: &str) -> Result<Vec<Token>, ShellError> {
    let units: Vec<Unit> = command.chars().map(Unit::Ch).collect();
    Ok(lex(&units)?
        .into_iter()
        .map(|l| match l {
            Lexeme::Word(u) => Token::Word(
                u.into_iter()
                    .map(|u| match u {
                        Unit::Ch(c) => c,
                        // Commands hold characters only.
                        Unit::Star | Unit::Param(_) => unreachable!("no wildcards in a command"),
                    })
                    .collect(),
            ),
            Lexeme::AnyWords => unreachable!("no wildcards in a command"),
            Lexeme::Op(o) => Token::Op(o),
        })
        .collect())
}

/// The lexer shared by commands and patterns.
pub(crate) fn lex(input: &[Unit]) -> Result<Vec<Lexeme>, ShellError> {
    Lexer {
        input,
        pos: 0,
        out: Vec::new(),
        word: Vec::new(),
        in_word: false,
        quoted: false,
        braces: false,
    }
    .run()
}

struct Lexer<'a> {
    input: &'a [Unit],
    pos: usize,
    out: Vec<Lexeme>,
    word: Vec<Unit>,
    in_word: bool,
    /// The word holds a quote or an escape.
    quoted: bool,
    /// The word holds an unquoted `{` or `}`.
    braces: bool,
}

impl Lexer<'_> {
    fn unsupported(&self, what: &'static str) -> ShellError {
        ShellError::Unsupported { what, at: self.pos }
    }

    fn peek(&self, ahead: usize) -> Option<char> {
        match self.input.get(self.pos + ahead) {
            Some(Unit::Ch(c)) => Some(*c),
            _ => None,
        }
    }

    fn run(mut self) -> Result<Vec<Lexeme>, ShellError> {
        while let Some(unit) = self.input.get(self.pos).cloned() {
            match unit {
                Unit::Ch(c) => self.char(c)?,
                other => {
                    self.word.push(other);
                    self.in_word = true;
                    self.pos += 1;
                }
            }
        }
        self.end_word()?;
        Ok(self.out)
    }

    fn char(&mut self, c: char) -> Result<(), ShellError> {
        if is_control(c) {
            return Err(ShellError::Control(c));
        }
        match c {
            ' ' => {
                self.end_word()?;
                self.pos += 1;
            }
            '\'' => self.single_quoted()?,
            '"' => self.double_quoted()?,
            '\\' => {
                let Some(next) = self.input.get(self.pos + 1).cloned() else {
                    return Err(self.unsupported("a trailing backslash"));
                };
                if let Unit::Ch(n) = next
                    && is_control(n)
                {
                    return Err(ShellError::Control(n));
                }
                self.word.push(next);
                self.in_word = true;
                self.quoted = true;
                self.pos += 2;
            }
            ';' | '&' | '|' | '<' | '>' => self.operator(c)?,
            '$' => return Err(self.unsupported("an expansion (`$`)")),
            '`' => return Err(self.unsupported("a command substitution (`)")),
            '(' | ')' => return Err(self.unsupported("a subshell or function (`(`, `)`)")),
            '*' | '?' | '[' => return Err(self.unsupported("an unquoted glob (`*`, `?`, `[`)")),
            '#' if !self.in_word => return Err(self.unsupported("a comment (`#`)")),
            '~' => return Err(self.unsupported("an unquoted `~` (tilde expansion)")),
            '!' => return Err(self.unsupported("an unquoted `!`")),
            // `{}` (the validate placeholder) is literal to every shell.
            '{' if self.peek(1) == Some('}') => {
                self.word.extend([Unit::Ch('{'), Unit::Ch('}')]);
                self.in_word = true;
                self.pos += 2;
            }
            '{' | '}' => {
                self.braces = true;
                self.word.push(Unit::Ch(c));
                self.in_word = true;
                self.pos += 1;
            }
            _ => {
                self.word.push(Unit::Ch(c));
                self.in_word = true;
                self.pos += 1;
            }
        }
        Ok(())
    }

    fn single_quoted(&mut self) -> Result<(), ShellError> {
        self.pos += 1;
        self.in_word = true;
        self.quoted = true;
        loop {
            match self.input.get(self.pos).cloned() {
                None => return Err(ShellError::Unterminated("single")),
                Some(Unit::Ch('\'')) => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(Unit::Ch(c)) if is_control(c) => return Err(ShellError::Control(c)),
                Some(u) => {
                    self.word.push(u);
                    self.pos += 1;
                }
            }
        }
    }

    fn double_quoted(&mut self) -> Result<(), ShellError> {
        self.pos += 1;
        self.in_word = true;
        self.quoted = true;
        loop {
            match self.input.get(self.pos).cloned() {
                None => return Err(ShellError::Unterminated("double")),
                Some(Unit::Ch('"')) => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(Unit::Ch(c)) if is_control(c) => return Err(ShellError::Control(c)),
                Some(Unit::Ch('$' | '`' | '\\' | '!')) => {
                    return Err(self.unsupported("`$`, `` ` ``, `\\` or `!` in double quotes"));
                }
                Some(u) => {
                    self.word.push(u);
                    self.pos += 1;
                }
            }
        }
    }

    /// `|`, `||`, `&&`, `;`, `<`, `>`, `>>`, with a file descriptor before
    /// a redirection (`2>`) and `>&N` after it.
    fn operator(&mut self, c: char) -> Result<(), ShellError> {
        let mut op = String::new();
        let redirect = matches!(c, '<' | '>');
        let fd = self.in_word
            && !self.braces
            && !self.word.is_empty()
            && self
                .word
                .iter()
                .all(|u| matches!(u, Unit::Ch(d) if d.is_ascii_digit()));
        if redirect && fd {
            op = self
                .word
                .drain(..)
                .map(|u| match u {
                    Unit::Ch(d) => d,
                    _ => unreachable!(),
                })
                .collect();
            self.in_word = false;
        } else {
            self.end_word()?;
        }
        op.push(c);
        self.pos += 1;
        match (c, self.peek(0)) {
            ('|', Some('|')) | ('&', Some('&')) | ('>', Some('>')) => {
                op.push(c);
                self.pos += 1;
            }
            ('&', _) => return Err(self.unsupported("a background job (`&`)")),
            ('<', Some('<' | '(' | '>' | '&')) => {
                return Err(self.unsupported("a here-document or process substitution"));
            }
            ('|', Some('&')) => return Err(self.unsupported("`|&`")),
            _ => {}
        }
        if redirect && self.peek(0) == Some('&') {
            op.push('&');
            self.pos += 1;
            let digits_start = self.pos;
            while let Some(d) = self.peek(0).filter(char::is_ascii_digit) {
                op.push(d);
                self.pos += 1;
            }
            if self.pos == digits_start {
                return Err(self.unsupported("`>&` without a file descriptor"));
            }
        }
        if redirect && self.peek(0) == Some('(') {
            return Err(self.unsupported("a process substitution"));
        }
        self.out.push(Lexeme::Op(op));
        Ok(())
    }

    fn end_word(&mut self) -> Result<(), ShellError> {
        if !self.in_word {
            return Ok(());
        }
        let word = std::mem::take(&mut self.word);
        if self.braces {
            return Err(self.unsupported("an unquoted `{` or `}` (brace expansion)"));
        }
        self.braces = false;
        self.in_word = false;
        let quoted = std::mem::take(&mut self.quoted);
        self.out.push(if word == [Unit::Star] && !quoted {
            Lexeme::AnyWords
        } else {
            Lexeme::Word(word)
        });
        Ok(())
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word(w) => {
                f.write_str(&quote(w).unwrap_or_else(|_| w.escape_default().to_string()))
            }
            Token::Op(o) => f.write_str(o),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Token {
        Token::Word(s.into())
    }
    fn op(s: &str) -> Token {
        Token::Op(s.into())
    }

    #[test]
    fn words_as_the_shell_splits_them() {
        assert_eq!(
            words("stat -c %a '/x/my dir.flag'").unwrap(),
            [w("stat"), w("-c"), w("%a"), w("/x/my dir.flag")]
        );
        assert_eq!(
            words(r"echo 'it'\''s' \; \$x").unwrap(),
            [w("echo"), w("it's"), w(";"), w("$x")]
        );
        assert_eq!(words("a  \"b c\" ''").unwrap(), [w("a"), w("b c"), w("")]);
        assert_eq!(
            words("cmd 2>&1 >>/log | grep x && true || false; y").unwrap(),
            [
                w("cmd"),
                op("2>&1"),
                op(">>"),
                w("/log"),
                op("|"),
                w("grep"),
                w("x"),
                op("&&"),
                w("true"),
                op("||"),
                w("false"),
                op(";"),
                w("y")
            ]
        );
        assert_eq!(words("haproxy -c -f {}").unwrap()[3], w("{}"));
        assert_eq!(words("docker run -v {}:/x:ro").unwrap()[3], w("{}:/x:ro"));
    }

    #[test]
    fn what_cannot_be_proved_is_refused() {
        for bad in [
            "echo $HOME",
            "echo `id`",
            "echo $(id)",
            "(id)",
            "cat /app/*",
            "tool x # --dry-run",
            "ls ~root",
            "echo {a,b}",
            "sleep 1 &",
            "cat <<EOF",
            "diff <(a) b",
            "echo \"$x\"",
            "echo 'unterminated",
            "a\0b",
            "a\nb",
            "a\tb",
            "'a\u{1b}[31m'",
            "! true",
            "x\\",
        ] {
            assert!(words(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn quoting_never_changes_its_input() {
        for word in ["plain", "with space", "it's", "$(id)", "", "a;b", "ünï"] {
            let q = quote(word).unwrap();
            assert_eq!(words(&q).unwrap(), [w(word)], "{word:?} quoted as {q}");
        }
        assert_eq!(quote("../\0../etc"), Err(ShellError::Nul));
        assert_eq!(quote("a\nb").unwrap(), "'a\nb'");
    }
}
