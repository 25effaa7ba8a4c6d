//! `${VAR}` expansion inside every string value of a parsed TOML tree.
//!
//! Owns the expansion syntax:
//! - `${NAME}` is replaced by the environment variable `NAME`
//!   (`NAME` = a letter or `_`, then letters, digits, `_`); unset is an error;
//! - `$${` is the escape: it stands for a literal `${` and is not expanded;
//! - any other `$` is kept as it is.
//!
//! Expansion runs after TOML parsing, so a value can never change the file's
//! structure, and every error knows the key path. Keys are never expanded.
//! It records each substitution so errors can hide the values later; it must
//! never print a variable's value itself.

use toml::Value;

/// One `${NAME}` that was replaced, kept so error messages can hide `value`.
#[derive(Debug, Clone)]
pub(super) struct Substitution {
    pub var: String,
    pub value: String,
}

/// Why a string could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ExpandError {
    /// `${NAME}` names a variable that is not set.
    Unset { var: String },
    /// A `${` that is not a well-formed reference.
    Malformed { reason: String },
}

/// Expands every string in `tree` in place. On error returns the key path of
/// the offending value (e.g. `discord.allowed_channels[1]`) and the cause.
pub(super) fn expand_tree(
    tree: &mut toml::Table,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Substitution>, (String, ExpandError)> {
    let mut done = Vec::new();
    for (key, value) in tree.iter_mut() {
        expand_value(value, key.clone(), env, &mut done)?;
    }
    Ok(done)
}

fn expand_value(
    value: &mut Value,
    path: String,
    env: &dyn Fn(&str) -> Option<String>,
    done: &mut Vec<Substitution>,
) -> Result<(), (String, ExpandError)> {
    match value {
        Value::String(text) => match expand_str(text, env, done) {
            Ok(expanded) => *text = expanded,
            Err(err) => return Err((path, err)),
        },
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                expand_value(item, format!("{path}[{index}]"), env, done)?;
            }
        }
        Value::Table(table) => {
            for (key, item) in table.iter_mut() {
                expand_value(item, format!("{path}.{key}"), env, done)?;
            }
        }
        Value::Integer(_) | Value::Float(_) | Value::Boolean(_) | Value::Datetime(_) => {}
    }
    Ok(())
}

/// Expands one string; appends what it substituted to `done`.
pub(super) fn expand_str(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    done: &mut Vec<Substitution>,
) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(body) = tail.strip_prefix("${") {
            let Some(end) = body.find('}') else {
                return Err(ExpandError::Malformed {
                    reason: "`${` without a closing `}`".to_owned(),
                });
            };
            let var = &body[..end];
            if !is_var_name(var) {
                return Err(ExpandError::Malformed {
                    reason: format!(
                        "`${{{var}}}` is not a variable reference (a name is a letter or _, \
                         then letters, digits or _)"
                    ),
                });
            }
            let value = env(var).ok_or_else(|| ExpandError::Unset {
                var: var.to_owned(),
            })?;
            out.push_str(&value);
            done.push(Substitution {
                var: var.to_owned(),
                value,
            });
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("abc.def".to_owned()),
            "PORT" => Some("9000".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn expand(text: &str) -> Result<String, ExpandError> {
        expand_str(text, &env, &mut Vec::new())
    }

    #[test]
    fn replaces_variables_anywhere_in_the_string() {
        assert_eq!(expand("${TOKEN}").unwrap(), "abc.def");
        assert_eq!(expand("http://h:${PORT}/x").unwrap(), "http://h:9000/x");
        assert_eq!(expand("${PORT}${PORT}").unwrap(), "90009000");
        assert_eq!(expand("a${EMPTY}b").unwrap(), "ab");
    }

    #[test]
    fn double_dollar_brace_is_a_literal() {
        assert_eq!(expand("$${TOKEN}").unwrap(), "${TOKEN}");
        assert_eq!(expand("cost $5 and $$").unwrap(), "cost $5 and $$");
        assert_eq!(expand("$${UNSET} ${PORT}").unwrap(), "${UNSET} 9000");
    }

    #[test]
    fn unset_variable_is_named() {
        assert_eq!(
            expand("x ${NOPE} y"),
            Err(ExpandError::Unset {
                var: "NOPE".to_owned()
            })
        );
    }

    #[test]
    fn malformed_references_are_errors() {
        let Err(ExpandError::Malformed { reason }) = expand("${TOKEN") else {
            panic!("expected an error")
        };
        assert!(reason.contains("without a closing"), "{reason}");
        let Err(ExpandError::Malformed { reason }) = expand("${1X}") else {
            panic!("expected an error")
        };
        assert!(
            reason.contains("`${1X}` is not a variable reference"),
            "{reason}"
        );
        assert!(matches!(expand("${}"), Err(ExpandError::Malformed { .. })));
    }

    #[test]
    fn tree_walk_reports_the_key_path_and_records_values() {
        let mut tree: toml::Table =
            toml::from_str("[a]\nlist = [\"${PORT}\", \"${TOKEN}\", 3]\n").unwrap();
        let done = expand_tree(&mut tree, &env).unwrap();
        assert_eq!(tree["a"]["list"][1].as_str(), Some("abc.def"));
        let vars: Vec<_> = done.iter().map(|s| s.var.as_str()).collect();
        assert_eq!(vars, ["PORT", "TOKEN"]);

        let mut tree: toml::Table = toml::from_str("[a]\nlist = [\"ok\", \"${NOPE}\"]\n").unwrap();
        let (key, err) = expand_tree(&mut tree, &env).unwrap_err();
        assert_eq!(key, "a.list[1]");
        assert_eq!(
            err,
            ExpandError::Unset {
                var: "NOPE".to_owned()
            }
        );
    }
}
