//! `AppState`: everything shared by the HTTP workers, the admin socket and the
//! housekeeper — config, catalog, store, tokens, clock and each stage's shared state.
//! Built once at start-up (or by an admin command run without a server).

use std::sync::Arc;

use crate::catalog::Catalog;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::pipeline::{auth, cors, rate_limit, scope, shield, ActorRegistry};
use crate::schema::Schema;
use crate::store::audit::AuditLog;
use crate::store::Store;
use crate::tokens::{TokenError, TokenRegistry};

/// Shared state of the stages (each worker's actors point here).
pub struct StageStates {
    pub shield: Arc<shield::ShieldState>,
    pub cors: Arc<cors::CorsState>,
    pub auth: Arc<auth::AuthState>,
    pub rate_limit: Arc<rate_limit::RateLimitState>,
    pub scope: Arc<scope::ScopeState>,
}

pub struct AppState {
    pub config: Arc<Config>,
    pub catalog: Arc<Catalog>,
    pub store: Store,
    pub tokens: Arc<TokenRegistry>,
    pub audit: Arc<AuditLog>,
    pub clock: SharedClock,
    pub stages: StageStates,
    pub actors: ActorRegistry,
}

impl AppState {
    pub fn new(config: Config, schema: Schema, store: Store, clock: SharedClock) -> Result<Self, TokenError> {
        let config = Arc::new(config);
        let catalog = Arc::new(Catalog::new(Arc::new(schema), &config.sensitive.expose));
        let tokens = Arc::new(TokenRegistry::load(store.clone())?);
        let audit = Arc::new(AuditLog::new(store.audit.clone(), config.audit.clone()));
        let stages = StageStates {
            shield: Arc::new(shield::ShieldState::new(config.shield.clone(), clock.clone())),
            cors: Arc::new(cors::CorsState::new(&config.cors)),
            auth: Arc::new(auth::AuthState::new(tokens.clone(), config.auth.clone(), clock.clone())),
            rate_limit: Arc::new(rate_limit::RateLimitState::new(config.rate_limit.clone(), clock.clone())),
            scope: Arc::new(scope::ScopeState { catalog: catalog.clone() }),
        };
        Ok(Self { config, catalog, store, tokens, audit, clock, stages, actors: ActorRegistry::default() })
    }

    pub fn schema(&self) -> &Schema {
        &self.catalog.schema
    }
}
