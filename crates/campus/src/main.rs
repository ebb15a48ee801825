//! `campus`: one binary serving the campus systems.

use std::io::{BufRead, Write};
use std::net::SocketAddr;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "campus",
    version,
    about = "Backends for the institutions campus serves"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum System {
    /// MksU graduation clearance.
    Clearance,
    /// Personal Support System for students with disabilities.
    Pss,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations, then serve the system's API.
    Serve {
        system: System,
        /// Listen address (overrides CAMPUS_BIND).
        #[arg(long)]
        bind: Option<SocketAddr>,
    },
    /// Apply pending migrations.
    Migrate { system: System },
    /// Create an administrator; prompts for what is not given.
    Createsuperuser {
        system: System,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        password: Option<String>,
        #[arg(long)]
        full_name: Option<String>,
    },
    /// Print the system's OpenAPI document (JSON).
    Openapi { system: System },
    /// Re-encrypt every encrypted field with the first key of
    /// CAMPUS_FIELD_ENCRYPTION_KEY (after putting a new key first).
    RotateKeys { system: System },
}

fn main() {
    if let Err(error) = run() {
        eprintln!("campus: {error:#}");
        std::process::exit(1);
    }
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Openapi { system } => {
            let document = match system {
                System::Clearance => clearance::openapi(),
                System::Pss => pss::openapi(),
            };
            println!("{}", serde_json::to_string_pretty(&document)?);
        }
        Command::Migrate {
            system: System::Clearance,
        } => {
            let state = connect().await?;
            clearance::migrate(&state.db)
                .await
                .context("migration failed")?;
            println!("clearance: migrations applied");
        }
        Command::Migrate {
            system: System::Pss,
        } => {
            let state = pss_connect().await?;
            pss::migrate(&state.db).await.context("migration failed")?;
            println!("pss: migrations applied");
        }
        Command::Createsuperuser {
            system,
            email,
            password,
            full_name,
        } => {
            let email = match email {
                Some(email) => email,
                None => prompt("Email: ")?,
            };
            let password = match password {
                Some(password) => password,
                None => prompt("Password: ")?,
            };
            let full_name = full_name.unwrap_or_default();
            match system {
                System::Clearance => {
                    let state = connect().await?;
                    clearance::migrate(&state.db)
                        .await
                        .context("migration failed")?;
                    clearance::create_superuser(&state, &email, &password, &full_name)
                        .await
                        .map_err(anyhow::Error::msg)?;
                }
                System::Pss => {
                    let state = pss_connect().await?;
                    pss::migrate(&state.db).await.context("migration failed")?;
                    pss::create_superuser(&state, &email, &password, &full_name)
                        .await
                        .map_err(anyhow::Error::msg)?;
                }
            }
            println!("Superuser {email} created.");
        }
        Command::RotateKeys {
            system: System::Clearance,
        } => bail!("clearance has no encrypted fields"),
        Command::RotateKeys {
            system: System::Pss,
        } => {
            let state = pss_connect().await?;
            pss::migrate(&state.db).await.context("migration failed")?;
            let report = pss::rotate_keys(&state).await.map_err(anyhow::Error::msg)?;
            println!(
                "pss: {} rows checked, {} values re-encrypted with the first key",
                report.rows, report.values
            );
        }
        Command::Serve {
            system: System::Clearance,
            bind,
        } => {
            kernel::http::init_logging();
            let mut config = config()?;
            if let Some(bind) = bind {
                config.settings.bind = bind;
            }
            let address = config.settings.bind;
            let state = clearance::AppState::connect(config, clearance::PASSWORD_ALGORITHM)
                .await
                .map_err(anyhow::Error::msg)
                .context("cannot start")?;
            clearance::migrate(&state.db)
                .await
                .context("migration failed")?;
            let needs_admin = !clearance::has_admin(&state.db).await?;
            clearance::spawn_workers(&state);
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address}"))?;
            println!(
                "campus clearance listening on http://{address}/api/ (docs: http://{address}/api/docs/)"
            );
            if needs_admin {
                println!(
                    "No administrator yet: create one with\n  cargo run --release -- createsuperuser clearance --email admin@example.org --password '<a strong password>'"
                );
            }
            kernel::serve::serve(clearance::app(state), listener).await?;
        }
        Command::Serve {
            system: System::Pss,
            bind,
        } => {
            kernel::http::init_logging();
            let mut config = pss::Config::from_env()?;
            if let Some(bind) = bind {
                config.settings.bind = bind;
            }
            let address = config.settings.bind;
            let state = pss::AppState::connect(config, pss::PASSWORD_ALGORITHM)
                .await
                .map_err(anyhow::Error::msg)
                .context("cannot start")?;
            pss::migrate(&state.db).await.context("migration failed")?;
            let needs_admin = !pss::has_admin(&state.db).await?;
            pss::spawn_workers(&state);
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address}"))?;
            println!(
                "campus pss listening on http://{address}/api/ (docs: http://{address}/api/docs/)"
            );
            if needs_admin {
                println!(
                    "No superuser yet: create one with\n  cargo run --release -- createsuperuser pss --email admin@example.org --password '<a strong password>'"
                );
            }
            kernel::serve::serve(pss::app(state), listener).await?;
        }
    }
    Ok(())
}

fn config() -> anyhow::Result<clearance::Config> {
    Ok(clearance::Config::from_env()?)
}

async fn pss_connect() -> anyhow::Result<pss::AppState> {
    pss::AppState::connect(pss::Config::from_env()?, pss::PASSWORD_ALGORITHM)
        .await
        .map_err(anyhow::Error::msg)
        .context("cannot start")
}

async fn connect() -> anyhow::Result<clearance::AppState> {
    clearance::AppState::connect(config()?, clearance::PASSWORD_ALGORITHM)
        .await
        .map_err(anyhow::Error::msg)
        .context("cannot start")
}

fn prompt(label: &str) -> anyhow::Result<String> {
    print!("{label}");
    std::io::stdout().flush()?;
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        bail!("no input: pass --email and --password to run non-interactively");
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
