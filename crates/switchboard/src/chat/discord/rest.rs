//! Discord REST: the calls switchboard makes (who am I, post, edit, open
//! a thread, react, list and get messages), built as URLs under
//! `{api_url}/api/v10` and sent by [`RestCaller`], which paces every call
//! by our [`Pacer`], waits out every 429 before a retry (ADR 13) and counts
//! invalid requests. twilight-model types are used for the answers.
//!
//! Owns the URLs and bodies of the calls; must never send a call around
//! the caller (nothing unpaced, no 429 unseen).

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, Url};
use serde::Deserialize;
use twilight_model::channel::Message;
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, MessageMarker, UserMarker};

use super::invalid_requests::InvalidRequests;
use super::pacing::{DISCORD_GLOBAL_PER_SECOND, Pacer};
pub use super::rest_call::RestError;
use super::rest_call::{Call, RestCaller};
use super::route::{Route, RouteKind};
use crate::chat::history::{HistoryBudget, HistoryRead};
use crate::chat::request_timeout::{DISCORD_VAR, request_timeout};
use crate::config::Secret;

/// Discord's own API base; any other `api_url` is a proxy or the simulator.
pub const DISCORD_API_URL: &str = "https://discord.com";

/// How long one REST request may take, retries of 429s included, unless
/// `SWITCHBOARD_DISCORD_REQUEST_TIMEOUT_MS` says otherwise (see
/// `chat::request_timeout`).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The bot's own identity, from GET /users/@me.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotUser {
    pub id: u64,
    pub name: String,
}

#[derive(Deserialize)]
struct Me {
    id: Id<UserMarker>,
    username: String,
}

/// An answer of which only the id is read (a message, a thread).
#[derive(Deserialize)]
pub(super) struct Made {
    pub(super) id: Id<MessageMarker>,
}

/// A cheaply cloned Discord REST client.
#[derive(Clone, Debug)]
pub struct DiscordRest {
    caller: Arc<RestCaller>,
    /// `{api_url}/api/v10/`, or why `api_url` is not a URL.
    base: Result<Url, String>,
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
        Self::counting(token, api_url, global, InvalidRequests::default())
    }

    /// [`DiscordRest::with_global_limit`], counting invalid requests into
    /// `invalid` (the one /metrics reads).
    pub fn counting(
        token: &Secret,
        api_url: &str,
        global: Option<u32>,
        invalid: InvalidRequests,
    ) -> Self {
        let timeout = request_timeout(DISCORD_VAR, REQUEST_TIMEOUT);
        Self::with_timeout(token, api_url, global, invalid, timeout)
    }

    /// [`DiscordRest::counting`] with an explicit request timeout (429
    /// retries included).
    fn with_timeout(
        token: &Secret,
        api_url: &str,
        global: Option<u32>,
        invalid: InvalidRequests,
        timeout: Duration,
    ) -> Self {
        let base = format!("{}/api/v10/", api_url.trim_end_matches('/'));
        Self {
            caller: Arc::new(RestCaller::new(token, timeout, Pacer::new(global), invalid)),
            base: Url::parse(&base).map_err(|e| {
                format!(
                    "discord.api_url {api_url:?} is not a URL ({e}); use e.g. {DISCORD_API_URL}"
                )
            }),
        }
    }

    /// The invalid requests (401, 403, 429) this client met.
    pub fn invalid_requests(&self) -> &InvalidRequests {
        self.caller.invalid_requests()
    }

    /// The URL of `segments` (each percent-encoded as one path segment)
    /// under the API base, with `query`.
    pub(super) fn url(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<Url, RestError> {
        let mut url = self.base.clone().map_err(RestError::Transport)?;
        url.path_segments_mut()
            .map_err(|()| RestError::Transport("discord.api_url cannot carry a path".into()))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }

    pub(super) async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        route: Route,
        url: Url,
        body: Option<serde_json::Value>,
    ) -> Result<T, RestError> {
        let call = Call {
            method,
            route,
            url,
            body,
        };
        let body = self.caller.call(&call).await?;
        serde_json::from_slice(&body).map_err(|e| {
            RestError::Transport(format!(
                "the answer to {} {} is not what Discord sends: {e}",
                call.method,
                call.url.path()
            ))
        })
    }

    /// A call whose answer has no body worth reading.
    pub(super) async fn call_empty(
        &self,
        method: Method,
        route: Route,
        url: Url,
        body: Option<serde_json::Value>,
    ) -> Result<(), RestError> {
        let call = Call {
            method,
            route,
            url,
            body,
        };
        self.caller.call(&call).await.map(drop)
    }

    pub async fn current_user(&self) -> Result<BotUser, RestError> {
        let url = self.url(&["users", "@me"], &[])?;
        let me: Me = self
            .call(
                Method::GET,
                Route::global(RouteKind::CurrentUser),
                url,
                None,
            )
            .await?;
        Ok(BotUser {
            id: me.id.get(),
            name: me.username,
        })
    }

    /// Post `content` in a channel or thread; returns the new message id.
    /// `nonce` (at most 25 characters) goes with `enforce_nonce: true`, so
    /// that Discord answers a repeat of this call (a retry after a lost
    /// response) with the message the first one made instead of a second
    /// one.
    pub async fn create_message(
        &self,
        channel_id: u64,
        content: &str,
        nonce: &str,
    ) -> Result<u64, RestError> {
        let channel = channel_id_of(channel_id)?.to_string();
        let url = self.url(&["channels", &channel, "messages"], &[])?;
        let body = serde_json::json!({
            "content": content,
            "nonce": nonce,
            "enforce_nonce": true,
        });
        let route = Route::channel(RouteKind::CreateMessage, channel_id);
        let made: Made = self.call(Method::POST, route, url, Some(body)).await?;
        Ok(made.id.get())
    }

    /// Replace a message's content.
    pub async fn edit_message(
        &self,
        channel_id: u64,
        message_id: u64,
        content: &str,
    ) -> Result<(), RestError> {
        let (channel, message) = ids(channel_id, message_id)?;
        let url = self.url(&["channels", &channel, "messages", &message], &[])?;
        let route = Route::channel(RouteKind::EditMessage, channel_id);
        let body = serde_json::json!({ "content": content });
        self.call_empty(Method::PATCH, route, url, Some(body)).await
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
        let (channel, message) = ids(channel_id, message_id)?;
        let url = self.url(
            &["channels", &channel, "messages", &message, "threads"],
            &[],
        )?;
        let route = Route::channel(RouteKind::StartThread, channel_id);
        let body = serde_json::json!({ "name": name });
        let thread: Made = self.call(Method::POST, route, url, Some(body)).await?;
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
        let (channel, message) = ids(channel_id, message_id)?;
        let path = [
            "channels",
            &channel,
            "messages",
            &message,
            "reactions",
            emoji,
            "@me",
        ];
        let url = self.url(&path, &[])?;
        let (method, kind) = if add {
            (Method::PUT, RouteKind::AddReaction)
        } else {
            (Method::DELETE, RouteKind::RemoveReaction)
        };
        self.call_empty(method, Route::channel(kind, channel_id), url, None)
            .await
    }
}

