//! Invoice operations on the memory store: an invoice is paid once, reversals never give back
//! more than was applied, even when they race.

use crate::adapters::memory::fixtures::{amount, key, World};
use crate::error::{DomainError, Original};
use crate::invoices::model::{InvoiceCommand, PaymentAndWallet, ReversalCommand};
use crate::kernel::{Currency, CustomerId, InvoiceId};
use crate::ledger::model::EventType;

fn invoice(id: &str, due: i64) -> InvoiceCommand {
    InvoiceCommand {
        invoice_id: InvoiceId::parse(id).unwrap(),
        currency: Currency::USD,
        amount_due: amount(due),
        charge_remainder: None,
    }
}

fn reversal(minor: i64, idempotency_key: Option<&str>) -> ReversalCommand {
    ReversalCommand {
        amount: amount(minor),
        reason: None,
        idempotency_key: idempotency_key.and_then(key),
    }
}

async fn reverse(
    w: &World,
    c: &CustomerId,
    id: &str,
    command: ReversalCommand,
) -> Result<PaymentAndWallet, DomainError> {
    let invoice_id = InvoiceId::parse(id).unwrap();
    w.service
        .reverse_invoice_payment(&w.tenant, c, &invoice_id, command)
        .await
}

#[tokio::test]
async fn paying_an_invoice_twice_answers_with_the_original_payment() {
    let w = World::new().await;
    let c = w.customer().await;
    w.credit(&c, 100).await;
    let paid = w
        .service
        .pay_invoice(&w.tenant, &c, invoice("inv_1", 70))
        .await
        .unwrap();
    assert_eq!((paid.payment.applied, paid.wallet.wallet.balance), (70, 30));
    let again = w
        .service
        .pay_invoice(&w.tenant, &c, invoice("inv_1", 20))
        .await;
    match again {
        Err(DomainError::InvoiceAlreadyPaid { original }) => assert_eq!(*original, paid.payment),
        other => panic!("{other:?}"),
    }
    assert_eq!(w.wallet(&c, Currency::USD).await.balance, 30);
    assert_eq!(w.ledger(&c).await.len(), 2, "the credit and one payment");
}

