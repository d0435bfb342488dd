//! Connections: how a listener serves HTTP/1, with the answers actix-http writes on its own
//! brought in line with every other response.
//!
//! actix-http answers three things itself, inside its dispatcher, before any service sees a
//! request and with no hook to change it: a request it cannot parse (400), a head that does not
//! arrive within `client_request_timeout` (408), and a head that is too large or has too many
//! fields (431). Those answers would leave without the security headers, without
//! `X-Request-Id` and without a JSON body, although the contract promises all three on every
//! response. So each accepted TCP stream is wrapped in [`Guarded`], which recognises such an
//! answer on its way out and writes ours in its place; every other byte passes untouched.
//!
//! An answer is recognised as actix-http's own when a write ends with a complete response
//! head of one of those statuses that carries no `x-request-id`: every response our services
//! build passes through `pipeline::headers`, which always sets one.

use std::future::ready;
use std::io;
use std::net::TcpListener;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::{HttpService, Request};
use actix_service::{fn_service, map_config, IntoServiceFactory, ServiceFactory, ServiceFactoryExt as _};
use actix_web::dev::{AppConfig, Response, Server};
use actix_web::http::KeepAlive;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::error::{ApiError, ErrorKind};
use crate::pipeline::headers::{RequestId, SECURITY_HEADERS};

/// How a listener is run.
pub struct Listening {
    pub workers: usize,
    pub handle_signals: bool,
    pub shutdown_timeout_secs: u64,
}

/// Serves `app` over HTTP/1 on `listener`, each connection wrapped in [`Guarded`].
pub fn serve<F, I, S, B>(listener: TcpListener, how: Listening, app: F) -> io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    B: MessageBody + 'static,
{
    listener.set_nonblocking(true)?;
    let mut builder = Server::build().shutdown_timeout(how.shutdown_timeout_secs);
    if how.workers > 0 {
        builder = builder.workers(how.workers);
    }
    if !how.handle_signals {
        builder = builder.disable_signals();
    }
    let local = listener.local_addr()?;
    let builder = builder.listen("palisade", listener, move || {
        let app = app().into_factory().map_err(|err| err.into().error_response());
        let http = HttpService::<Guarded, _, _>::build()
            .keep_alive(KeepAlive::Timeout(Duration::from_secs(5)))
            .client_request_timeout(Duration::from_secs(5))
            .client_disconnect_timeout(Duration::from_secs(1))
            .local_addr(local)
            .h1(map_config(app, |_| AppConfig::default()));
        fn_service(|io: TcpStream| {
            let _ = io.set_nodelay(true);
            let peer = io.peer_addr().ok();
            ready(Ok((Guarded::new(io), peer)))
        })
        .and_then(http)
    })?;
    Ok(builder.run())
}

/// A TCP stream whose outgoing protocol-level error answers are replaced by full ones.
pub struct Guarded {
    io: TcpStream,
    /// Our answer, not yet (completely) written.
    pending: Vec<u8>,
    written: usize,
}

impl Guarded {
    pub fn new(io: TcpStream) -> Self {
        Self { io, pending: Vec::new(), written: 0 }
    }

    /// Writes what is left of a replacement answer.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Guarded {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        match protocol_answer(buf) {
            Some((0, kind, version)) => {
                let id = RequestId::fresh();
                tracing::info!(request_id = %id, code = kind.code(), "protocol-level refusal");
                this.pending = replacement(kind, version, id.hex().as_str());
                this.written = 0;
                // Whatever does not go out now is written by the next flush or shutdown.
                if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Ok(buf.len()))
            }
            Some((start, ..)) => Pin::new(&mut this.io).poll_write(cx, &buf[..start]),
            None => Pin::new(&mut this.io).poll_write(cx, buf),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The longest head actix-http writes for its own answers (status line, date, length, close).
const OWN_HEAD_MAX: usize = 512;

/// Finds an answer of actix-http's own at the end of `buf`: where it starts, what it means and
/// the HTTP minor version it was written with.
fn protocol_answer(buf: &[u8]) -> Option<(usize, ErrorKind, u8)> {
    if !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let from = buf.len().saturating_sub(OWN_HEAD_MAX);
    let start = (from..buf.len().saturating_sub(4)).rev().find(|&i| buf[i..].starts_with(b"HTTP/1."))?;
    let mut fields = [httparse::EMPTY_HEADER; 16];
    let mut head = httparse::Response::new(&mut fields);
    match head.parse(&buf[start..]) {
        Ok(httparse::Status::Complete(n)) if n == buf.len() - start => {}
        _ => return None,
    }
    if head.headers.iter().any(|h| h.name.eq_ignore_ascii_case("x-request-id")) {
        return None;
    }
    let kind = match head.code? {
        400 => ErrorKind::BadRequest,
        408 => ErrorKind::HeadTimeout,
        431 => ErrorKind::HeadersTooLarge,
        _ => return None,
    };
    Some((start, kind, head.version.unwrap_or(1)))
}

/// Our full answer for `kind`: JSON error body, security headers, request id, connection close.
fn replacement(kind: ErrorKind, version: u8, request_id: &str) -> Vec<u8> {
    let body = ApiError::new(kind).body();
    let status = kind.status();
    let mut out = format!(
        "HTTP/1.{version} {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nx-request-id: {request_id}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    for (name, value) in SECURITY_HEADERS {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body);
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_actix_answers_at_the_end_of_a_write() {
        let own = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\ndate: Fri, 04 Dec 2026 19:00:00 GMT\r\n\r\n";
        assert_eq!(protocol_answer(own), Some((0, ErrorKind::BadRequest, 1)));
        let after = [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-request-id: ab\r\n\r\n{}".as_slice(), own].concat();
        // (a response follows the previous body directly, with no line break between them)
        assert_eq!(
            protocol_answer(&after).map(|(s, k, _)| (s, k)),
            Some((after.len() - own.len(), ErrorKind::BadRequest))
        );
        let timeout = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(protocol_answer(timeout).map(|a| a.1), Some(ErrorKind::HeadTimeout));
        let large = b"HTTP/1.0 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(protocol_answer(large), Some((0, ErrorKind::HeadersTooLarge, 0)));
    }

    #[test]
    fn leaves_our_own_answers_alone() {
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nx-request-id: 0a1b\r\n\r\n";
        assert_eq!(protocol_answer(ours), None);
        let ok = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(protocol_answer(ok), None);
        let body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 4\r\nx-request-id: 1\r\n\r\n{}\r\n";
        assert_eq!(protocol_answer(body), None);
    }

    #[test]
    fn replacement_is_a_complete_json_answer() {
        let bytes = replacement(ErrorKind::HeadersTooLarge, 1, "00ff");
        let mut fields = [httparse::EMPTY_HEADER; 32];
        let mut head = httparse::Response::new(&mut fields);
        let n = match head.parse(&bytes).unwrap() {
            httparse::Status::Complete(n) => n,
            httparse::Status::Partial => panic!("partial head"),
        };
        assert_eq!(head.code, Some(431));
        let body: serde_json::Value = serde_json::from_slice(&bytes[n..]).unwrap();
        assert_eq!(body["error"]["code"], "headers_too_large");
        assert!(head.headers.iter().any(|h| h.name == "x-content-type-options"));
    }
}
