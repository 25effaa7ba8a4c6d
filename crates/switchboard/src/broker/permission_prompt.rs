//! A permission request as people see it in a thread (issue 13): who may
//! decide it, the text of the prompt and of its decision, and the ids of
//! its buttons.
//!
//! A button's id is bound to its thread, its request and its option by an
//! HMAC under a key made fresh for each process: an id copied into another
//! thread, edited to another request, or left over from an earlier run does
//! not verify, and is refused without deciding anything. Owns no I/O; never
//! decides for anyone.

use std::fmt::Write as _;

use ring::hmac;

use crate::agent::ask::PermissionAsk;

/// The prefix of every permission button id.
const PREFIX: &str = "sbp";
/// HMAC bytes kept in an id (128 bits, 32 hex digits).
const TAG_BYTES: usize = 16;

/// The per-process key button ids are signed with.
pub struct ButtonKey {
    key: hmac::Key,
}

impl std::fmt::Debug for ButtonKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ButtonKey(<secret>)")
    }
}

/// Why a button id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ButtonIdError {
    #[error("not a permission button id")]
    NotOurs,
    #[error("the id does not verify for this thread: forged, or from an earlier run")]
    Forged,
}

/// What a verified button id says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ButtonChoice {
    /// The request's number within the thread's prompts.
    pub request: u64,
    /// The option's index in the prompt (allow options first).
    pub option: usize,
}

impl ButtonKey {
    pub fn random() -> Self {
        let secret: [u8; 32] = rand::random();
        Self::from_secret(&secret)
    }

