//! The `ecommerce-api` command line: `serve` (the default), `migrate` and `openapi`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ecommerce_api::app::{Application, shutdown_signal};
use ecommerce_api::config::Config;

/// mimalloc instead of glibc's malloc: a request allocates many small short-lived objects,
/// and glibc's arenas spend a tenth of `/health`'s CPU time on them (measured with perf).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// An online-shop and blog backend. Configuration comes from the environment and `.env`.
#[derive(Debug, Parser)]
#[command(name = "ecommerce-api", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply pending migrations, then serve HTTP until SIGTERM/SIGINT (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Print the OpenAPI document (JSON) to stdout.
    Openapi,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|runtime| runtime.block_on(run(cli.command.unwrap_or(Command::Serve))));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line an operator can act on; `{:#}` joins the causes.
            eprintln!("ecommerce-api: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    if let Command::Openapi = command {
        let document = ecommerce_api::http::openapi()
            .to_pretty_json()
            .context("cannot serialise the OpenAPI document")?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{document}").context("cannot write to stdout")?;
        return Ok(());
    }

    match dotenvy::dotenv() {
        Ok(_) => {}
        Err(error) if error.not_found() => {}
        Err(error) => return Err(error).context("cannot read .env"),
    }
    let config = Config::from_env()?;
    ecommerce_api::telemetry::init_tracing(&config.log_level, config.app_env.is_production())?;

    match command {
        Command::Migrate => {
            let db = ecommerce_api::db::connect(&config.database_url).await?;
            ecommerce_api::db::migrate(&db).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Serve => {
            if config.jwt_secret_generated {
                tracing::warn!(
                    "JWT_SECRET is not set: using a random secret, so tokens end with this \
                     process and are not accepted by other instances"
                );
            }
            let app = Application::build(config).await?;
            tracing::info!(address = %app.local_addr(), "listening on http://{}", app.local_addr());
            app.run_until(shutdown_signal()).await?;
            tracing::info!("shut down cleanly");
            Ok(())
        }
        Command::Openapi => unreachable!("handled before configuration is read"),
    }
}
