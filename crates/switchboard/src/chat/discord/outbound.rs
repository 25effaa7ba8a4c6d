//! [`ChatOutbound`] for Discord: threads, messages, edits and reactions over
//! REST. Rate limits are paced and 429s waited out and retried in
//! `rest_call`; what reaches the broker is refused, unreachable (a 429
//! whose hold outlasts the request included: transient), or unauthorized. Opening a
//! thread that already exists counts as opening it (restarts make it happen,
//! and so does a retry after a lost response). Every post carries its key
//! as the `nonce`, enforced, so a retried post is made once.

use async_trait::async_trait;

use super::rest::{DiscordRest, RestError};
use crate::chat::{ChatOutbound, Conversation, OutboundError, Platform, PostKey, PromptButton};

/// Discord's JSON error code for "a thread has already been created for
/// this message".
const THREAD_ALREADY_CREATED: &str = "160004";

/// Discord's limit on a message's content, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2000;

pub struct DiscordOutbound {
    rest: DiscordRest,
}

impl DiscordOutbound {
    pub fn new(rest: DiscordRest) -> Self {
        Self { rest }
    }
}

impl From<RestError> for OutboundError {
    fn from(err: RestError) -> Self {
        match err {
            RestError::Unauthorized => OutboundError::Unauthorized,
            // A 429 whose hold outlasts the request: worth a retry later.
            RestError::RateLimited { .. } => OutboundError::Unavailable(err.to_string()),
            // Timed out or rate limited past what was waited out: not a
            // refusal of this request.
            RestError::Status {
                status: 408 | 429, ..
            } => OutboundError::Unavailable(err.to_string()),
            RestError::Status { status, body } if status < 500 => {
                OutboundError::Rejected(format!("{status}: {body}"))
            }
            other => OutboundError::Unavailable(other.to_string()),
        }
    }
}

fn id(text: &str) -> Result<u64, OutboundError> {
    text.parse()
        .map_err(|_| OutboundError::Rejected(format!("{text:?} is not a Discord id")))
}

#[async_trait]
impl ChatOutbound for DiscordOutbound {
    fn platform(&self) -> Platform {
        Platform::Discord
    }

    fn max_message_chars(&self) -> usize {
        MAX_MESSAGE_CHARS
    }

    async fn start_thread(
        &self,
        channel_id: &str,
        message_id: &str,
        name: &str,
    ) -> Result<Conversation, OutboundError> {
        let thread = match self
            .rest
            .start_thread(id(channel_id)?, id(message_id)?, name)
            .await
        {
            Ok(thread) => thread.to_string(),
            // Opened before (e.g. before a restart): Discord gives a thread
            // started from a message the message's id.
            Err(RestError::Status { status: 400, body })
                if body.contains(THREAD_ALREADY_CREATED) =>
            {
                message_id.to_owned()
            }
            Err(err) => return Err(err.into()),
        };
        Ok(Conversation {
            platform: Platform::Discord,
            channel_id: channel_id.to_owned(),
            thread_id: thread,
        })
    }

    async fn post(
        &self,
        conversation: &Conversation,
        text: &str,
        key: &PostKey,
    ) -> Result<String, OutboundError> {
        Ok(self
            .rest
            .create_message(id(&conversation.thread_id)?, text, &key.nonce())
            .await?
            .to_string())
    }

    async fn post_to_channel(
        &self,
        channel_id: &str,
        text: &str,
        key: &PostKey,
    ) -> Result<String, OutboundError> {
        Ok(self
            .rest
            .create_message(id(channel_id)?, text, &key.nonce())
            .await?
            .to_string())
    }

    async fn post_prompt(
        &self,
        conversation: &Conversation,
        text: &str,
        buttons: &[PromptButton],
        key: &PostKey,
    ) -> Result<String, OutboundError> {
        Ok(self
            .rest
            .create_message_with_buttons(id(&conversation.thread_id)?, text, &key.nonce(), buttons)
            .await?
            .to_string())
    }

    async fn close_prompt(
        &self,
        conversation: &Conversation,
        message_id: &str,
        text: &str,
    ) -> Result<(), OutboundError> {
        Ok(self
            .rest
            .close_buttons(id(&conversation.thread_id)?, id(message_id)?, text)
            .await?)
    }

    async fn edit(
        &self,
        conversation: &Conversation,
        message_id: &str,
        text: &str,
    ) -> Result<(), OutboundError> {
        Ok(self
            .rest
            .edit_message(id(&conversation.thread_id)?, id(message_id)?, text)
            .await?)
    }

    async fn react(
        &self,
        channel_id: &str,
        message_id: &str,
        emoji: &str,
    ) -> Result<(), OutboundError> {
        Ok(self
            .rest
            .reaction(id(channel_id)?, id(message_id)?, emoji, true)
            .await?)
    }

    async fn unreact(
        &self,
        channel_id: &str,
        message_id: &str,
        emoji: &str,
    ) -> Result<(), OutboundError> {
        Ok(self
            .rest
            .reaction(id(channel_id)?, id(message_id)?, emoji, false)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use discord_sim::{DiscordSim, ResponseFault, SimConfig};

    use super::*;
    use crate::chat::PostScope;
    use crate::config::Secret;

    async fn setup() -> (DiscordSim, DiscordOutbound, Conversation) {
        let sim = DiscordSim::start(SimConfig::default()).await.unwrap();
        let rest = DiscordRest::with_global_limit(&Secret::new(sim.token()), &sim.http_url(), None);
        let channel = sim.channel_ids()[0];
        let conversation = Conversation {
            platform: Platform::Discord,
            channel_id: channel.to_string(),
            thread_id: channel.to_string(),
        };
        (sim, DiscordOutbound::new(rest), conversation)
    }

    fn bot_texts(sim: &DiscordSim, channel: u64) -> Vec<String> {
        let bot = sim.bot_user().id;
        sim.messages(channel)
            .into_iter()
            .filter(|m| m.author.id == bot)
            .map(|m| m.content)
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_repeated_key_returns_the_message_made_and_a_new_key_makes_another() {
        let (sim, outbound, conversation) = setup().await;
        let scope = PostScope::unique("test");
        let first = outbound
            .post(&conversation, "one", &scope.part(0))
            .await
            .unwrap();
        let again = outbound
            .post(&conversation, "one", &scope.part(0))
            .await
            .unwrap();
        assert_eq!(first, again);
        let second = outbound
            .post(&conversation, "two", &scope.part(1))
            .await
            .unwrap();
        assert_ne!(first, second);
        let channel = sim.channel_ids()[0];
        assert_eq!(bot_texts(&sim, channel), ["one", "two"]);
        sim.shutdown();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_answer_is_transient_and_its_retry_finds_the_post() {
        let (sim, outbound, conversation) = setup().await;
        sim.fault_responses(ResponseFault::Lose, 1, Some("/messages"));
        let key = PostScope::unique("test").part(0);
        let err = outbound
            .post(&conversation, "hello", &key)
            .await
            .unwrap_err();
        assert!(err.is_transient(), "{err}");
        let channel = sim.channel_ids()[0];
        assert_eq!(bot_texts(&sim, channel), ["hello"], "it took effect");
        let id = outbound.post(&conversation, "hello", &key).await.unwrap();
        assert_eq!(
            bot_texts(&sim, channel),
            ["hello"],
            "and was not made twice"
        );
        assert_eq!(id, sim.messages(channel).last().unwrap().id.to_string());
        sim.shutdown();
    }
}