/// Discord's page size for listing messages.
const PAGE: u16 = 100;

impl DiscordRest {
    /// The messages in a channel after `after_id`, oldest first, fetched a
    /// page of 100 at a time (each page obeys the rate-limit headers) until
    /// the end or the `budget`: what was read before it ran out is kept.
    pub async fn messages_after(
        &self,
        channel_id: u64,
        after_id: u64,
        budget: HistoryBudget,
    ) -> Result<HistoryRead<Message>, RestError> {
        let channel = channel_id_of(channel_id)?.to_string();
        let mut after = after_id;
        let mut read = HistoryRead::default();
        let mut pages = 0;
        loop {
            if let Err(cut) = budget.next_page(pages) {
                read.cut_short = Some(cut);
                break;
            }
            let after_id = id_of::<MessageMarker>(after)?;
            let query = [("after", after_id.to_string()), ("limit", PAGE.to_string())];
            let url = self.url(&["channels", &channel, "messages"], &query)?;
            let route = Route::channel(RouteKind::ListMessages, channel_id);
            let mut page: Vec<Message> = self.call(Method::GET, route, url, None).await?;
            pages += 1;
            page.sort_by_key(|m| m.id.get());
            let full = page.len() == usize::from(PAGE);
            match page.last() {
                Some(last) => after = last.id.get(),
                None => break,
            }
            read.messages.extend(page);
            if !full {
                break;
            }
        }
        Ok(read)
    }

