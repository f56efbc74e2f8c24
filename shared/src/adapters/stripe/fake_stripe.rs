//! For the adapter's unit tests: a fake Stripe on 127.0.0.1 that answers scripted answers and
//! records the requests, and the requests and answers the tests share.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use super::StripeGateway;
use crate::adapters::test_server::read_request;
pub(super) use crate::adapters::test_server::Received;
use crate::kernel::{Amount, Currency, Timestamp};
use crate::topups::gateway::ChargeRequest;

pub(super) const KEY: &str = "sk_test_0123456789secret";

/// A fake Stripe on 127.0.0.1: answers each request with the next scripted answer (status,
/// JSON body, delay before it), and records the requests.
pub(super) struct FakeStripe {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl FakeStripe {
    pub(super) async fn start(answers: Vec<(u16, String, Duration)>) -> FakeStripe {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(VecDeque::from(answers)));
        let r = received.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (r, answers) = (r.clone(), answers.clone());
                tokio::spawn(async move { serve(stream, &r, &answers).await });
            }
        });
        FakeStripe { port, received }
    }

    pub(super) fn gateway(&self) -> StripeGateway {
        StripeGateway::new(&format!("http://127.0.0.1:{}/", self.port), KEY).unwrap()
    }

    pub(super) fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn serve(
    mut stream: TcpStream,
    received: &Mutex<Vec<Received>>,
    answers: &Mutex<VecDeque<(u16, String, Duration)>>,
) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    received.lock().unwrap().push(request);
    let (status, json, delay) = answers.lock().unwrap().pop_front().unwrap_or((
        500,
        r#"{"error":{"type":"api_error","message":"no scripted answer"}}"#.to_string(),
        Duration::ZERO,
    ));
    tokio::time::sleep(delay).await;
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{json}",
        json.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

pub(super) fn now(answer: (u16, &str)) -> (u16, String, Duration) {
    (answer.0, answer.1.to_string(), Duration::ZERO)
}

pub(super) const EMPTY_LIST: (u16, &str) = (200, r#"{"object":"list","data":[],"has_more":false}"#);

pub(super) fn intent(id: &str, status: &str, attempt: &str) -> String {
    serde_json::json!({
        "id": id, "object": "payment_intent", "amount": 2500, "currency": "usd",
        "customer": "cus_A", "status": status, "created": 1_900_000_000,
        "metadata": {"topup_attempt": attempt, "wallet": "USD"},
        "latest_charge": "ch_1",
    })
    .to_string()
}

/// `GET /v1/payment_methods/pm_A?expand[0]=customer`'s answer: attached to `customer`,
/// whose metadata names `business` and `wallet_customer`.
pub(super) fn payment_method(
    customer: &str,
    business: &str,
    wallet_customer: &str,
) -> (u16, String) {
    let json = serde_json::json!({
        "id": "pm_A", "object": "payment_method", "type": "card",
        "customer": {"id": customer, "object": "customer",
                     "metadata": {"wallet_business_id": business, "wallet_customer_id": wallet_customer}},
    });
    (200, json.to_string())
}

pub(super) fn owned() -> (u16, String, Duration) {
    let (status, json) = payment_method("cus_A", "bus_1", "cus_wallet");
    (status, json, Duration::ZERO)
}

pub(super) fn request() -> ChargeRequest {
    ChargeRequest {
        amount: Amount::new(2500).unwrap(),
        currency: Currency::USD,
        gateway_customer_id: "cus_A".to_string(),
        payment_method_id: "pm_A".to_string(),
        business_id: "bus_1".to_string(),
        customer_id: "cus_wallet".to_string(),
        attempt_id: "att_1".to_string(),
        attempt_started_at: Timestamp::from_unix_ms(1_900_000_000_000),
        idempotency_key: "topup-att_1".to_string(),
        description: "Wallet auto top-up".to_string(),
        metadata: BTreeMap::from([
            ("wallet".to_string(), "USD".to_string()),
            ("topup_attempt".to_string(), "overridden".to_string()),
        ]),
    }
}
