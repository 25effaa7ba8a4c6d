//! Idempotency keys for message-create calls: [`PostScope`] and [`PostKey`].
//!
//! Every post the broker makes carries a [`PostKey`], so that a post whose
//! response was lost after it took effect (a reset, a timeout, a 5xx) is not
//! made twice when it is retried: Discord gets it as a `nonce` with
//! `enforce_nonce`, Slack as message `metadata` that is looked up before a
//! second try. Owns the derivation only; it must never call a platform, and
//! two different posts must never share a key (a platform would hand back
//! the first post instead of making the second).
//!
//! A turn's keys are derived from what every process agrees on (ADR 25):
//! the turn's first journaled message id, the reply ids earlier tries at
//! answering it recorded (none for a first try), and which post of the
//! answer it is (the split part's index, or the name of a notice). So a
//! process that takes up a message whose earlier try posted but died before
//! recording the post's id (a restart, a thread taken over) derives that
//! post's key again and continues it instead of answering twice, while a
//! try after a recorded (and marked interrupted) reply posts anew below it.
//! Posts no journal entry owns are keyed by the process's run (a random
//! boot id) and a sequence number.
use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// This process's run, mixed into every key.
fn boot_id() -> u64 {
    static BOOT: OnceLock<u64> = OnceLock::new();
    *BOOT.get_or_init(rand::random::<u64>)
}

/// Numbers the scopes that no journal entry owns, within this run.
static NEXT_UNIQUE: AtomicU64 = AtomicU64::new(1);

/// A family of keys: the posts of one answer (or of one one-off notice).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostScope {
    base: String,
    /// For a try that may continue an earlier one's unrecorded posts: the
    /// message they would follow ([`PostKey::earlier_after`]).
    earlier_after: Option<String>,
}

/// What is known of earlier tries at answering a turn's first message.
#[derive(Clone, Copy, Debug)]
pub enum TurnTry<'a> {
    /// Heard live: nothing was tried before.
    First,
    /// Taken up from the journal (a restart, a thread taken over).
    TakenUp {
        /// The reply ids an earlier try recorded (marked interrupted before
        /// this try); empty when none did.
        recorded: &'a [String],
        /// An earlier try began (the entry was `prompted`), so it may have
        /// posted something it did not live to record.
        began: bool,
    },
}

impl PostScope {
    /// The posts answering a turn whose batch starts with the journaled
    /// message `first` (the batch's later messages do not count: whoever
    /// takes the message up may batch it with others), on this try.
    pub fn turn(first: &str, attempt: TurnTry<'_>) -> Self {
        let (recorded, began) = match attempt {
            TurnTry::First => (&[][..], false),
            TurnTry::TakenUp { recorded, began } => (recorded, began),
        };
        Self {
            base: format!("turn|{first}|after|{}", recorded.join(",")),
            earlier_after: began.then(|| first.to_owned()),
        }
    }

    /// The posts of something no journal entry owns (`what` says what it
    /// is, e.g. "reset"); a new scope every call.
    pub fn unique(what: &str) -> Self {
        let n = NEXT_UNIQUE.fetch_add(1, Ordering::Relaxed);
        Self {
            base: format!("{:016x}|{what}|{n}", boot_id()),
            earlier_after: None,
        }
    }

    /// The key of split part `index` (0 = the first message) of the answer.
    pub fn part(&self, index: usize) -> PostKey {
        self.key(format!("{}|part|{index}", self.base))
    }

    /// The key of the notice named `what` (one of its kind per scope).
    pub fn notice(&self, what: &str) -> PostKey {
        self.key(format!("{}|notice|{what}", self.base))
    }

    /// Whether a post under these keys may turn out to be an earlier
    /// process's (found by its key), showing what that process wrote.
    pub fn may_continue_earlier(&self) -> bool {
        self.earlier_after.is_some()
    }

    fn key(&self, canonical: String) -> PostKey {
        let mut key = PostKey::new(canonical);
        key.earlier_after.clone_from(&self.earlier_after);
        key
    }
}

/// The idempotency key of one post: stable across retries of that post,
/// different for every other post. Keys are equal when their canonical
/// texts are (whether an earlier try may exist is a hint, not identity).
#[derive(Clone)]
pub struct PostKey {
    canonical: String,
    digest: u64,
    earlier_after: Option<String>,
}

impl PostKey {
    fn new(canonical: String) -> Self {
        let digest = fnv1a64(canonical.as_bytes());
        Self {
            canonical,
            digest,
            earlier_after: None,
        }
    }

    /// When another process may have made this post already (an earlier
    /// try that died before recording it): the id of the message it would
    /// follow, so a platform without server-side dedupe (Slack) knows to
    /// look for it first, and where. `None` for a first try.
    pub fn earlier_after(&self) -> Option<&str> {
        self.earlier_after.as_deref()
    }

