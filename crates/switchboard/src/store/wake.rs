//! Waking another instance (issue 14, point 5; ADR 22): a message
//! journaled by one instance for a thread another owns is announced to the
//! owner with PostgreSQL's NOTIFY on [`WAKE_CHANNEL`], the payload being
//! the owner's instance id.
//!
//! Owns the NOTIFY and the LISTEN side ([`Wakeups`]). A notification is a
//! hint, never the record: it is lost while the listener's connection is
//! down, so the owner also polls the journal, and [`Wakeups::next`] says
//! when it reconnected (anything may have been missed). It must never
//! carry the work itself. On SQLite (one instance) there is nobody to
//! wake: `wake` does nothing and there is no listener.

use sqlx::postgres::PgListener;

use super::{Backend, Store, StoreError};

/// The channel every instance of a bot listens on.
pub const WAKE_CHANNEL: &str = "switchboard_wake";

/// What a [`Wakeups`] saw.
#[derive(Debug, PartialEq, Eq)]
pub enum Wakeup {
    /// Another instance has work for this one.
    Woken,
    /// The listener's connection was lost and is being made again:
    /// wake-ups meanwhile are lost, so look at the journal.
    Reconnected,
}

impl Store {
    /// Tell instance `instance` it has work waiting (PostgreSQL; nothing on
    /// SQLite). Delivered when the surrounding transaction commits, here
    /// at once.
    pub async fn wake(&self, instance: &str) -> Result<(), StoreError> {
        let Backend::Postgres(backend) = &self.backend else {
            return Ok(());
        };
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(WAKE_CHANNEL)
            .bind(instance)
            .execute(&backend.pool)
            .await
            .map(drop)
            .map_err(StoreError::query("wake"))
    }

    /// Listen for `instance`'s wake-ups: `None` on SQLite. The listener
    /// holds one connection of its own, made like the pool's.
    pub async fn wakeups(&self, instance: &str) -> Result<Option<Wakeups>, StoreError> {
        let Backend::Postgres(backend) = &self.backend else {
            return Ok(None);
        };
        let mut listener = PgListener::connect_with(&backend.pool)
            .await
            .map_err(StoreError::query("wakeups"))?;
        listener
            .listen(WAKE_CHANNEL)
            .await
            .map_err(StoreError::query("wakeups"))?;
        Ok(Some(Wakeups {
            listener,
            instance: instance.to_owned(),
        }))
    }
}

/// One instance's wake-ups.
pub struct Wakeups {
    listener: PgListener,
    instance: String,
}

impl std::fmt::Debug for Wakeups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wakeups")
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl Wakeups {
    /// The next wake-up for this instance (others' are skipped), or word
    /// that the connection was lost. An error means it could not be made
    /// again; calling again retries.
    pub async fn next(&mut self) -> Result<Wakeup, StoreError> {
        loop {
            match self.listener.try_recv().await {
                Ok(Some(notification)) if notification.payload() == self.instance => {
                    return Ok(Wakeup::Woken);
                }
                Ok(Some(_)) => continue,
                Ok(None) => return Ok(Wakeup::Reconnected),
                Err(err) => return Err(StoreError::query("wakeups")(err)),
            }
        }
    }
}
