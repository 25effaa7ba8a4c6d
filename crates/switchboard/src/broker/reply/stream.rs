//! The write loop of one reply: events in, posts and paced edits out.
//!
//! Owns when the platform is called. Must never edit a message twice within
//! `edit_interval`, never change a message after another has followed it,
//! never stop draining events (the producer's channel is unbounded and its
//! sender must never wait on the platform), and never call the platform
//! again once a write has failed for good.
//!
//! Every message has a target text (what it should show) and a shown text
//! (what it last showed). Events only touch the document and mark it dirty;
//! a flush renders and splits it, then posts messages that do not exist yet
//! and edits those whose target differs, each as soon as its pace allows.
//! A flush is due when the newest message may be edited again (so a burst
//! of events becomes one edit) or when an older message still owes an edit.
//! A posted message counts as written for pacing; the placeholder does not,
//! so the first text replaces it at once. The placeholder is posted only if
//! nothing shows within `placeholder_after`; otherwise the first text is the
//! first post.

use std::future::pending;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::time::{Instant, sleep_until};

use super::fence::Fence;
use super::render::Document;
use super::retry::with_retry;
use super::split::split_measured;
use super::{EMPTY_REPLY, ReplyConfig, ReplyEvent, ReplyOutcome};
use crate::chat::{ChatOutbound, Conversation, OutboundError, PostScope};

/// A message the reply has posted.
struct Posted {
    id: String,
    shown: String,
    /// When it was last written, for pacing (`None`: may be edited now).
    last_write: Option<Instant>,
}

pub struct Streamer {
    outbound: Arc<dyn ChatOutbound>,
    conversation: Conversation,
    config: ReplyConfig,
    limit: usize,
    document: Document,
    posted: Vec<Posted>,
    /// What each message should show; never fewer than `posted`.
    targets: Vec<String>,
    /// How many messages are final (followed by another).
    sealed: usize,
    /// Where the final messages end in the rendered document, and the fence
    /// left open there.
    sealed_upto: usize,
    carry: Option<Fence>,
    /// Events arrived since the last split.
    dirty: bool,
    /// The event stream has ended.
    complete: bool,
    error: Option<OutboundError>,
    edits: u32,
    posts: u32,
    /// Told each new message id as soon as it is posted (for the journal).
    on_post: Option<mpsc::UnboundedSender<String>>,
    /// Where each post's idempotency key comes from (part = message index).
    keys: PostScope,
}

impl Streamer {
    pub fn new(
        outbound: Arc<dyn ChatOutbound>,
        conversation: Conversation,
        mut config: ReplyConfig,
        on_post: Option<mpsc::UnboundedSender<String>>,
        keys: PostScope,
    ) -> Self {
        if config.placeholder.trim().is_empty() {
            config.placeholder = super::ReplyConfig::default().placeholder;
        }
        Self {
            limit: outbound.max_message_chars(),
            document: Document::new(config.tool_display),
            outbound,
            conversation,
            config,
            posted: Vec::new(),
            targets: Vec::new(),
            sealed: 0,
            sealed_upto: 0,
            carry: None,
            dirty: false,
            complete: false,
            error: None,
            edits: 0,
            posts: 0,
            on_post,
            keys,
        }
    }

    pub async fn run(mut self, mut events: mpsc::UnboundedReceiver<ReplyEvent>) -> ReplyOutcome {
        if self.first_post(&mut events).await {
            return self.finish().await;
        }
        loop {
            let wake = self.next_wake();
            tokio::select! {
                // A due flush first, so a flood of events cannot starve the
                // edits; it takes in everything queued before it writes.
                biased;
                () = sleep_until_some(wake) => {
                    if self.drain(&mut events) {
                        break;
                    }
                    self.flush().await;
                }
                event = events.recv() => match event {
                    Some(event) => self.apply(event),
                    None => break,
                },
            }
        }
        self.finish().await
    }

    /// Post the first message: the first text to show, if it comes within
    /// `placeholder_after`, else the placeholder (editable at once). `true`
    /// if the events ended before anything was posted.
    async fn first_post(&mut self, events: &mut mpsc::UnboundedReceiver<ReplyEvent>) -> bool {
        let deadline = Instant::now() + self.config.placeholder_after;
        loop {
            tokio::select! {
                biased;
                event = events.recv() => match event {
                    Some(event) => {
                        self.apply(event);
                        if !is_blank(&self.document.render()) {
                            // Whatever else is queued goes in the same post;
                            // an end of the events is seen by the caller.
                            let _ = self.drain(events);
                            self.flush().await;
                            return false;
                        }
                    }
                    None => return true,
                },
                () = sleep_until(deadline) => {
                    self.targets.push(self.config.placeholder.clone());
                    self.post_next().await;
                    if let Some(placeholder) = self.posted.first_mut() {
                        placeholder.last_write = None;
                    }
                    return false;
                }
            }
        }
    }

