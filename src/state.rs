//! `AppState`: everything shared by the HTTP workers, the admin socket and the
//! housekeeper — config, catalog, store, tokens, clock and the pipeline's parts. Built once
//! at start-up (or by an admin command run without a server). It sits above the pipeline
//! (which gets only its narrow [`Parts`]) and below the API adapters that read it.

use std::sync::Arc;

use crate::catalog::Catalog;
use crate::checks::{BruteForceGuard, ChecksState, SecurityCheck};
use crate::clock::SharedClock;
use crate::config::{Config, LiveConfig};
use crate::limits::shared::SharedCounters;
use crate::metrics::Metrics;
use crate::pipeline::{auth, cors, rate_limit, scope, shield, Parts, Stages};
use crate::sandbox::RealValues;
use crate::schema::Schema;
use crate::store::audit::AuditLog;
use crate::store::locks::{LockPolicy, LockStore};
use crate::store::Store;
use crate::tokens::{Principal, TokenError, TokenRegistry};

pub struct AppState {
    /// The running config (some keys change on SIGHUP; see `Config::reloaded`).
    pub config: Arc<LiveConfig>,
    pub catalog: Arc<Catalog>,
    pub store: Store,
    pub tokens: Arc<TokenRegistry>,
    pub audit: Arc<AuditLog>,
    pub locks: Arc<LockStore>,
    pub real_values: Arc<RealValues>,
    pub brute_force: Arc<BruteForceGuard>,
    pub clock: SharedClock,
    /// What the pipeline runs on (stage states, keys, audit, metrics).
    pub pipeline: Arc<Parts>,
    pub metrics: Arc<Metrics>,
}

/// `limit`, `offset`, `id` and every visible column without personal data (see `Parts`).
/// What an audit record may keep in clear: the schema's own names, and per non-sensitive
/// table the query values of columns that hold no personal data.
fn audit_names(schema: &Schema) -> crate::redact::AuditNames {
    let mut names = crate::redact::AuditNames::default();
    for table in schema.tables.values() {
        names.known.insert(table.name.clone());
        names.known.extend(table.columns.keys().cloned());
        if !table.sensitive {
            let plain = table.visible_columns().filter(|c| c.pii().is_none()).map(|c| c.name.clone());
            let paging = ["limit", "offset", "id"].into_iter().map(String::from);
            names.plain.insert(table.name.clone(), paging.chain(plain).collect());
        }
    }
    for view in schema.views.values() {
        names.known.insert(view.name.clone());
        names.views.insert(view.name.clone(), view.table.clone());
    }
    names
}

impl AppState {
    /// Every counter map that is snapshotted to sled (see `store::snapshot`).
    pub fn counters(&self) -> crate::store::Counters<'_> {
        let stages = self.stages();
        crate::store::Counters {
            rate: &stages.rate_limit.windows,
            replay: &stages.auth.replay,
            throttle: &stages.shield.throttle,
            failures: &self.brute_force.failures,
            limits: &stages.checks.limits,
            instance: self.config.get().audit.instance.clone(),
        }
    }

    /// The stages' states.
    pub fn stages(&self) -> &Stages {
        &self.pipeline.stages
    }

    pub fn new(config: Config, schema: Schema, store: Store, clock: SharedClock) -> anyhow::Result<Self> {
        Self::with_checks(config, schema, store, clock, Vec::new())
    }

    /// Like [`AppState::new`], with extra (user) security checks registered by name.
    pub fn with_checks(
        config: Config,
        schema: Schema,
        store: Store,
        clock: SharedClock,
        extra_checks: Vec<Arc<dyn SecurityCheck>>,
    ) -> anyhow::Result<Self> {
        let live = Arc::new(LiveConfig::new(config.clone()));
        let catalog = Arc::new(Catalog::new(Arc::new(schema), &config.sensitive.expose));
        let tokens = Arc::new(TokenRegistry::load(store.clone()).map_err(|e: TokenError| anyhow::anyhow!(e))?);
        let audit = Arc::new(AuditLog::open(&store.data_dir, config.audit.clone(), store.health.clone())?);
        let locks = Arc::new(LockStore::load(store.clone(), LockPolicy::from_config(&config.checks))?);
        let real_values = Arc::new(RealValues::load(&store, &catalog.schema)?);
        if let Some(pg) = store.postgres() {
            // Several instances: another one's locks, unlocks and token changes reach this
            // one's mirrors within a second.
            let (tokens, locks) = (Arc::downgrade(&tokens), Arc::downgrade(&locks));
            pg.watch(Box::new(move |tree| {
                let (Some(tokens), Some(locks)) = (tokens.upgrade(), locks.upgrade()) else { return false };
                let result = match tree {
                    Some(crate::store::SysTree::Tokens) => tokens.reload().map_err(|e| e.to_string()),
                    Some(crate::store::SysTree::Locks) => locks.reload().map_err(|e| e.to_string()),
                    _ => Ok(()),
                };
                if let Err(e) = result {
                    tracing::warn!(error = %e, "tokens or locks could not be read again");
                }
                true
            }))?;
        }
        let checks =
            ChecksState::new(&config.checks, extra_checks, locks.clone(), tokens.clone(), audit.clone(), clock.clone())
                .map_err(|e| anyhow::anyhow!(e))?;
        let brute_force = Arc::new(BruteForceGuard::new(
            config.checks.brute_force.clone(),
            config.shield.max_tracked_ips,
            locks.clone(),
            audit.clone(),
        ));
        let shared = match config.shared.enabled() {
            true => Some(Arc::new(SharedCounters::new(&config.shared).map_err(|e| anyhow::anyhow!(e))?)),
            false => None,
        };
        let stages = Stages {
            shield: Arc::new(shield::ShieldState::new(config.shield.max_tracked_ips, clock.clone())),
            checks: Arc::new(checks),
            cors: Arc::new(cors::CorsState::new(&config.cors, &config.server.public_url)),
            auth: Arc::new(auth::AuthState::new(
                tokens.clone(),
                brute_force.clone(),
                config.auth.clone(),
                clock.clone(),
            )),
            rate_limit: Arc::new(rate_limit::RateLimitState::new(&config.rate_limit, &config.public, clock.clone())),
            scope: Arc::new(scope::ScopeState { catalog: catalog.clone() }),
        };
        let metrics = Arc::new(Metrics::default());
        let pipeline = Arc::new(Parts {
            config: live.clone(),
            keys: store.keys.clone(),
            clock: clock.clone(),
            stages,
            audit: audit.clone(),
            metrics: metrics.clone(),
            audit_names: Arc::new(audit_names(&catalog.schema)),
            probe: crate::pipeline::probe::ProbeKey::random(),
            proxy_warned_ms: Default::default(),
            public: Arc::new(Principal::public(catalog.public_views())),
            audit_flush: Default::default(),
            shared,
        });
        Ok(Self {
            config: live,
            catalog,
            store,
            tokens,
            audit,
            locks,
            real_values,
            brute_force,
            clock,
            pipeline,
            metrics,
        })
    }

    pub fn schema(&self) -> &Schema {
        &self.catalog.schema
    }
}