    fn from_secret(secret: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    fn tag(&self, thread: &str, request: u64, option: usize) -> String {
        let signed = hmac::sign(&self.key, format!("{thread}|{request}|{option}").as_bytes());
        signed.as_ref()[..TAG_BYTES]
            .iter()
            .fold(String::new(), |mut hex, b| {
                let _ = write!(hex, "{b:02x}");
                hex
            })
    }

    /// The id of option `option` of request `request` in `thread` (under
    /// 100 characters: Discord's and Slack's limits both hold).
    pub fn button_id(&self, thread: &str, request: u64, option: usize) -> String {
        format!(
            "{PREFIX}:{request}:{option}:{}",
            self.tag(thread, request, option)
        )
    }

    /// Check a clicked id against the thread it was clicked in.
    pub fn verify(&self, thread: &str, id: &str) -> Result<ButtonChoice, ButtonIdError> {
        let mut parts = id.split(':');
        let (Some(PREFIX), Some(request), Some(option), Some(tag), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(ButtonIdError::NotOurs);
        };
        let (Ok(request), Ok(option)) = (request.parse::<u64>(), option.parse::<usize>()) else {
            return Err(ButtonIdError::NotOurs);
        };
        let expected = self.tag(thread, request, option);
        // Constant time: compare every byte whatever the first mismatch.
        let same = expected.len() == tag.len()
            && expected
                .bytes()
                .zip(tag.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same {
            Ok(ButtonChoice { request, option })
        } else {
            Err(ButtonIdError::Forged)
        }
    }
}

/// Who may decide a thread's permission requests: the people whose
/// messages started the turn, and the configured approvers (user ids, and
/// role or user-group ids the clicking user belongs to).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deciders {
    pub requesters: Vec<String>,
    pub approver_users: Vec<String>,
    pub approver_groups: Vec<String>,
}

impl Deciders {
    /// Whether `user` (a member of `groups`) may decide.
    pub fn may_decide(&self, user: &str, groups: &[String]) -> bool {
        self.requesters.iter().any(|r| r == user)
            || self.approver_users.iter().any(|a| a == user)
            || groups.iter().any(|g| self.approver_groups.contains(g))
    }
}

/// Agent-provided text with every `<@` broken by a zero-width space, so
/// it can never become a mention (only switchboard's own mentions ping).
pub fn without_mentions(text: &str) -> String {
    text.replace("<@", "<\u{200b}@").replace("<!", "<\u{200b}!")
}

/// The prompt's text (the buttons carry the options): the tool, its kind,
/// the preview, and who may decide.
pub fn prompt_text(asked: &PermissionAsk, requester_mentions: &[String]) -> String {
    let mut text = format!(
        "🔐 Permission needed: **{}** ({})",
        without_mentions(&asked.tool_title),
        asked.tool_kind
    );
    if !asked.preview.is_empty() {
        let _ = write!(
            text,
            "\n```\n{}\n```",
            without_mentions(&asked.preview).replace("```", "`\u{200b}``")
        );
    }
    let who = if requester_mentions.is_empty() {
        "an approver".to_owned()
    } else {
        format!("{} or an approver", requester_mentions.join(", "))
    };
    let _ = write!(text, "\nOnly {who} can decide.");
    text
}

/// How the prompt reads once decided: the choice, by whom, and when
/// (`at` as the platform formats a time, e.g. "14:05 UTC").
pub fn decided_text(asked_title: &str, choice: &str, by: &str, at: &str) -> String {
    format!(
        "🔐 **{}**: {choice} by {by} at {at}",
        without_mentions(asked_title)
    )
}

/// The private answer to someone who may not decide.
pub fn refusal_text(requester_mentions: &[String]) -> String {
    if requester_mentions.is_empty() {
        "Only an approver can decide this.".to_owned()
    } else {
        format!(
            "Only {} or an approver can decide this.",
            requester_mentions.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_button_id_verifies_only_in_its_thread_for_its_request_and_option() {
        let key = ButtonKey::from_secret(b"test secret");
        let id = key.button_id("thread-1", 3, 1);
        assert!(id.len() <= 100, "{id}");
        assert_eq!(
            key.verify("thread-1", &id),
            Ok(ButtonChoice {
                request: 3,
                option: 1
            })
        );
        assert_eq!(key.verify("thread-2", &id), Err(ButtonIdError::Forged));
        let other_option = id.replacen(":3:1:", ":3:0:", 1);
        assert_eq!(
            key.verify("thread-1", &other_option),
            Err(ButtonIdError::Forged)
        );
        let earlier_run = ButtonKey::from_secret(b"another run");
        assert_eq!(
            earlier_run.verify("thread-1", &id),
            Err(ButtonIdError::Forged)
        );
        for junk in ["", "sbp", "sbp:x:1:ab", "xyz:3:1:ab", "sbp:3:1:ab:extra"] {
            assert_eq!(
                key.verify("thread-1", junk),
                Err(ButtonIdError::NotOurs),
                "{junk}"
            );
        }
        assert_ne!(
            ButtonKey::random().button_id("t", 1, 0),
            ButtonKey::random().button_id("t", 1, 0),
            "a fresh key per process"
        );
    }

    #[test]
    fn requesters_and_approvers_decide_and_nobody_else() {
        let deciders = Deciders {
            requesters: vec!["alice".into()],
            approver_users: vec!["ops".into()],
            approver_groups: vec!["role-admin".into()],
        };
        assert!(deciders.may_decide("alice", &[]));
        assert!(deciders.may_decide("ops", &[]));
        assert!(deciders.may_decide("bob", &["role-admin".into()]));
        assert!(!deciders.may_decide("bob", &["role-other".into()]));
        assert!(
            !Deciders::default().may_decide("anyone", &[]),
            "no one by default"
        );
    }

    #[test]
    fn texts_name_the_tool_the_preview_and_who_decides() {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let asked = PermissionAsk {
            tool_title: "Bash".into(),
            tool_kind: "execute".into(),
            preview: "$ rm -rf build".into(),
            options: Vec::new(),
            reply: crate::agent::ask::PermissionReply::new(tx.downgrade(), "1".into()),
        };
        let text = prompt_text(&asked, &["<@7>".into()]);
        assert_eq!(
            text,
            "🔐 Permission needed: **Bash** (execute)\n```\n$ rm -rf build\n```\nOnly <@7> or an approver can decide."
        );
        assert_eq!(
            decided_text("Bash", "Allowed once", "<@7>", "14:05 UTC"),
            "🔐 **Bash**: Allowed once by <@7> at 14:05 UTC"
        );
        assert_eq!(refusal_text(&[]), "Only an approver can decide this.");
    }
}
