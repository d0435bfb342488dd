//! What one audit record holds, in both directions: [`AuditRecord`] as readers get it back
//! and [`Line`], the borrowed form every writer serialises, so the field order is written in
//! one place. GraphQL requests add [`GraphqlFacts`]: which operation ran, the tables it asked
//! for and what each mutation field did, so the trail can answer "who deleted lead 91"
//! where the path alone says only `POST /graphql`.

use serde::{Deserialize, Serialize};

/// One finished request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditRecord {
    /// RFC 3339 time the request entered (filled in by the writer when left empty).
    pub time: String,
    #[serde(skip)]
    pub time_ms: u64,
    pub request_id: String,
    pub method: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub query: Option<String>,
    pub status: u16,
    pub duration_us: u64,
    pub token_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user: Option<String>,
    /// The row an owner-bound token is bound to (`clients:22`), when it is.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub owner: Option<String>,
    pub ip_hash: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// The instance that wrote it (`[audit] instance`); set by the log when stored.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub instance: Option<String>,
    /// SHA-256 (hex) of the previous record's line; set by the log when stored.
    #[serde(default)]
    pub prev: String,
}

/// A stored record as readers (`audit tail`) get it back: the fields every record has, and
/// what only some requests carry. Kept apart from [`AuditRecord`], which writers of lock
/// events build field by field and which never holds GraphQL facts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReadRecord {
    #[serde(flatten)]
    pub record: AuditRecord,
    /// What a GraphQL request did (absent for every other request).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub graphql: Option<GraphqlFacts>,
}

/// Whether a GraphQL operation reads or writes.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OperationKind {
    #[default]
    Query,
    Mutation,
}

impl OperationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::Query => "query",
            OperationKind::Mutation => "mutation",
        }
    }
}

/// What a mutation field does to its table.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WriteAction {
    Create,
    Update,
    Delete,
}

impl WriteAction {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteAction::Create => "create",
            WriteAction::Update => "update",
            WriteAction::Delete => "delete",
        }
    }
}

/// One mutation field as it ran.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MutationFact {
    pub table: String,
    pub action: WriteAction,
    /// The row written: the new row's id for a create, the `id` argument otherwise (absent
    /// when a create failed before the row had one).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<u64>,
    /// The error code when the field failed (`forbidden`, `not_found`, …); absent on success.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

/// What a GraphQL request did, as its audit record keeps it. Names come from the schema
/// (tables) or from the document juniper parsed (the operation's name, a GraphQL name:
/// letters, digits and `_` only, kept to 64 characters); no argument value is kept but row
/// ids.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct GraphqlFacts {
    pub operation: OperationKind,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    /// Every table the operation's fields ask for, sorted, fragments included.
    #[serde(default)]
    pub tables: Vec<String>,
    /// The mutation fields in the order they ran.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub mutations: Vec<MutationFact>,
}

impl GraphqlFacts {
    /// One line for people: `mutation DropLead [leads] delete leads#91`.
    pub fn summary(&self) -> String {
        let mut out = String::from(self.operation.as_str());
        if let Some(name) = &self.name {
            out.push(' ');
            out.push_str(name);
        }
        out.push_str(&format!(" [{}]", self.tables.join(",")));
        for m in &self.mutations {
            out.push_str(&format!(" {} {}", m.action.as_str(), m.table));
            if let Some(id) = m.id {
                out.push_str(&format!("#{id}"));
            }
            if let Some(e) = &m.error {
                out.push_str(&format!(" ({e})"));
            }
        }
        out
    }
}

/// One line of the trail, borrowed: the one place the trail's field order is written.
/// `time` comes first and `prev` last; optional fields are left out when empty.
#[derive(Serialize)]
pub struct Line<'a> {
    pub time: &'a str,
    pub request_id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<&'a str>,
    pub status: u16,
    pub duration_us: u64,
    pub token_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<&'a str>,
    pub ip_hash: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graphql: Option<&'a GraphqlFacts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<&'a str>,
    pub prev: &'a str,
}

/// What the log adds to every line it stores: the instance's name and the chain.
#[derive(Debug, Clone, Copy)]
pub struct Chain<'a> {
    pub instance: Option<&'a str>,
    /// SHA-256 (hex) of the line before.
    pub prev: &'a str,
}

/// Anything the trail stores: it knows its time and writes itself as one [`Line`]. Finished
/// requests implement it in the pipeline, where they are kept as integers and `Arc`s until
/// the writer thread formats them; lock events are plain [`AuditRecord`]s.
pub trait Entry {
    /// What writing needs besides the entry (for requests: the query names kept in clear).
    type Context: ?Sized;
    fn time_ms(&self) -> u64;
    /// Appends the entry's JSON object (no newline) to `out`, with the log's `chain`.
    fn write_line(&self, cx: &Self::Context, chain: Chain<'_>, out: &mut Vec<u8>) -> serde_json::Result<()>;
}

impl Entry for AuditRecord {
    type Context = ();
    fn time_ms(&self) -> u64 {
        self.time_ms
    }
    fn write_line(&self, _: &(), chain: Chain<'_>, out: &mut Vec<u8>) -> serde_json::Result<()> {
        let time: std::borrow::Cow<str> =
            if self.time.is_empty() { crate::clock::rfc3339(self.time_ms).into() } else { self.time.as_str().into() };
        let line = Line {
            time: &time,
            request_id: &self.request_id,
            method: &self.method,
            path: &self.path,
            query: self.query.as_deref(),
            status: self.status,
            duration_us: self.duration_us,
            token_id: self.token_id.as_deref(),
            user: self.user.as_deref(),
            owner: self.owner.as_deref(),
            ip_hash: &self.ip_hash,
            stage: self.stage.as_deref(),
            reason: self.reason.as_deref(),
            graphql: None,
            instance: chain.instance,
            prev: chain.prev,
        };
        serde_json::to_writer(out, &line)
    }
}
