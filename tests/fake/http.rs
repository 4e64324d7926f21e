//! Just enough HTTP/1.1 (RFC 9112) to serve reqwest: request heads,
//! `Content-Length` and chunked bodies, `Expect: 100-continue`, keep-alive
//! and pipelining.
//!
//! Hand-written on a raw tokio socket, rather than axum or hyper, so a fault
//! can act on the connection itself: close it without a byte of response, or
//! hold it open and never answer.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest request head (request line and headers) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// One request, read whole.
pub(super) struct Request {
    pub method: String,
    /// The request target without its query string.
    pub path: String,
    /// The query string, without its `?` (empty when there is none).
    pub query: String,
    /// Header names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether the connection may carry another request after the answer.
    pub keep_alive: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

pub(super) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Why no request could be read.
pub(super) enum ReadError {
    /// The peer closed the connection (cleanly between requests, or not) or
    /// the socket failed: nothing to answer.
    Gone,
    /// The bytes are not a request we can serve: answer this status, then close.
    Bad(u16, &'static str),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Gone
    }
}

/// Reads more bytes into `buf`; a closed connection is [`ReadError::Gone`].
async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<(), ReadError> {
    buf.reserve(8 * 1024);
    match stream.read_buf(buf).await? {
        0 => Err(ReadError::Gone),
        _ => Ok(()),
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// Reads the next request from `stream`. `buf` holds bytes already read and
/// keeps whatever follows the request (a pipelined next one). `Ok(None)` is a
/// clean close between requests.
pub(super) async fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> Result<Option<Request>, ReadError> {
    // Tolerate the stray CRLF some clients send after a body (RFC 9112 §2.2).
    let mut scanned = 0;
    let head_end = loop {
        while buf.starts_with(b"\r\n") {
            buf.drain(..2);
        }
        if let Some(i) = find(buf, b"\r\n\r\n", scanned) {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadError::Bad(431, "request head too large"));
        }
        scanned = buf.len().saturating_sub(3);
        buf.reserve(8 * 1024);
        if stream.read_buf(buf).await? == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(ReadError::Gone)
            };
        }
    };

    let head = std::str::from_utf8(&buf[..head_end - 4])
        .map_err(|_| ReadError::Bad(400, "request head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad(400, "malformed request line"));
    };
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(ReadError::Bad(505, "only HTTP/1.0 and HTTP/1.1 are served")),
    };
    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(ReadError::Bad(400, "malformed header line"));
        };
        if name.is_empty() || name.contains(|c: char| c.is_ascii_whitespace()) {
            return Err(ReadError::Bad(400, "malformed header name"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let method = method.to_string();
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path.to_string(), query.to_string()),
        None => (target.to_string(), String::new()),
    };
    let connection = header(&headers, "connection")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let keep_alive = if http10 {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    };
    let chunked = header(&headers, "transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    let length = match header(&headers, "content-length") {
        _ if chunked => None,
        None => Some(0),
        Some(n) => match n.parse::<usize>() {
            Ok(n) if n > MAX_BODY => return Err(ReadError::Bad(413, "request body too large")),
            Ok(n) => Some(n),
            Err(_) => return Err(ReadError::Bad(400, "invalid content-length")),
        },
    };
    buf.drain(..head_end);

    if length != Some(0)
        && header(&headers, "expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
        && buf.is_empty()
    {
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }

    let body = match length {
        Some(n) => {
            while buf.len() < n {
                fill(stream, buf).await?;
            }
            buf.drain(..n).collect()
        }
        None => read_chunked(stream, buf).await?,
    };
    Ok(Some(Request {
        method,
        path,
        query,
        headers,
        body,
        keep_alive,
    }))
}

/// Decodes a chunked body from the front of `buf`, reading more as needed;
/// leaves whatever follows it in `buf`. Trailers are read and ignored.
async fn read_chunked(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(i) = find(buf, b"\r\n", 0) {
                break i;
            }
            if buf.len() > MAX_HEAD {
                return Err(ReadError::Bad(400, "malformed chunk size"));
            }
            fill(stream, buf).await?;
        };
        let size = std::str::from_utf8(&buf[..line_end])
            .ok()
            .and_then(|line| {
                usize::from_str_radix(line.split(';').next().unwrap_or_default().trim(), 16).ok()
            })
            .ok_or(ReadError::Bad(400, "malformed chunk size"))?;
        buf.drain(..line_end + 2);
        if size == 0 {
            // Trailer fields, then the empty line that ends the body.
            loop {
                let line_end = loop {
                    if let Some(i) = find(buf, b"\r\n", 0) {
                        break i;
                    }
                    if buf.len() > MAX_HEAD {
                        return Err(ReadError::Bad(400, "malformed trailer"));
                    }
                    fill(stream, buf).await?;
                };
                buf.drain(..line_end + 2);
                if line_end == 0 {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(ReadError::Bad(413, "request body too large"));
        }
        while buf.len() < size + 2 {
            fill(stream, buf).await?;
        }
        if &buf[size..size + 2] != b"\r\n" {
            return Err(ReadError::Bad(400, "malformed chunk"));
        }
        body.extend(buf.drain(..size));
        buf.drain(..2);
    }
}

/// One response, written whole with a `Content-Length`, or in chunks
/// without one (`chunked`), so the client learns its size only by reading it.
pub(super) struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    pub chunked: bool,
}

/// The size of each chunk of a chunked response.
const CHUNK: usize = 64 * 1024;

impl Response {
    pub fn json(status: u16, body: &serde_json::Value) -> Response {
        Response {
            status,
            headers: vec![("content-type", "application/json".to_string())],
            body: body.to_string().into_bytes(),
            chunked: false,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }
}

/// Writes `response` in one go (a chunked one chunk by chunk). Without
/// `keep_alive` it says `connection: close`; the caller then drops the stream.
pub(super) async fn write_response(
    stream: &mut TcpStream,
    response: &Response,
    keep_alive: bool,
) -> io::Result<()> {
    let mut out = Vec::with_capacity(256 + response.body.len());
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {} {}\r\n",
            response.status,
            reason(response.status)
        )
        .as_bytes(),
    );
    for (name, value) in &response.headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    if response.chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    } else {
        out.extend_from_slice(format!("content-length: {}\r\n", response.body.len()).as_bytes());
    }
    if !keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !response.chunked {
        out.extend_from_slice(&response.body);
        stream.write_all(&out).await?;
        return stream.flush().await;
    }
    stream.write_all(&out).await?;
    for chunk in response.body.chunks(CHUNK) {
        stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await?;
        stream.write_all(chunk).await?;
        stream.write_all(b"\r\n").await?;
    }
    stream.write_all(b"0\r\n\r\n").await?;
    stream.flush().await
}

/// Waits until the peer closes the connection (or the socket fails). Bytes
/// that arrive meanwhile are kept in `buf`, up to a limit, so a pipelined
/// request is not lost.
pub(super) async fn closed(stream: &mut TcpStream, buf: &mut Vec<u8>) {
    let mut sink = [0u8; 4096];
    loop {
        let read = if buf.len() < MAX_HEAD {
            buf.reserve(4096);
            stream.read_buf(buf).await
        } else {
            stream.read(&mut sink).await
        };
        if !matches!(read, Ok(n) if n > 0) {
            return;
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        529 => "Overloaded",
        _ => "Status",
    }
}
