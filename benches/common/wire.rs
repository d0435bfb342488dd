//! One request and its answer on a kept-alive connection, read by hand: the load generator
//! of the benchmarks that count requests per second (an HTTP client crate would cost more
//! than the server's side of some of them).

use std::io::{Read, Write};
use std::net::TcpStream;

/// Sends `request` and reads its whole answer into `buf` (which must hold it).
pub fn exchange(stream: &mut TcpStream, buf: &mut [u8], request: &[u8]) {
    stream.write_all(request).unwrap();
    let mut filled = 0;
    loop {
        let n = stream.read(&mut buf[filled..]).unwrap();
        assert!(n > 0, "connection closed");
        filled += n;
        if response_len(&buf[..filled]).is_some() {
            return;
        }
    }
}

/// The length of a complete response at the start of `buf`, once it has all arrived (any
/// answer but a 2xx stops the benchmark: it would measure a refusal).
pub fn response_len(buf: &[u8]) -> Option<usize> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    assert!(buf.starts_with(b"HTTP/1.1 2"), "not a 2xx: {}", String::from_utf8_lossy(&buf[..buf.len().min(300)]));
    let length = buf[..end]
        .split(|&b| b == b'\n')
        .find_map(|l| {
            let l = std::str::from_utf8(l).ok()?;
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    (buf.len() >= end + 4 + length).then_some(end + 4 + length)
}
