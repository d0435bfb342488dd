//! A raw HTTP/1.1 client, so tests control every byte (chunked bodies, trickling, odd
//! headers, a source address), and a kept-alive connection for floods.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

/// A raw HTTP/1.1 request.
#[derive(Clone)]
pub struct Req {
    addr: SocketAddr,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    chunks: Option<Vec<Vec<u8>>>,
    source: Option<std::net::IpAddr>,
}

impl Req {
    pub fn to(addr: SocketAddr, method: &str, path: &str) -> Self {
        let (headers, body) = (Vec::new(), Vec::new());
        Req { addr, method: method.into(), path: path.into(), headers, body, chunks: None, source: None }
    }
    /// Connect from this local address (another loopback one, `127.0.0.2`, is a client no
    /// trusted-proxy list names).
    pub fn from(mut self, source: std::net::IpAddr) -> Self {
        self.source = Some(source);
        self
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn bearer(self, token: &str) -> Self {
        self.header("Authorization", &format!("Bearer {token}"))
    }
    pub fn client_ip(self, ip: &str) -> Self {
        self.header("X-Forwarded-For", ip)
    }
    pub fn json(self, v: &Value) -> Self {
        self.header("Content-Type", "application/json").body(v.to_string().into_bytes())
    }
    pub fn body(mut self, b: Vec<u8>) -> Self {
        self.body = b;
        self
    }
    /// Send the body with `Transfer-Encoding: chunked`, in these chunks.
    pub fn chunked(mut self, chunks: Vec<Vec<u8>>) -> Self {
        self.chunks = Some(chunks);
        self
    }

    pub fn head_bytes(&self) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\nConnection: close\r\n", self.method, self.path);
        if !self.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            head.push_str(&format!("Host: {}\r\n", self.addr));
        }
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if self.chunks.is_some() {
            head.push_str("Transfer-Encoding: chunked\r\n");
        } else if !self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PUT" | "PATCH") {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str("\r\n");
        head.into_bytes()
    }

    pub fn send(&self) -> Resp {
        self.try_send().expect("a response")
    }

    /// `None` when the server cannot be reached or closes without a complete answer.
    pub fn try_send(&self) -> Option<Resp> {
        let mut stream = match self.source {
            None => TcpStream::connect(self.addr).ok()?,
            Some(source) => {
                let socket = socket2::Socket::new(socket2::Domain::for_address(self.addr), socket2::Type::STREAM, None);
                let socket = socket.ok()?;
                socket.bind(&SocketAddr::new(source, 0).into()).ok()?;
                socket.connect(&self.addr.into()).ok()?;
                socket.into()
            }
        };
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        let mut out = self.head_bytes();
        match &self.chunks {
            Some(chunks) => {
                for c in chunks {
                    out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                    out.extend_from_slice(c);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
            }
            None => out.extend_from_slice(&self.body),
        }
        // The server may answer (413) and close before reading everything: ignore write errors.
        let _ = stream.write_all(&out);
        try_read_response(&mut stream)
    }
}

/// Reads and parses one response until the server closes the connection.
pub fn read_response(stream: &mut TcpStream) -> Resp {
    try_read_response(stream).expect("a complete response")
}

fn try_read_response(stream: &mut TcpStream) -> Option<Resp> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(_) if !raw.is_empty() => break,
            Err(_) => return None,
        }
    }
    Resp::parse(&raw)
}

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn parse(raw: &[u8]) -> Option<Self> {
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut body = raw[split + 4..].to_vec();
        if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
            body = dechunk(&body);
        }
        Some(Resp { status, headers, body })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The error code of a JSON error body.
    pub fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_string()
    }

    /// Asserts the six contract headers (and the two extra ones) are present.
    pub fn assert_security_headers(&self) {
        for (k, v) in [
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "strict-origin-when-cross-origin"),
            ("x-xss-protection", "0"),
            ("cache-control", "no-store, no-cache, must-revalidate, max-age=0"),
            ("pragma", "no-cache"),
            ("cross-origin-resource-policy", "same-origin"),
            ("cross-origin-opener-policy", "same-origin"),
            ("cross-origin-embedder-policy", "require-corp"),
        ] {
            assert_eq!(self.header(k), Some(v), "header {k} on a {} response", self.status);
        }
        assert!(self.header("content-security-policy").is_some(), "CSP on a {} response", self.status);
        assert!(self.header("permissions-policy").is_some_and(|p| p.contains("camera=()")), "Permissions-Policy");
        assert!(self.header("server").is_none());
        assert!(self.header("x-request-id").is_some());
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&body[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&body[start..start + size]);
        body = &body[start + size + 2..];
    }
    out
}

/// One persistent HTTP/1.1 connection for many requests (floods, where a connection per
/// request would exhaust ephemeral ports).
pub struct KeepAlive {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Where it connects, and how long it waits (to connect again after `Connection: close`).
    addr: SocketAddr,
    timeout: Duration,
    /// The last answer said `Connection: close` (a proxy ends keep-alive connections after
    /// so many requests): the next request goes on a new connection.
    closing: bool,
}

impl KeepAlive {
    pub fn connect(addr: SocketAddr) -> Self {
        Self::try_connect(addr, Duration::from_secs(30)).expect("connect")
    }

    /// `None` when the server cannot be reached; reads give up after `timeout`.
    pub fn try_connect(addr: SocketAddr, timeout: Duration) -> Option<Self> {
        let stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
        stream.set_read_timeout(Some(timeout)).ok()?;
        stream.set_nodelay(true).ok()?;
        Some(Self { stream, buf: Vec::new(), addr, timeout, closing: false })
    }

    /// Sends a body-less request with these extra header lines; returns the status, or
    /// `None` when the server closed the connection.
    pub fn get(&mut self, path: &str, headers: &str) -> Option<u16> {
        self.send("GET", path, headers, b"").map(|(status, _)| status)
    }

    /// Sends any request (a `Content-Length` is added for a body); returns status and body.
    pub fn send(&mut self, method: &str, path: &str, headers: &str, body: &[u8]) -> Option<(u16, Vec<u8>)> {
        if self.closing {
            *self = Self::try_connect(self.addr, self.timeout)?;
        }
        let length = if body.is_empty() { String::new() } else { format!("Content-Length: {}\r\n", body.len()) };
        let mut out = format!("{method} {path} HTTP/1.1\r\nHost: x\r\n{headers}{length}\r\n").into_bytes();
        out.extend_from_slice(body);
        self.stream.write_all(&out).ok()?;
        let mut chunk = [0u8; 16384];
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
                let status = head.split(' ').nth(1)?.parse().ok()?;
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while self.buf.len() < end + 4 + length {
                    let n = self.stream.read(&mut chunk).ok()?;
                    if n == 0 {
                        return None;
                    }
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                let body = self.buf[end + 4..end + 4 + length].to_vec();
                self.buf.drain(..end + 4 + length);
                self.closing = head.lines().any(|l| l.starts_with("connection:") && l.contains("close"));
                return Some((status, body));
            }
            let n = self.stream.read(&mut chunk).ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}
