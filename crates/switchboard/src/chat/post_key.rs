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
//! A key is derived from (a) the run of the process (a random boot id: a
//! restart answers interrupted messages again, below the cut-short reply, so
//! it must post anew), (b) what is being answered (the journaled message
//! ids of the turn, or a sequence number for a post no journal entry owns)
//! and (c) which post of that answer it is (the split part's index, or the
//! name of a notice).

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
}

impl PostScope {
    /// The posts answering the journaled messages `message_ids` (a turn's
    /// batch, in order).
    pub fn turn(message_ids: &[String]) -> Self {
        Self::turn_in_run(boot_id(), message_ids)
    }

    /// [`PostScope::turn`] for an explicit run id (tests).
    pub fn turn_in_run(run: u64, message_ids: &[String]) -> Self {
        Self {
            base: format!("{run:016x}|turn|{}", message_ids.join(",")),
        }
    }

    /// The posts of something no journal entry owns (`what` says what it
    /// is, e.g. "reset"); a new scope every call.
    pub fn unique(what: &str) -> Self {
        let n = NEXT_UNIQUE.fetch_add(1, Ordering::Relaxed);
        Self {
            base: format!("{:016x}|{what}|{n}", boot_id()),
        }
    }

    /// The key of split part `index` (0 = the first message) of the answer.
    pub fn part(&self, index: usize) -> PostKey {
        PostKey::new(format!("{}|part|{index}", self.base))
    }

    /// The key of the notice named `what` (one of its kind per scope).
    pub fn notice(&self, what: &str) -> PostKey {
        PostKey::new(format!("{}|notice|{what}", self.base))
    }
}

/// The idempotency key of one post: stable across retries of that post,
/// different for every other post.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PostKey {
    canonical: String,
    digest: u64,
}

impl PostKey {
    fn new(canonical: String) -> Self {
        let digest = fnv1a64(canonical.as_bytes());
        Self { canonical, digest }
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

    #[test]
    fn the_same_post_of_the_same_answer_has_the_same_key() {
        let a = PostScope::turn(&ids(&["10", "11"]));
        let b = PostScope::turn(&ids(&["10", "11"]));
        assert_eq!(a.part(0), b.part(0));
        assert_eq!(a.part(3).nonce(), b.part(3).nonce());
        assert_eq!(a.notice("busy").token(), b.notice("busy").token());
    }

    #[test]
    fn every_other_post_has_another_key() {
        let mut seen = HashSet::new();
        let turns = [
            ids(&["10"]),
            ids(&["11"]),
            ids(&["10", "11"]),
            ids(&["1", "011"]),
        ];
        for turn in &turns {
            let scope = PostScope::turn(turn);
            for part in 0..50 {
                assert!(
                    seen.insert(scope.part(part).digest()),
                    "{turn:?} part {part}"
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
    fn another_run_of_the_process_posts_anew() {
        let turn = ids(&["10"]);
        let first = PostScope::turn_in_run(1, &turn).part(0);
        let second = PostScope::turn_in_run(2, &turn).part(0);
        assert_ne!(first.digest(), second.digest());
        assert_eq!(first, PostScope::turn_in_run(1, &turn).part(0));
    }

    #[test]
    fn the_derivation_is_fixed_across_processes_and_versions() {
        // A fixed run id and input give a fixed digest: FNV-1a 64 of the
        // canonical text, nothing process-dependent (no RandomState).
        let key = PostScope::turn_in_run(0x1234, &ids(&["99"])).part(2);
        assert_eq!(key.canonical, "0000000000001234|turn|99|part|2");
        assert_eq!(key.digest(), fnv1a64(b"0000000000001234|turn|99|part|2"));
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn the_nonce_fits_discord_and_the_token_fits_metadata() {
        for part in 0..100 {
            let key = PostScope::turn(&ids(&["1300000000000000001"])).part(part);
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