    /// Bring every message to its final text, at the usual pace.
    async fn finish(mut self) -> ReplyOutcome {
        self.complete = true;
        self.dirty = true;
        if self.error.is_none() {
            self.flush().await;
        }
        while let Some(due) = self.next_wake() {
            sleep_until(due).await;
            self.flush().await;
        }
        ReplyOutcome {
            message_ids: self.posted.into_iter().map(|posted| posted.id).collect(),
            agent_text: self.document.into_agent_text(),
            edits: self.edits,
            posts: self.posts,
            error: self.error,
        }
    }

    fn apply(&mut self, event: ReplyEvent) {
        self.document.apply(event);
        self.dirty = true;
    }

    /// Apply every queued event; `true` once the sender is gone.
    fn drain(&mut self, events: &mut mpsc::UnboundedReceiver<ReplyEvent>) -> bool {
        loop {
            match events.try_recv() {
                Ok(event) => self.apply(event),
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => return true,
            }
        }
    }

    /// When the next flush is due; `None` if nothing is owed (or the reply
    /// has stopped writing).
    fn next_wake(&self) -> Option<Instant> {
        if self.error.is_some() {
            return None;
        }
        let mut wake: Option<Instant> = None;
        let mut owe = |due: Instant| wake = Some(wake.map_or(due, |wake| wake.min(due)));
        for (index, target) in self.targets.iter().enumerate() {
            match self.posted.get(index) {
                None => owe(Instant::now()),
                Some(posted) if posted.shown != *target => owe(self.editable_at(index)),
                Some(_) => {}
            }
        }
        if self.dirty && !self.posted.is_empty() {
            owe(self.editable_at(self.posted.len() - 1));
        }
        wake
    }

    fn editable_at(&self, index: usize) -> Instant {
        self.posted[index]
            .last_write
            .map_or_else(Instant::now, |at| at + self.config.edit_interval)
    }

    /// Split if needed, then post what is missing and edit what may be.
    async fn flush(&mut self) {
        if self.dirty {
            self.resplit();
        }
        for index in 0..self.targets.len() {
            if self.error.is_some() {
                return;
            }
            if index == self.posted.len() {
                self.post_next().await;
            } else if self.posted[index].shown != self.targets[index]
                && self.editable_at(index) <= Instant::now()
            {
                self.edit(index).await;
            }
        }
    }

    /// Render the document and split what follows the final messages;
    /// every piece but the last becomes final.
    fn resplit(&mut self) {
        self.dirty = false;
        let rendered = self.document.render();
        let outbound = &self.outbound;
        let mut pieces = split_measured(
            &rendered[self.sealed_upto..],
            self.carry.clone(),
            self.limit,
            self.complete,
            &|shown: &str| outbound.rendered_len(shown),
        );
        let tail = pieces.pop().expect("a split has at least one piece");
        self.targets.truncate(self.sealed);
        for piece in pieces {
            let text = if is_blank(&piece.text) {
                self.config.placeholder.clone()
            } else {
                piece.text
            };
            self.targets.push(text);
            self.sealed += 1;
            self.sealed_upto += piece.body.len();
            self.carry = piece.carry;
        }
        self.document.seal(self.sealed_upto);
        let index = self.targets.len();
        if !is_blank(&tail.text) {
            self.targets.push(tail.text);
        } else if index == 0 && self.complete {
            self.targets.push(EMPTY_REPLY.to_owned());
        } else if index < self.posted.len() {
            self.targets.push(self.config.placeholder.clone());
        }
        // Otherwise the tail has nothing to show yet: it is posted once it has.
    }

    async fn post_next(&mut self) {
        let text = self.targets[self.posted.len()].clone();
        let key = self.keys.part(self.posted.len());
        let (outbound, conversation) = (&self.outbound, &self.conversation);
        match with_retry("post", || outbound.post(conversation, &text, &key)).await {
            Ok(id) => {
                self.posts += 1;
                if let Some(on_post) = &self.on_post {
                    let _ = on_post.send(id.clone());
                }
                // A post found by its key may be an earlier process's,
                // showing what that one wrote (ADR 25): owe it an edit.
                let shown = if self.keys.may_continue_earlier() {
                    String::new()
                } else {
                    text
                };
                self.posted.push(Posted {
                    id,
                    shown,
                    last_write: Some(Instant::now()),
                });
            }
            Err(error) => self.give_up(error),
        }
    }

    async fn edit(&mut self, index: usize) {
        let text = self.targets[index].clone();
        let (outbound, conversation, id) =
            (&self.outbound, &self.conversation, &self.posted[index].id);
        match with_retry("edit", || outbound.edit(conversation, id, &text)).await {
            Ok(()) => {
                self.edits += 1;
                let posted = &mut self.posted[index];
                posted.shown = text;
                posted.last_write = Some(Instant::now());
            }
            Err(error) => self.give_up(error),
        }
    }

    fn give_up(&mut self, error: OutboundError) {
        tracing::warn!(
            platform = self.conversation.platform.as_str(),
            thread = %self.conversation.thread_id,
            %error,
            "reply stopped writing to the platform; the rest of the answer is not shown"
        );
        self.error = Some(error);
    }
}

fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => pending().await,
    }
}
