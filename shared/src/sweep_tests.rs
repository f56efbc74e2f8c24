//! The sweep on the memory store: one failing item never stops a run, and one business's
//! backlog never delays another's due work by more than one run.

use std::time::Duration;

use crate::access::model::Tenant;
use crate::adapters::memory::fixtures::{entry, hold, new_customer, World, T0};
use crate::holds::model::{Hold, HoldStatus};
use crate::kernel::{BusinessId, Currency, CustomerId, EndpointId, EventId, Timestamp};
use crate::ledger::model::EntryType;
use crate::ports::WebhookStore;
use crate::sweep::fair_share;
use crate::topups::gateway::{
    ChargeLookup, ChargeOutcome, ChargeRequest, FoundCharge, PaymentGateway,
};
use crate::topups::model::{AutoTopUp, PaymentMethod, TopUpAmount};
use crate::topups::operations::SettingsPatch;
use crate::webhooks::model::{
    AttemptResult, Delivery, DeliveryStatus, Endpoint, EventType, Outbound, WebhookSender,
};
use crate::webhooks::operations::ATTEMPTS_IN_FLIGHT;

/// A gateway whose every charge succeeds at once.
struct Approves;

impl PaymentGateway for Approves {
    async fn charge(&self, request: &ChargeRequest) -> ChargeOutcome {
        ChargeOutcome::Succeeded {
            payment_intent_id: format!("pi_{}", request.attempt_id),
        }
    }

    async fn find(&self, _: &ChargeLookup) -> Result<Option<FoundCharge>, String> {
        Ok(None)
    }
    crate::charge_only_gateway!();
}

async fn customer_of(w: &World, tenant: &Tenant, balance: i64) -> CustomerId {
    let customer = w
        .service
        .create_customer(tenant, new_customer("ada@example.com", "Ada"))
        .await
        .expect("customer")
        .customer_id;
    let credit = entry(EntryType::Credit, balance, None);
    w.service
        .create_entry(tenant, &customer, credit)
        .await
        .expect("credit");
    customer
}

/// Auto top-up of 500 at a threshold of 100: due at once for a balance at or below it.
async fn enable_top_up(w: &World, customer: &CustomerId) {
    enable_top_up_of(w, &w.tenant, customer).await;
}

async fn enable_top_up_of(w: &World, tenant: &Tenant, customer: &CustomerId) {
    let auto = AutoTopUp {
        enabled: true,
        threshold: 100,
        amount: TopUpAmount::Fixed(500),
        payment_method: PaymentMethod {
            gateway_customer_id: "cus_1".into(),
            payment_method_id: "pm_1".into(),
        },
        max_per_day: 5,
        max_amount_per_day: 10_000,
        paused_reason: None,
    };
    let patch = SettingsPatch {
        low_balance_threshold: None,
        auto_top_up: Some(Some(auto)),
    };
    w.service
        .update_settings(tenant, customer, Currency::USD, &patch)
        .await
        .expect("settings");
}

async fn hold_until(w: &World, tenant: &Tenant, customer: &CustomerId, at_ms: u64) -> Hold {
    let mut command = hold(10, None);
    command.expires_at = Some(Timestamp::from_unix_ms(at_ms));
    w.service
        .create_hold(tenant, customer, command)
        .await
        .expect("hold")
}

async fn status_of(w: &World, tenant: &Tenant, customer: &CustomerId, held: &Hold) -> HoldStatus {
    w.service
        .get_hold(tenant, customer, &held.id)
        .await
        .expect("hold")
        .status
}

async fn balance_of(w: &World, customer: &CustomerId) -> i64 {
    w.wallet(customer, Currency::USD).await.balance
}

