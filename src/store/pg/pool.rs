//! Connections to PostgreSQL for code that cannot wait asynchronously.
//!
//! The store's read interface is synchronous (sled answers from memory or the page cache,
//! and GraphQL's resolvers call it directly). A synchronous PostgreSQL client may not run on
//! an actix worker's thread — it drives its own small runtime, and a runtime inside a
//! runtime panics — so each connection lives on a thread of its own and callers hand it
//! jobs: [`Pool::run`] blocks the caller until its job is done (as a read from disk does),
//! [`Pool::submit`] answers through a callback (the writer's path, awaited by the request).
//!
//! A connection that breaks is made again for the next job; while PostgreSQL cannot be
//! reached, jobs fail at once with [`PoolError::Unreachable`] (the HTTP layer answers 503
//! `storage_unavailable`), and the first job after it returns is served: nothing restarts.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postgres::Client;

use super::endpoint::Endpoint;

/// Most statements a connection keeps prepared; past it, the cache starts afresh.
const PREPARED: usize = 512;

std::thread_local! {
    /// This connection thread's prepared statements, by SQL text (each thread owns one
    /// connection; cleared when it is made again).
    static STATEMENTS: std::cell::RefCell<std::collections::HashMap<String, postgres::Statement>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// `sql` prepared on this thread's connection, once: later calls skip the parse and plan
/// (a statement's text holds names and placeholders only, never a value, so one shape of
/// query is one entry).
pub fn prepared(client: &mut impl postgres::GenericClient, sql: &str) -> Result<postgres::Statement, postgres::Error> {
    if let Some(s) = STATEMENTS.with(|c| c.borrow().get(sql).cloned()) {
        return Ok(s);
    }
    let statement = client.prepare(sql)?;
    STATEMENTS.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= PREPARED {
            cache.clear();
        }
        cache.insert(sql.to_string(), statement.clone());
    });
    Ok(statement)
}

/// Why a job did not run, or failed.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("PostgreSQL unreachable: {0}")]
    Unreachable(String),
    #[error("PostgreSQL: {0}")]
    Sql(#[from] postgres::Error),
}

type Job = Box<dyn FnOnce(&mut Option<Conn>, &Connector) + Send>;

/// A thread's connection and the generation it was made in.
struct Conn {
    client: Client,
    generation: u64,
}

/// How a thread connects (the endpoint, and a pause after a failed attempt).
struct Connector {
    /// `None`: the pool is stopping and connects no more.
    endpoint: Option<Endpoint>,
    /// No new attempt before this instant, after a failure.
    retry_at: Mutex<Option<Instant>>,
    /// Moves on whenever any thread finds its connection broken: every connection made
    /// before is then made again before its next job (after a restart of PostgreSQL no
    /// thread's first job fails on a connection that died while it was idle).
    generation: std::sync::atomic::AtomicU64,
}

/// Whether `e` says the connection itself is gone (closed, a shutdown, a connection
/// exception), rather than the statement failing.
fn connection_lost(e: &postgres::Error) -> bool {
    e.is_closed() || e.code().is_some_and(|c| c.code().starts_with("57") || c.code().starts_with("08"))
}

/// After a failed connect, jobs fail at once for this long.
const BACKOFF: Duration = Duration::from_millis(250);

impl Connector {
    /// The thread's connection, made (again) when there is none or it broke.
    fn client<'c>(&self, slot: &'c mut Option<Conn>) -> Result<&'c mut Client, PoolError> {
        let current = self.generation.load(std::sync::atomic::Ordering::Acquire);
        if slot.as_ref().is_some_and(|c| c.client.is_closed() || c.generation < current) {
            *slot = None;
        }
        if slot.is_none() {
            if let Some(at) = *self.retry_at.lock().unwrap_or_else(|e| e.into_inner()) {
                if Instant::now() < at {
                    return Err(PoolError::Unreachable("a recent connection attempt failed".into()));
                }
            }
            let Some(endpoint) = &self.endpoint else {
                return Err(PoolError::Unreachable("the connection threads stopped".into()));
            };
            match endpoint.connect() {
                Ok(client) => {
                    STATEMENTS.with(|c| c.borrow_mut().clear());
                    *slot = Some(Conn { client, generation: current });
                }
                Err(e) => {
                    *self.retry_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + BACKOFF);
                    return Err(PoolError::Unreachable(super::endpoint::describe(&e)));
                }
            }
        }
        Ok(&mut slot.as_mut().expect("connected above").client)
    }

    /// The connection broke: this thread's is dropped, every other one made again.
    fn lost(&self, slot: &mut Option<Conn>) {
        *slot = None;
        self.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// A fixed set of connection threads sharing one queue of jobs.
#[derive(Clone)]
pub struct Pool {
    jobs: SyncSender<Job>,
}

impl Pool {
    /// Starts `size` threads (at least one); nothing connects until the first job.
    pub fn start(endpoint: Endpoint, size: usize) -> std::io::Result<Self> {
        let (jobs, queue) = sync_channel::<Job>(size.max(1) * 64);
        let queue = Arc::new(Mutex::new(queue));
        let connector = Arc::new(Connector {
            endpoint: Some(endpoint),
            retry_at: Mutex::new(None),
            generation: Default::default(),
        });
        for n in 0..size.max(1) {
            let (queue, connector) = (queue.clone(), connector.clone());
            std::thread::Builder::new().name(format!("palisade-pg-{n}")).spawn(move || serve(&queue, &connector))?;
        }
        Ok(Self { jobs })
    }

    /// Runs `f` on a connection and waits for its answer.
    pub fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<R, PoolError> + Send + 'static,
    ) -> Result<R, PoolError> {
        let (tx, rx) = sync_channel(1);
        self.submit(f, move |r| {
            let _ = tx.send(r);
        });
        rx.recv().unwrap_or_else(|_| Err(PoolError::Unreachable("the connection thread stopped".into())))
    }

    /// Runs `f` on a connection; `reply` gets its answer on that thread.
    pub fn submit<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<R, PoolError> + Send + 'static,
        reply: impl FnOnce(Result<R, PoolError>) + Send + 'static,
    ) {
        let job: Job = Box::new(move |slot, connector| {
            let answer = connector.client(slot).and_then(f);
            if let Err(PoolError::Sql(e)) = &answer {
                if connection_lost(e) {
                    connector.lost(slot);
                }
            }
            reply(answer);
        });
        if let Err(e) = self.jobs.send(job) {
            // Every thread is gone (the process is stopping): answer here.
            let job = e.0;
            let gone = Connector { endpoint: None, retry_at: Mutex::new(None), generation: Default::default() };
            job(&mut None, &gone);
        }
    }
}

/// One connection thread: takes jobs until every sender is gone.
fn serve(queue: &Mutex<Receiver<Job>>, connector: &Connector) {
    let mut client: Option<Conn> = None;
    loop {
        let job = {
            let Ok(queue) = queue.lock() else { return };
            match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        job(&mut client, connector);
    }
}
