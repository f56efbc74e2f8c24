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
//!
//! One module a concern: `settings.rs`, `feed.rs` (the stream), `schedule.rs` (the sweep),
//! `relay.rs` (asynchronous invocations), `invoke.rs` (every invocation of a function, through
//! cargo lambda watch), `log.rs` (throttled failure lines).

mod feed;
mod invoke;
mod log;
mod relay;
mod schedule;
mod settings;

use std::time::Duration;

use local_streams::StreamTail;

use crate::feed::feed;
use crate::log::Throttled;
use crate::relay::relay_async_invokes;
use crate::schedule::sweep;
use crate::settings::Settings;

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