/// One customer's wallets and holds cannot be read: its top-up and its hold fail, and the run
/// still tops up and expires the other customer's, answers success, and counts the failures.
#[tokio::test]
async fn one_failing_wallet_or_hold_does_not_stop_the_rest_of_the_run() {
    let w = World::new().await;
    let (broken, fine) = (
        customer_of(&w, &w.tenant, 50).await,
        customer_of(&w, &w.tenant, 50).await,
    );
    let mut holds = Vec::new();
    for (customer, at) in [(&broken, T0 + 60_000), (&fine, T0 + 120_000)] {
        enable_top_up(&w, customer).await;
        holds.push(hold_until(&w, &w.tenant, customer, at).await);
    }
    w.store.break_customer(&w.tenant.business_id, &broken);
    w.clock.advance(600_000);

    let report = w
        .service
        .sweep_top_ups_and_holds(
            Some(&Approves),
            w.service.now(),
            10,
            Duration::from_secs(60),
        )
        .await
        .expect("a failing item does not fail the run");
    assert_eq!(report.top_ups_credited, 1, "{report:?}");
    assert_eq!(report.holds_expired, 1, "{report:?}");
    assert_eq!(
        report.failed, 2,
        "the broken customer's top-up and hold: {report:?}"
    );
    assert!(!report.stopped_early);
    assert_eq!(balance_of(&w, &fine).await, 550);
    assert_eq!(
        status_of(&w, &w.tenant, &fine, &holds[1]).await,
        HoldStatus::Expired
    );
}

/// Business A has a backlog of 150 holds due before business B's one, more than a run of 10
/// reads (100): the run expires B's hold (and A's share is what is left).
#[tokio::test]
async fn one_business_backlog_does_not_delay_another_business_due_hold_by_more_than_one_run() {
    let w = World::new().await;
    let other = w.other_business().await;
    let a = customer_of(&w, &w.tenant, 10_000).await;
    for _ in 0..150 {
        hold_until(&w, &w.tenant, &a, T0 + 60_000).await;
    }
    let b = customer_of(&w, &other, 100).await;
    let bs = hold_until(&w, &other, &b, T0 + 120_000).await;
    w.clock.advance(600_000);

    let expired = w.service.expire_holds(w.service.now(), 10).await.unwrap();
    assert_eq!(expired, 10);
    assert_eq!(status_of(&w, &other, &b, &bs).await, HoldStatus::Expired);
    assert_eq!(w.holds(&a, Some(HoldStatus::Pending)).await.len(), 100);
}

/// Every store call takes up to a second; 40 holds are due and the run has 5 s: it stops
/// starting work at the budget (what it started finishes), reports that it stopped early, and
/// leaves the rest pending for the next run.
#[tokio::test(start_paused = true)]
async fn a_run_stops_taking_work_when_its_time_budget_runs_out() {
    use crate::adapters::faulty::{Faults, FaultyStore};
    let w = World::new().await;
    let a = customer_of(&w, &w.tenant, 10_000).await;
    for _ in 0..40 {
        hold_until(&w, &w.tenant, &a, T0 + 60_000).await;
    }
    w.clock.advance(600_000);
    let faults = Faults {
        latency: 1.0,
        latency_max: Duration::from_secs(1),
        ..Faults::NONE
    };
    let slow = crate::Service::new(
        FaultyStore::new(w.store.clone(), 13, faults),
        w.clock.clone(),
        w.service.config().clone(),
    );
    let budget = Duration::from_secs(5);
    let started = tokio::time::Instant::now();
    let report = slow
        .sweep_top_ups_and_holds(None::<&Approves>, w.service.now(), 100, budget)
        .await
        .unwrap();
    let took = started.elapsed();
    // One hold's expiry takes a few store calls of at most a second each.
    assert!(took < budget + Duration::from_secs(8), "{took:?}");
    assert!(report.stopped_early, "{report:?}");
    let pending = w.holds(&a, Some(HoldStatus::Pending)).await.len();
    assert!(pending > 0 && pending < 40, "{pending} pending");
    assert_eq!(40 - pending, report.holds_expired);
}

