//! The `switchboard` binary: parse the command line, load the config, run
//! until SIGINT/SIGTERM, exit 0 on shutdown and non-zero on a fatal cause.

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use switchboard::RunError;
use switchboard::check::CheckOptions;
use switchboard::cli::{Cli, Command};
use switchboard::config::{Config, LogConfig};
use switchboard::demo::{DemoAgent, DemoError, DemoFolder};
use switchboard::logging::LogSink;
use tokio_util::sync::CancellationToken;

/// Exit status for a config that cannot be used.
const EXIT_CONFIG: u8 = 2;
/// Exit status for a fatal runtime cause (bad token, disallowed intents...).
const EXIT_FATAL: u8 = 1;

fn main() -> ExitCode {
    match Cli::parse().command_or_default() {
        Command::Check {
            config,
            agent,
            online,
        } => {
            let report = switchboard::check::run(&CheckOptions {
                config,
                agent,
                online,
            });
            let written = report.write(&mut std::io::stdout(), &mut std::io::stderr());
            if report.passed() && written.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Command::Demo {
            platform,
            agent,
            admin,
            heartbeat_ms,
        } => {
            let agent = agent.map_or(DemoAgent::BuiltIn, DemoAgent::Command);
            let folder = match DemoFolder::create() {
                Ok(folder) => folder,
                Err(err) => {
                    eprintln!("switchboard demo: cannot create a temporary folder: {err}");
                    return ExitCode::from(EXIT_FATAL);
                }
            };
            let log = switchboard::config::LogConfig {
                format: switchboard::config::LogFormat::Text,
                level: "info".into(),
            };
            // The terminal is the chat: every log line goes to the file.
            let sink = LogSink::File(folder.log_path());
            run_async(&log, &sink, move |shutdown| async move {
                let heartbeat = Duration::from_millis(heartbeat_ms);
                let result = switchboard::demo::run_demo(
                    platform, agent, heartbeat, &admin, &folder, shutdown,
                )
                .await;
                if let Err(err) = &result {
                    eprintln!(
                        "switchboard demo: {err} (the log has more: {})",
                        folder.log_path().display()
                    );
                }
                result
            })
        }
        Command::DemoAgent {
            load_session,
            state_file,
            chunk_delay_ms,
            echo,
            emit_junk,
            echo_delay_ms,
            timestamps_file,
            start_delay_ms,
            modes,
        } => switchboard::demo_agent::run_stdio(switchboard::demo_agent::DemoAgentOptions {
            load_session,
            state_file,
            chunk_delay: Duration::from_millis(chunk_delay_ms),
            echo,
            emit_junk,
            echo_delay: Duration::from_millis(echo_delay_ms),
            timestamps_file,
            start_delay: Duration::from_millis(start_delay_ms),
            modes,
        }),
        Command::Run { config } => match Config::load(&config) {
            Ok(config) => run(config),
            Err(err) => {
                eprintln!("switchboard: {err}");
                ExitCode::from(EXIT_CONFIG)
            }
        },
    }
}

fn run(config: Config) -> ExitCode {
    let log = config.log.clone();
    run_async(&log, &LogSink::Stderr, move |shutdown| {
        switchboard::run(config, shutdown)
    })
}

/// Set up logging and the runtime, run `job` until it ends or a signal
/// cancels it, and map the outcome to an exit status.
fn run_async<F, Fut, E>(log: &LogConfig, sink: &LogSink, job: F) -> ExitCode
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display + IsFatal,
{
    switchboard::logging::init(log, sink);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("switchboard: cannot start the async runtime: {err}");
            return ExitCode::from(EXIT_FATAL);
        }
    };
    let result = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        job(shutdown).await
    });
    // Do not wait on tasks stuck past the drain deadline.
    runtime.shutdown_background();
    match result {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(err) => {
            if !err.already_logged() {
                tracing::error!("{err}");
            }
            ExitCode::from(EXIT_FATAL)
        }
    }
}

/// Whether an error's ERROR line was written where it happened.
trait IsFatal {
    fn already_logged(&self) -> bool;
}

impl IsFatal for RunError {
    fn already_logged(&self) -> bool {
        matches!(self, RunError::Fatal(_))
    }
}

impl IsFatal for DemoError {
    fn already_logged(&self) -> bool {
        matches!(self, DemoError::Run(RunError::Fatal(_)))
    }
}

/// Cancel `shutdown` on the first SIGINT or SIGTERM; a second one kills
/// every live agent's process group (synchronously: no destructor runs
/// after `exit`) and exits at once.
async fn cancel_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop the process with SIGKILL");
        return;
    };
    for round in 0..2 {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        if round == 0 {
            tracing::info!(signal = name, "shutting down");
            shutdown.cancel();
        } else {
            let killed = switchboard::agent::process::kill_all_groups();
            tracing::warn!(
                signal = name,
                agents_killed = killed,
                "second signal: killed the agents' process groups; exiting now"
            );
            std::process::exit(i32::from(EXIT_FATAL));
        }
    }
}
