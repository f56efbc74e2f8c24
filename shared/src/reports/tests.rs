use crate::adapters::memory::fixtures::{entry, hold, World, T0};
use crate::closing::model::CloseCommand;
use crate::holds::model::CaptureCommand;
use crate::kernel::{Currency, CustomerId};
use crate::ledger::model::{CustomerWallets, EntryType, EventType};
use crate::ports::WalletStore;
use crate::reports::model::LiabilityDay;
use crate::reports::rules::parse_day;

const DAY_MS: u64 = 86_400_000;

/// The stream's wallet-set records of the changes so far: (old image, new image).
type Records = Vec<(Option<CustomerWallets>, CustomerWallets)>;

async fn snapshot(world: &World, customer: &CustomerId) -> Option<CustomerWallets> {
    world
        .store
        .get_wallets(&world.tenant.business_id, customer)
        .await
        .expect("wallets")
}

/// Runs `change` and records its wallet-set record, as the stream would show it.
async fn recorded<F: std::future::Future<Output = ()>>(
    world: &World,
    records: &mut Records,
    customer: &CustomerId,
    change: F,
) {
    let old = snapshot(world, customer).await;
    change.await;
    let new = snapshot(world, customer)
        .await
        .expect("the customer's wallets");
    records.push((old, new));
}

async fn apply(world: &World, records: &[(Option<CustomerWallets>, CustomerWallets)]) -> usize {
    let mut added = 0;
    for (old, new) in records {
        let business = &world.tenant.business_id;
        if world
            .service
            .record_totals(business, old.as_ref(), new)
            .await
            .expect("totals recorded")
        {
            added += 1;
        }
    }
    added
}

async fn report(world: &World, from: &str, to: &str) -> Vec<LiabilityDay> {
    let (from, to) = (
        parse_day("from", from).unwrap(),
        parse_day("to", to).unwrap(),
    );
    world
        .service
        .liability_report(&world.tenant, Currency::USD, from, to)
        .await
        .expect("report")
}

/// Two days of changes of two customers (a credit, a debit, a hold captured, a wallet closed)
/// and their wallet-set records.
async fn two_days(world: &World) -> (Records, [CustomerId; 2]) {
    let (ada, bob) = (
        world.customer().await,
        world
            .customer_named("bob@example.com", "Bob")
            .await
            .customer_id,
    );
    let mut records = Records::new();
    // The wallet sets as they were created (the stream's INSERT records).
    for customer in [&ada, &bob] {
        records.push((None, snapshot(world, customer).await.unwrap()));
    }
    recorded(world, &mut records, &ada, world.credit(&ada, 1_000)).await;
    recorded(world, &mut records, &bob, world.credit(&bob, 500)).await;
    let debit = async {
        let command = entry(EntryType::Debit, 300, None);
        world
            .service
            .create_entry(&world.tenant, &ada, command)
            .await
            .expect("debit");
    };
    recorded(world, &mut records, &ada, debit).await;
    world.clock.advance(DAY_MS);
    let mut held = None;
    let create = async {
        held = Some(
            world
                .service
                .create_hold(&world.tenant, &ada, hold(200, None))
                .await
                .expect("hold"),
        );
    };
    recorded(world, &mut records, &ada, create).await;
    let held = held.unwrap();
    let capture = async {
        let command = CaptureCommand {
            amount: Some(crate::adapters::memory::fixtures::amount(150)),
            reason: None,
        };
        world
            .service
            .capture_hold(&world.tenant, &ada, &held.id, command)
            .await
            .expect("capture");
    };
    recorded(world, &mut records, &ada, capture).await;
    let close = async {
        let command = CloseCommand {
            currency: Currency::USD,
            reason: "leaving".into(),
            reference_object_id: None,
        };
        world
            .service
            .close_wallet(&world.tenant, &bob, command)
            .await
            .expect("close");
    };
    recorded(world, &mut records, &bob, close).await;
    (records, [ada, bob])
}

