//! The broker's front door: every platform event passes here, in order.
//!
//! Messages go to their platform's [`Bridge`] (which dedupes, journals and
//! routes them); a new platform session starts that platform's catch-up.
//! Each finished event is reported to [`PipelineHealth`] (work queued and
//! none finished for a few seconds makes the process unready), and a
//! heartbeat task beside the loop proves the runtime can still schedule it
//! (`/livez`). The task running [`run_intake`] is watched by `app`: if it
//! ends before shutdown (a panic), the process exits non-zero.

use std::collections::HashMap;

use tokio_util::sync::CancellationToken;

use super::bridge::Bridge;
use super::test_faults::TestFaults;
use crate::chat::{ChatEvent, InboundReceiver, Platform};
use crate::health::{INTAKE_BEAT, PipelineHealth};

/// Consume platform events until shutdown.
pub async fn run_intake(
    mut inbound: InboundReceiver,
    mut bridges: HashMap<Platform, Bridge>,
    pipeline: PipelineHealth,
    faults: TestFaults,
    shutdown: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
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
        | ChatEvent::HandedOver { platform } => *platform,
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
        ChatEvent::ButtonClicked(click) => bridge.click(*click),
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
