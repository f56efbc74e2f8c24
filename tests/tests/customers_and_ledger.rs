//! The Dodo-compatible routes end to end: shapes, paging, filters, totals.

use integration_tests::{assert_chain, assert_error, item_strings, json, Harness, Reply, Route};
use lambda_http::http::StatusCode;

#[tokio::test]
async fn a_customer_is_created_with_zero_wallets_and_can_be_read_and_patched() {
    let h = Harness::new().await;
    let created = h
        .request(Route::CreateCustomer)
        .json(json!({"email": "Grace@Example.com", "name": "Grace", "phone_number": "+1 555 0100", "metadata": {"plan": "pro", "seats": 3}}))
        .send()
        .await;
    assert_eq!(created.status, StatusCode::OK);
    let id = created.body["customer_id"].as_str().unwrap();
    assert!(id.starts_with("cus_"));
    assert_eq!(created.body["business_id"], h.business_id);
    assert_eq!(created.body["metadata"], json!({"plan": "pro", "seats": 3}));
    assert_eq!(
        h.request(Route::GetCustomer).customer(id).send().await.body,
        created.body
    );

    let wallets = h.wallets(id).await;
    let currencies: Vec<_> = wallets["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["currency"].as_str().unwrap(),
                w["balance"].as_i64().unwrap(),
                w["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(currencies, [("INR", 0, "active"), ("USD", 0, "active")]);
    assert_eq!(wallets["total_balance_usd"], 0);

    let patched = h
        .request(Route::UpdateCustomer)
        .customer(id)
        .json(json!({"name": "Grace H.", "phone_number": null}))
        .send()
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(
        (
            patched.body["name"].as_str(),
            patched.body["phone_number"].is_null(),
            patched.body["email"].as_str()
        ),
        (Some("Grace H."), true, Some("Grace@Example.com"))
    );
    assert_eq!(
        h.request(Route::GetCustomer).customer(id).send().await.body,
        patched.body
    );
}

#[tokio::test]
async fn customers_list_newest_first_with_paging_and_an_email_filter() {
    let h = Harness::new().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let reply = h
            .request(Route::CreateCustomer)
            .json(json!({"email": format!("user{i}@example.com"), "name": format!("User {i}")}))
            .send()
            .await;
        ids.push(reply.body["customer_id"].as_str().unwrap().to_owned());
    }
    let mut listed: Vec<Vec<String>> = Vec::new();
    for n in ["0", "1", "2", "3"] {
        let reply = h
            .request(Route::ListCustomers)
            .query("page_number", n)
            .query("page_size", "2")
            .send()
            .await;
        listed.push(item_strings(&reply, "customer_id"));
    }
    ids.reverse();
    assert_eq!(
        listed,
        vec![
            ids[0..2].to_vec(),
            ids[2..4].to_vec(),
            ids[4..5].to_vec(),
            vec![]
        ]
    );
    let found = h
        .request(Route::ListCustomers)
        .query("email", "USER3@example.com")
        .send()
        .await;
    assert_eq!(item_strings(&found, "name"), ["User 3"]);
}

#[tokio::test]
async fn ledger_entries_page_newest_first_and_filter_by_currency() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    for amount in 1..=25 {
        let currency = if amount % 5 == 0 { "INR" } else { "USD" };
        let reply = h.entry(&customer, json!({"amount": amount, "currency": currency, "entry_type": "credit", "reason": format!("credit {amount}")})).await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let page = |query: Vec<(&'static str, &'static str)>| {
        let h = h.clone();
        let customer = customer.clone();
        async move {
            let reply = h
                .request(Route::ListLedgerEntries)
                .customer(&customer)
                .queries(&query)
                .send()
                .await;
            reply.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["amount"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        page(vec![]).await,
        (16..=25).rev().collect::<Vec<_>>(),
        "default page size is 10, newest first"
    );
    assert_eq!(
        page(vec![("page_number", "2"), ("page_size", "10")]).await,
        (1..=5).rev().collect::<Vec<_>>()
    );
    assert_eq!(page(vec![("page_number", "3")]).await, Vec::<i64>::new());
    assert_eq!(
        page(vec![("currency", "INR"), ("page_size", "2")]).await,
        [25, 20]
    );
    assert_eq!(
        page(vec![
            ("currency", "INR"),
            ("page_size", "2"),
            ("page_number", "2")
        ])
        .await,
        [5]
    );
    assert_eq!(
        page(vec![
            ("currency", "USD"),
            ("page_size", "3"),
            ("page_number", "1")
        ])
        .await,
        [21, 19, 18],
        "USD skips the multiples of 5"
    );

    let entries = h.all_entries(&customer, Some("USD")).await;
    assert_chain(&entries, h.balance(&customer, "USD").await);
    let newest = &entries[0];
    for field in [
        "id",
        "customer_id",
        "business_id",
        "currency",
        "amount",
        "is_credit",
        "before_balance",
        "after_balance",
        "event_type",
        "reason",
        "reference_object_id",
        "created_at",
    ] {
        assert!(
            newest.get(field).is_some(),
            "ledger entry has `{field}`: {newest}"
        );
    }
    assert_eq!(newest["event_type"], "merchant_adjustment");
}

#[tokio::test]
async fn a_ledger_entry_answers_with_the_wallet_after_it_and_totals_convert_to_usd() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    let credit = h.entry(&customer, json!({"amount": 1_000, "currency": "USD", "entry_type": "credit", "event_type": "refund", "reference_object_id": "pay_123"})).await;
    assert_eq!(credit.status, StatusCode::OK);
    assert_eq!(
        (
            credit.body["currency"].as_str(),
            credit.body["balance"].as_i64(),
            credit.body["available_balance"].as_i64()
        ),
        (Some("USD"), Some(1_000), Some(1_000))
    );
    let debit = h
        .entry(
            &customer,
            json!({"amount": 250, "currency": "USD", "entry_type": "debit"}),
        )
        .await;
    assert_eq!(debit.body["balance"], 750);
    h.entry(
        &customer,
        json!({"amount": 100_000, "currency": "INR", "entry_type": "credit"}),
    )
    .await;
    // 7.50 USD + 1,000.00 INR at 0.012 USD = 12.00 USD
    assert_eq!(h.wallets(&customer).await["total_balance_usd"], 750 + 1_200);
    let refund = &h.all_entries(&customer, Some("USD")).await[1];
    assert_eq!(
        (
            refund["event_type"].as_str(),
            refund["reference_object_id"].as_str()
        ),
        (Some("refund"), Some("pay_123"))
    );
}

#[tokio::test]
async fn a_deep_ledger_page_costs_the_same_reads_as_the_first() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    for _ in 0..60 {
        h.credit(&customer, 1).await;
    }
    let mut costs = Vec::new();
    for (page, currency) in [
        ("0", None),
        ("25", None),
        ("0", Some("USD")),
        ("29", Some("USD")),
    ] {
        let mut query = vec![("page_number", page), ("page_size", "2")];
        query.extend(currency.map(|c| ("currency", c)));
        // A use of the key just before: its read comes from the instance's cache.
        h.wallets(&customer).await;
        h.take_usage();
        let reply = h
            .request(Route::ListLedgerEntries)
            .customer(&customer)
            .queries(&query)
            .send()
            .await;
        assert_eq!(reply.body["items"].as_array().unwrap().len(), 2);
        let usage = h.take_usage();
        costs.push((usage.calls, usage.read_units));
    }
    assert!(
        costs.iter().all(|c| *c == costs[0]),
        "same calls and read units on every page: {costs:?}"
    );
    assert_eq!(costs[0].0, 2, "wallet read, one query (the key cached)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_of_different_fields_lose_neither() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (h, customer) = (h.clone(), customer.clone());
            let body = if i % 2 == 0 {
                json!({"name": format!("Name {i}")})
            } else {
                json!({"phone_number": format!("+1 555 01{i:02}")})
            };
            tokio::spawn(async move {
                h.request(Route::UpdateCustomer)
                    .customer(&customer)
                    .json(body)
                    .send()
                    .await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().status, StatusCode::OK);
    }
    let after = h
        .request(Route::GetCustomer)
        .customer(&customer)
        .send()
        .await
        .body;
    assert!(
        after["name"].as_str().unwrap().starts_with("Name "),
        "a name patch survived: {after}"
    );
    assert!(
        after["phone_number"]
            .as_str()
            .is_some_and(|p| p.starts_with("+1 555 01")),
        "a phone patch survived: {after}"
    );
}

#[tokio::test]
async fn customers_filter_by_name_part_and_creation_time_like_dodo() {
    let h = Harness::new().await;
    let mut created = Vec::new();
    for name in [
        "Ada Lovelace",
        "Grace Hopper",
        "Alan Turing",
        "Adele Goldberg",
    ] {
        let reply = h
            .request(Route::CreateCustomer)
            .json(json!({"email": "x@example.com", "name": name, "preferred_locale": "en"}))
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        created.push(reply.body.clone());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let names = |reply: Reply| item_strings(&reply, "name");
    assert_eq!(
        names(
            h.request(Route::ListCustomers)
                .query("name", "AD")
                .send()
                .await
        ),
        ["Adele Goldberg", "Ada Lovelace"]
    );
    assert_eq!(
        names(
            h.request(Route::ListCustomers)
                .query("name", "ad")
                .query("page_size", "1")
                .query("page_number", "1")
                .send()
                .await
        ),
        ["Ada Lovelace"]
    );

    let (second, third) = (
        created[1]["created_at"].as_str().unwrap(),
        created[2]["created_at"].as_str().unwrap(),
    );
    let between = h
        .request(Route::ListCustomers)
        .query("created_at_gte", second)
        .query("created_at_lte", third)
        .send()
        .await;
    assert_eq!(
        names(between),
        ["Alan Turing", "Grace Hopper"],
        "both bounds are inclusive"
    );
    let after = h
        .request(Route::ListCustomers)
        .query("created_at_gte", third)
        .query("email", "x@example.com")
        .send()
        .await;
    assert_eq!(
        names(after),
        ["Adele Goldberg", "Alan Turing"],
        "date range and email filter together"
    );
    let inverted = h
        .request(Route::ListCustomers)
        .query("created_at_gte", third)
        .query("created_at_lte", second)
        .send()
        .await;
    assert_eq!(names(inverted), Vec::<String>::new());
    let bad = h
        .request(Route::ListCustomers)
        .query("created_at_gte", "2024-01-01")
        .send()
        .await;
    assert_error(&bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid_timestamp");
}

#[tokio::test]
async fn preferred_locale_is_kept_changed_and_cleared() {
    let h = Harness::new().await;
    let created = h
        .request(Route::CreateCustomer)
        .json(json!({"email": "l@example.com", "name": "L", "preferred_locale": "ja"}))
        .send()
        .await;
    let id = created.body["customer_id"].as_str().unwrap();
    assert_eq!(created.body["preferred_locale"], "ja");
    let changed = h
        .request(Route::UpdateCustomer)
        .customer(id)
        .json(json!({"preferred_locale": "fr"}))
        .send()
        .await;
    assert_eq!(changed.body["preferred_locale"], "fr");
    let cleared = h
        .request(Route::UpdateCustomer)
        .customer(id)
        .json(json!({"preferred_locale": null}))
        .send()
        .await;
    assert!(cleared.body["preferred_locale"].is_null());
    let bad = h
        .request(Route::UpdateCustomer)
        .customer(id)
        .json(json!({"preferred_locale": "klingon"}))
        .send()
        .await;
    assert_error(&bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid_locale");
}

/// A ledger past [`LEDGER_CHUNK`] entries: the entries around the boundary live in two chunk
/// partitions, and a page across it is read with one query per chunk, whole and in order, for
/// the whole ledger and for one currency.
#[tokio::test]
async fn a_ledger_page_across_a_chunk_boundary_reads_both_chunks() {
    use shared::adapters::dynamo::keys::LEDGER_CHUNK;
    use shared::kernel::Currency;

    let h = Harness::new().await;
    let customer = h.customer().await;
    // The wallets as if 99,998 entries had been made (their items are not needed here).
    h.rewrite_wallets(&customer, |wallets| {
        wallets.entry_count = LEDGER_CHUNK - 2;
        wallets.wallets.get_mut(&Currency::USD).unwrap().entry_count = LEDGER_CHUNK - 2;
    })
    .await;
    for amount in 1..=4 {
        h.credit(&customer, amount).await;
    }
    for currency in [None, Some("USD")] {
        let mut query = vec![("page_number", "0"), ("page_size", "4")];
        query.extend(currency.map(|c| ("currency", c)));
        h.wallets(&customer).await; // the key in the instance's cache
        h.take_usage();
        let reply = h
            .request(Route::ListLedgerEntries)
            .customer(&customer)
            .queries(&query)
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let usage = h.take_usage();
        let entries = reply.body["items"].as_array().unwrap();
        let amounts: Vec<i64> = entries
            .iter()
            .map(|e| e["amount"].as_i64().unwrap())
            .collect();
        assert_eq!(amounts, [4, 3, 2, 1], "newest first, across the boundary");
        assert_chain(entries, 10);
        assert_eq!(
            usage.calls, 3,
            "wallet read and one query per chunk ({currency:?})"
        );
    }
}
