//! Compiles the PostgreSQL and MariaDB variants of the integration tests only
//! when their servers are configured, so a plain `cargo test` runs SQLite alone
//! and no test silently passes without a database behind it.

fn main() {
    for (var, cfg) in [
        ("CAMPUS_TEST_POSTGRES_URL", "campus_postgres"),
        ("CAMPUS_TEST_MYSQL_URL", "campus_mysql"),
        ("CAMPUS_TEST_REDIS_URL", "campus_redis"),
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        println!("cargo::rerun-if-env-changed={var}");
        if std::env::var(var).is_ok_and(|v| !v.is_empty()) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
