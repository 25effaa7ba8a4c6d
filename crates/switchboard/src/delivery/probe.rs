//! The platform's own view of a channel: the newest message its REST API
//! holds, asked at the lowest priority, and what a message id says about
//! when it was posted. One implementation per platform, in `chat/`.

use std::time::SystemTime;

use async_trait::async_trait;

use crate::chat::OutboundError;

/// What a probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probed {
    /// The newest message id (`None`: the channel has none).
    Latest(Option<String>),
    /// Not asked: the platform's rate budget had no room to spare now.
    Skipped,
}

#[async_trait]
pub trait LatestProbe: Send + Sync + 'static {
    /// The newest message in `channel` (a channel or a thread key, as in
    /// `ChatMessage::channel_id`), as the platform holds it.
    async fn latest(&self, channel: &str) -> Result<Probed, OutboundError>;

    /// When message `id` was posted, read from the id itself.
    fn posted_at(&self, id: &str) -> Option<SystemTime>;

    /// An id in `channel` that sorts before anything posted at or after
    /// `time` (to read "everything after" from a time).
    fn id_before(&self, channel: &str, time: SystemTime) -> String;
}
