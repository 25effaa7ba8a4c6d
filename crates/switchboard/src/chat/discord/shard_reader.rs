//! Reading a twilight shard without letting it reconnect behind our back.
//!
//! When a connection ends without a close frame, twilight starts a new one
//! inside the same poll and resumes on it silently. switchboard wants every
//! reconnect to go through its supervisor (logged, counted, backed off), so
//! a shard that drops back to `Disconnected` after having been connected is
//! reported as [`Polled::Lost`] the moment its poll returns.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;

use futures_util::Stream;
use twilight_gateway::error::ReceiveMessageError;
use twilight_gateway::{Message, Shard, ShardState};

use super::identify_queue::IdentifyQueue;

/// One read from the shard.
#[derive(Debug)]
pub enum Polled {
    /// What the shard's stream yielded.
    Item(Option<Result<Message, ReceiveMessageError>>),
    /// The connection ended and the library began reconnecting on its own.
    Lost,
}

/// Tracks whether this shard's connection was ever established.
#[derive(Debug, Default)]
pub struct ShardReader {
    connected: bool,
}

impl ShardReader {
    pub async fn next(&mut self, shard: &mut Shard<IdentifyQueue>) -> Polled {
        poll_fn(|cx| {
            let polled = Pin::new(&mut *shard).poll_next(cx);
            let disconnected = matches!(shard.state(), ShardState::Disconnected { .. });
            match polled {
                Poll::Pending if disconnected && self.connected => Poll::Ready(Polled::Lost),
                Poll::Pending => {
                    self.connected |= !disconnected;
                    Poll::Pending
                }
                Poll::Ready(item) => {
                    self.connected |= !disconnected;
                    Poll::Ready(Polled::Item(item))
                }
            }
        })
        .await
    }
}
