//! Webhook test parts: a real HTTP receiver on 127.0.0.1, and a pump that feeds the table's
//! stream (DynamoDB Local's) to the real dispatcher, as Lambda's event-source mapping would,
//! and runs the real deliverer on what the dispatcher hands over, as Lambda's asynchronous
//! invocations would (each hand-over its own task, with the function's 120 s).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use local_streams::{StartingPosition, StreamTail};
use shared::adapters::stripe::StripeGateway;
use shared::adapters::webhook_http::HttpSender;
use shared::webhooks::model::{DeliveryQueue, DeliveryRef, DeliveryReport, TargetPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::{App, TEST_TABLE};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: BTreeMap<String, String>,
    pub body: String,
    /// What it answered.
    pub status: u16,
    /// When the whole request had arrived.
    pub at: Instant,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a webhook body is JSON")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }

    pub fn event_type(&self) -> String {
        self.json()["type"].as_str().unwrap_or("").to_owned()
    }
}

#[derive(Default)]
struct ReceiverState {
    received: Vec<Received>,
    /// Statuses to answer first, in order; 200 after.
    script: VecDeque<u16>,
}

/// An HTTP server that records every request and answers as scripted.
pub struct Receiver {
    pub port: u16,
    state: Arc<Mutex<ReceiverState>>,
    task: JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_one(mut socket: TcpStream, state: Arc<Mutex<ReceiverState>>) {
    let mut data = Vec::new();
    let mut buffer = [0u8; 8192];
    let (head_end, content_length) = loop {
        let Ok(n) = socket.read(&mut buffer).await else {
            return;
        };
        if n == 0 {
            return;
        }
        data.extend_from_slice(&buffer[..n]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_string();
            let length = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (end + 4, length);
        }
    };
    while data.len() < head_end + content_length {
        let Ok(n) = socket.read(&mut buffer).await else {
            return;
        };
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buffer[..n]);
    }
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = String::from_utf8_lossy(&data[head_end..]).to_string();
    let at = Instant::now();
    let status = {
        let mut state = state.lock().unwrap();
        let status = state.script.pop_front().unwrap_or(200);
        state.received.push(Received {
            headers,
            body,
            status,
            at,
        });
        status
    };
    let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
    let _ = socket.write_all(answer.as_bytes()).await;
    let _ = socket.shutdown().await;
}

impl Receiver {
    /// A receiver on a free port.
    pub async fn start() -> Receiver {
        Receiver::start_on(0).await
    }

