//! `switchboard check --online`: ask each configured platform whether it
//! accepts the tokens, through the clients `run` uses — Discord `GET
//! /users/@me` with the bot token (and `GET /gateway/bot` when
//! `discord.shards` is not 1: the count it would run, the identify pacing); Slack `auth.test` with the bot token and
//! `apps.connections.open` with the app token — and the PostgreSQL store
//! whether it can be reached (`super::store`).
//!
//! Owns: the per-call deadline and the wording (a refused token names its
//! config key and where to get a good one; a network error names the URL).
//!
//! Must never: open a Discord gateway or the Socket Mode WebSocket whose
//! URL `apps.connections.open` returns (that URL is not even printed: it
//! carries a one-time ticket), or print a token.

use std::time::Duration;

use super::CheckLine;
use crate::chat::discord::rest::{DiscordRest, RestError};
use crate::chat::discord::shard_plan::gateway_bot;
use crate::chat::slack::web::{SlackWeb, TokenKind, WebError};
use crate::config::{Config, DiscordConfig, DiscordShards, MAX_DISCORD_SHARDS, SlackConfig};

/// How long one platform call may take, its 429 retries included.
const CALL_DEADLINE: Duration = Duration::from_secs(15);

/// One line per token of every configured platform.
pub(super) async fn verify(config: &Config) -> Vec<CheckLine> {
    let mut lines = Vec::new();
    if let Some(discord) = &config.discord {
        lines.push(verify_discord(discord).await);
        if discord.shards.needs_gateway_bot() {
            lines.push(verify_discord_shards(discord).await);
        }
    }
    if let Some(slack) = &config.slack {
        lines.extend(verify_slack(slack).await);
    }
    if let Some(postgres) = &config.store.postgres {
        lines.push(super::store::verify(postgres).await);
    }
    if lines.is_empty() {
        lines.push(CheckLine::ok(
            "online",
            "nothing to verify: the config has no [discord] or [slack] section and no \
             store.url",
        ));
    }
    lines
}

/// `discord.shards` against `GET /gateway/bot`: how many shards `run` would
/// start and how fast they may identify.
async fn verify_discord_shards(discord: &DiscordConfig) -> CheckLine {
    let url = format!("{}/api/v10/gateway/bot", discord.api_url);
    let rest = DiscordRest::new(&discord.token, &discord.api_url);
    let bot = match tokio::time::timeout(CALL_DEADLINE, gateway_bot(&rest)).await {
        Ok(Ok(bot)) => bot,
        Ok(Err(err)) => {
            return CheckLine::failed(
                "discord shards",
                format!(
                    "GET {url}: {err}; discord.shards = {} needs its answer",
                    discord.shards
                ),
            );
        }
        Err(_) => {
            return CheckLine::failed(
                "discord shards",
                format!("no answer from {url} within {} s", CALL_DEADLINE.as_secs()),
            );
        }
    };
    let limit = &bot.session_start_limit;
    let pacing = format!(
        "max_concurrency {}, {} of {} identifies left",
        limit.max_concurrency, limit.remaining, limit.total
    );
    match discord.shards {
        DiscordShards::Auto if bot.shards > MAX_DISCORD_SHARDS => CheckLine::failed(
            "discord shards",
            format!(
                "\"auto\": Discord recommends {} shards, more than the {MAX_DISCORD_SHARDS} one \
                 instance runs",
                bot.shards
            ),
        ),
        DiscordShards::Auto => CheckLine::ok(
            "discord shards",
            format!(
                "ok (\"auto\": {} shards, Discord's recommendation; {pacing})",
                bot.shards
            ),
        ),
        DiscordShards::Count(count) => CheckLine::ok(
            "discord shards",
            format!(
                "ok ({count} shards as configured; Discord recommends {}; {pacing})",
                bot.shards
            ),
        ),
    }
}

async fn verify_discord(discord: &DiscordConfig) -> CheckLine {
    let url = format!("{}/api/v10/users/@me", discord.api_url);
    let rest = DiscordRest::new(&discord.token, &discord.api_url);
    let answer = tokio::time::timeout(CALL_DEADLINE, rest.current_user()).await;
    match answer {
        Ok(Ok(user)) => CheckLine::ok(
            "discord",
            format!(
                "ok (GET {url}: the token is the bot {} (id {}))",
                user.name, user.id
            ),
        ),
        Ok(Err(RestError::Unauthorized)) => CheckLine::failed(
            "discord",
            format!(
                "discord.token was refused: GET {url} answered 401 Unauthorized; put the bot's \
                 token (Discord developer portal > your application > Bot > Reset Token) in \
                 discord.token, without a \"Bot \" prefix"
            ),
        ),
        Ok(Err(RestError::Status { status, body })) => {
            CheckLine::failed("discord", format!("GET {url} answered {status}: {body}"))
        }
        Ok(Err(err @ RestError::RateLimited { .. })) => CheckLine::failed(
            "discord",
            format!("GET {url}: {err}; wait a minute and run the check again"),
        ),
        Ok(Err(RestError::Transport(detail))) => CheckLine::failed(
            "discord",
            format!(
                "could not reach {url}: {detail}; check discord.api_url and this machine's \
                 network"
            ),
        ),
        Err(_) => CheckLine::failed(
            "discord",
            format!(
                "no answer from {url} within {} s; check discord.api_url and this machine's \
                 network",
                CALL_DEADLINE.as_secs()
            ),
        ),
    }
}

