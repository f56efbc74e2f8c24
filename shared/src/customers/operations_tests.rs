//! Customer operations on the memory store: tenancy, patches that never lose each other's
//! fields, listing.

use crate::adapters::memory::fixtures::{entry, hold, new_customer, World, T0};
use crate::customers::model::{CustomerPatch, CustomerQuery};
use crate::error::DomainError;
use crate::invoices::model::InvoiceCommand;
use crate::kernel::paging::PageRequest;
use crate::kernel::{Amount, Currency, InvoiceId};
use crate::ledger::model::EntryType;

#[tokio::test]
async fn another_business_s_customer_is_not_found_by_any_operation() {
    let w = World::new().await;
    let c = w.customer().await;
    w.credit(&c, 100).await;
    let other = &w.other_business().await;
    let s = &w.service;
    let not_found = |result: Result<(), DomainError>, what: &str| {
        assert!(
            matches!(&result, Err(DomainError::CustomerNotFound(id)) if *id == c.to_string()),
            "{what}: {result:?}"
        );
    };
    not_found(s.get_customer(other, &c).await.map(drop), "get");
    let patch = CustomerPatch {
        name: Some("Mallory".into()),
        ..Default::default()
    };
    not_found(
        s.update_customer(other, &c, patch).await.map(drop),
        "update",
    );
    not_found(s.list_wallets(other, &c).await.map(drop), "wallets");
    let debit = entry(EntryType::Debit, 1, None);
    not_found(s.create_entry(other, &c, debit).await.map(drop), "entry");
    let page = PageRequest {
        number: 0,
        size: 10,
    };
    not_found(
        s.list_entries(other, &c, None, page).await.map(drop),
        "entries",
    );
    not_found(
        s.create_hold(other, &c, hold(1, None)).await.map(drop),
        "hold",
    );
    let invoice = InvoiceCommand {
        invoice_id: InvoiceId::parse("inv_1").unwrap(),
        currency: Currency::USD,
        amount_due: Amount::new(1).unwrap(),
        charge_remainder: None,
    };
    not_found(s.pay_invoice(other, &c, invoice).await.map(drop), "invoice");
    let listed = s
        .list_customers(
            other,
            CustomerQuery {
                email: None,
                name_contains: None,
                created_from_ms: None,
                created_to_ms: None,
                page,
            },
        )
        .await
        .unwrap();
    assert!(listed.is_empty());
    assert_eq!(w.wallet(&c, Currency::USD).await.balance, 100);
    assert_eq!(s.get_customer(&w.tenant, &c).await.unwrap().name, "Ada");
}

#[tokio::test(start_paused = true)]
async fn concurrent_patches_of_different_fields_both_land() {
    let w = World::new().await;
    let c = w.customer().await;
    let (service, tenant, c2) = (w.service.clone(), w.tenant.clone(), c.clone());
    let rename = tokio::spawn(async move {
        let patch = CustomerPatch {
            name: Some("Ada King".into()),
            ..Default::default()
        };
        service.update_customer(&tenant, &c2, patch).await
    });
    let phone = CustomerPatch {
        phone_number: Some(Some("+44 20 7946 0000".into())),
        ..Default::default()
    };
    w.service
        .update_customer(&w.tenant, &c, phone)
        .await
        .unwrap();
    rename.await.unwrap().unwrap();
    assert!(w.store.commits().rejected > 0, "the patches raced");

    let customer = w.service.get_customer(&w.tenant, &c).await.unwrap();
    assert_eq!(customer.name, "Ada King");
    assert_eq!(customer.phone_number.as_deref(), Some("+44 20 7946 0000"));
    assert_eq!(customer.email, "ada@example.com", "untouched");
}

#[tokio::test]
async fn customers_list_newest_first_filtered_by_the_stored_fields() {
    let w = World::new().await;
    let mut created = Vec::new();
    for (email, name) in [
        ("ada@example.com", "Ada"),
        ("grace@example.com", "Grace"),
        ("Ada@Example.com", "Ada Two"),
    ] {
        created.push(w.customer_named(email, name).await);
        w.clock.advance(1);
    }
    assert_eq!(created[1].created_at.unix_ms, T0 + 1);
    let list = |email: Option<&str>, from: Option<u64>| {
        let query = CustomerQuery {
            email: email.map(str::to_owned),
            name_contains: None,
            created_from_ms: from,
            created_to_ms: None,
            page: PageRequest {
                number: 0,
                size: 10,
            },
        };
        let w = &w;
        async move {
            let found = w.service.list_customers(&w.tenant, query).await.unwrap();
            found.into_iter().map(|c| c.name).collect::<Vec<_>>()
        }
    };
    assert_eq!(list(None, None).await, ["Ada Two", "Grace", "Ada"]);
    assert_eq!(
        list(Some("ADA@example.com"), None).await,
        ["Ada Two", "Ada"]
    );
    assert_eq!(list(None, Some(T0 + 1)).await, ["Ada Two", "Grace"]);

    // A changed email is found under the new one only.
    let patch = CustomerPatch {
        email: Some("ada.king@example.com".into()),
        ..Default::default()
    };
    w.service
        .update_customer(&w.tenant, &created[0].customer_id, patch)
        .await
        .unwrap();
    assert_eq!(list(Some("ada@example.com"), None).await, ["Ada Two"]);
    assert_eq!(list(Some("ada.king@example.com"), None).await, ["Ada"]);
}

#[tokio::test]
async fn a_new_customer_has_an_empty_open_wallet_in_every_enabled_currency() {
    let w = World::new().await;
    let created = w
        .service
        .create_customer(&w.tenant, new_customer("a@b.co", "A"))
        .await
        .unwrap();
    assert_eq!(created.created_at.unix_ms, T0);
    let wallets = w
        .service
        .list_wallets(&w.tenant, &created.customer_id)
        .await
        .unwrap();
    let currencies: Vec<&str> = wallets.wallets.wallets.keys().map(|c| c.code()).collect();
    assert_eq!(currencies, ["INR", "USD"]);
    assert!(wallets
        .wallets
        .wallets
        .values()
        .all(|w| w.balance == 0 && w.pending_charges == 0));
    assert_eq!(wallets.total_balance_usd, 0);
}

/// A creation whose answer was lost and whose resend was refused (DynamoDB no longer knew its
/// token, or the resend met a conflict) had landed: it answers the customer it made, not a
/// second customer planned anew with another id (found in the issue 24 review).
#[tokio::test]
async fn a_creation_whose_answer_was_lost_makes_one_customer() {
    let w = World::new().await;
    w.store.forget_tokens();
    w.store.lose_next_answers(1);
    let made = w
        .service
        .create_customer(&w.tenant, new_customer("ada@example.com", "Ada"))
        .await
        .expect("the creation landed");
    let query = CustomerQuery {
        email: None,
        name_contains: None,
        created_from_ms: None,
        created_to_ms: None,
        page: PageRequest {
            number: 0,
            size: 10,
        },
    };
    let all = w.service.list_customers(&w.tenant, query).await.unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].customer_id, made.customer_id);
}
