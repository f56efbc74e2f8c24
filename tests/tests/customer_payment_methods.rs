//! A customer's saved cards for invoice payment (issue 22, item 1): the customer routes show and
//! edit the gateway customer, the ordered payment methods and auto-pay, checked at the gateway
//! (localstripe). The shared helpers are `tests/src/cards.rs`.

use integration_tests::cards::{
    customer_with_cards, gateway, patch_customer, DECLINING_CARD, GOOD_CARD,
};
use integration_tests::{assert_error, json, Harness, Route};
use lambda_http::http::StatusCode;

#[tokio::test]
async fn payment_methods_are_shown_edited_and_checked_at_the_gateway() {
    let h = Harness::new().await;
    let (customer, gateway_customer, methods) =
        customer_with_cards(&h, 0, &[GOOD_CARD, DECLINING_CARD], true).await;
    let got = h
        .request(Route::GetCustomer)
        .customer(&customer)
        .send()
        .await;
    assert_eq!(got.body["gateway_customer_id"], gateway_customer.as_str());
    assert_eq!(got.body["auto_pay"], true);
    assert_eq!(
        got.body["payment_methods"],
        json!([{"payment_method_id": methods[0], "priority": 1}, {"payment_method_id": methods[1], "priority": 2}])
    );
    // Reordered, and auto-pay off: saved.
    let reordered = patch_customer(
        &h,
        &customer,
        json!({"payment_methods": [{"payment_method_id": methods[1], "priority": 1}], "auto_pay": false}),
    )
    .await;
    assert_eq!(reordered.status, StatusCode::OK, "{}", reordered.body);
    assert_eq!(
        reordered.body["payment_methods"][0]["payment_method_id"],
        methods[1].as_str()
    );
    assert_eq!(reordered.body["auto_pay"], false);

    // A card the gateway does not list for the gateway customer (saved to no one, or to another
    // customer), another business's customer's card, and an unknown id: refused alike.
    let loose = gateway().create_test_card(GOOD_CARD).await.unwrap();
    let other = h.other_business().await;
    let (_, other_gateway_customer, other_methods) =
        customer_with_cards(&other, 0, &[GOOD_CARD], true).await;
    for body in [
        json!({"payment_methods": [{"payment_method_id": loose, "priority": 1}]}),
        json!({"payment_methods": [{"payment_method_id": "pm_nope", "priority": 1}]}),
        json!({"gateway_customer_id": other_gateway_customer,
               "payment_methods": [{"payment_method_id": other_methods[0], "priority": 1}]}),
    ] {
        let refused = patch_customer(&h, &customer, body.clone()).await;
        assert_error(
            &refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "payment_method_not_owned",
        );
    }
    // Duplicate priorities or ids: 422 before the gateway.
    let twice = patch_customer(
        &h,
        &customer,
        json!({"payment_methods": [{"payment_method_id": methods[0], "priority": 1},
                                   {"payment_method_id": methods[1], "priority": 1}]}),
    )
    .await;
    assert_error(
        &twice,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_payment_methods",
    );
    // Nothing refused was saved.
    let got = h
        .request(Route::GetCustomer)
        .customer(&customer)
        .send()
        .await;
    assert_eq!(
        got.body["payment_methods"][0]["payment_method_id"],
        methods[1].as_str()
    );
    assert_eq!(got.body["gateway_customer_id"], gateway_customer.as_str());
}