    /// The id of the newest message in a channel or thread as Discord
    /// holds it (`last_message_id` of GET /channels/{id}; `Some(None)` for
    /// a channel without messages), asked at the lowest priority: `None`
    /// when the pacer has no room to spare now (nothing was sent).
    pub async fn last_message_id_if_idle(
        &self,
        channel_id: u64,
    ) -> Result<Option<Option<u64>>, RestError> {
        #[derive(Deserialize)]
        struct ChannelLatest {
            last_message_id: Option<String>,
        }
        let channel = channel_id_of(channel_id)?.to_string();
        let call = Call {
            method: Method::GET,
            route: Route::channel(RouteKind::GetChannel, channel_id),
            url: self.url(&["channels", &channel], &[])?,
            body: None,
        };
        let Some(body) = self.caller.call_if_idle(&call).await? else {
            return Ok(None);
        };
        let latest: ChannelLatest = serde_json::from_slice(&body).map_err(|e| {
            RestError::Transport(format!(
                "the answer to GET /channels/{channel} is not what Discord sends: {e}"
            ))
        })?;
        let id = latest
            .last_message_id
            .map(|id| {
                id.parse::<u64>().map_err(|_| {
                    RestError::Transport(format!("last_message_id {id:?} is not a snowflake"))
                })
            })
            .transpose()?;
        Ok(Some(id))
    }

    /// One message.
    pub async fn message(&self, channel_id: u64, message_id: u64) -> Result<Message, RestError> {
        let (channel, message) = ids(channel_id, message_id)?;
        let url = self.url(&["channels", &channel, "messages", &message], &[])?;
        let route = Route::channel(RouteKind::GetMessage, channel_id);
        self.call(Method::GET, route, url, None).await
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

pub(super) fn channel_id_of(id: u64) -> Result<Id<ChannelMarker>, RestError> {
    Id::new_checked(id)
        .ok_or_else(|| RestError::Transport("channel id 0 is not a Discord id".into()))
}

/// A channel and a message id, checked, as path segments.
pub(super) fn ids(channel_id: u64, message_id: u64) -> Result<(String, String), RestError> {
    Ok((
        channel_id_of(channel_id)?.to_string(),
        id_of::<MessageMarker>(message_id)?.to_string(),
    ))
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_429_longer_than_the_time_left_is_a_transient_error_at_once() {
        use crate::chat::OutboundError;
        use discord_sim::RestFault;

        let sim = DiscordSim::start(SimConfig::default()).await.unwrap();
        let invalid = InvalidRequests::default();
        let rest = DiscordRest::with_timeout(
            &Secret::new(sim.token()),
            &sim.http_url(),
            None,
            invalid.clone(),
            Duration::from_secs(2),
        );
        let channel = sim.channel_ids()[0];
        sim.fail_rest(
            RestFault::HeaderlessTooManyRequests {
                retry_after: 30.0,
                global: true,
            },
            1,
            None,
        );
        let started = tokio::time::Instant::now();
        let err = rest.create_message(channel, "hi", "n1").await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "gave up after {:?}",
            started.elapsed()
        );
        assert!(
            matches!(err, RestError::RateLimited { global: true, retry_after } if retry_after == Duration::from_secs(30)),
            "{err:?}"
        );
        assert!(OutboundError::from(err).is_transient());
        assert_eq!(sim.rest_calls().len(), 1, "no retry inside the hold");
        assert_eq!(invalid.totals()[2], (429, 1));
        sim.shutdown();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_401_is_unauthorized_and_counted() {
        let sim = DiscordSim::start(SimConfig::default()).await.unwrap();
        sim.set_token_valid(false);
        let rest = DiscordRest::new(&Secret::new(sim.token()), &sim.http_url());
        let err = rest.current_user().await.unwrap_err();
        assert!(err.is_unauthorized(), "{err:?}");
        assert_eq!(rest.invalid_requests().totals()[0], (401, 1));
        sim.set_token_valid(true);
        let me = rest.current_user().await.unwrap();
        assert_eq!(me.id, sim.bot_user().id);
        sim.shutdown();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn custom_and_unicode_reactions_reach_their_urls() {
        let sim = DiscordSim::start(SimConfig::default()).await.unwrap();
        let rest = DiscordRest::with_global_limit(&Secret::new(sim.token()), &sim.http_url(), None);
        let channel = sim.channel_ids()[0];
        let message = sim.inject_message(channel, &sim.user(42, "someone"), "m");
        rest.reaction(channel, message, "✅", true).await.unwrap();
        rest.reaction(channel, message, "party:123", true)
            .await
            .unwrap();
        rest.reaction(channel, message, "✅", false).await.unwrap();
        let paths: Vec<String> = sim.rest_calls().into_iter().map(|c| c.path).collect();
        assert!(paths[0].ends_with("/reactions/%E2%9C%85/@me"), "{paths:?}");
        assert!(paths[1].ends_with("/reactions/party:123/@me"), "{paths:?}");
        assert_eq!(
            sim.rest_calls().iter().filter(|c| c.status == 204).count(),
            3
        );
        sim.shutdown();
    }
}
