//! What the demo agent does with a prompt: the `[[directive]]`s found in
//! its text, and the deterministic texts it streams.
//!
//! Owns: directive parsing, the `[[long:N]]` text and chunking by chars.
//! Pure functions only.
//!
//! Must never: split a multi-byte character across chunks.

use agent_client_protocol_schema::v1::ToolKind;

/// Chunk size (in characters) for long answers.
pub const LONG_CHUNK_CHARS: usize = 97;

/// The directives of one prompt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    /// `[[long:N]]`: answer with exactly N characters of text.
    pub long: Option<usize>,
    /// `[[crash]]`: one chunk, then exit with status 3.
    pub crash: bool,
    /// `[[hang]]`: one chunk, then nothing ever again.
    pub hang: bool,
    /// `[[permission:KIND]]`: ask permission for a tool call of KIND.
    pub permission: Option<ToolKind>,
    /// `[[slow:MS]]`: wait MS between chunks.
    pub slow_ms: Option<u64>,
    /// `[[tool]]`: one tool call and its update.
    pub tool: bool,
    /// `[[env]]`: report the names of the environment variables.
    pub env: bool,
    /// `[[flood:N]]`: after the header, N bytes on stdout with no newline
    /// (a broken agent), then nothing ever again.
    pub flood: Option<u64>,
    /// `[[flood-stderr:N]]`: one stderr line of N bytes, then the rest of
    /// the turn as usual.
    pub flood_stderr: Option<u64>,
    /// `[[wait-for-cancel]]`: after the first chunk, wait for
    /// `session/cancel`, then carry on with the remaining steps (a
    /// permission request then crosses the cancel, as it can in real life).
    pub wait_for_cancel: bool,
    /// `[[mode]]`: say the session's current mode ("mode: ID").
    pub mode: bool,
    /// `[[late:TEXT]]`: after answering the prompt, send TEXT as answer
    /// text anyway (an agent whose text outlives its turn).
    pub late: Option<String>,
}

impl Script {
    /// Read the directives in `text`; unknown ones are ignored.
    pub fn parse(text: &str) -> Self {
        let mut script = Self::default();
        let mut rest = text;
        while let Some(start) = rest.find("[[") {
            let after = &rest[start + 2..];
            let Some(end) = after.find("]]") else { break };
            let directive = after[..end].trim();
            rest = &after[end + 2..];
            let (name, arg) = match directive.split_once(':') {
                Some((name, arg)) => (name.trim(), Some(arg.trim())),
                None => (directive, None),
            };
            match (name, arg) {
                ("long", Some(n)) => script.long = n.parse().ok(),
                ("crash", None) => script.crash = true,
                ("hang", None) => script.hang = true,
                ("permission", Some(kind)) => script.permission = Some(tool_kind(kind)),
                ("slow", Some(ms)) => script.slow_ms = ms.parse().ok(),
                ("tool", None) => script.tool = true,
                ("env", None) => script.env = true,
                ("wait-for-cancel", None) => script.wait_for_cancel = true,
                ("mode", None) => script.mode = true,
                ("late", Some(text)) => script.late = Some(text.to_owned()),
                ("flood", Some(n)) => script.flood = n.parse().ok(),
                ("flood-stderr", Some(n)) => script.flood_stderr = n.parse().ok(),
                _ => {}
            }
        }
        script
    }

    /// Whether the prompt had any directive at all.
    pub fn is_scripted(&self) -> bool {
        *self != Self::default()
    }
}

/// A tool kind by its wire name; unknown names are `other`.
pub fn tool_kind(name: &str) -> ToolKind {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).unwrap_or(ToolKind::Other)
}

/// Exactly `n` characters of deterministic text mixing accents, CJK,
/// emoji and fenced code blocks with a language.
pub fn long_text(n: usize) -> String {
    const PIECES: [&str; 6] = [
        "Voilà, the café's crème brûlée is déjà vu. ",
        "漢字と絵文字 🚀🦀 mixed with ASCII. ",
        "Here is some code:\n```rust\nfn main() {\n    println!(\"héllo, 世界 🌍\");\n}\n```\n",
        "Über naïve façades, señor — ½ ≠ ¾. ",
        "```python\nprint(\"ünïcödé ✓\")\n```\n",
        "Line ends here.\n",
    ];
    PIECES
        .iter()
        .cycle()
        .flat_map(|piece| piece.chars())
        .take(n)
        .collect()
}

/// `text` cut into pieces of at most `size` characters (never inside a
/// character).
pub fn chunks(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(size.max(1))
        .map(|piece| piece.iter().collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_directives_anywhere() {
        let script = Script::parse(
            "please [[long:500]] and [[permission:edit]] then [[slow:20]][[tool]] [[env]] [[bogus]]",
        );
        assert_eq!(
            script,
            Script {
                long: Some(500),
                permission: Some(ToolKind::Edit),
                slow_ms: Some(20),
                tool: true,
                env: true,
                ..Script::default()
            }
        );
        assert!(Script::parse("[[crash]]").crash);
        assert!(Script::parse("x [[hang]] y").hang);
        assert!(Script::parse("[[wait-for-cancel]]").wait_for_cancel);
        assert_eq!(Script::parse("[[flood:1024]]").flood, Some(1024));
        assert_eq!(Script::parse("[[flood-stderr:99]]").flood_stderr, Some(99));
        assert!(!Script::parse("hello [[ unclosed").is_scripted());
        assert_eq!(
            Script::parse("[[permission:read]]").permission,
            Some(ToolKind::Read)
        );
        assert_eq!(
            Script::parse("[[permission:zzz]]").permission,
            Some(ToolKind::Other)
        );
    }

    #[test]
    fn long_text_has_exact_length_and_variety() {
        for n in [0, 1, 97, 1000, 4321] {
            assert_eq!(long_text(n).chars().count(), n);
        }
        let text = long_text(2000);
        for needle in ["é", "漢字", "🚀", "```rust\n", "```python\n"] {
            assert!(text.contains(needle), "{needle}");
        }
        assert_eq!(long_text(300), long_text(300));
    }

    #[test]
    fn chunks_split_by_chars() {
        let text = long_text(1000);
        let pieces = chunks(&text, LONG_CHUNK_CHARS);
        assert_eq!(pieces.len(), 11);
        assert!(pieces[..10].iter().all(|p| p.chars().count() == 97));
        assert_eq!(pieces.concat(), text);
        // Boundaries fall next to multi-byte characters somewhere.
        assert!(pieces.iter().any(|p| p.len() > p.chars().count()));
    }
}
