//! `local-streams`: the local stand-in for what AWS runs around the webhook functions.
//!
//! - Lambda's event-source mapping: reads the table's stream (DynamoDB Local) and invokes the
//!   stream function (`STREAM_FUNCTION`, default `webhook-dispatcher`) through `cargo lambda
//!   watch` with batches of up to `BATCH_SIZE` (default 100) records of one shard, in Lambda's
//!   DynamoDB event shape. A failed invocation is retried with the same batch, after a pause that
//!   grows to 5 s, until it succeeds (as Lambda does for a stream until the records expire); an
//!   answer `{"batchItemFailures": [{"itemIdentifier": "<sequence number>"}]}` resends from the
//!   earliest record it names on.
//! - The EventBridge schedule: every `SWEEP_EVERY_S` seconds (default 5; 0: never) invokes the
//!   retry sweep (`SWEEP_FUNCTION`, default `sweep`) with a scheduled event.
//! - Lambda's asynchronous invocation: with `ASYNC_INVOKE_PORT` set, listens on 127.0.0.1 there
//!   for `POST /2015-03-31/functions/<name>/invocations` (the dispatcher's hand-over to the
//!   webhook deliverer), answers 202 at once as Lambda does for `X-Amz-Invocation-Type: Event`
//!   (cargo lambda watch would answer only when the function ends), and invokes the function
//!   through cargo lambda watch, each event in a task of its own; a failed invocation is tried
//!   twice more (as Lambda does), then dropped with a log line (the sweep attempts what its
//!   deliveries left due).
//!
//! Settings: `TABLE_NAME`, `DYNAMODB_ENDPOINT` (and the usual AWS variables), `WATCH_PORT` (the
//! port of `cargo lambda watch`'s invoke endpoint) or `INVOKE_URL` (its base, e.g.
//! `http://127.0.0.1:9001`), `STREAM_START` (`TRIM_HORIZON`, the default, or `LATEST`),
//! `READY_FILE` (created once the stream is open: with `LATEST`, what is written after it exists
//! is read). Failures are logged one line at most every 5 s per kind.

use std::time::{Duration, Instant};

use local_streams::{StartingPosition, StreamTail};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Pause between polls of an idle stream.
const POLL_EVERY: Duration = Duration::from_millis(200);
/// Failures of one kind are logged at most this often.
const LOG_EVERY: Duration = Duration::from_secs(5);
/// First pause before resending a failed batch; doubles up to the next.
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(5);

struct Settings {
    table: String,
    endpoint: Option<String>,
    /// `host:port` of cargo lambda watch.
    invoke_authority: String,
    stream_function: String,
    sweep_function: String,
    sweep_every: Duration,
    batch_size: usize,
    start: StartingPosition,
    ready_file: Option<String>,
    invoke_timeout: Duration,
    async_invoke_port: Option<u16>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Settings {
    fn from_env() -> Result<Settings, String> {
        let invoke_authority = match (var("INVOKE_URL"), var("WATCH_PORT")) {
            (Some(url), _) => url
                .strip_prefix("http://")
                .ok_or_else(|| format!("INVOKE_URL must start with http:// (not '{url}')"))?
                .trim_end_matches('/')
                .to_owned(),
            (None, Some(port)) => {
                let port: u16 = port
                    .parse()
                    .map_err(|_| format!("WATCH_PORT must be a port, not '{port}'"))?;
                format!("127.0.0.1:{port}")
            }
            (None, None) => return Err("set WATCH_PORT or INVOKE_URL".into()),
        };
        let number = |name: &str, default: u64| -> Result<u64, String> {
            var(name).map_or(Ok(default), |v| {
                v.parse()
                    .map_err(|_| format!("{name} must be a whole number, not '{v}'"))
            })
        };
        Ok(Settings {
            table: var("TABLE_NAME").ok_or("set TABLE_NAME")?,
            endpoint: var("DYNAMODB_ENDPOINT"),
            invoke_authority,
            stream_function: var("STREAM_FUNCTION").unwrap_or("webhook-dispatcher".into()),
            sweep_function: var("SWEEP_FUNCTION").unwrap_or("sweep".into()),
            sweep_every: Duration::from_secs(number("SWEEP_EVERY_S", 5)?),
            batch_size: usize::try_from(number("BATCH_SIZE", 100)?.clamp(1, 1000)).unwrap_or(100),
            start: var("STREAM_START").map_or(Ok(StartingPosition::TrimHorizon), |v| v.parse())?,
            ready_file: var("READY_FILE"),
            invoke_timeout: Duration::from_secs(number("INVOKE_TIMEOUT_S", 900)?),
            async_invoke_port: var("ASYNC_INVOKE_PORT")
                .map(|p| {
                    p.parse()
                        .map_err(|_| format!("ASYNC_INVOKE_PORT must be a port, not '{p}'"))
                })
                .transpose()?,
        })
    }

    fn invoke_path(&self, function: &str) -> String {
        format!("/2015-03-31/functions/{function}/invocations")
    }
}

/// Logs a kind of failure at most once per [`LOG_EVERY`], with how many were not logged.
#[derive(Default)]
struct Throttled {
    last: Option<Instant>,
    quiet: u32,
    failing: bool,
}

impl Throttled {
    fn failed(&mut self, message: impl FnOnce() -> String) {
        self.failing = true;
        if self.last.is_some_and(|at| at.elapsed() < LOG_EVERY) {
            self.quiet += 1;
            return;
        }
        let more = match self.quiet {
            0 => String::new(),
            n => format!(" ({n} more failures since the last line)"),
        };
        eprintln!("local-streams: {}{more}", message());
        self.last = Some(Instant::now());
        self.quiet = 0;
    }

