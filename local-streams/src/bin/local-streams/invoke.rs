//! Invoking a function through cargo lambda watch's invoke endpoint, as Lambda would: the path
//! that names the function, one HTTP/1.1 exchange, and the answer read back.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::settings::Settings;

/// First pause before a failed invocation is tried again; doubles up to the next.
pub(crate) const RETRY_FIRST: Duration = Duration::from_millis(500);
pub(crate) const RETRY_MAX: Duration = Duration::from_secs(5);

impl Settings {
    pub(crate) fn invoke_path(&self, function: &str) -> String {
        format!("/2015-03-31/functions/{function}/invocations")
    }
}

/// One invocation through cargo lambda watch: the function's answer (JSON, `null` if empty), or
/// why it failed (no connection, a status other than 200 — watch's 404 for a function it does
/// not know, or the function's error).
pub(crate) async fn invoke(
    settings: &Settings,
    path: &str,
    event: &Value,
) -> Result<Value, String> {
    let body = event.to_string();
    let exchange = async {
        let mut stream = TcpStream::connect(&settings.invoke_authority)
            .await
            .map_err(|e| format!("cannot reach cargo lambda watch: {e}"))?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            settings.invoke_authority,
            body.len()
        );
        for part in [head.as_bytes(), body.as_bytes()] {
            stream
                .write_all(part)
                .await
                .map_err(|e| format!("sending: {e}"))?;
        }
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .await
            .map_err(|e| format!("reading the answer: {e}"))?;
        Ok::<Vec<u8>, String>(answer)
    };
    let answer = tokio::time::timeout(settings.invoke_timeout, exchange)
        .await
        .map_err(|_| format!("no answer in {:?}", settings.invoke_timeout))??;
    let (status, headers, body) = parse_response(&answer)?;
    if status != 200
        || headers
            .iter()
            .any(|(name, _)| name == "x-amz-function-error")
    {
        let text = String::from_utf8_lossy(&body);
        let text: String = text.chars().take(300).collect();
        return Err(format!("answered {status}: {text}"));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&body).map_err(|e| format!("an answer that is not JSON: {e}"))
}

/// (status, lower-case headers, body) of an HTTP/1.1 response read to the end of the connection.
#[allow(clippy::type_complexity)]
fn parse_response(raw: &[u8]) -> Result<(u16, Vec<(String, String)>, Vec<u8>), String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("an incomplete HTTP answer")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or("an HTTP answer without a status")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else {
        match headers.iter().find(|(n, _)| n == "content-length") {
            Some((_, length)) => {
                let length: usize = length.parse().map_err(|_| "a bad Content-Length")?;
                rest.get(..length).ok_or("a truncated answer")?.to_vec()
            }
            None => rest.to_vec(),
        }
    };
    Ok((status, headers, body))
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a truncated chunked answer")?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "a bad chunk size")?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(rest.get(..size).ok_or("a truncated chunk")?);
        rest = rest.get(size + 2..).ok_or("a truncated chunk")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_with_a_length_or_in_chunks() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse_response(plain).unwrap().2, b"{}");
        let chunked = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n\
            3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let (status, _, body) = parse_response(chunked).unwrap();
        assert_eq!((status, body.as_slice()), (404, b"abcde".as_slice()));
    }
}
