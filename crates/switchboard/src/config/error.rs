//! `ConfigError`: every way a config can be wrong, each message naming the
//! file, the key path and the reason, and where it helps, the fix.
//!
//! Owns turning serde/TOML errors into those messages and hiding secret values
//! in them ([`Redactor`]). It must never let a token or an expanded
//! environment value reach a message unredacted.

use std::io;

use super::expand::{ExpandError, Substitution};
use super::secret::REDACTED;

/// A config that cannot be used. `file` is the path as given (or
/// `<embedded>`), `key` a path such as `discord.allowed_channels[1]`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file does not exist.
    #[error(
        "{file}: config file not found; create it, or pass another with --config FILE \
         (`switchboard check --config FILE` validates a file without connecting)"
    )]
    NotFound { file: String },

    /// The file exists but cannot be read (a directory, permissions, not UTF-8).
    #[error("{file}: cannot read config file: {source}")]
    Read {
        file: String,
        #[source]
        source: io::Error,
    },

    /// Not valid TOML; `line` and `column` are 1-based.
    #[error("{file}: line {line}, column {column}: TOML syntax error: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },

    /// A `${VAR}` names a variable that is not set.
    #[error(
        "{file}: {key}: environment variable {var} is not set (set it, or put the value in the file)"
    )]
    UnsetVariable {
        file: String,
        key: String,
        var: String,
    },

    /// A `${` that is not a well-formed reference.
    #[error("{file}: {key}: {reason} (write $${{ for a literal ${{)")]
    BadReference {
        file: String,
        key: String,
        reason: String,
    },

    /// A key the format does not have (a typo, or a newer version's key).
    #[error("{file}: {key}: unknown key ({})", one_of(.expected))]
    UnknownKey {
        file: String,
        key: String,
        expected: Vec<String>,
    },

    /// A required key is absent.
    #[error("{file}: {key}: required key is missing")]
    MissingKey { file: String, key: String },

    /// A value of the wrong TOML type; a string's content is never shown.
    #[error("{file}: {key}: wrong type: expected {expected}, found {found}")]
    WrongType {
        file: String,
        key: String,
        expected: String,
        found: String,
    },

    /// A value of the right type that breaks a rule.
    #[error("{file}: {key}: {reason}")]
    Invalid {
        file: String,
        key: String,
        reason: String,
    },
}

impl ConfigError {
    /// A syntax error at byte `offset` of `text`, located as line and column
    /// (both 1-based). Only the parser's short message is kept: the source
    /// snippet it would print could contain a token.
    pub(super) fn syntax(file: &str, text: &str, offset: usize, message: &str) -> Self {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ConfigError::Syntax {
            file: file.to_owned(),
            line,
            column,
            message: message.trim().to_owned(),
        }
    }

    pub(super) fn expansion(file: &str, key: String, err: ExpandError) -> Self {
        let file = file.to_owned();
        match err {
            ExpandError::Unset { var } => ConfigError::UnsetVariable { file, key, var },
            ExpandError::Malformed { reason } => ConfigError::BadReference { file, key, reason },
        }
    }

    pub(super) fn invalid(file: &str, key: &str, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            file: file.to_owned(),
            key: key.to_owned(),
            reason: reason.into(),
        }
    }

    /// Turns a serde error at `path` (serde_path_to_error's form, `.` for the
    /// root) into the matching variant, in TOML words.
    pub(super) fn from_serde(file: &str, path: &str, message: &str) -> Self {
        let file = file.to_owned();
        let at = |name: &str| match path {
            "." | "" => name.to_owned(),
            _ if path.ends_with(&format!(".{name}")) || path == name => path.to_owned(),
            _ => format!("{path}.{name}"),
        };
        let key = if path == "." {
            String::new()
        } else {
            path.to_owned()
        };
        if let Some(rest) = message.strip_prefix("unknown field `") {
            let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
            let expected = expected
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect();
            return ConfigError::UnknownKey {
                file,
                key: at(name),
                expected,
            };
        }
        if let Some(rest) = message.strip_prefix("missing field `") {
            let name = rest.trim_end_matches('`');
            return ConfigError::MissingKey {
                file,
                key: at(name),
            };
        }
        if let Some((found, expected)) = message
            .strip_prefix("invalid type: ")
            .and_then(|rest| rest.rsplit_once(", expected "))
        {
            return ConfigError::WrongType {
                file,
                key,
                expected: toml_words(expected),
                found: toml_words(found),
            };
        }
        ConfigError::Invalid {
            file,
            key,
            reason: message.to_owned(),
        }
    }

    /// Hides every secret the redactor knows in every text of the error.
    pub(super) fn redact(self, redactor: &Redactor) -> Self {
        let r = |text: String| redactor.apply(text);
        match self {
            ConfigError::UnknownKey {
                file,
                key,
                expected,
            } => ConfigError::UnknownKey {
                file,
                key: r(key),
                expected,
            },
            ConfigError::WrongType {
                file,
                key,
                expected,
                found,
            } => ConfigError::WrongType {
                file,
                key: r(key),
                expected,
                found: r(found),
            },
            ConfigError::Invalid { file, key, reason } => ConfigError::Invalid {
                file,
                key: r(key),
                reason: r(reason),
            },
            ConfigError::BadReference { file, key, reason } => ConfigError::BadReference {
                file,
                key: r(key),
                reason: r(reason),
            },
            other => other,
        }
    }
}

