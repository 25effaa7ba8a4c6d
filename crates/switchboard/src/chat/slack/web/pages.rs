//! Reading messages back: `conversations.history` and
//! `conversations.replies` followed through every page
//! (`response_metadata.next_cursor`) within a page and time budget, and
//! single-message look-ups.
//!
//! Owns the ordering promise callers rely on: results oldest first, each
//! message once, nothing at or before `oldest`, never a thread's root among
//! its replies (Slack puts the root first on every first page). Must never
//! loop on a cursor Slack repeats.

use std::collections::HashSet;

use serde_json::Value;

use super::call::{Request, malformed};
use super::{SlackWeb, TokenKind, WebError};
use crate::chat::history::{HistoryBudget, HistoryRead};

/// Messages asked for per page (Slack recommends at most 200).
const PAGE_SIZE: &str = "200";

/// A Slack ts as a number pair, for ordering ("1700000000.000100" ->
/// (1700000000, 100)); `None` when it is not a ts.
pub(crate) fn ts_key(ts: &str) -> Option<(u64, u32)> {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, ""));
    if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse().ok()?
    };
    Some((secs.parse().ok()?, micros))
}

fn ts_of(message: &Value) -> Option<(u64, u32)> {
    message.get("ts").and_then(Value::as_str).and_then(ts_key)
}

/// The pages of `method` with `args` until the last or the `budget`,
/// messages in the order Slack gave.
async fn all_pages(
    web: &SlackWeb,
    method: &'static str,
    args: Vec<(&'static str, String)>,
    budget: HistoryBudget,
) -> Result<HistoryRead<Value>, WebError> {
    let mut cursors = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut read = HistoryRead::default();
    let mut pages = 0;
    loop {
        if let Err(cut) = budget.next_page(pages) {
            read.cut_short = Some(cut);
            return Ok(read);
        }
        let mut page_args = args.clone();
        page_args.push(("limit", PAGE_SIZE.to_owned()));
        if let Some(cursor) = &cursor {
            page_args.push(("cursor", cursor.clone()));
        }
        let body = web
            .call(method, TokenKind::Bot, Request::Form(page_args))
            .await?;
        pages += 1;
        match body.get("messages") {
            Some(Value::Array(page)) => read.messages.extend(page.iter().cloned()),
            _ => return Err(malformed(method, "no messages")),
        }
        let next = body
            .pointer("/response_metadata/next_cursor")
            .and_then(Value::as_str)
            .filter(|next| !next.is_empty());
        match next {
            None => return Ok(read),
            Some(next) if !cursors.insert(next.to_owned()) => {
                return Err(malformed(method, "the next_cursor repeats"));
            }
            Some(next) => cursor = Some(next.to_owned()),
        }
    }
}

/// Oldest first, each ts once, only those after `oldest`, without `skip`.
fn in_order(mut messages: Vec<Value>, oldest: &str, skip: Option<&str>) -> Vec<Value> {
    let oldest = ts_key(oldest);
    let skip = skip.and_then(ts_key);
    messages.retain(|m| match ts_of(m) {
        Some(ts) => oldest.is_none_or(|o| ts > o) && Some(ts) != skip,
        None => false,
    });
    messages.sort_by_key(ts_of);
    messages.dedup_by_key(|m| ts_of(m));
    messages
}

/// The arguments that bound a read to after `oldest` (exclusive).
fn after(oldest: &str) -> Vec<(&'static str, String)> {
    if oldest.is_empty() {
        return Vec::new();
    }
    vec![("oldest", oldest.to_owned()), ("inclusive", "false".into())]
}

pub(super) async fn history(
    web: &SlackWeb,
    channel: &str,
    oldest: &str,
    budget: HistoryBudget,
) -> Result<HistoryRead<Value>, WebError> {
    let mut args = vec![("channel", channel.to_owned())];
    args.extend(after(oldest));
    let read = all_pages(web, "conversations.history", args, budget).await?;
    Ok(HistoryRead {
        messages: in_order(read.messages, oldest, None),
        cut_short: read.cut_short,
    })
}

pub(super) async fn replies(
    web: &SlackWeb,
    channel: &str,
    thread_ts: &str,
    oldest: &str,
    budget: HistoryBudget,
) -> Result<HistoryRead<Value>, WebError> {
    let mut args = vec![
        ("channel", channel.to_owned()),
        ("ts", thread_ts.to_owned()),
    ];
    args.extend(after(oldest));
    let read = all_pages(web, "conversations.replies", args, budget).await?;
    Ok(HistoryRead {
        messages: in_order(read.messages, oldest, Some(thread_ts)),
        cut_short: read.cut_short,
    })
}

pub(super) async fn one(
    web: &SlackWeb,
    channel: &str,
    thread_ts: Option<&str>,
    ts: &str,
) -> Result<Value, WebError> {
    let mut args = vec![
        ("channel", channel.to_owned()),
        ("oldest", ts.to_owned()),
        ("latest", ts.to_owned()),
        ("inclusive", "true".to_owned()),
        // A thread's root comes first in every first page of replies.
        ("limit", "2".to_owned()),
    ];
    let method = match thread_ts.filter(|root| ts_key(root) != ts_key(ts)) {
        Some(root) => {
            args.push(("ts", root.to_owned()));
            "conversations.replies"
        }
        None => "conversations.history",
    };
    let body = web
        .call(method, TokenKind::Bot, Request::Form(args))
        .await?;
    let wanted = ts_key(ts);
    body.get("messages")
        .and_then(Value::as_array)
        .and_then(|page| {
            page.iter()
                .find(|m| ts_of(m).is_some() && ts_of(m) == wanted)
        })
        .cloned()
        .ok_or(WebError::Api {
            method,
            code: "message_not_found".to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ts_keys_order_numerically() {
        assert_eq!(ts_key("1700000000.000100"), Some((1_700_000_000, 100)));
        assert_eq!(ts_key("1700000000.1"), Some((1_700_000_000, 100_000)));
        assert_eq!(ts_key("1700000000"), Some((1_700_000_000, 0)));
        assert!(ts_key("1699999999.999999") < ts_key("1700000000.000000"));
        for bad in ["", "x", "1.1234567", "1.-1", "a.1"] {
            assert_eq!(ts_key(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn results_are_oldest_first_unique_after_oldest_and_without_the_root() {
        let m = |ts: &str| json!({ "ts": ts });
        let given = vec![
            m("5.000000"),
            m("1.000000"),
            m("9.000000"),
            m("3.000000"),
            m("9.000000"),
            json!({ "text": "no ts" }),
            m("2.000000"),
        ];
        let kept: Vec<_> = in_order(given, "2.000000", Some("5.0"))
            .iter()
            .map(|m| m["ts"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(kept, ["3.000000", "9.000000"]);
    }
}
