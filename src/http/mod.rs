//! HTTP facts every layer above reads the same way: the route table (path shape → route,
//! method → 405), request bodies (announced, declared JSON, depth, the parsed body), query
//! pairs, and the string literals of a GraphQL document. Nothing here decides anything about
//! security; it only says what the request is.

pub mod body;
pub mod filter;
pub mod literals;
pub mod query;
pub mod route;
