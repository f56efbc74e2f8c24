//! The dashboard's storage on DynamoDB Local: sessions (sign-in, the consistent read of the page
//! after it, sign-out, a revoked key), form claims raced by two submissions, and pages answered
//! by the real handlers (`web::handle`) over the DynamoDB store, with a raced double submit.

use std::sync::Arc;

use integration_tests::Harness;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request};
use shared::access::model::Tenant;
use shared::kernel::BusinessId;
use shared::DomainError;

fn request(method: &str, path: &str, cookie: &str, form: Option<String>) -> Request {
    lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:3000")
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.map_or(Body::Empty, Body::from))
        .unwrap()
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        out.append_pair(k, v);
    }
    out.finish()
}

#[tokio::test]
async fn a_session_is_found_right_after_sign_in_and_ends_with_sign_out_or_its_key() {
    let h = Harness::new().await;
    let app = h.service();
    let (id, session) = app.sign_in(Some(&h.key)).await.unwrap();
    let found = app.session(Some(&id)).await.unwrap();
    assert_eq!(found.session.csrf_token, session.csrf_token);
    assert_eq!(found.tenant.business_id.to_string(), h.business_id);
    app.sign_out(Some(&id)).await.unwrap();
    assert!(matches!(
        app.session(Some(&id)).await,
        Err(DomainError::Unauthenticated)
    ));

    let (id, session) = app.sign_in(Some(&h.key)).await.unwrap();
    let tenant = Tenant {
        business_id: BusinessId::parse(&h.business_id).unwrap(),
    };
    app.revoke_key(&tenant, &session.key_id).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    assert!(matches!(
        app.session(Some(&id)).await,
        Err(DomainError::Unauthenticated)
    ));
}

#[tokio::test]
async fn two_racing_submissions_of_one_create_customer_form_make_one_customer() {
    let h = Harness::new().await;
    let (id, session) = h.service().sign_in(Some(&h.key)).await.unwrap();
    let cookie = format!("cw_session={id}");
    let body = form(&[
        ("csrf_token", &session.csrf_token),
        ("idempotency_key", "form_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1"),
        ("email", "race@example.com"),
        ("name", "Raced"),
    ]);
    let app = h.calm_service();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (app, cookie, body) = (Arc::clone(&app), cookie.clone(), body.clone());
            tokio::spawn(async move {
                web::handle(
                    &*app,
                    request("POST", "/dashboard/customers", &cookie, Some(body)),
                )
                .await
            })
        })
        .collect();
    let mut created_at = Vec::new();
    for task in tasks {
        let answer = task.await.unwrap();
        // The first does it; a twin either follows it to the customer or is told it is running.
        match answer.status() {
            StatusCode::SEE_OTHER => {
                created_at.push(answer.headers()["location"].to_str().unwrap().to_owned())
            }
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert!(!created_at.is_empty());
    assert!(
        created_at.windows(2).all(|w| w[0] == w[1]),
        "{created_at:?}"
    );
    let tenant = Tenant {
        business_id: BusinessId::parse(&h.business_id).unwrap(),
    };
    let query = shared::customers::model::CustomerQuery {
        email: Some("race@example.com".into()),
        name_contains: None,
        created_from_ms: None,
        created_to_ms: None,
        page: shared::kernel::paging::PageRequest::parse(None, Some(100)).unwrap(),
    };
    // The email index is eventually consistent: wait for the one customer to show.
    let mut found = Vec::new();
    for _ in 0..50 {
        found = app.list_customers(&tenant, query.clone()).await.unwrap();
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(found.len(), 1, "one customer for one form");
}

#[tokio::test]
async fn a_credit_form_raced_with_itself_credits_once_on_dynamodb() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    let (id, session) = h.service().sign_in(Some(&h.key)).await.unwrap();
    let cookie = format!("cw_session={id}");
    let body = form(&[
        ("csrf_token", &session.csrf_token),
        ("idempotency_key", "form_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2"),
        ("entry_type", "credit"),
        ("currency", "USD"),
        ("amount", "50.00"),
        ("reason", "Goodwill"),
    ]);
    let path = format!("/dashboard/customers/{customer}/adjustments");
    let app = h.calm_service();
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (app, cookie, body, path) =
                (Arc::clone(&app), cookie.clone(), body.clone(), path.clone());
            tokio::spawn(async move {
                web::handle(&*app, request("POST", &path, &cookie, Some(body))).await
            })
        })
        .collect();
    for task in tasks {
        let answer = task.await.unwrap();
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    }
    assert_eq!(h.balance(&customer, "USD").await, 5_000);
    let page = web::handle(
        &*app,
        request(
            "GET",
            &format!("/dashboard/customers/{customer}"),
            &cookie,
            None,
        ),
    )
    .await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = String::from_utf8(page.body().as_ref().to_vec()).unwrap();
    assert!(html.contains("$50.00") && html.contains("Goodwill"));
}