/// The keys a table takes, for an unknown-key message.
fn one_of(expected: &[String]) -> String {
    match expected {
        [] => "this table takes no keys".to_owned(),
        keys => format!("expected one of: {}", keys.join(", ")),
    }
}

/// serde's type names as a TOML user knows them. A string's content is never
/// repeated: the key path already says where it is, and it may be a token.
fn toml_words(serde: &str) -> String {
    match serde {
        s if s.starts_with("string ") => "a string".to_owned(),
        "sequence" | "a sequence" => "an array".to_owned(),
        "map" | "a map" => "a table".to_owned(),
        s if s.starts_with("struct ") => "a table".to_owned(),
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" => {
            "an integer".to_owned()
        }
        s => s.to_owned(),
    }
}

/// Replaces known secret values in error texts: the Discord token by
/// `<redacted>`, every expanded environment value by `<value of $NAME>`.
/// Values shorter than [`Redactor::MIN_LEN`] are left alone (they cannot be
/// secrets, and replacing them would mangle messages).
#[derive(Debug, Default)]
pub(super) struct Redactor {
    /// (secret, replacement), longest secret first.
    pairs: Vec<(String, String)>,
}

impl Redactor {
    const MIN_LEN: usize = 8;

    pub(super) fn new(tokens: &[Option<&str>], substitutions: &[Substitution]) -> Self {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let token = tokens
            .iter()
            .flatten()
            .map(|t| (t.to_string(), REDACTED.to_owned()));
        let vars = substitutions
            .iter()
            .map(|s| (s.value.clone(), format!("<value of ${}>", s.var)));
        for (secret, replacement) in token.into_iter().chain(vars) {
            if secret.len() >= Self::MIN_LEN && !pairs.iter().any(|(s, _)| *s == secret) {
                pairs.push((secret, replacement));
            }
        }
        pairs.sort_by_key(|(secret, _)| std::cmp::Reverse(secret.len()));
        Redactor { pairs }
    }

    fn apply(&self, mut text: String) -> String {
        for (secret, replacement) in &self.pairs {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), replacement);
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(var: &str, value: &str) -> Substitution {
        Substitution {
            var: var.to_owned(),
            value: value.to_owned(),
        }
    }

    #[test]
    fn redactor_hides_token_and_long_env_values_only() {
        let token = "tok3n-tok3n-tok3n";
        let subs = [
            sub("TOKEN", token),
            sub("HOST", "internal.example"),
            sub("P", "80"),
        ];
        let redactor = Redactor::new(&[Some(token)], &subs);
        let text = format!("{token} at internal.example:80");
        assert_eq!(
            redactor.apply(text),
            "<redacted> at <value of $HOST>:80",
            "the token wins over its variable's name; short values stay"
        );
    }

    #[test]
    fn redactor_replaces_longest_first() {
        let subs = [sub("SHORT", "abcdefgh"), sub("LONG", "abcdefgh-ijkl")];
        let redactor = Redactor::new(&[None], &subs);
        assert_eq!(
            redactor.apply("x abcdefgh-ijkl y abcdefgh".to_owned()),
            "x <value of $LONG> y <value of $SHORT>"
        );
    }

    #[test]
    fn serde_messages_become_toml_words() {
        let err = ConfigError::from_serde(
            "f.toml",
            "a.b",
            "invalid type: string \"s3cret\", expected u64",
        );
        assert_eq!(
            err.to_string(),
            "f.toml: a.b: wrong type: expected an integer, found a string"
        );
        let err = ConfigError::from_serde("f.toml", "a", "invalid type: sequence, expected a map");
        assert_eq!(
            err.to_string(),
            "f.toml: a: wrong type: expected a table, found an array"
        );
        let err = ConfigError::from_serde("f.toml", ".", "unknown field `x`, there are no fields");
        assert_eq!(
            err.to_string(),
            "f.toml: x: unknown key (this table takes no keys)"
        );
        let err = ConfigError::from_serde("f.toml", "a", "missing field `b`");
        assert_eq!(err.to_string(), "f.toml: a.b: required key is missing");
        let err = ConfigError::from_serde("f.toml", "a", "something else");
        assert_eq!(err.to_string(), "f.toml: a: something else");
    }

    #[test]
    fn syntax_position_is_one_based() {
        let err = ConfigError::syntax("f.toml", "ab\ncd\nef", 4, "bad\n");
        assert_eq!(
            err.to_string(),
            "f.toml: line 2, column 2: TOML syntax error: bad"
        );
    }
}
