//! Everything Palisade keeps on disk: one sled database under the data dir, and the audit
//! trail's segment files beside it.
//!
//! Trees: `rows:<table>` (one per schema table, key = big-endian id, value = JSON object),
//! `idx:<table>` (its secondary index, see `index`), `sys:meta` (id sequences, index and
//! seed markers), `sys:tokens`, `sys:locks`, `sys:counters`. The `sys:` and `idx:` trees are
//! never reachable as API tables: table names cannot contain `:`. Secrets (the IP-hash key,
//! the key that seals signing secrets) live in `secret.key` beside the database, mode 0600.
//!
//! Reads go straight to sled from any thread. Every change goes through the one
//! [`writer::Writer`] (serial order, group commit, acknowledged once durable): no code path
//! uses sled transactions or `flush_async`, which deadlock under concurrent load.

pub mod audit;
mod bulk;
mod codec;
mod grouped;
pub mod health;
pub mod index;
pub mod keys;
mod list;
pub mod locks;
pub mod op;
pub mod order;
mod owned;
mod pager;
pub mod pg;
pub mod point;
pub mod query;
mod rows;
mod snapshot;
pub mod writer;
pub use snapshot::Counters;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use codec::{decode_row, Row};
pub use health::{Fault, Health};
pub use index::IndexPlan;
pub use keys::{IpKey, KeyRing, SealError};
pub use op::{Done, NewRow, Op, OwnerRule, RowMap, RowRef, SysTree};
pub use order::Kind;
pub use pager::{Page, Pager};
pub use query::{filters_match, After, Cmp, Filter, ListQuery, OrderBy};
pub use rows::RawRow;

use crate::config::StateConfig;
use crate::error::{ApiError, ErrorKind};
use writer::{Engine, Writer, OPEN_MARKER};

/// Failures of the embedded store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("data dir {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("storage unavailable: {0}")]
    Unavailable(Fault),
    /// The writer refused or could not make a write durable (the reason was logged).
    #[error("write refused: {0}")]
    Refused(String),
    /// PostgreSQL could not be reached or failed a statement.
    #[error("database: {0}")]
    Database(String),
}

impl StoreError {
    /// Another process holds the database (sled's file lock).
    pub fn is_locked(&self) -> bool {
        matches!(self, StoreError::Sled(sled::Error::Io(e)) if e.to_string().starts_with("could not acquire lock"))
    }

    /// A writer's refusal, for callers that speak `StoreError`.
    pub fn refused(e: ApiError) -> Self {
        StoreError::Refused(e.message.into_owned())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::Unavailable(_) => tracing::warn!(error = %e, "write refused"),
            _ => tracing::error!(error = %e, "store failure"),
        }
        match e {
            StoreError::Corrupt(_) => ApiError::new(ErrorKind::Internal),
            // Said (without its details) so that `/health` and a refused write tell why.
            StoreError::Database(_) => ApiError::with_message(
                ErrorKind::StorageUnavailable,
                "the database (PostgreSQL) cannot be reached or refused the change; try again shortly",
            ),
            _ => ApiError::new(ErrorKind::StorageUnavailable),
        }
    }
}

/// The opened store: sled database, the key ring and the writer.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    meta: sled::Tree,
    /// Read side of the token records (written through the writer only).
    pub tokens: sled::Tree,
    /// Read side of the lock records (written through the writer only).
    pub locks: sled::Tree,
    pub keys: KeyRing,
    pub data_dir: PathBuf,
    /// Asked before every write (see `health`).
    pub health: Arc<Health>,
    indexes: Arc<IndexPlan>,
    writer: Arc<Writer>,
    trees: Arc<TableTrees>,
    /// With `[store] backend = "postgres"`: where every row, token, lock and counter
    /// snapshot is read and written instead; the sled database in the data dir then stays
    /// empty (the data dir keeps the install key, the audit trail and the admin socket).
    pg: Option<pg::PgStore>,
}

/// The table trees opened so far, by table name.
#[derive(Default)]
struct TableTrees {
    rows: dashmap::DashMap<String, sled::Tree>,
    indexes: dashmap::DashMap<String, sled::Tree>,
}

impl Store {
    /// Opens (creating if needed, mode 0700) the data dir and its database, builds the
    /// indexes of `plan` that are missing (all of them after an unclean stop), and starts
    /// the writer. Writes are refused while less than `state.min_free_bytes` are free.
    pub fn open(data_dir: &Path, state: &StateConfig, plan: IndexPlan) -> Result<Self, StoreError> {
        let io = |source| StoreError::Io { path: data_dir.to_path_buf(), source };
        std::fs::create_dir_all(data_dir).map_err(io)?;
        restrict_permissions(data_dir, 0o700).map_err(io)?;
        let keys = KeyRing::load_or_create(&data_dir.join("secret.key")).map_err(io)?;
        let db = sled::Config::new()
            .path(data_dir.join("db"))
            .cache_capacity(state.cache_bytes)
            // Only the writer makes data durable, with a blocking flush per group.
            .flush_every_ms(None)
            .open()?;
        let health = Arc::new(Health::new(data_dir, state.min_free_bytes));
        let meta = db.open_tree(SysTree::Meta.name())?;
        if health.check_write().is_ok() {
            build_indexes(&db, &meta, &plan)?;
            meta.insert(OPEN_MARKER, &[])?;
            db.flush()?;
        }
        let indexes = Arc::new(plan);
        let engine = Engine {
            db: db.clone(),
            health: health.clone(),
            indexes: indexes.clone(),
            seqs: Default::default(),
            trees: Default::default(),
            capture: None,
        };
        let writer = Arc::new(Writer::start(engine).map_err(io)?);
        Ok(Self {
            tokens: db.open_tree(SysTree::Tokens.name())?,
            locks: db.open_tree(SysTree::Locks.name())?,
            meta,
            db,
            keys,
            data_dir: data_dir.to_path_buf(),
            health,
            indexes,
            writer,
            trees: Default::default(),
            pg: None,
        })
    }