    fn succeeded(&mut self, what: &str) {
        if self.failing {
            eprintln!("local-streams: {what} works again");
        }
        *self = Throttled::default();
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("local-streams: {message}");
            std::process::exit(2);
        }
    };
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(endpoint) = &settings.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    let sdk_config = loader.load().await;
    let mut tail = StreamTail::new(&sdk_config, settings.table.clone(), settings.start);

    let mut log = Throttled::default();
    loop {
        match tail.open().await {
            Ok(shards) => {
                eprintln!(
                    "local-streams: following {} ({shards} shards) of {}: invoking {}, and {} \
                     every {:?}, at http://{}",
                    tail.stream_arn().unwrap_or("?"),
                    settings.table,
                    settings.stream_function,
                    settings.sweep_function,
                    settings.sweep_every,
                    settings.invoke_authority,
                );
                break;
            }
            Err(e) => {
                log.failed(|| format!("opening the stream: {e}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    if let Some(path) = &settings.ready_file {
        if let Err(e) = std::fs::write(path, b"") {
            eprintln!("local-streams: writing {path}: {e}");
            std::process::exit(1);
        }
    }

    let settings = std::sync::Arc::new(settings);
    if let Some(port) = settings.async_invoke_port {
        let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("local-streams: listening on 127.0.0.1:{port}: {e}");
                std::process::exit(1);
            }
        };
        tokio::spawn(relay_async_invokes(settings.clone(), listener));
    }
    if !settings.sweep_every.is_zero() {
        tokio::spawn(sweep(settings.clone()));
    }
    feed(&settings, &mut tail).await;
}

/// Reads the stream for ever and invokes the stream function with every batch.
async fn feed(settings: &Settings, tail: &mut StreamTail) {
    let path = settings.invoke_path(&settings.stream_function);
    let mut read_log = Throttled::default();
    let mut invoke_log = Throttled::default();
    loop {
        let mut batch = match tail.next_batch_json(settings.batch_size).await {
            Ok(batch) => {
                read_log.succeeded("reading the stream");
                batch
            }
            Err(e) => {
                read_log.failed(|| format!("reading the stream: {e}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Value::Array(mut records) = batch["Records"].take() else {
            unreachable!("Records is a list")
        };
        if records.is_empty() {
            tokio::time::sleep(POLL_EVERY).await;
            continue;
        }
        let mut pause = RETRY_FIRST;
        loop {
            let outcome = invoke(settings, &path, &json!({ "Records": records })).await;
            let failed_from = match &outcome {
                Ok(answer) => first_failed(answer, &records),
                Err(_) => Some(0),
            };
            let Some(from) = failed_from else {
                invoke_log.succeeded(&settings.stream_function);
                break;
            };
            invoke_log.failed(|| match &outcome {
                Err(e) => format!(
                    "{} with {} records: {e}; sending them again",
                    settings.stream_function,
                    records.len()
                ),
                Ok(_) => format!(
                    "{} reported {} of {} records failed; sending them again",
                    settings.stream_function,
                    records.len() - from,
                    records.len()
                ),
            });
            records.drain(..from);
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(RETRY_MAX);
        }
    }
}

/// The index of the first record to send again after a successful invocation answered
/// `answer`, as Lambda reads a partial batch response: `None` when every record succeeded; the
/// earliest record named in `batchItemFailures`; the whole batch (0) when a failure names no
/// record of the batch.
fn first_failed(answer: &Value, records: &[Value]) -> Option<usize> {
    let failures = answer.get("batchItemFailures")?.as_array()?;
    if failures.is_empty() {
        return None;
    }
    let mut first = records.len();
    for failure in failures {
        let id = failure.get("itemIdentifier").and_then(Value::as_str);
        let position = id.and_then(|id| {
            records
                .iter()
                .position(|r| r["dynamodb"]["SequenceNumber"].as_str() == Some(id))
        });
        match position {
            Some(i) => first = first.min(i),
            None => return Some(0),
        }
    }
    Some(first)
}

/// Invokes the retry sweep every `sweep_every`, with an EventBridge scheduled event.
async fn sweep(settings: std::sync::Arc<Settings>) {
    let path = settings.invoke_path(&settings.sweep_function);
    let mut log = Throttled::default();
    let mut ticks = tokio::time::interval(settings.sweep_every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match invoke(&settings, &path, &scheduled_event()).await {
            Ok(_) => log.succeeded(&settings.sweep_function),
            Err(e) => log.failed(|| format!("{}: {e}", settings.sweep_function)),
        }
    }
}

/// Lambda's asynchronous invocation: answers each invocation request 202 at once, then invokes
/// its function through cargo lambda watch (up to 3 tries).
async fn relay_async_invokes(
    settings: std::sync::Arc<Settings>,
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

/// What EventBridge passes to a function on a schedule.
fn scheduled_event() -> Value {
    let id = ulid::Ulid::new().0;
    let hex = format!("{id:032x}");
    let uuid = format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    );
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    let now = time::OffsetDateTime::now_utc()
        .format(format)
        .expect("a time formats");
    json!({
        "version": "0",
        "id": uuid,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": now,
        "region": std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
        "resources": [],
        "detail": {},
    })
}

/// One invocation through cargo lambda watch: the function's answer (JSON, `null` if empty), or
/// why it failed (no connection, a status other than 200 — watch's 404 for a function it does
/// not know, or the function's error).
async fn invoke(settings: &Settings, path: &str, event: &Value) -> Result<Value, String> {
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

    fn records(sequences: &[&str]) -> Vec<Value> {
        sequences
            .iter()
            .map(|s| json!({"dynamodb": {"SequenceNumber": s}}))
            .collect()
    }

    #[test]
    fn a_partial_batch_failure_resends_from_the_earliest_record_it_names() {
        let batch = records(&["1", "2", "3"]);
        assert_eq!(first_failed(&Value::Null, &batch), None);
        assert_eq!(
            first_failed(&json!({"batchItemFailures": []}), &batch),
            None
        );
        let answer =
            json!({"batchItemFailures": [{"itemIdentifier": "3"}, {"itemIdentifier": "2"}]});
        assert_eq!(first_failed(&answer, &batch), Some(1));
        let unknown = json!({"batchItemFailures": [{"itemIdentifier": "9"}]});
        assert_eq!(first_failed(&unknown, &batch), Some(0));
    }

    #[test]
    fn answers_parse_with_a_length_or_in_chunks() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse_response(plain).unwrap().2, b"{}");
        let chunked = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n\
            3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let (status, _, body) = parse_response(chunked).unwrap();
        assert_eq!((status, body.as_slice()), (404, b"abcde".as_slice()));
    }

    #[test]
    fn the_scheduled_event_is_eventbridges() {
        let event = scheduled_event();
        assert_eq!(event["detail-type"], "Scheduled Event");
        assert_eq!(event["source"], "aws.events");
        assert_eq!(event["id"].as_str().unwrap().len(), 36);
        assert!(event["time"].as_str().unwrap().ends_with('Z'));
    }
}
