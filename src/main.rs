//! The `riffle` binary: parse flags and config, start the broker, stop cleanly on SIGINT or
//! SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use riffle::clock::Clock;
use riffle::config::{BrokerConfig, Cli};
use tokio::signal::unix::{SignalKind, signal};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let config = match BrokerConfig::load(&cli) {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(%error, "invalid configuration");
            eprintln!("riffle: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("riffle: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(config))
}

async fn run(config: BrokerConfig) -> ExitCode {
    let running = match riffle::server::start(config, Clock::system()).await {
        Ok(running) => running,
        Err(error) => {
            tracing::error!(%error, "start-up failed");
            eprintln!("riffle: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) = wait_for_signal().await {
        tracing::error!(%error, "cannot listen for signals; shutting down");
    }
    match running.shutdown().await {
        Ok(()) => {
            tracing::info!("shut down cleanly");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "shutdown failed");
            ExitCode::FAILURE
        }
    }
}

async fn wait_for_signal() -> std::io::Result<()> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = interrupt.recv() => tracing::info!("SIGINT received"),
        _ = terminate.recv() => tracing::info!("SIGTERM received"),
    }
    Ok(())
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RIFFLE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only on a terminal: escape codes in a log file hide "ERROR" from grep.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!(panic = %info, "a task panicked; its connection is closed, the broker carries on");
        default_hook(info);
    }));
}
