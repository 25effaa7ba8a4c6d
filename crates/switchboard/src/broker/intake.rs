//! The broker's front door: every platform event passes here, in order.
//!
//! Messages go to their platform's [`Bridge`] (which dedupes, journals and
//! routes them); a new platform session starts that platform's catch-up.
//! The store's return after an outage ([`StoreWatch`]) has each bridge
//! read back what it turned away meanwhile: the reads run beside the
//! loop, and what they bring is handled here, in order with the events.
//! Each finished event is reported to [`PipelineHealth`] (work queued and
//! none finished for a few seconds makes the process unready), and a
//! heartbeat task beside the loop proves the runtime can still schedule it
//! (`/livez`). The task running [`run_intake`] is watched by `app`: if it
//! ends before shutdown (a panic), the process exits non-zero.

use std::collections::HashMap;

use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use tokio_util::sync::CancellationToken;

use super::bridge::Bridge;
use super::store_watch::StoreWatch;
use super::test_faults::TestFaults;
use crate::chat::{ChatEvent, InboundReceiver, Platform};
use crate::health::{INTAKE_BEAT, PipelineHealth};

/// Consume platform events until shutdown.
pub async fn run_intake(
    mut inbound: InboundReceiver,
    mut bridges: HashMap<Platform, Bridge>,
    pipeline: PipelineHealth,
    store: StoreWatch,
    faults: TestFaults,
    shutdown: CancellationToken,
) {
    let mut store_ups = store.ups();
    // Channels being read back after the store's return; dropped (with
    // what they read) on shutdown, when nothing was acted on yet.
    let mut reading_back = FuturesUnordered::new();
    loop {
        // Priority: shutdown; then the store's return, before any event
        // queued behind it (the bridges hold those channels' events from
        // now on); then a finished read back (before the events its
        // channels held); then events in order.
        let event = tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            Ok(()) = store_ups.changed() => {
                reading_back.extend(bridges.values_mut().filter_map(Bridge::store_back));
                continue;
            }
            Some(caught) = reading_back.next(), if !reading_back.is_empty() => {
                let platform = caught.platform;
                if let Some(next) = match bridges.get_mut(&platform) {
                    Some(bridge) => bridge.caught_up(caught).await,
                    None => None,
                } {
                    reading_back.push(next);
                }
                continue;
            }
            event = inbound.recv() => match event {
                Some(event) => event,
                None => return,
            },
        };
        if let ChatEvent::Message(message, _) = &event {
            faults.on_intake(&message.content).await;
        }
        handle(&mut bridges, event).await;
        pipeline.handled();
    }
}

async fn handle(bridges: &mut HashMap<Platform, Bridge>, event: ChatEvent) {
    let platform = match &event {
        ChatEvent::Message(message, _) => message.platform,
        ChatEvent::SessionStarted { platform }
        | ChatEvent::TookOver { platform }
        | ChatEvent::HandedOver { platform }
        | ChatEvent::ThreadsWaiting { platform } => *platform,
        ChatEvent::ButtonClicked(click) => click.platform,
        ChatEvent::SlashCommand(command) => command.platform,
    };
    let Some(bridge) = bridges.get_mut(&platform) else {
        tracing::warn!(
            platform = platform.as_str(),
            "no bridge for this platform; event dropped"
        );
        // Nothing will ever act on it: a redelivery would change nothing.
        if let ChatEvent::Message(_, receipt) = event {
            receipt.settle(true);
        }
        return;
    };
    match event {
        ChatEvent::Message(message, receipt) => bridge.handle(*message, receipt).await,
        ChatEvent::SessionStarted { .. } => bridge.start_catch_up(),
        ChatEvent::TookOver { .. } => bridge.take_over().await,
        ChatEvent::HandedOver { .. } => bridge.stand_down(),
        ChatEvent::ThreadsWaiting { .. } => bridge.threads_waiting().await,
        ChatEvent::ButtonClicked(click) => bridge.click(*click).await,
        ChatEvent::SlashCommand(command) => bridge.command(*command).await,
    }
}

/// Beat every [`INTAKE_BEAT`] until shutdown: proof that the runtime can
/// still schedule the intake's work.
pub async fn beat(pipeline: PipelineHealth, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(INTAKE_BEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            _ = tick.tick() => pipeline.beat(),
        }
    }
}
