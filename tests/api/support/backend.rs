//! Which store this run of the suite keeps rows in: `cargo test` runs it on sled, and
//! `PALISADE_TEST_BACKEND=postgres cargo test --test api` runs the same tests again with every
//! test app on a database of its own (see `engines::Postgres::shared`).

use palisade::config::Config;

/// Whether this run keeps rows on PostgreSQL (`PALISADE_TEST_BACKEND=postgres`). A test of
/// something only the embedded store has (its data dir's disk, its writer thread, rows
/// written by an older version) says so and passes on that run; it runs on the sled run.
pub fn on_postgres(what: &str) -> bool {
    let pg = the_postgres_run();
    if pg {
        eprintln!("sled only, not on the PostgreSQL run: {what}");
    }
    pg
}

/// `PALISADE_TEST_BACKEND=postgres`: the one place that reads it.
fn the_postgres_run() -> bool {
    std::env::var("PALISADE_TEST_BACKEND").as_deref() == Ok("postgres")
}

/// Whether this is the PostgreSQL run, for a test that starts every engine it needs itself
/// (its instances' backend does not depend on the run): it runs once, on the sled run.
pub fn runs_on_the_sled_run() -> bool {
    let pg = the_postgres_run();
    if pg {
        eprintln!("starts its own engines: run once, on the sled run");
    }
    pg
}

/// With `PALISADE_TEST_BACKEND=postgres`, every test app keeps its rows in a database of its
/// own on one PostgreSQL cluster the test process starts (`engines::Postgres::shared`): the
/// same suite, run against the second backend. The database is chosen once per data dir, so
/// a restarted app (or a CLI command given [`backend_toml`]) finds its rows again.
pub(super) fn on_the_backend_under_test(config: &mut Config, dir: &tempfile::TempDir) {
    if let Some(url) = database_of(dir.path()) {
        config.store.backend = palisade::config::Backend::Postgres;
        config.store.url = url;
        config.store.pool_size = 4;
    }
}

/// The PostgreSQL database of `data_dir` on the PostgreSQL run (made on first use).
fn database_of(data_dir: &std::path::Path) -> Option<String> {
    static DATABASES: std::sync::Mutex<Vec<(std::path::PathBuf, String)>> = std::sync::Mutex::new(Vec::new());
    if !the_postgres_run() {
        return None;
    }
    let mut known = DATABASES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, url)) = known.iter().find(|(d, _)| d == data_dir) {
        return Some(url.clone());
    }
    let url = crate::engines::Postgres::shared().fresh_database();
    known.push((data_dir.to_path_buf(), url.clone()));
    Some(url)
}

/// On the PostgreSQL run, the columns `table` has in the database of `data_dir` (`None` on
/// the sled run, whose rows have no columns).
pub fn pg_columns(data_dir: &std::path::Path, table: &str) -> Option<Vec<String>> {
    let url = database_of(data_dir)?;
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let sql = "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() \
               AND table_name = $1 ORDER BY ordinal_position";
    Some(client.query(sql, &[&table]).unwrap().iter().map(|r| r.get(0)).collect())
}

/// The `[store]` section a config file for `data_dir` needs on this run (empty on the sled
/// run): CLI commands then reach the database the test app of that dir uses.
pub fn backend_toml(data_dir: &std::path::Path) -> String {
    match database_of(data_dir) {
        Some(url) => format!("[store]\nbackend = \"postgres\"\nurl = \"{url}\"\npool_size = 2\n"),
        None => String::new(),
    }
}
