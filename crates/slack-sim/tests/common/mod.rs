//! A raw tokio-tungstenite Socket Mode client and a reqwest Web API helper
//! for driving the sim in tests, with a deadline on every await.

#![allow(dead_code)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use slack_sim::{SlackSim, SlackSimConfig};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

pub const WAIT: Duration = Duration::from_secs(5);

/// A config with a short ack timeout so redelivery tests run fast.
pub fn fast_config() -> SlackSimConfig {
    SlackSimConfig {
        ack_timeout: Duration::from_millis(200),
        disconnect_warning_delay: Duration::from_millis(300),
        refresh_close_delay: Duration::from_millis(100),
        ..SlackSimConfig::default()
    }
}

pub async fn sim() -> SlackSim {
    SlackSim::start(fast_config()).await.unwrap()
}

/// A Web API answer: HTTP status, Retry-After, JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Value,
}

/// POSTs a JSON body to a method with an optional bearer token.
pub async fn call_as(sim: &SlackSim, token: Option<&str>, method: &str, body: Value) -> Answer {
    let mut req = reqwest::Client::new()
        .post(format!("{}/{method}", sim.api_url()))
        .json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = tokio::time::timeout(WAIT, req.send())
        .await
        .expect("web call timed out")
        .expect("web call failed");
    let status = r.status().as_u16();
    let retry_after = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = r.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        retry_after,
        body,
    }
}

/// A bot-token call that must succeed; returns the body.
pub async fn call(sim: &SlackSim, method: &str, body: Value) -> Value {
    let a = call_as(sim, Some(&sim.bot_token()), method, body).await;
    assert_eq!(a.status, 200, "{method}: {a:?}");
    assert_eq!(a.body["ok"], true, "{method}: {a:?}");
    a.body
}

/// `apps.connections.open` with the app token; returns the URL.
pub async fn open_url(sim: &SlackSim) -> String {
    let a = call_as(
        sim,
        Some(&sim.app_token()),
        "apps.connections.open",
        json!({}),
    )
    .await;
    assert_eq!(a.body["ok"], true, "{a:?}");
    a.body["url"].as_str().unwrap().to_owned()
}

/// What the client saw next.
#[derive(Debug)]
pub enum Frame {
    Json(Value),
    Pong,
    Close(Option<u16>),
    /// Stream ended or errored without a close frame.
    Gone,
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn connect_url(url: &str) -> Client {
        Self::try_connect_url(url).await.expect("connect failed")
    }

    pub async fn try_connect_url(
        url: &str,
    ) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
        let (ws, _) = tokio::time::timeout(WAIT, connect_async(url))
            .await
            .expect("connect timed out")?;
        Ok(Client { ws })
    }

    /// Opens a URL, connects, and reads hello.
    pub async fn connect(sim: &SlackSim) -> Client {
        let mut c = Client::connect_url(&open_url(sim).await).await;
        let hello = c.json().await;
        assert_eq!(hello["type"], "hello", "expected hello, got {hello}");
        c
    }

    pub async fn send(&mut self, v: Value) {
        tokio::time::timeout(WAIT, self.ws.send(Message::text(v.to_string())))
            .await
            .expect("send timed out")
            .expect("send failed");
    }

    pub async fn ping(&mut self) {
        tokio::time::timeout(WAIT, self.ws.send(Message::Ping("p".into())))
            .await
            .expect("ping timed out")
            .expect("ping failed");
    }

    /// The next frame within `wait`, or None.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Frame> {
        loop {
            let msg = tokio::time::timeout(wait, self.ws.next()).await.ok()?;
            return Some(match msg {
                Some(Ok(Message::Text(t))) => {
                    Frame::Json(serde_json::from_str(t.as_str()).unwrap())
                }
                Some(Ok(Message::Pong(_))) => Frame::Pong,
                Some(Ok(Message::Close(f))) => Frame::Close(f.map(|f| u16::from(f.code))),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => Frame::Gone,
            });
        }
    }

    pub async fn next(&mut self) -> Frame {
        self.next_within(WAIT)
            .await
            .expect("no frame within the deadline")
    }

    pub async fn json(&mut self) -> Value {
        match self.next().await {
            Frame::Json(v) => v,
            other => panic!("expected a JSON frame, got {other:?}"),
        }
    }

    /// The next events_api envelope.
    pub async fn envelope(&mut self) -> Value {
        let v = self.json().await;
        assert_eq!(v["type"], "events_api", "expected an envelope, got {v}");
        v
    }

    pub async fn ack(&mut self, envelope: &Value) {
        self.send(json!({ "envelope_id": envelope["envelope_id"] }))
            .await;
    }

    /// Reads the next envelope and acks it; returns it.
    pub async fn envelope_acked(&mut self) -> Value {
        let e = self.envelope().await;
        self.ack(&e).await;
        e
    }

    pub async fn close(&mut self) {
        use tokio_tungstenite::tungstenite::protocol::{CloseFrame, frame::coding::CloseCode};
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        let _ = tokio::time::timeout(WAIT, self.ws.close(Some(frame))).await;
    }
}
