//! Discord REST through twilight-http: pointed at `api_url`, rate limits
//! paced by the X-RateLimit-* headers, 429s retried by the library, and
//! every error mapped to a [`RestError`] whose 401 case is fatal upstream.

use std::sync::Arc;
use std::time::Duration;

use twilight_http::Client;
use twilight_http::error::ErrorType;
use twilight_http::request::channel::reaction::RequestReactionType;
use twilight_model::channel::Message;
use twilight_model::id::Id;

use crate::config::Secret;

/// Discord's own API base; any other `api_url` is a proxy or the simulator.
pub const DISCORD_API_URL: &str = "https://discord.com";

/// How long one REST request may take, retries of 429s included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("Discord REST answered 401 Unauthorized: the bot token is not valid")]
    Unauthorized,
    #[error("Discord REST answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("Discord REST request failed: {0}")]
    Transport(String),
}

impl RestError {
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Self::Unauthorized)
    }
}

impl From<twilight_http::Error> for RestError {
    fn from(err: twilight_http::Error) -> Self {
        match err.kind() {
            ErrorType::Unauthorized => Self::Unauthorized,
            ErrorType::Response { status, .. } if status.get() == 401 => Self::Unauthorized,
            ErrorType::Response { status, body, .. } => Self::Status {
                status: status.get(),
                body: String::from_utf8_lossy(body).chars().take(300).collect(),
            },
            _ => Self::Transport(err.to_string()),
        }
    }
}

/// The bot's own identity, from GET /users/@me.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotUser {
    pub id: u64,
    pub name: String,
}

/// A cheaply cloned Discord REST client.
#[derive(Clone)]
pub struct DiscordRest {
    client: Arc<Client>,
}

impl std::fmt::Debug for DiscordRest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DiscordRest { token: <redacted> }")
    }
}

impl DiscordRest {
    /// `api_url` is `scheme://host[:port]`; REST goes to `{api_url}/api/v10/...`.
    pub fn new(token: &Secret, api_url: &str) -> Self {
        crate::install_crypto_provider();
        let mut builder = Client::builder()
            .token(token.expose().to_owned())
            .timeout(REQUEST_TIMEOUT);
        if api_url != DISCORD_API_URL {
            let (use_http, host) = match api_url.split_once("://") {
                Some(("http", host)) => (true, host),
                Some((_, host)) => (false, host),
                None => (false, api_url),
            };
            builder = builder.proxy(host.trim_end_matches('/').to_owned(), use_http);
        }
        Self {
            client: Arc::new(builder.build()),
        }
    }

    pub async fn current_user(&self) -> Result<BotUser, RestError> {
        let user = self
            .client
            .current_user()
            .await?
            .model()
            .await
            .map_err(|e| RestError::Transport(e.to_string()))?;
        Ok(BotUser {
            id: user.id.get(),
            name: user.name,
        })
    }

    /// Post `content` in a channel or thread; returns the new message id.
    pub async fn create_message(&self, channel_id: u64, content: &str) -> Result<u64, RestError> {
        let message = self
            .client
            .create_message(channel_id_of(channel_id)?)
            .content(content)
            .await?
            .model()
            .await
            .map_err(|e| RestError::Transport(e.to_string()))?;
        Ok(message.id.get())
    }

    /// Replace a message's content.
    pub async fn edit_message(
        &self,
        channel_id: u64,
        message_id: u64,
        content: &str,
    ) -> Result<(), RestError> {
        let message_id = Id::new_checked(message_id)
            .ok_or_else(|| RestError::Transport("message id 0".into()))?;
        self.client
            .update_message(channel_id_of(channel_id)?, message_id)
            .content(Some(content))
            .await?;
        Ok(())
    }
}

impl DiscordRest {
    /// Start a public thread from a message; the thread's id is returned
    /// (Discord makes it equal to the message id).
    pub async fn start_thread(
        &self,
        channel_id: u64,
        message_id: u64,
        name: &str,
    ) -> Result<u64, RestError> {
        let thread = self
            .client
            .create_thread_from_message(channel_id_of(channel_id)?, id_of(message_id)?, name)
            .await?
            .model()
            .await
            .map_err(|e| RestError::Transport(e.to_string()))?;
        Ok(thread.id.get())
    }

    /// Add (`add = true`) or remove the bot's reaction. `emoji` is a unicode
    /// emoji, or `name:id` for a custom one.
    pub async fn reaction(
        &self,
        channel_id: u64,
        message_id: u64,
        emoji: &str,
        add: bool,
    ) -> Result<(), RestError> {
        let reaction = match emoji.rsplit_once(':') {
            Some((name, id)) if id.parse::<u64>().is_ok_and(|n| n > 0) => {
                RequestReactionType::Custom {
                    id: Id::new(id.parse().expect("checked")),
                    name: Some(name),
                }
            }
            _ => RequestReactionType::Unicode { name: emoji },
        };
        let (channel, message) = (channel_id_of(channel_id)?, id_of(message_id)?);
        if add {
            self.client
                .create_reaction(channel, message, &reaction)
                .await?;
        } else {
            self.client
                .delete_current_user_reaction(channel, message, &reaction)
                .await?;
        }
        Ok(())
    }
}

/// Discord's page size for listing messages.
const PAGE: u16 = 100;

impl DiscordRest {
    /// Every message in a channel after `after_id`, oldest first, fetched a
    /// page of 100 at a time (each page obeys the rate-limit headers).
    pub async fn messages_after(
        &self,
        channel_id: u64,
        after_id: u64,
    ) -> Result<Vec<Message>, RestError> {
        let channel = channel_id_of(channel_id)?;
        let mut after = after_id;
        let mut all = Vec::new();
        loop {
            let mut page = self
                .client
                .channel_messages(channel)
                .after(id_of(after)?)
                .limit(PAGE)
                .await?
                .models()
                .await
                .map_err(|e| RestError::Transport(e.to_string()))?;
            page.sort_by_key(|m| m.id.get());
            let full = page.len() == usize::from(PAGE);
            match page.last() {
                Some(last) => after = last.id.get(),
                None => break,
            }
            all.extend(page);
            if !full {
                break;
            }
        }
        Ok(all)
    }
}

impl DiscordRest {
    /// One message.
    pub async fn message(&self, channel_id: u64, message_id: u64) -> Result<Message, RestError> {
        self.client
            .message(channel_id_of(channel_id)?, id_of(message_id)?)
            .await?
            .model()
            .await
            .map_err(|e| RestError::Transport(e.to_string()))
    }
}

fn id_of<T>(id: u64) -> Result<Id<T>, RestError> {
    Id::new_checked(id).ok_or_else(|| RestError::Transport("id 0 is not a Discord id".into()))
}

fn channel_id_of<T>(id: u64) -> Result<Id<T>, RestError> {
    Id::new_checked(id)
        .ok_or_else(|| RestError::Transport("channel id 0 is not a Discord id".into()))
}
