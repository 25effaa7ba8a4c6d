//! Discord REST through twilight-http: pointed at `api_url`, every call
//! paced by our [`Pacer`] from the X-RateLimit-* headers (per bucket and
//! channel, plus the global rate), 429s (which pacing should prevent)
//! still waited out and retried by the library, and every error mapped to
//! a [`RestError`] whose 401 case is fatal upstream.
//!
//! Why our own pacer: twilight-http-ratelimiting 0.18 learns a bucket only
//! from a 429 (it reads the headers only when X-RateLimit-Scope is present,
//! which Discord sends on 429s alone), so it paces nothing per bucket and
//! every new URL (each reaction is one) may overrun its bucket; and it holds
//! each channel to one call at a time. Its limiter stays in place only to
//! wait out a 429 before the library retries, with its global cap lifted
//! (ours counts the global rate).

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use twilight_http::Client;
use twilight_http::error::ErrorType;
use twilight_http::request::RequestBuilder;
use twilight_http::request::channel::reaction::RequestReactionType;
use twilight_http::response::{Response, ResponseFuture};
use twilight_http::routing::Route as HttpRoute;
use twilight_http_ratelimiting::RateLimiter;
use twilight_model::channel::Message;
use twilight_model::id::Id;
use twilight_model::id::marker::ChannelMarker;

use super::pacing::{Answer, DISCORD_GLOBAL_PER_SECOND, Pacer};
use super::route::{Route, RouteKind, announced};
use crate::chat::request_timeout::{DISCORD_VAR, request_timeout};
use crate::config::Secret;

/// Discord's own API base; any other `api_url` is a proxy or the simulator.
pub const DISCORD_API_URL: &str = "https://discord.com";

/// How long one REST request may take, retries of 429s included, unless
/// `SWITCHBOARD_DISCORD_REQUEST_TIMEOUT_MS` says otherwise (see
/// `chat::request_timeout`).
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
            _ => Self::Transport(with_causes(&err)),
        }
    }
}

/// `err` and its sources, "a: b: c" (twilight's own text alone, e.g.
/// "parsing or receiving the response failed", hides the cause).
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
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
    pacer: Arc<Pacer>,
}

impl std::fmt::Debug for DiscordRest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DiscordRest { token: <redacted> }")
    }
}

impl DiscordRest {
    /// `api_url` is `scheme://host[:port]`; REST goes to `{api_url}/api/v10/...`.
    /// Calls are held to Discord's global rate ([`global_limit`]).
    pub fn new(token: &Secret, api_url: &str) -> Self {
        Self::with_global_limit(token, api_url, global_limit())
    }

    /// [`DiscordRest::new`] with an explicit global rate (requests per
    /// second; `None`: not paced globally).
    pub fn with_global_limit(token: &Secret, api_url: &str, global: Option<u32>) -> Self {
        crate::install_crypto_provider();
        let mut builder = Client::builder()
            .token(token.expose().to_owned())
            .timeout(request_timeout(DISCORD_VAR, REQUEST_TIMEOUT))
            .ratelimiter(Some(RateLimiter::new(u16::MAX)));
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
            pacer: Arc::new(Pacer::new(global)),
        }
    }

    /// Send the request `make` builds once `route` has room; tell the pacer
    /// what the response announced.
    async fn paced<T: Unpin>(
        &self,
        route: Route,
        make: impl FnOnce() -> ResponseFuture<T>,
    ) -> Result<Response<T>, RestError> {
        let ticket = self.pacer.acquire(route).await;
        match make().into_future().await {
            Ok(response) => {
                let answer = match announced(response.headers()) {
                    Some(announced) => Answer::Announced(announced),
                    None => Answer::Unlimited,
                };
                ticket.answered(answer);
                Ok(response)
            }
            Err(err) => {
                ticket.answered(Answer::None);
                Err(err.into())
            }
        }
    }

    pub async fn current_user(&self) -> Result<BotUser, RestError> {
        let user = self
            .paced(Route::global(RouteKind::CurrentUser), || {
                self.client.current_user().into_future()
            })
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
    /// `nonce` (at most 25 characters) goes with `enforce_nonce: true`, so
    /// that Discord answers a repeat of this call (a retry after a lost
    /// response) with the message the first one made instead of a second
    /// one. twilight-http's CreateMessage has no `enforce_nonce`, so the
    /// body is ours; the call is paced like every other.
    pub async fn create_message(
        &self,
        channel_id: u64,
        content: &str,
        nonce: &str,
    ) -> Result<u64, RestError> {
        channel_id_of::<ChannelMarker>(channel_id)?;
        let route = Route::channel(RouteKind::CreateMessage, channel_id);
        let body = serde_json::json!({
            "content": content,
            "nonce": nonce,
            "enforce_nonce": true,
        });
        let request = RequestBuilder::new(&HttpRoute::CreateMessage { channel_id })
            .json(&body)
            .build()?;
        let message = self
            .paced(route, || self.client.request::<Message>(request))
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
        let channel = channel_id_of(channel_id)?;
        let route = Route::channel(RouteKind::EditMessage, channel_id);
        self.paced(route, || {
            self.client
                .update_message(channel, message_id)
                .content(Some(content))
                .into_future()
        })
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
        let (channel, message) = (channel_id_of(channel_id)?, id_of(message_id)?);
        let route = Route::channel(RouteKind::StartThread, channel_id);
        let thread = self
            .paced(route, || {
                self.client
                    .create_thread_from_message(channel, message, name)
                    .into_future()
            })
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
            let route = Route::channel(RouteKind::AddReaction, channel_id);
            self.paced(route, || {
                self.client
                    .create_reaction(channel, message, &reaction)
                    .into_future()
            })
            .await?;
        } else {
            let route = Route::channel(RouteKind::RemoveReaction, channel_id);
            self.paced(route, || {
                self.client
                    .delete_current_user_reaction(channel, message, &reaction)
                    .into_future()
            })
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
            let after_id = id_of(after)?;
            let route = Route::channel(RouteKind::ListMessages, channel_id);
            let mut page = self
                .paced(route, || {
                    self.client
                        .channel_messages(channel)
                        .after(after_id)
                        .limit(PAGE)
                        .into_future()
                })
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
        let (channel, message) = (channel_id_of(channel_id)?, id_of(message_id)?);
        let route = Route::channel(RouteKind::GetMessage, channel_id);
        self.paced(route, || {
            self.client.message(channel, message).into_future()
        })
        .await?
        .model()
        .await
        .map_err(|e| RestError::Transport(e.to_string()))
    }
}