    /// The key's 64-bit digest (FNV-1a of its canonical text: fixed, so a
    /// key means the same in every process and version).
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// Discord's `nonce`: the digest in decimal (at most 20 characters;
    /// Discord takes a string of up to 25).
    pub fn nonce(&self) -> String {
        self.digest.to_string()
    }

    /// The key as a short token for message metadata (Slack): `sb-` and the
    /// digest in 16 hex digits.
    pub fn token(&self) -> String {
        format!("sb-{:016x}", self.digest)
    }
}

impl PartialEq for PostKey {
    fn eq(&self, other: &Self) -> bool {
        self.canonical == other.canonical
    }
}

impl Eq for PostKey {}

impl std::hash::Hash for PostKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.canonical.hash(state);
    }
}

impl fmt::Debug for PostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostKey({} = {})", self.canonical, self.token())
    }
}

/// FNV-1a, 64 bits.
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn first(id: &str) -> PostScope {
        PostScope::turn(id, TurnTry::First)
    }

    #[test]
    fn the_same_post_of_the_same_answer_has_the_same_key() {
        let a = first("10");
        let b = first("10");
        assert_eq!(a.part(0), b.part(0));
        assert_eq!(a.part(3).nonce(), b.part(3).nonce());
        assert_eq!(a.notice("busy").token(), b.notice("busy").token());
    }

    #[test]
    fn every_other_post_has_another_key() {
        let mut seen = HashSet::new();
        let recorded = ids(&["900"]);
        let scopes = [
            first("10"),
            first("11"),
            first("1"),
            first("011"),
            PostScope::turn(
                "10",
                TurnTry::TakenUp {
                    recorded: &recorded,
                    began: true,
                },
            ),
        ];
        for scope in &scopes {
            for part in 0..50 {
                assert!(
                    seen.insert(scope.part(part).digest()),
                    "{scope:?} part {part}"
                );
            }
            for notice in ["busy", "context-lost", "start-failed"] {
                assert!(seen.insert(scope.notice(notice).digest()), "{notice}");
            }
        }
        for _ in 0..20 {
            assert!(seen.insert(PostScope::unique("reset").notice("reset").digest()));
        }
    }

    #[test]
    fn a_try_after_an_unrecorded_one_continues_its_posts() {
        // An earlier try posted but died before recording it: the try
        // that takes the message up derives the same keys, in any process.
        let live = first("10");
        let taken_up = PostScope::turn(
            "10",
            TurnTry::TakenUp {
                recorded: &[],
                began: true,
            },
        );
        assert_eq!(live.part(0).digest(), taken_up.part(0).digest());
        assert_eq!(live.notice("context-lost"), taken_up.notice("context-lost"));
        assert_eq!(taken_up.part(1).earlier_after(), Some("10"));
        assert!(taken_up.may_continue_earlier());
        assert_eq!(live.part(0).earlier_after(), None);
        assert!(!live.may_continue_earlier());
    }

    #[test]
    fn a_try_after_a_recorded_reply_posts_anew_below_it() {
        let live = first("10");
        let recorded = ids(&["500", "501"]);
        let retry = PostScope::turn(
            "10",
            TurnTry::TakenUp {
                recorded: &recorded,
                began: true,
            },
        );
        assert_ne!(live.part(0).digest(), retry.part(0).digest());
        // And a third try after the second recorded nothing continues the
        // second's posts.
        let third = PostScope::turn(
            "10",
            TurnTry::TakenUp {
                recorded: &recorded,
                began: true,
            },
        );
        assert_eq!(retry.part(0).digest(), third.part(0).digest());
    }

    #[test]
    fn a_message_never_begun_is_not_looked_for() {
        let queued = PostScope::turn(
            "10",
            TurnTry::TakenUp {
                recorded: &[],
                began: false,
            },
        );
        assert_eq!(queued.part(0).earlier_after(), None);
        assert_eq!(queued.part(0), first("10").part(0));
    }

    #[test]
    fn the_derivation_is_fixed_across_processes_and_versions() {
        // A fixed input gives a fixed digest: FNV-1a 64 of the canonical
        // text, nothing process-dependent (no RandomState, no run id).
        let key = first("99").part(2);
        assert_eq!(key.canonical, "turn|99|after||part|2");
        assert_eq!(key.digest(), fnv1a64(b"turn|99|after||part|2"));
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn the_nonce_fits_discord_and_the_token_fits_metadata() {
        for part in 0..100 {
            let key = first("1300000000000000001").part(part);
            let nonce = key.nonce();
            assert!(
                nonce.len() <= 25 && nonce.bytes().all(|b| b.is_ascii_digit()),
                "{nonce}"
            );
            let token = key.token();
            assert_eq!(token.len(), 19, "{token}");
            assert!(token.starts_with("sb-"));
        }
    }
}