#[test]
fn a_run_is_shared_between_businesses_in_turn() {
    let (a, b, c) = (
        BusinessId::generate(),
        BusinessId::generate(),
        BusinessId::generate(),
    );
    let found: Vec<(BusinessId, u32)> = (0..8)
        .map(|i| (a.clone(), i))
        .chain([(b.clone(), 0), (c.clone(), 0), (c.clone(), 1)])
        .collect();
    let taken = fair_share(found.clone(), |(business, _)| business, 6);
    let expected = [(&a, 0), (&b, 0), (&c, 0), (&a, 1), (&c, 1), (&a, 2)];
    let taken: Vec<(&BusinessId, u32)> = taken.iter().map(|(b, i)| (b, *i)).collect();
    assert_eq!(taken, expected);
    // With room for every item, every item is taken.
    assert_eq!(fair_share(found, |(business, _)| business, 20).len(), 11);
}

/// Answers every webhook with 200 after `takes` (paused time in the tests).
struct Receives {
    takes: Duration,
}

impl WebhookSender for Receives {
    async fn send(&self, _: &Outbound) -> AttemptResult {
        tokio::time::sleep(self.takes).await;
        AttemptResult {
            status_code: Some(200),
            duration_ms: self.takes.as_millis() as u64,
            error: None,
            response: String::new(),
        }
    }
}

async fn endpoint_of(w: &World, tenant: &Tenant) -> Endpoint {
    let endpoint = Endpoint {
        id: EndpointId::generate(),
        business_id: tenant.business_id.clone(),
        url: "https://example.com/hook".into(),
        description: String::new(),
        disabled: false,
        filter_types: Vec::new(),
        headers: Default::default(),
        metadata: Default::default(),
        rate_limit: None,
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        version: 1,
        created_at: w.service.now(),
        updated_at: w.service.now(),
        created_by: None,
        updated_by: None,
    };
    assert!(w.store.insert_endpoint(&endpoint, 0).await.unwrap());
    endpoint
}

/// `count` deliveries to `endpoint` whose first attempt is due now.
async fn due_deliveries(w: &World, endpoint: &Endpoint, count: usize) -> Vec<EventId> {
    let mut ids = Vec::new();
    for _ in 0..count {
        let delivery = Delivery {
            id: EventId::generate(),
            endpoint_id: endpoint.id.clone(),
            business_id: endpoint.business_id.clone(),
            event_type: EventType::ToppedUp,
            payload: "{}".into(),
            status: DeliveryStatus::Pending,
            attempt_count: 0,
            next_attempt_at: Some(w.service.now()),
            lease_until: None,
            created_at: w.service.now(),
            updated_at: w.service.now(),
        };
        assert!(w.store.insert_delivery(&delivery).await.unwrap());
        ids.push(delivery.id);
    }
    ids
}

async fn delivery_status(w: &World, endpoint: &Endpoint, id: &EventId) -> DeliveryStatus {
    let (delivery, _) = w
        .store
        .get_delivery(&endpoint.business_id, &endpoint.id, id)
        .await
        .unwrap()
        .expect("delivery");
    delivery.status
}

/// One endpoint's deliveries cannot be read: the other endpoint's due deliveries are still
/// attempted in the same run, which succeeds and counts the failures.
#[tokio::test]
async fn one_failing_delivery_does_not_stop_the_other_retries_of_the_run() {
    let w = World::new().await;
    let (broken, fine) = (
        endpoint_of(&w, &w.tenant).await,
        endpoint_of(&w, &w.tenant).await,
    );
    let broken_ids = due_deliveries(&w, &broken, 3).await;
    let fine_ids = due_deliveries(&w, &fine, 3).await;
    w.store.break_endpoint(&broken.business_id, &broken.id);
    let sender = Receives {
        takes: Duration::ZERO,
    };
    let far = tokio::time::Instant::now() + Duration::from_secs(600);
    let (report, step) = w
        .service
        .retry_deliveries_within(&sender, w.service.now(), 100, far)
        .await
        .expect("a failing delivery does not fail the run");
    assert_eq!((report.deliveries, report.succeeded), (3, 3), "{report:?}");
    assert_eq!(step.errors.len(), broken_ids.len(), "{step:?}");
    for id in &fine_ids {
        assert_eq!(
            delivery_status(&w, &fine, id).await,
            DeliveryStatus::Succeeded
        );
    }
}