/// The global rate REST calls are held to: Discord's
/// [`DISCORD_GLOBAL_PER_SECOND`], unless the environment variable
/// `SWITCHBOARD_DISCORD_GLOBAL_LIMIT` says otherwise (a number of requests
/// per second for a bot whose limit Discord raised, or `off` behind a proxy
/// that paces globally itself, or against a simulator without limits).
pub fn global_limit() -> Option<u32> {
    const VAR: &str = "SWITCHBOARD_DISCORD_GLOBAL_LIMIT";
    match std::env::var(VAR) {
        Err(_) => Some(DISCORD_GLOBAL_PER_SECOND),
        Ok(value) => parse_global_limit(&value).unwrap_or_else(|| {
            tracing::error!(
                variable = VAR,
                value = %value,
                default = DISCORD_GLOBAL_PER_SECOND,
                "not a number of requests per second or \"off\"; using Discord's default"
            );
            Some(DISCORD_GLOBAL_PER_SECOND)
        }),
    }
}

/// `Some(limit)` for a readable value: `"off"` is no global pacing.
fn parse_global_limit(value: &str) -> Option<Option<u32>> {
    match value.trim() {
        "off" => Some(None),
        number => number.parse::<u32>().ok().filter(|n| *n > 0).map(Some),
    }
}

fn id_of<T>(id: u64) -> Result<Id<T>, RestError> {
    Id::new_checked(id).ok_or_else(|| RestError::Transport("id 0 is not a Discord id".into()))
}

fn channel_id_of<T>(id: u64) -> Result<Id<T>, RestError> {
    Id::new_checked(id)
        .ok_or_else(|| RestError::Transport("channel id 0 is not a Discord id".into()))
}

#[cfg(test)]
mod tests {
    use discord_sim::{DiscordSim, RateLimits, SimConfig};

    use super::*;

    /// Calls at once on one route of one channel, against the simulator
    /// enforcing `per_route`; returns how many met a 429.
    async fn burst(reactions: usize, per_route: (u32, Duration)) -> usize {
        let sim = DiscordSim::start(SimConfig {
            rate_limits: RateLimits {
                per_route: Some(per_route),
                global_per_second: Some(DISCORD_GLOBAL_PER_SECOND),
            },
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let rest = DiscordRest::new(&Secret::new(sim.token()), &sim.http_url());
        let channel = sim.channel_ids()[0];
        let user = sim.user(42, "someone");
        let messages: Vec<u64> = (0..reactions)
            .map(|i| sim.inject_message(channel, &user, &format!("m{i}")))
            .collect();
        let calls = messages
            .iter()
            .map(|message| rest.reaction(channel, *message, "✅", true));
        for result in futures_util::future::join_all(calls).await {
            result.unwrap();
        }
        let limited = sim.rest_calls().iter().filter(|c| c.status == 429).count();
        sim.shutdown();
        limited
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_on_one_bucket_is_paced_without_a_429() {
        assert_eq!(burst(5, (2, Duration::from_millis(500))).await, 0);
    }

    #[test]
    fn the_global_limit_reads_a_rate_or_off() {
        assert_eq!(parse_global_limit("50"), Some(Some(50)));
        assert_eq!(parse_global_limit(" 1200 "), Some(Some(1200)));
        assert_eq!(parse_global_limit("off"), Some(None));
        assert_eq!(parse_global_limit("0"), None);
        assert_eq!(parse_global_limit("fast"), None);
        assert_eq!(parse_global_limit("-5"), None);
    }
}
