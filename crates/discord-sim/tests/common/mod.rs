//! A raw tokio-tungstenite gateway client for driving the sim in tests, with
//! a deadline on every await.

#![allow(dead_code)]

use std::time::Duration;

use discord_sim::DiscordSim;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

pub const WAIT: Duration = Duration::from_secs(5);
pub const GUILDS: u64 = 1;
pub const GUILD_MESSAGES: u64 = 1 << 9;
pub const MESSAGE_CONTENT: u64 = 1 << 15;
pub const ALL: u64 = GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT;

/// What the client saw next.
#[derive(Debug)]
pub enum Frame {
    Json(Value),
    Close(Option<u16>),
    /// Stream ended or errored without a close frame.
    Gone,
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn connect_url(base: &str) -> Client {
        let url = format!("{base}/?v=10&encoding=json");
        let (ws, _) = tokio::time::timeout(WAIT, connect_async(url))
            .await
            .expect("connect timed out")
            .expect("connect failed");
        Client { ws }
    }

    /// Connects and reads Hello.
    pub async fn connect(sim: &DiscordSim) -> Client {
        let mut c = Client::connect_url(&sim.gateway_url()).await;
        let hello = c.json().await;
        assert_eq!(hello["op"], 10, "expected hello, got {hello}");
        c
    }

    pub async fn send(&mut self, v: Value) {
        self.send_text(v.to_string()).await;
    }

    pub async fn send_text(&mut self, text: String) {
        tokio::time::timeout(WAIT, self.ws.send(Message::text(text)))
            .await
            .expect("send timed out")
            .expect("send failed");
    }

    pub async fn next(&mut self) -> Frame {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("no frame within the deadline");
            return match msg {
                Some(Ok(Message::Text(t))) => {
                    Frame::Json(serde_json::from_str(t.as_str()).unwrap())
                }
                Some(Ok(Message::Close(f))) => Frame::Close(f.map(|f| u16::from(f.code))),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => Frame::Gone,
            };
        }
    }

    pub async fn json(&mut self) -> Value {
        match self.next().await {
            Frame::Json(v) => v,
            other => panic!("expected a JSON frame, got {other:?}"),
        }
    }

    /// The next dispatch, asserting its event name.
    pub async fn dispatch(&mut self, t: &str) -> Value {
        let v = self.json().await;
        assert_eq!(v["op"], 0, "expected dispatch {t}, got {v}");
        assert_eq!(v["t"], t, "expected dispatch {t}, got {v}");
        v
    }

    pub async fn close_code(&mut self) -> Option<u16> {
        match self.next().await {
            Frame::Close(code) => code,
            other => panic!("expected close, got {other:?}"),
        }
    }

    pub async fn identify(&mut self, token: &str, intents: u64) {
        self.send(json!({
            "op": 2,
            "d": {
                "token": token,
                "intents": intents,
                "properties": { "os": "linux", "browser": "test", "device": "test" },
                "shard": [0, 1],
            }
        }))
        .await;
    }

    /// Identifies and reads READY + GUILD_CREATE; returns READY's frame.
    pub async fn ready(&mut self, sim: &DiscordSim, intents: u64) -> Value {
        self.identify(&format!("Bot {}", sim.token()), intents)
            .await;
        let ready = self.dispatch("READY").await;
        self.dispatch("GUILD_CREATE").await;
        ready
    }

    pub async fn resume(&mut self, token: &str, session_id: &str, seq: u64) {
        self.send(json!({
            "op": 6,
            "d": { "token": token, "session_id": session_id, "seq": seq }
        }))
        .await;
    }

    pub async fn heartbeat(&mut self, seq: Option<u64>) {
        self.send(json!({ "op": 1, "d": seq })).await;
    }

    pub async fn close(&mut self, code: u16) {
        use tokio_tungstenite::tungstenite::protocol::CloseFrame;
        let frame = CloseFrame {
            code: code.into(),
            reason: "".into(),
        };
        let _ = tokio::time::timeout(WAIT, self.ws.close(Some(frame))).await;
    }
}

/// reqwest client with the bot's Authorization header.
pub fn http(sim: &DiscordSim) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bot {}", sim.token()).parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

pub fn api(sim: &DiscordSim, path: &str) -> String {
    format!("{}/api/v10{path}", sim.http_url())
}
