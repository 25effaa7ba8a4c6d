//! The systemd example under `deploy/systemd` as the tests read it: the
//! unit file (a plain INI parse: sections, `Key=value`, comments, line
//! continuations, repeated keys), its `EnvironmentFile` (`NAME=value`
//! lines) and systemd's time spans.
//!
//! Owns parsing only. It never changes a file under `deploy/` and never
//! runs anything; the tests decide what must hold.

use std::collections::BTreeMap;
use std::time::Duration;

/// A unit file: for each section, its assignments in order.
pub struct Unit {
    sections: Vec<(String, Vec<(String, String)>)>,
}

impl Unit {
    pub fn parse(text: &str) -> Unit {
        let mut sections: Vec<(String, Vec<(String, String)>)> = Vec::new();
        let mut pending = String::new();
        for raw in text.lines() {
            let line = raw.trim();
            if pending.is_empty() && (line.is_empty() || line.starts_with(['#', ';'])) {
                continue;
            }
            // A trailing backslash continues the line.
            if let Some(head) = line.strip_suffix('\\') {
                pending.push_str(head);
                pending.push(' ');
                continue;
            }
            let line = std::mem::take(&mut pending) + line;
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                sections.push((name.to_owned(), Vec::new()));
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not a Key=value line: {line:?}"));
            let (_, entries) = sections
                .last_mut()
                .unwrap_or_else(|| panic!("{line:?} before any [Section]"));
            entries.push((key.trim().to_owned(), value.trim().to_owned()));
        }
        Unit { sections }
    }

    /// Every value assigned to `key` in `section`, in order; an empty
    /// assignment resets the list, as systemd does for list settings.
    pub fn all(&self, section: &str, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (_, entries) in self.sections.iter().filter(|(name, _)| name == section) {
            for (_, v) in entries.iter().filter(|(k, _)| k == key) {
                if v.is_empty() {
                    out.clear();
                } else {
                    out.push(v.clone());
                }
            }
        }
        out
    }

    /// The last value of `key` in `section`.
    pub fn get(&self, section: &str, key: &str) -> Option<String> {
        self.all(section, key).pop()
    }

    /// Whether `key` in `section` is a true boolean (yes, true, on, 1).
    pub fn is_true(&self, section: &str, key: &str) -> bool {
        self.get(section, key)
            .is_some_and(|v| matches!(v.as_str(), "yes" | "true" | "on" | "1"))
    }
}

/// `ExecStart=` split into words, with systemd's prefixes (`-@:+!`) off.
pub fn exec_words(exec: &str) -> Vec<String> {
    let exec = exec.trim_start_matches(['-', '@', ':', '+', '!']);
    shell_words::split(exec).unwrap_or_else(|e| panic!("ExecStart {exec:?}: {e}"))
}

/// An `EnvironmentFile`: `NAME=value` lines (quotes around a value
/// removed), comments and blank lines skipped.
pub fn env_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(['#', ';']))
        .map(|l| {
            let (name, value) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("not a NAME=value line: {l:?}"));
            let value = value.trim();
            let unquoted = ['"', '\'']
                .iter()
                .find_map(|q| value.strip_prefix(*q)?.strip_suffix(*q))
                .unwrap_or(value);
            (name.trim().to_owned(), unquoted.to_owned())
        })
        .collect()
}

/// `Environment=` assignments (`NAME=value`, several per line).
pub fn environment(unit: &Unit) -> BTreeMap<String, String> {
    unit.all("Service", "Environment")
        .iter()
        .flat_map(|line| shell_words::split(line).expect("Environment= words"))
        .filter_map(|word| {
            let (k, v) = word.split_once('=')?;
            Some((k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// A systemd time span: a bare number is seconds, else units such as
/// `45s`, `1min 30s`, `500ms`.
pub fn time_span(text: &str) -> Duration {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Duration::from_secs(seconds);
    }
    humantime::parse_duration(text).unwrap_or_else(|e| panic!("time span {text:?}: {e}"))
}
