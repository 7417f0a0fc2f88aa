//! The `ecommerce-api` command line: `serve` (the default), `migrate`, `create-admin`, `seed`,
//! `openapi`, `graphql-schema` and `unlock`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ecommerce_api::app::{Application, shutdown_signal};
use ecommerce_api::config::Config;
use ecommerce_api::error::AppError;
use ecommerce_api::services::accounts::{self, Auth, Passwords};
use ecommerce_api::services::seed;
use ecommerce_api::services::users::User;

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
    /// Create an ADMIN, or promote an existing user to ADMIN and set their password.
    CreateAdmin {
        #[arg(long)]
        email: String,
        /// 8 to 128 characters. `ADMIN_PASSWORD` keeps it out of the process list and shell
        /// history.
        #[arg(long, env = "ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// Load demo data: categories, products, users, reviews, orders and blog posts.
    ///
    /// Products and orders are added on every run; users and posts are numbered, and those
    /// that exist already are kept.
    Seed {
        /// How many products to add.
        #[arg(long, default_value_t = 1000, value_parser = seed_count)]
        products: usize,
        /// Demo users demo1@example.com … demoN@example.com.
        #[arg(long, default_value_t = 20, value_parser = seed_count)]
        users: usize,
        /// How many orders to add, of one to four lines each.
        #[arg(long, default_value_t = 0, value_parser = seed_count)]
        orders: usize,
        /// Blog posts: the eight welcome posts, then numbered field notes.
        #[arg(long, default_value_t = 8, value_parser = seed_count)]
        posts: usize,
    },
    /// Print the OpenAPI document (JSON) to stdout.
    Openapi,
    /// Print the GraphQL schema (SDL) to stdout.
    GraphqlSchema,
    /// End the login lockout of an email at once (also fine when it is not locked).
    Unlock {
        #[arg(long)]
        email: String,
    },
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
    // The documents need no configuration: print them before reading any.
    let document = match command {
        Command::Openapi => Some(
            ecommerce_api::app::openapi()
                .to_pretty_json()
                .context("cannot serialise the OpenAPI document")?,
        ),
        Command::GraphqlSchema => Some(ecommerce_api::graphql::sdl()),
        _ => None,
    };
    if let Some(document) = document {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", document.trim_end()).context("cannot write to stdout")?;
        return Ok(());
    }

    match dotenvy::dotenv() {
        Ok(_) => {}
        Err(error) if error.not_found() => {}
        Err(error) => return Err(error).context("cannot read .env"),
    }
    let config = Config::from_env()?;
    let _log_writer =
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
            // Before the listener exists, so no signal can find the process without a handler.
            let shutdown = shutdown_signal()?;
            let app = Application::build(config).await?;
            tracing::info!(address = %app.local_addr(), "listening on http://{}", app.local_addr());
            app.run_until(shutdown).await?;
            tracing::info!("shut down cleanly");
            Ok(())
        }
        Command::CreateAdmin {
            email,
            password,
            name,
        } => {
            let db = ecommerce_api::db::connect(&config.database_url).await?;
            ecommerce_api::db::migrate(&db).await?;
            let auth = Auth::from_config(&config);
            let admin = create_admin(&db, &auth, &email, password, name.as_deref()).await;
            db.close().await.context("cannot close the database pool")?;
            let admin = admin?;
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{} ({}) is an ADMIN", admin.email, admin.id)
                .context("cannot write to stdout")?;
            Ok(())
        }
        Command::Seed {
            products,
            users,
            orders,
            posts,
        } => {
            let options = seed::SeedOptions {
                products,
                users,
                orders,
                posts,
            };
            let db = ecommerce_api::db::connect(&config.database_url).await?;
            ecommerce_api::db::migrate(&db).await?;
            let started = std::time::Instant::now();
            let report = seed::seed(&db, &Passwords::new(), &options, &print_progress).await;
            db.close().await.context("cannot close the database pool")?;
            let report = report.map_err(|error| anyhow::anyhow!(describe(&error)))?;
            let elapsed = started.elapsed().as_secs_f64();
            let mut stdout = std::io::stdout().lock();
            writeln!(
                stdout,
                "seeded {} products, {} reviews, {} orders with {} items and {} events, {} \
                 categories, {} users and {} posts in {elapsed:.1} s ({:.0} rows/s); demo users (demo1@example.com, \
                 demo2@example.com …) log in with {:?}",
                report.products,
                report.reviews,
                report.orders,
                report.order_items,
                report.order_events,
                report.categories,
                report.users,
                report.posts,
                report.rows() as f64 / elapsed.max(0.001),
                seed::DEMO_PASSWORD,
            )
            .context("cannot write to stdout")?;
            Ok(())
        }
        Command::Unlock { email } => {
            let email = ecommerce_api::domain::Email::parse(&email)
                .map_err(|invalid| anyhow::anyhow!("--email {}", invalid.0))?;
            let db = ecommerce_api::db::connect(&config.database_url).await?;
            ecommerce_api::db::migrate(&db).await?;
            let unlocked = accounts::unlock(&db, &Auth::from_config(&config), &email).await;
            db.close().await.context("cannot close the database pool")?;
            unlocked.map_err(|error| anyhow::anyhow!(describe(&error)))?;
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{email} can log in again").context("cannot write to stdout")?;
            Ok(())
        }
        Command::Openapi | Command::GraphqlSchema => {
            unreachable!("handled before configuration is read")
        }
    }
}

/// A row count for `seed`: bounded before anything is generated.
fn seed_count(raw: &str) -> Result<usize, String> {
    raw.parse::<usize>()
        .ok()
        .filter(|n| *n <= seed::MAX_ROWS)
        .ok_or_else(|| format!("must be a whole number from 0 to {}", seed::MAX_ROWS))
}

/// One line per table and second on stderr, so stdout keeps only the summary.
fn print_progress(progress: seed::Progress) {
    let seconds = progress.elapsed.as_secs_f64().max(0.001);
    let pace = match progress.counted {
        seed::Counted::Rows => format!("({:.0} rows/s)", progress.done as f64 / seconds),
        seed::Counted::Statements => format!("built ({seconds:.1} s)"),
    };
    eprintln!(
        "seed: {} {}/{} {pace}",
        progress.table, progress.done, progress.total
    );
}

/// Checks the arguments with the same rules as registration, then creates or promotes.
async fn create_admin(
    db: &ecommerce_api::db::Db,
    auth: &Auth,
    email: &str,
    password: String,
    name: Option<&str>,
) -> anyhow::Result<User> {
    let input = accounts::Register::parse(Ok(Some(email)), Ok(Some(password)), Ok(name), Ok(None))
        .map_err(|error| anyhow::anyhow!(describe(&error)))?;
    accounts::create_admin(db, auth, input.email, input.password, input.name)
        .await
        .map_err(|error| anyhow::anyhow!(describe(&error)).context("cannot create the admin"))
}

/// An error as one line for the terminal: which argument is wrong, or the internal cause.
fn describe(error: &AppError) -> String {
    match error {
        AppError::Validation(fields) => fields
            .iter()
            .map(|f| format!("--{} {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
        AppError::Internal(cause) => format!("{cause:#}"),
        other => other.to_string(),
    }
}