#[tokio::test]
async fn day_totals_close_at_the_sum_of_the_balances_and_count_each_change_once() {
    let world = World::new().await;
    let (records, [ada, bob]) = two_days(&world).await;
    // Every change but the hold's creation (it moves no balance: nothing to add).
    assert_eq!(apply(&world, &records).await, records.len() - 1);
    // Lambda gives a batch again from mid-way (a partial-batch failure), then all of it.
    assert_eq!(
        apply(&world, &records[4..]).await,
        0,
        "given again: nothing added"
    );
    assert_eq!(apply(&world, &records).await, 0);
    let balances = world.wallet(&ada, Currency::USD).await.balance
        + world.wallet(&bob, Currency::USD).await.balance;
    assert_eq!(balances, 1_000 - 300 - 150);
    let days = report(&world, "2027-01-14", "2027-01-17").await;
    let day0 = crate::reports::rules::day_of(crate::kernel::Timestamp::from_unix_ms(T0));
    assert_eq!(day0, "2027-01-15");
    let closing: Vec<(&str, i64, i64)> = days
        .iter()
        .map(|d| (d.day.as_str(), d.closing_balance, d.wallets))
        .collect();
    assert_eq!(
        closing,
        [
            ("2027-01-14", 0, 0),
            ("2027-01-15", 1_200, 2),
            ("2027-01-16", balances, 1),
            ("2027-01-17", balances, 1)
        ]
    );
    assert_eq!((days[1].credits, days[1].debits), (1_500, 300));
    // The capture (a payment) and the payout of the closed wallet (500).
    assert_eq!(days[2].debits_by_event_type[&EventType::Payment], 150);
    assert_eq!(days[2].debits, 650);
}

#[tokio::test]
async fn a_record_older_than_the_last_added_is_skipped_even_alone() {
    let world = World::new().await;
    let (records, _) = two_days(&world).await;
    apply(&world, &records).await;
    // An earlier record of the customer alone (a retry that starts before what was added).
    assert_eq!(apply(&world, &records[2..3]).await, 0);
    let days = report(&world, "2027-01-15", "2027-01-15").await;
    assert_eq!(days[0].closing_balance, 1_200);
}

#[tokio::test]
async fn a_period_backwards_or_longer_than_a_year_is_refused() {
    let world = World::new().await;
    let (from, to) = (
        parse_day("from", "2027-02-01").unwrap(),
        parse_day("to", "2027-01-01").unwrap(),
    );
    assert!(world
        .service
        .liability_report(&world.tenant, Currency::USD, from, to)
        .await
        .is_err());
    let (from, to) = (
        parse_day("from", "2026-01-01").unwrap(),
        parse_day("to", "2027-01-02").unwrap(),
    );
    assert!(world
        .service
        .liability_report(&world.tenant, Currency::USD, from, to)
        .await
        .is_err());
    assert!(parse_day("from", "2027-13-01").is_err());
}

#[tokio::test]
async fn a_batch_of_several_customers_added_at_once_twice_counts_each_change_once() {
    let world = World::new().await;
    let (records, [ada, bob]) = two_days(&world).await;
    let business = &world.tenant.business_id;
    let changes = || {
        records
            .iter()
            .enumerate()
            .map(|(at, (old, new))| (at, business.clone(), old.clone(), new.clone()))
            .collect::<Vec<_>>()
    };
    world.service.record_batch_totals(changes()).await.unwrap();
    world
        .service
        .record_batch_totals(changes()[3..].to_vec())
        .await
        .unwrap();
    world.service.record_batch_totals(changes()).await.unwrap();
    let balances = world.wallet(&ada, Currency::USD).await.balance
        + world.wallet(&bob, Currency::USD).await.balance;
    let days = report(&world, "2027-01-15", "2027-01-16").await;
    assert_eq!(
        (days[0].closing_balance, days[1].closing_balance),
        (1_200, balances)
    );
    assert_eq!((days[0].credits, days[0].debits), (1_500, 300));
}