#[tokio::test(start_paused = true)]
async fn an_invoice_paid_twice_at_once_is_paid_once() {
    let w = World::new().await;
    let c = w.customer().await;
    w.credit(&c, 100).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..3 {
        let (service, tenant, c) = (w.service.clone(), w.tenant.clone(), c.clone());
        tasks.spawn(async move { service.pay_invoice(&tenant, &c, invoice("inv_1", 70)).await });
    }
    let mut paid = Vec::new();
    let mut repeats = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.unwrap() {
            Ok(payment) => paid.push(payment.payment),
            Err(DomainError::InvoiceAlreadyPaid { original }) => repeats.push(*original),
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(paid.len(), 1);
    assert!(repeats.iter().all(|r| *r == paid[0]));
    assert_eq!(w.wallet(&c, Currency::USD).await.balance, 30);
    assert!(w.store.commits().rejected > 0, "the payments raced");
}

#[tokio::test]
async fn nothing_available_records_the_payment_without_an_entry() {
    let w = World::new().await;
    let c = w.customer().await;
    let paid = w
        .service
        .pay_invoice(&w.tenant, &c, invoice("inv_1", 70))
        .await
        .unwrap();
    assert_eq!((paid.payment.applied, paid.payment.remaining), (0, 70));
    assert_eq!(paid.payment.ledger_entry_id, None);
    assert!(w.ledger(&c).await.is_empty());
    let read = w
        .service
        .get_invoice_payment(&w.tenant, &c, &InvoiceId::parse("inv_1").unwrap())
        .await
        .unwrap();
    assert_eq!(read.payment, paid.payment);
}

#[tokio::test]
async fn reversals_are_capped_at_what_was_applied() {
    let w = World::new().await;
    let c = w.customer().await;
    w.credit(&c, 100).await;
    w.service
        .pay_invoice(&w.tenant, &c, invoice("inv_1", 80))
        .await
        .unwrap();
    let first = reverse(&w, &c, "inv_1", reversal(50, None)).await.unwrap();
    assert_eq!(
        (first.payment.reversed, first.wallet.wallet.balance),
        (50, 70)
    );
    let credit = w.ledger(&c).await.pop().unwrap();
    assert_eq!(
        (credit.is_credit, credit.amount, credit.event_type),
        (true, 50, EventType::PaymentReversal)
    );

    let over = reverse(&w, &c, "inv_1", reversal(31, None)).await;
    assert!(
        matches!(
            over,
            Err(DomainError::ReversalExceedsApplied {
                applied: 80,
                reversed: 50,
                requested: 31,
                ..
            })
        ),
        "{over:?}"
    );
    let rest = reverse(&w, &c, "inv_1", reversal(30, None)).await.unwrap();
    assert_eq!(
        (rest.payment.reversed, rest.wallet.wallet.balance),
        (80, 100)
    );
    let more = reverse(&w, &c, "inv_1", reversal(1, None)).await;
    assert!(matches!(
        more,
        Err(DomainError::ReversalExceedsApplied { .. })
    ));
    let unknown = reverse(&w, &c, "inv_2", reversal(1, None)).await;
    assert!(matches!(
        unknown,
        Err(DomainError::InvoicePaymentNotFound(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn reversals_racing_each_other_never_give_back_more_than_was_applied() {
    let w = World::new().await;
    let c = w.customer().await;
    w.credit(&c, 100).await;
    w.service
        .pay_invoice(&w.tenant, &c, invoice("inv_1", 80))
        .await
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (service, tenant, c) = (w.service.clone(), w.tenant.clone(), c.clone());
        tasks.spawn(async move {
            let invoice_id = InvoiceId::parse("inv_1").unwrap();
            service
                .reverse_invoice_payment(&tenant, &c, &invoice_id, reversal(30, None))
                .await
        });
    }
    let mut reversed = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.unwrap() {
            Ok(_) => reversed += 30,
            Err(DomainError::ReversalExceedsApplied { .. }) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(reversed, 60);
    assert!(w.store.commits().rejected > 0, "the reversals raced");
    let read = w
        .service
        .get_invoice_payment(&w.tenant, &c, &InvoiceId::parse("inv_1").unwrap())
        .await
        .unwrap();
    assert_eq!(
        (read.payment.reversed, read.wallet.wallet.balance),
        (60, 80)
    );
}

#[tokio::test]
async fn a_repeated_reversal_key_answers_with_the_original_credit() {
    let w = World::new().await;
    let c = w.customer().await;
    w.credit(&c, 100).await;
    w.service
        .pay_invoice(&w.tenant, &c, invoice("inv_1", 80))
        .await
        .unwrap();
    reverse(&w, &c, "inv_1", reversal(10, Some("r")))
        .await
        .unwrap();
    let credit = w.ledger(&c).await.pop().unwrap();
    // Even a repeat that could no longer apply answers with the original.
    let again = reverse(&w, &c, "inv_1", reversal(75, Some("r"))).await;
    match again {
        Err(DomainError::IdempotencyKeyReused { original, .. }) => {
            assert_eq!(*original, Original::Entry(credit));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(w.wallet(&c, Currency::USD).await.balance, 30);
}

/// Two payments of one invoice that apply nothing (an empty wallet), planned in the same
/// millisecond by the same key, are equal record for record. The one whose first send failed and
/// whose resend was refused (the other had landed) must not take the other's payment for its own:
/// its change names itself with a receipt. The simulation met it (both answered 200).
#[tokio::test]
async fn a_payment_that_applied_nothing_is_not_taken_for_an_equal_one_that_landed() {
    use crate::change::model::{Change, Write};
    use crate::ports::{InvoiceStore, WalletStore};
    let w = World::new().await;
    let c = w.customer().await;
    let paid = w
        .service
        .pay_invoice(&w.tenant, &c, invoice("inv_0", 500))
        .await
        .unwrap();
    assert_eq!(paid.payment.applied, 0);
    let stored = w
        .store
        .get_invoice_payment(
            &w.tenant.business_id,
            &c,
            &InvoiceId::parse("inv_0").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    let mut wallets = w
        .store
        .get_wallets(&w.tenant.business_id, &c)
        .await
        .unwrap()
        .unwrap();
    wallets.version += 1;
    // The other request's change, as `change()` would build it: equal writes, its own token.
    let token = crate::kernel::ids::change_token(0);
    let mut writes = vec![Write::Wallets(wallets), Write::NewInvoicePayment(stored)];
    writes.extend(crate::change::receipt_for_tests(&writes, &token));
    let other = Change {
        business_id: w.tenant.business_id.clone(),
        writes,
        token,
    };
    assert!(
        !w.service.landed(&other).await.unwrap(),
        "another request's equal payment is not this one's"
    );
}