    /// Opens the store `config` names: [`Store::open`], and with `backend = "postgres"` the
    /// PostgreSQL tables of `layout` (created where missing).
    pub fn open_with(
        data_dir: &Path,
        state: &StateConfig,
        config: &crate::config::StoreConfig,
        plan: IndexPlan,
        layout: pg::layout::Layout,
    ) -> Result<Self, StoreError> {
        let mut store = Self::open(data_dir, state, plan)?;
        if config.backend == crate::config::Backend::Postgres {
            store.pg = Some(pg::PgStore::open(&config.url, &config.tls_ca_file, config.pool_size, layout)?);
        }
        Ok(store)
    }

    /// The PostgreSQL backend, when it is the one in use.
    pub fn postgres(&self) -> Option<&pg::PgStore> {
        self.pg.as_ref()
    }

    /// Whether `data_dir` holds a store (`serve` made one there). Admin commands refuse a
    /// directory without one rather than create a store no server uses.
    pub fn exists(data_dir: &Path) -> bool {
        data_dir.join("db").is_dir()
    }

    /// Where the admin socket lives.
    pub fn admin_socket_path(data_dir: &Path) -> PathBuf {
        data_dir.join("admin.sock")
    }

    /// Applies one change through the writer; answers once it is durable (on PostgreSQL:
    /// once its transaction committed).
    pub async fn write(&self, op: Op) -> Result<Done, ApiError> {
        match &self.pg {
            Some(pg) => pg.write(op).await,
            None => self.writer.write(op).await,
        }
    }

    /// The same, blocking the calling thread (never call it on an async worker).
    pub fn write_blocking(&self, op: Op) -> Result<Done, ApiError> {
        match &self.pg {
            Some(pg) => pg.write_blocking(op),
            None => self.writer.write_blocking(op),
        }
    }

    /// Queues a change without waiting; `reply` runs on the writer thread when it is durable.
    pub fn submit(&self, op: Op, reply: impl FnOnce(Result<Done, ApiError>) + Send + 'static) {
        match &self.pg {
            Some(pg) => pg.submit(op, reply),
            None => self.writer.submit(op, reply),
        }
    }

    /// Reads one key of a system tree.
    pub fn sys_get(&self, tree: SysTree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match &self.pg {
            Some(pg) => pg.sys_get(tree, key),
            None => Ok(self.db.open_tree(tree.name())?.get(key)?.map(|v| v.to_vec())),
        }
    }

    /// Every record of a system tree, in key order.
    pub fn sys_scan(&self, tree: SysTree) -> Result<Vec<pg::SysRecord>, StoreError> {
        if let Some(pg) = &self.pg {
            return pg.sys_scan(tree);
        }
        let mut out = Vec::new();
        for item in self.db.open_tree(tree.name())?.iter() {
            let (k, v) = item?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    /// Whether the store holds no data yet (a fresh data dir: nothing seeded, no token).
    pub fn is_empty(&self) -> bool {
        if let Some(pg) = &self.pg {
            return pg.is_empty().unwrap_or(false);
        }
        self.meta.scan_prefix(b"seq:").next().is_none()
            && !self.meta.contains_key(b"seeded").unwrap_or(true)
            && self.tokens.is_empty()
    }
}

/// Builds the indexes `plan` asks for that the meta tree does not record as built, and all of
/// them when the store was not closed cleanly. Runs before the writer starts.
fn build_indexes(db: &sled::Db, meta: &sled::Tree, plan: &IndexPlan) -> Result<(), StoreError> {
    let dirty = meta.contains_key(OPEN_MARKER)?;
    let mut tables: std::collections::BTreeSet<String> = plan.0.keys().cloned().collect();
    for item in meta.scan_prefix(b"index:") {
        let (k, _) = item?;
        tables.insert(String::from_utf8_lossy(&k[b"index:".len()..]).into_owned());
    }
    for name in db.tree_names() {
        if let Some(table) = name.strip_prefix(b"rows:") {
            tables.insert(String::from_utf8_lossy(table).into_owned());
        }
    }
    for table in tables {
        let marker = format!("index:{table}");
        let columns = plan.columns(&table);
        // The marker names the layout too: ordered entries, value and row counts (v3).
        let names: Vec<String> = columns.iter().map(|c| format!("{}:{:?}", c.column, c.kind)).collect();
        let want = format!("v3:{}", names.join(","));
        let built = meta.get(&marker)?;
        if !dirty && built.as_deref() == Some(want.as_bytes()) {
            continue;
        }
        let started = std::time::Instant::now();
        let rows = db.open_tree(format!("rows:{table}"))?;
        let index = db.open_tree(format!("idx:{table}"))?;
        let entries = index::rebuild(&rows, &index, columns)?;
        meta.insert(&marker, want.as_bytes())?;
        if !columns.is_empty() {
            tracing::info!(table, entries, ms = started.elapsed().as_millis() as u64, "index built");
        }
    }
    Ok(())
}

/// Sets unix permission bits (no-op elsewhere).
pub fn restrict_permissions(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    let _ = (path, mode);
    Ok(())
}