/// Every webhook takes 10 s (the sender's timeout) and 100 are due: with 15 s left the run
/// attempts them in waves of [`ATTEMPTS_IN_FLIGHT`], starts no wave after the budget, and
/// leaves the rest unclaimed (due at once for the next run), instead of taking 40 s.
#[tokio::test(start_paused = true)]
async fn webhook_retries_start_no_wave_after_the_budget() {
    let w = World::new().await;
    let endpoint = endpoint_of(&w, &w.tenant).await;
    let ids = due_deliveries(&w, &endpoint, 100).await;
    let sender = Receives {
        takes: Duration::from_secs(10),
    };
    let budget = Duration::from_secs(15);
    let started = tokio::time::Instant::now();
    let (report, step) = w
        .service
        .retry_deliveries_within(&sender, w.service.now(), 100, started + budget)
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(took <= budget + Duration::from_secs(10), "{took:?}");
    assert!(step.stopped_early, "{step:?}");
    assert_eq!(report.succeeded, 2 * ATTEMPTS_IN_FLIGHT, "{report:?}");
    let mut left = 0;
    for id in &ids {
        let (delivery, _) = w
            .store
            .get_delivery(&endpoint.business_id, &endpoint.id, id)
            .await
            .unwrap()
            .unwrap();
        if delivery.status == DeliveryStatus::Pending {
            assert_eq!(delivery.lease_until, None, "left unclaimed");
            left += 1;
        }
    }
    assert_eq!(left, 100 - 2 * ATTEMPTS_IN_FLIGHT);
}

/// A gateway whose every charge succeeds after `takes` (a slow Stripe; paused time).
struct SlowlyApproves {
    takes: Duration,
}

impl PaymentGateway for SlowlyApproves {
    async fn charge(&self, request: &ChargeRequest) -> ChargeOutcome {
        tokio::time::sleep(self.takes).await;
        Approves.charge(request).await
    }

    async fn find(&self, _: &ChargeLookup) -> Result<Option<FoundCharge>, String> {
        Ok(None)
    }
    crate::charge_only_gateway!();
}

/// Five top-ups are due and each charge takes 10 s (Stripe's timeout): a run with 25 s starts
/// three (at 0, 10 and 20 s) and leaves two for the next run, instead of running to 50 s.
#[tokio::test(start_paused = true)]
async fn top_ups_start_no_charge_after_the_budget() {
    let w = World::new().await;
    let mut customers = Vec::new();
    for _ in 0..5 {
        let customer = customer_of(&w, &w.tenant, 50).await;
        enable_top_up(&w, &customer).await;
        customers.push(customer);
    }
    let gateway = SlowlyApproves {
        takes: Duration::from_secs(10),
    };
    let budget = Duration::from_secs(25);
    let started = tokio::time::Instant::now();
    let report = w
        .service
        .sweep_top_ups_and_holds(Some(&gateway), w.service.now(), 10, budget)
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(took <= budget + Duration::from_secs(10), "{took:?}");
    assert_eq!(report.top_ups_credited, 3, "{report:?}");
    assert!(report.stopped_early, "{report:?}");
    let mut topped_up = 0;
    for customer in &customers {
        topped_up += usize::from(balance_of(&w, customer).await == 550);
    }
    assert_eq!(topped_up, 3);
}

/// Business A has 30 wallets due for a top-up, business B one; a run takes 5: B's is one of
/// them.
#[tokio::test]
async fn one_business_backlog_does_not_delay_another_business_top_up_by_more_than_one_run() {
    let w = World::new().await;
    for _ in 0..30 {
        let customer = customer_of(&w, &w.tenant, 50).await;
        enable_top_up(&w, &customer).await;
    }
    let other = w.other_business().await;
    let b = customer_of(&w, &other, 50).await;
    enable_top_up_of(&w, &other, &b).await;
    let report = w
        .service
        .sweep_top_ups_and_holds(Some(&Approves), w.service.now(), 5, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(report.top_ups_credited, 5, "{report:?}");
    let b_wallet = w
        .service
        .list_wallets(&other, &b)
        .await
        .unwrap()
        .wallets
        .wallets[&Currency::USD]
        .clone();
    assert_eq!(b_wallet.balance, 550);
}
