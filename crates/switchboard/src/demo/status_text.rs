//! The demo's `/status`: the admin API's `/status` JSON, fetched over HTTP
//! like an operator's probe would, and written as a few readable lines.
//!
//! Owns the formatting only; it never changes state.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

/// GET `http://{admin}/status` and format it; a failure says so.
pub async fn fetch(admin: SocketAddr) -> String {
    let url = format!("http://{admin}/status");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build();
    let body = match client {
        Ok(client) => match client.get(&url).send().await {
            Ok(response) => response.json::<Value>().await,
            Err(err) => Err(err),
        },
        Err(err) => Err(err),
    };
    match body {
        Ok(status) => format_status(&status),
        Err(err) => format!("(could not read {url}: {err})"),
    }
}

/// The readable form of a `/status` document.
pub fn format_status(status: &Value) -> String {
    let mut lines = Vec::new();
    let ready = status["ready"].as_bool().unwrap_or(false);
    lines.push(format!(
        "status: {} · up {} · version {}",
        if ready { "ready" } else { "NOT READY" },
        age(status["uptime_ms"].as_u64()),
        status["version"].as_str().unwrap_or("?")
    ));
    for c in status["connections"].as_array().into_iter().flatten() {
        let mut line = format!(
            "  {} {}: {}{}, last ack {}, last event {}, reconnects {}",
            c["platform"].as_str().unwrap_or("?"),
            c["connection"].as_str().unwrap_or("?"),
            c["state"].as_str().unwrap_or("?"),
            if c["healthy"].as_bool() == Some(true) {
                " (healthy)"
            } else {
                ""
            },
            ago(c["last_ack_age_ms"].as_u64()),
            ago(c["last_event_age_ms"].as_u64()),
            c["reconnects"].as_u64().unwrap_or(0),
        );
        if let Some(cause) = c["last_disconnect_cause"].as_str() {
            line.push_str(&format!(", last drop: {cause}"));
        }
        lines.push(line);
    }
    for s in status["sessions"].as_array().into_iter().flatten() {
        lines.push(format!(
            "  {} agent sessions: {} live of {} ({} busy)",
            s["platform"].as_str().unwrap_or("?"),
            s["live"].as_u64().unwrap_or(0),
            s["max"].as_u64().unwrap_or(0),
            s["busy"].as_u64().unwrap_or(0),
        ));
    }
    let store = &status["store"];
    if store.is_object() {
        lines.push(format!(
            "  store: {} unanswered (oldest {}), {} caught up, {} errors",
            store["journal_backlog"].as_u64().unwrap_or(0),
            age(store["oldest_unanswered_age_ms"].as_u64()),
            store["caught_up_total"].as_u64().unwrap_or(0),
            store["errors_total"].as_u64().unwrap_or(0),
        ));
    }
    lines.join("\n")
}

fn age(ms: Option<u64>) -> String {
    match ms {
        None => "-".to_owned(),
        Some(ms) if ms < 10_000 => format!("{:.1} s", ms as f64 / 1000.0),
        Some(ms) => humantime::format_duration(Duration::from_secs(ms / 1000)).to_string(),
    }
}

fn ago(ms: Option<u64>) -> String {
    match ms {
        None => "never".to_owned(),
        Some(_) => format!("{} ago", age(ms)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_status_document_reads_as_lines() {
        let status = json!({
            "version": "0.1.0", "uptime_ms": 65_000, "ready": true,
            "connections": [{
                "platform": "discord", "connection": "gateway", "state": "active",
                "healthy": true, "last_ack_age_ms": 1200, "last_event_age_ms": null,
                "reconnects": 2, "last_disconnect_cause": "connection reset"
            }],
            "sessions": [{"platform": "discord", "max": 10, "busy": 1, "idle": 1, "live": 2}],
            "store": {"journal_backlog": 1, "oldest_unanswered_age_ms": 300,
                      "caught_up_total": 0, "errors_total": 0}
        });
        assert_eq!(
            format_status(&status),
            "status: ready · up 1m 5s · version 0.1.0\n  \
             discord gateway: active (healthy), last ack 1.2 s ago, last event never, reconnects 2, last drop: connection reset\n  \
             discord agent sessions: 2 live of 10 (1 busy)\n  \
             store: 1 unanswered (oldest 0.3 s), 0 caught up, 0 errors"
        );
    }

    #[test]
    fn a_not_ready_status_says_so() {
        let text = format_status(&json!({"ready": false, "connections": []}));
        assert!(text.starts_with("status: NOT READY"), "{text}");
    }
}
