//! Saving a held Discord shard's session for a standby (ADR 20, ADR 23):
//! one saver per shard, each writing the newest session its gateway
//! published under that shard's own key (`shard_session_key`), fenced by
//! the lease that guards every shard.
//!
//! Owns the save loop and its bounds (at most every [`SAVE_EVERY`], each
//! write within [`STORE_CALL`]). It must never write without the fence,
//! and never decide who holds the shards.

use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::chat::discord::ResumeState;
use crate::store::{Fence, GatewaySession, Store, StoreError};

/// Sessions are saved at most this often (a RESUME from an older sequence
/// only replays more, which the journal dedupes).
const SAVE_EVERY: Duration = Duration::from_millis(500);
/// A store call of the hand-over may take this long before it is given up.
pub(super) const STORE_CALL: Duration = Duration::from_secs(2);

/// Save the newest session published on `published` under `key` and
/// `fence`, at most every [`SAVE_EVERY`], until `done` (then the newest
/// once more) or until the store refuses the fence.
pub(super) async fn save_sessions(
    store: Store,
    key: String,
    fence: Fence,
    mut published: watch::Receiver<Option<ResumeState>>,
    done: CancellationToken,
) {
    loop {
        let finishing = tokio::select! {
            changed = published.changed() => {
                if changed.is_err() {
                    return;
                }
                false
            }
            () = done.cancelled() => true,
        };
        if !finishing || published.has_changed().unwrap_or(false) {
            let state = published.borrow_and_update().clone();
            if let Err(err) = save(&store, &key, &fence, state.as_ref()).await {
                if matches!(err, StoreError::Fenced { .. }) {
                    tracing::warn!(platform = "discord", %key, %err, "the shard's session was not saved: the lease is gone");
                    return;
                }
                tracing::warn!(platform = "discord", %key, %err, "the shard's session was not saved; saving the next one");
            }
        }
        if finishing {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(SAVE_EVERY) => {}
            () = done.cancelled() => {}
        }
    }
}

async fn save(
    store: &Store,
    key: &str,
    fence: &Fence,
    state: Option<&ResumeState>,
) -> Result<(), StoreError> {
    let call = async {
        match state {
            Some(state) => {
                let session = GatewaySession {
                    session_id: state.session_id.clone(),
                    sequence: state.sequence,
                    resume_url: state.resume_url.clone(),
                };
                store.save_gateway_session(key, &session, fence).await
            }
            None => store.forget_gateway_session(key, fence).await,
        }
    };
    match tokio::time::timeout(STORE_CALL, call).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!(platform = "discord", %key, "saving the shard's session timed out");
            Ok(())
        }
    }
}
