//! The fake over real HTTP: the routes, the SSE wire form, the records.

use std::time::Duration;

use fake_anthropic::FakeAnthropic;
use serde_json::{Value, json};

fn body(text: &str, stream: bool) -> Value {
    json!({
        "model": "claude-test",
        "max_tokens": 100,
        "stream": stream,
        "tools": [{ "name": "Bash", "input_schema": { "type": "object" } }],
        "messages": [{ "role": "user", "content": [{ "type": "text", "text": text }] }],
    })
}

/// (event name, data) pairs of an SSE body.
fn parse_sse(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|chunk| !chunk.trim().is_empty())
        .map(|chunk| {
            let mut lines = chunk.lines();
            let event = lines
                .next()
                .unwrap()
                .strip_prefix("event: ")
                .unwrap()
                .to_owned();
            let data = lines.next().unwrap().strip_prefix("data: ").unwrap();
            (event, serde_json::from_str(data).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn streams_a_scripted_answer_and_records_every_request() {
    let fake = FakeAnthropic::start().await.unwrap();
    let client = reqwest::Client::new();
    let base = fake.base_url();

    let head = client.head(format!("{base}/")).send().await.unwrap();
    assert_eq!(head.status(), 200);

    let answer = client
        .post(format!("{base}/v1/messages?beta=true"))
        .header("x-api-key", "anything")
        .json(&body("[[bash:touch x]]", true))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "text/event-stream");
    let events = parse_sse(&answer.text().await.unwrap());
    assert_eq!(events.first().unwrap().0, "message_start");
    assert_eq!(events.last().unwrap().0, "message_stop");
    let tool = events
        .iter()
        .find(|(name, _)| name == "content_block_start")
        .unwrap();
    assert_eq!(tool.1["content_block"]["name"], "Bash");

    let plain = client
        .post(format!("{base}/v1/messages"))
        .json(&body("hello", false))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(plain["content"][0]["text"], "fake model: hello");
    assert_eq!(plain["model"], "claude-test");

    let missing = client
        .post(format!("{base}/v1/complete"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let error: Value = missing.json().await.unwrap();
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "not_found_error");

    let records = fake
        .wait_until(Duration::from_secs(5), |r| {
            (r.len() == 4).then(|| r.to_vec())
        })
        .await
        .expect("four records");
    let summary: Vec<(&str, &str, &str, u16)> = records
        .iter()
        .map(|r| {
            (
                r.method.as_str(),
                r.path.as_str(),
                r.answered.as_str(),
                r.status,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("HEAD", "/", "ok", 200),
            ("POST", "/v1/messages?beta=true", "tool_use:Bash", 200),
            ("POST", "/v1/messages", "text", 200),
            ("POST", "/v1/complete", "not_found", 404),
        ]
    );
    assert!(records[1].stream && records[1].has_tools);
    assert_eq!(records[1].last_user_text, "[[bash:touch x]]");
    assert_eq!(records[1].model.as_deref(), Some("claude-test"));
    assert_eq!(records[1].messages, 1);
    assert!(!records[2].stream);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused_with_the_api_error() {
    let fake = FakeAnthropic::start().await.unwrap();
    let refused = reqwest::Client::new()
        .post(format!("{}/v1/messages", fake.base_url()))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert_eq!(fake.requests()[0].answered, "bad_request");
}
