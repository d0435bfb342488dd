//! `palisade token create|list|update|revoke`.

use clap::{Args, Subcommand};
use serde_json::Value;

use super::admin_client::call;
use super::Context;
use crate::api::admin::AdminRequest;
use crate::tokens::{TokenSpec, TokenUpdate};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; its plaintext is shown once.
    Create(CreateOpts),
    /// List live tokens (never shows secrets): scopes, views, expiry, last use (to the hour).
    List {
        /// Revoked tokens too.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Change a live token: rate, window, expiry, origins, CIDRs (audited, at once).
    Update(UpdateOpts),
    /// Revoke a token by id.
    Revoke { id: String },
}

#[derive(Debug, Args)]
pub struct CreateOpts {
    /// Owner name (what `lock user` refers to).
    #[arg(long)]
    name: String,
    /// TABLE:PERMS with PERMS ⊆ rcud; TABLE `*` = every non-sensitive table. Repeatable.
    #[arg(long = "scope", value_name = "TABLE:PERMS")]
    scopes: Vec<String>,
    /// Limit the token to this saved view. Repeatable.
    #[arg(long = "view", value_name = "VIEW")]
    views: Vec<String>,
    /// Browser origin allowed to use the token. Repeatable.
    #[arg(long = "origin", value_name = "ORIGIN")]
    origins: Vec<String>,
    /// Client addresses allowed to use the token (CIDR). Repeatable.
    #[arg(long = "cidr", value_name = "CIDR")]
    cidrs: Vec<String>,
    /// Requests per window (default: [rate_limit] requests).
    #[arg(long)]
    rate: Option<u32>,
    /// Window length in seconds (default: [rate_limit] window_secs).
    #[arg(long, value_name = "SECS")]
    window: Option<u64>,
    /// Require HMAC request signing; prints the signing secret on line 2.
    #[arg(long)]
    sign: bool,
    /// Read-only token that sees fake values instead of personal data.
    #[arg(long)]
    sandbox: bool,
    /// Allow GraphQL introspection.
    #[arg(long)]
    introspection: bool,
    /// Allow naming sensitive tables in --scope.
    #[arg(long)]
    allow_sensitive: bool,
    /// Expire the token after this many seconds.
    #[arg(long, value_name = "SECS")]
    expires: Option<u64>,
    /// Bind the token to one row (TABLE:ID, e.g. clients:22): in every table it names it sees
    /// only the rows whose references lead to that row (read scopes only, for now).
    #[arg(long, value_name = "TABLE:ID")]
    owner: Option<String>,
    /// Print one JSON object {"id","token","signing_secret"?}.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct UpdateOpts {
    /// The token's id (from `token list`).
    id: String,
    /// Requests per window.
    #[arg(long)]
    rate: Option<u32>,
    /// Window length in seconds.
    #[arg(long, value_name = "SECS")]
    window: Option<u64>,
    /// Expire the token this many seconds from now.
    #[arg(long, value_name = "SECS")]
    expires: Option<u64>,
    /// Browser origins allowed (replaces the list). Repeatable.
    #[arg(long = "origin", value_name = "ORIGIN")]
    origins: Vec<String>,
    /// Client addresses allowed (CIDR; replaces the list). Repeatable.
    #[arg(long = "cidr", value_name = "CIDR")]
    cidrs: Vec<String>,
    /// Bind the token to one row (TABLE:ID), checked as at creation.
    #[arg(long, value_name = "TABLE:ID")]
    owner: Option<String>,
    #[arg(long)]
    json: bool,
}

pub fn run(cx: &Context, command: &TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create(o) => {
            let spec = TokenSpec {
                name: o.name.clone(),
                scopes: o.scopes.clone(),
                views: o.views.clone(),
                origins: o.origins.clone(),
                cidrs: o.cidrs.clone(),
                rate: o.rate,
                window: o.window,
                sign: o.sign,
                sandbox: o.sandbox,
                introspection: o.introspection,
                allow_sensitive: o.allow_sensitive,
                expires: o.expires,
                owner: o.owner.clone(),
            };
            let created = call(cx, AdminRequest::TokenCreate(spec))?;
            if o.json {
                say!("{created}");
            } else {
                say!("{}", created["token"].as_str().unwrap_or_default());
                if let Some(secret) = created["signing_secret"].as_str() {
                    say!("{secret}");
                }
            }
        }
        TokenCommand::List { all, json } => {
            let list = call(cx, AdminRequest::TokenList { all: *all })?;
            if *json {
                say!("{list}");
            } else {
                for t in list.as_array().into_iter().flatten() {
                    let words = |k: &str| -> Vec<String> {
                        t[k].as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from).collect()
                    };
                    let mut access = words("scopes");
                    access.extend(words("views").into_iter().map(|v| format!("view:{v}")));
                    if let Some(owner) = t["owner"].as_str() {
                        access.push(format!("owner:{owner}"));
                    }
                    let state = if t["revoked"] == Value::Bool(true) { "revoked" } else { "active" };
                    let date = |k: &str| t[k].as_str().unwrap_or("-").to_string();
                    say!(
                        "{}  {:<20}  {:<8}  expires {}  last used {}  {}",
                        t["id"].as_str().unwrap_or_default(),
                        t["name"].as_str().unwrap_or_default(),
                        state,
                        date("expires_at"),
                        date("last_used"),
                        access.join(" ")
                    );
                }
            }
        }
        TokenCommand::Update(o) => {
            let change = TokenUpdate {
                rate: o.rate,
                window: o.window,
                expires: o.expires,
                origins: (!o.origins.is_empty()).then(|| o.origins.clone()),
                cidrs: (!o.cidrs.is_empty()).then(|| o.cidrs.clone()),
                owner: o.owner.clone(),
            };
            let updated = call(cx, AdminRequest::TokenUpdate { id: o.id.clone(), change })?;
            if o.json {
                say!("{updated}");
            } else {
                say!("updated {}", o.id);
            }
        }
        TokenCommand::Revoke { id } => {
            call(cx, AdminRequest::TokenRevoke { id: id.clone() })?;
            say!("revoked {id}");
        }
    }
    Ok(())
}
