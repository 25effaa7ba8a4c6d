//! Log set-up: text or JSON lines on stderr (or, for the demo, in a file),
//! filtered by RUST_LOG when set, else by `[log] level`.
//!
//! twilight's own INFO lines (one per probe heartbeat ACK it did not ask
//! for) are noise next to switchboard's structured lines, so the library is
//! held at WARN unless the filter names it.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// The filter directives in force.
pub fn directives(config: &LogConfig, rust_log: Option<String>) -> String {
    let base = rust_log
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| config.level.clone());
    if base.contains("twilight") {
        base
    } else {
        format!("{base},twilight_gateway=warn,twilight_http=warn")
    }
}

/// Where log lines go.
pub enum LogSink {
    /// Standard error (`run`, `check`): colour only on a terminal.
    Stderr,
    /// Appended to this file, without colour (the demo keeps its terminal
    /// for the chat).
    File(std::path::PathBuf),
}

/// Install the global subscriber. Call once, from `main`. A file that
/// cannot be opened is reported on stderr and logging falls back to it.
pub fn init(config: &LogConfig, sink: &LogSink) {
    let filter = EnvFilter::try_new(directives(config, std::env::var("RUST_LOG").ok()))
        .unwrap_or_else(|err| {
            eprintln!("switchboard: invalid log filter ({err}); using \"info\"");
            EnvFilter::new("info")
        });
    let file = match sink {
        LogSink::Stderr => None,
        LogSink::File(path) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            Ok(file) => Some(file),
            Err(err) => {
                eprintln!(
                    "switchboard: cannot write the log file {} ({err}); logging to stderr",
                    path.display()
                );
                None
            }
        },
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match file {
        Some(file) => finish(
            builder
                .with_writer(std::sync::Mutex::new(file))
                .with_ansi(false),
            config.format,
        ),
        None => finish(
            builder
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal()),
            config.format,
        ),
    }
}

fn finish<W>(
    builder: tracing_subscriber::fmt::SubscriberBuilder<
        tracing_subscriber::fmt::format::DefaultFields,
        tracing_subscriber::fmt::format::Format,
        EnvFilter,
        W,
    >,
    format: LogFormat,
) where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        LogFormat::Text => builder.init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(level: &str) -> LogConfig {
        LogConfig {
            format: LogFormat::Text,
            level: level.into(),
        }
    }

    #[test]
    fn rust_log_wins_and_twilight_is_quiet_unless_named() {
        assert_eq!(
            directives(&log("info"), None),
            "info,twilight_gateway=warn,twilight_http=warn"
        );
        assert_eq!(
            directives(&log("info"), Some("debug".into())),
            "debug,twilight_gateway=warn,twilight_http=warn"
        );
        assert_eq!(
            directives(&log("info"), Some("twilight_gateway=debug".into())),
            "twilight_gateway=debug"
        );
        assert_eq!(
            directives(&log("warn"), Some("  ".into())),
            "warn,twilight_gateway=warn,twilight_http=warn"
        );
    }
}