    /// A receiver on `port` (0: any free one).
    pub async fn start_on(port: u16) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the receiver");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(ReceiverState::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve_one(socket, shared.clone()));
            }
        });
        Receiver { port, state, task }
    }

    /// A port on which nothing listens (yet).
    pub async fn free_port() -> u16 {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        listener.local_addr().unwrap().port()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks", self.port)
    }

    /// Answer these statuses to the next requests, then 200.
    pub fn answer_first(&self, statuses: &[u16]) {
        self.state.lock().unwrap().script.extend(statuses);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Waits until at least `count` requests satisfy `matching`, or `timeout`; returns them.
    pub async fn wait_for(
        &self,
        count: usize,
        timeout: Duration,
        matching: impl Fn(&Received) -> bool,
    ) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let found: Vec<Received> = self.received().into_iter().filter(&matching).collect();
            if found.len() >= count || started.elapsed() > timeout {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The sender the tests' dispatcher and sweep use: the real one, allowed to reach 127.0.0.1.
pub fn local_sender() -> HttpSender {
    HttpSender::new(TargetPolicy {
        allow_private: true,
    })
}

/// The deliverer function's timeout (template.yaml), given to each spawned deliverer.
pub const DELIVERER_TIMEOUT: Duration = Duration::from_secs(120);

/// The stand-in for Lambda's asynchronous invocation of the deliverer: each hand-over runs the
/// real deliverer in a task of its own, with [`DELIVERER_TIMEOUT`].
#[derive(Clone)]
pub struct SpawnQueue {
    pub app: Arc<App>,
    pub sender: HttpSender,
    /// What the spawned deliverers did.
    pub reports: Arc<Mutex<Vec<DeliveryReport>>>,
    /// The deliverers' open breakers (one process's, as a warm instance's).
    pub breakers: Arc<shared::webhooks::operations::Breakers>,
}

impl DeliveryQueue for SpawnQueue {
    async fn enqueue(&self, work: Vec<DeliveryRef>) -> Result<(), String> {
        let this = self.clone();
        tokio::spawn(async move {
            let event = api::triggers::dispatch::DeliverEvent { deliveries: work };
            let report = api::triggers::dispatch::deliver(
                &*this.app,
                &this.sender,
                &this.breakers,
                this.sender.timeout(),
                DELIVERER_TIMEOUT,
                event,
            )
            .await;
            this.reports.lock().unwrap().push(report);
        });
        Ok(())
    }
}

/// Reads the test table's stream from now on and dispatches every batch, until dropped.
pub struct Pump {
    task: JoinHandle<()>,
    reports: Arc<Mutex<Vec<DeliveryReport>>>,
}

impl Drop for Pump {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Pump {
    /// Opens the stream at its latest position (records written after this returns are read).
    pub async fn start(app: Arc<App>) -> Pump {
        Pump::start_with(app, None, false).await
    }

    /// A pump that gives every batch as Lambda does after failures: first its first half only
    /// (the function stopped there), then again from a record before where it stopped (a
    /// partial-batch retry), then the whole batch once more.
    pub async fn retrying_mid_way(app: Arc<App>) -> Pump {
        Pump::start_with(app, None, true).await
    }

    /// A pump whose dispatcher also starts the auto top-ups that changes make due.
    pub async fn with_gateway(app: Arc<App>, gateway: StripeGateway) -> Pump {
        Pump::start_with(app, Some(gateway), false).await
    }

    async fn start_with(app: Arc<App>, gateway: Option<StripeGateway>, replay: bool) -> Pump {
        let endpoint = std::env::var("DYNAMODB_ENDPOINT").expect("DYNAMODB_ENDPOINT");
        let sdk_config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .load()
            .await;
        let mut tail = StreamTail::new(&sdk_config, TEST_TABLE, StartingPosition::Latest)
            .with_describe_every(Duration::from_millis(500));
        tail.open().await.expect("open the test table's stream");
        let reports = Arc::new(Mutex::new(Vec::new()));
        let kept = reports.clone();
        let queue = SpawnQueue {
            app: app.clone(),
            sender: local_sender(),
            reports: Arc::new(Mutex::new(Vec::new())),
            breakers: Arc::default(),
        };
        let task = tokio::spawn(async move {
            loop {
                let batch = match tail.next_batch(100).await {
                    Ok(batch) => batch,
                    Err(error) => {
                        eprintln!("pump: {error}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                };
                if batch.records.is_empty() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                let took = Instant::now();
                let records = batch.records.len();
                let (stop, again) = (records.div_ceil(2), records / 4);
                // (first, end) of each giving of the batch.
                let attempts = if replay {
                    vec![(0, stop), (again, records), (0, records)]
                } else {
                    vec![(0, records)]
                };
                let mut last = None;
                for attempt in attempts {
                    let mut batch = batch.clone();
                    batch.records = batch.records[attempt.0..attempt.1].to_vec();
                    // A batch the dispatcher reports failed (DynamoDB Local slow under load) is
                    // given again, as Lambda does: recording is idempotent.
                    let report = loop {
                        let (failures, report) = api::triggers::dispatch::dispatch_batch(
                            &*app,
                            &queue,
                            gateway.as_ref(),
                            batch.clone(),
                        )
                        .await;
                        if failures.batch_item_failures.is_empty() {
                            break report;
                        }
                        eprintln!("pump: a batch failed to dispatch; giving it again");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    };
                    last = Some(report);
                }
                let report = last.expect("one attempt at least");
                if std::env::var("PUMP_TRACE").is_ok() {
                    eprintln!(
                        "pump: {records} records, {} deliveries in {:?}",
                        report.deliveries,
                        took.elapsed()
                    );
                }
                kept.lock().unwrap().push(report);
            }
        });
        Pump { task, reports }
    }

    /// Deliveries recorded so far by this pump.
    pub fn deliveries(&self) -> usize {
        self.reports
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.deliveries)
            .sum()
    }
}

/// An endpoint that accepts every connection and never answers (nor closes it): a receiver that
/// hangs each attempt until the sender's timeout.
pub struct Hanging {
    pub port: u16,
    accepted: Arc<Mutex<Vec<TcpStream>>>,
    task: JoinHandle<()>,
}

impl Drop for Hanging {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Hanging {
    pub async fn start() -> Hanging {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind the hanging endpoint");
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let kept = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                kept.lock().unwrap().push(socket);
            }
        });
        Hanging {
            port,
            accepted,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks", self.port)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.lock().unwrap().len()
    }
}
