//! Auth and tenancy: no key or a wrong key is 401; another business's ids are 404 on every route.

use api::{Route, ROUTES};
use integration_tests::{assert_error, json, Harness};
use lambda_http::http::StatusCode;

fn body_for(route: Route) -> Option<&'static str> {
    match route {
        Route::CreateCustomer => Some(r#"{"email": "eve@example.com", "name": "Eve"}"#),
        Route::UpdateCustomer => Some(r#"{"name": "Mallory"}"#),
        Route::CreateLedgerEntry => {
            Some(r#"{"amount": 1, "currency": "USD", "entry_type": "debit"}"#)
        }
        _ => None,
    }
}

#[tokio::test]
async fn every_route_refuses_a_missing_or_wrong_key_with_401() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 5).await;
    let wrong = format!("{}x", h.key);
    for spec in ROUTES {
        for key in [None, Some("cw_0000"), Some(wrong.as_str()), Some("")] {
            let reply = h
                .call_raw(spec.route, Some(&customer), &[], body_for(spec.route), key)
                .await;
            assert_error(&reply, StatusCode::UNAUTHORIZED, "unauthenticated");
        }
    }
    assert_eq!(h.balance(&customer, "USD").await, 5);
    assert_eq!(
        h.call(Route::ListCustomers, None, &[], None).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn another_business_gets_404_for_every_customer_route_and_changes_nothing() {
    let owner = Harness::new().await;
    let intruder = owner.other_business().await;
    let customer = owner.customer().await;
    owner.credit(&customer, 5).await;
    for spec in ROUTES.iter().filter(|s| s.path.contains("{customer_id}")) {
        let reply = intruder
            .call_raw(
                spec.route,
                Some(&customer),
                &[],
                body_for(spec.route),
                Some(&intruder.key),
            )
            .await;
        assert_error(&reply, StatusCode::NOT_FOUND, "customer_not_found");
    }
    let intruder_list = intruder.call(Route::ListCustomers, None, &[], None).await;
    assert_eq!(intruder_list.body["items"], json!([]));
    let by_email = intruder
        .call(
            Route::ListCustomers,
            None,
            &[("email", "ada@example.com")],
            None,
        )
        .await;
    assert_eq!(
        by_email.body["items"],
        json!([]),
        "the email index is per business"
    );
    assert_eq!(owner.balance(&customer, "USD").await, 5);
    assert_eq!(
        owner
            .call(Route::GetCustomer, Some(&customer), &[], None)
            .await
            .body["name"],
        "Ada"
    );
}
