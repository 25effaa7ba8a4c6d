//! Reading the echo agents' `--timestamps-file`: `prompt <ns> <text>`,
//! `chunk <ns> <text>` and `response <ns> <id> <result JSON>` lines
//! (newlines in text escaped as `\n`).

use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, Default)]
pub struct AgentLog {
    /// Every prompt text read, in file order, with its read time.
    pub prompts: Vec<(u64, String)>,
    /// First-chunk text -> write time (the last one if repeated).
    pub chunks: HashMap<String, u64>,
    /// Every answer to an agent's own request (`<id> <result JSON>`), in
    /// file order, with the time it was read.
    pub responses: Vec<(u64, String)>,
}

impl AgentLog {
    pub fn read(path: &Path) -> AgentLog {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut log = AgentLog::default();
        for line in text.lines() {
            let mut parts = line.splitn(3, ' ');
            let (Some(kind), Some(ns), Some(rest)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(ns) = ns.parse::<u64>() else { continue };
            let rest = rest.replace("\\n", "\n");
            match kind {
                "prompt" => log.prompts.push((ns, rest)),
                "chunk" => {
                    log.chunks.insert(rest, ns);
                }
                "response" => log.responses.push((ns, rest)),
                _ => {}
            }
        }
        log
    }

    /// When the prompt that is exactly `text` was read (the first time).
    pub fn prompt_read(&self, text: &str) -> Option<u64> {
        self.prompts
            .iter()
            .find(|(_, p)| p == text)
            .map(|(ns, _)| *ns)
    }
}
