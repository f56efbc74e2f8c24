//! Lambda's asynchronous invocation: `POST /2015-03-31/functions/<name>/invocations` answered 202
//! at once, then the function invoked through cargo lambda watch.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::invoke::{invoke, RETRY_FIRST, RETRY_MAX};
use crate::settings::Settings;

/// Lambda's asynchronous invocation: answers each invocation request 202 at once, then invokes
/// its function through cargo lambda watch (up to 3 tries).
pub(crate) async fn relay_async_invokes(
    settings: Arc<Settings>,
    listener: tokio::net::TcpListener,
) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let settings = settings.clone();
        tokio::spawn(async move {
            let Some((path, body)) = accept_invocation(socket).await else {
                return;
            };
            let event: Value = match serde_json::from_slice(&body) {
                Ok(event) => event,
                Err(e) => {
                    eprintln!(
                        "local-streams: an asynchronous invocation of {path} that is not JSON: {e}"
                    );
                    return;
                }
            };
            let mut outcome = Err(String::new());
            for pause in [Duration::ZERO, RETRY_FIRST, RETRY_MAX] {
                tokio::time::sleep(pause).await;
                outcome = invoke(&settings, &path, &event).await;
                if outcome.is_ok() {
                    return;
                }
            }
            if let Err(e) = outcome {
                eprintln!(
                    "local-streams: asynchronous invocation {path} dropped after 3 tries: {e}"
                );
            }
        });
    }
}

/// Reads one HTTP request and answers it: its path and body when it is an invocation (202),
/// `None` otherwise (404, or the connection failed).
async fn accept_invocation(mut socket: TcpStream) -> Option<(String, Vec<u8>)> {
    let mut data = Vec::new();
    let mut buffer = [0u8; 16384];
    let head_end = loop {
        let n = socket.read(&mut buffer).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buffer[..n]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while data.len() < head_end + 4 + length {
        let n = socket.read(&mut buffer).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buffer[..n]);
    }
    let mut request_line = head.lines().next().unwrap_or("").split(' ');
    let (method, path) = (request_line.next(), request_line.next());
    let invocation = method == Some("POST")
        && path.is_some_and(|p| {
            p.starts_with("/2015-03-31/functions/") && p.ends_with("/invocations")
        });
    let status = if invocation {
        "202 Accepted"
    } else {
        "404 Not Found"
    };
    let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    socket.write_all(answer.as_bytes()).await.ok()?;
    let _ = socket.shutdown().await;
    invocation.then(|| {
        (
            path.unwrap_or_default().to_owned(),
            data[head_end + 4..head_end + 4 + length].to_vec(),
        )
    })
}