async fn verify_slack(slack: &SlackConfig) -> [CheckLine; 2] {
    let web = SlackWeb::new(
        &slack.api_url,
        slack.bot_token.clone(),
        slack.app_token.clone(),
    );
    let auth_url = format!("{}/auth.test", web.api_url());
    let auth = match tokio::time::timeout(CALL_DEADLINE, web.auth_test_named()).await {
        Ok(Ok(auth)) => {
            let named = |name: Option<String>, id: &str| match name {
                Some(name) => format!("{name} ({id})"),
                None => id.to_owned(),
            };
            CheckLine::ok(
                "slack",
                format!(
                    "ok (auth.test: team {}, bot user {})",
                    named(auth.team, &auth.identity.team_id),
                    named(auth.user, &auth.identity.user_id)
                ),
            )
        }
        Ok(Err(err)) => CheckLine::failed("slack", slack_problem(&err, &auth_url)),
        Err(_) => CheckLine::failed("slack", no_answer(&auth_url)),
    };
    let open_url = format!("{}/apps.connections.open", web.api_url());
    let open = match tokio::time::timeout(CALL_DEADLINE, web.connections_open()).await {
        // The URL is good for one connection; it is dropped unused.
        Ok(Ok(_url)) => CheckLine::ok(
            "slack",
            "ok (apps.connections.open: the app token is accepted and Socket Mode is on; \
             no connection opened)",
        ),
        Ok(Err(err)) => CheckLine::failed("slack", slack_problem(&err, &open_url)),
        Err(_) => CheckLine::failed("slack", no_answer(&open_url)),
    };
    [auth, open]
}

/// What is wrong, and the fix, for a failed Slack call to `url`.
fn slack_problem(err: &WebError, url: &str) -> String {
    match err {
        WebError::InvalidAuth { token, code } => {
            let fix = match token {
                TokenKind::Bot => {
                    "put the app's Bot User OAuth Token (xoxb-..., on its OAuth & Permissions \
                     page) in slack.bot_token"
                }
                TokenKind::App => {
                    "put an app-level token (xapp-..., the app's Basic Information > \
                     App-Level Tokens, with the connections:write scope) in slack.app_token"
                }
            };
            format!(
                "{} was refused: {url} answered {code}; {fix}",
                token.config_key()
            )
        }
        WebError::SocketModeDisabled { code } => format!(
            "{url} answered {code}: Socket Mode is off for this app; turn it on in the app's \
             settings (Socket Mode)"
        ),
        WebError::Api { code, .. } => format!("{url} answered {code}"),
        WebError::Unavailable { detail, .. } => format!(
            "could not reach {url}: {detail}; check slack.api_url and this machine's network"
        ),
    }
}

fn no_answer(url: &str) -> String {
    format!(
        "no answer from {url} within {} s; check slack.api_url and this machine's network",
        CALL_DEADLINE.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_token_names_its_key_and_the_fix() {
        let url = "http://127.0.0.1:1/api/auth.test";
        let bot = slack_problem(
            &WebError::InvalidAuth {
                token: TokenKind::Bot,
                code: "invalid_auth".into(),
            },
            url,
        );
        assert!(
            bot.starts_with("slack.bot_token was refused: http://127.0.0.1:1/api/auth.test answered invalid_auth; put"),
            "{bot}"
        );
        let app = slack_problem(
            &WebError::InvalidAuth {
                token: TokenKind::App,
                code: "not_allowed_token_type".into(),
            },
            url,
        );
        assert!(app.starts_with("slack.app_token was refused"), "{app}");
        assert!(app.contains("connections:write"), "{app}");
        let down = slack_problem(
            &WebError::Unavailable {
                method: "auth.test",
                detail: "connection refused".into(),
            },
            url,
        );
        assert!(
            down.starts_with(&format!("could not reach {url}: connection refused")),
            "{down}"
        );
    }
}
