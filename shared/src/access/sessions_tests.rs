use super::*;
use crate::adapters::memory::{FixedClock, MemoryStore};

fn service() -> (Service<MemoryStore, FixedClock>, FixedClock) {
    let clock = FixedClock::at(1_764_000_000_000);
    let config = crate::config::Config::build("t".into(), None, "USD", None).expect("test config");
    (
        Service::new(MemoryStore::new(), clock.clone(), config),
        clock,
    )
}

#[tokio::test]
async fn a_session_opens_with_a_key_and_names_its_business_and_key() {
    let (app, _) = service();
    let (business, key) = app.create_business("Shop").await.unwrap();
    let (session_id, session) = app.sign_in(Some(&key)).await.unwrap();
    let (claimed, random) = session_id.split_once('.').unwrap();
    assert_eq!(claimed, business.to_string());
    assert_eq!(random.len(), 64);
    assert_ne!(session.id_hash, session_id, "only the hash is stored");
    let signed_in = app.session(Some(&session_id)).await.unwrap();
    assert_eq!(signed_in.tenant.business_id, business);
    assert_eq!(signed_in.session.csrf_token, session.csrf_token);
    assert_eq!(signed_in.key.id, session.key_id);
}

#[tokio::test]
async fn a_wrong_key_or_session_id_opens_nothing() {
    let (app, _) = service();
    let (_, key) = app.create_business("Shop").await.unwrap();
    assert!(matches!(
        app.sign_in(Some("cw_nope")).await,
        Err(DomainError::Unauthenticated)
    ));
    app.sign_in(Some(&key)).await.unwrap();
    for id in [None, Some(""), Some("zz"), Some(&*"a".repeat(64))] {
        assert!(
            matches!(app.session(id).await, Err(DomainError::Unauthenticated)),
            "{id:?}"
        );
    }
}

#[tokio::test]
async fn a_session_ends_after_8_idle_hours_and_lives_on_while_used() {
    let (app, clock) = service();
    let (_, key) = app.create_business("Shop").await.unwrap();
    let (id, _) = app.sign_in(Some(&key)).await.unwrap();
    // Used every 7 hours: still open after 21 hours.
    for _ in 0..3 {
        clock.advance(7 * 3_600_000);
        app.session(Some(&id)).await.unwrap();
    }
    clock.advance(SESSION_IDLE_MS);
    assert!(matches!(
        app.session(Some(&id)).await,
        Err(DomainError::Unauthenticated)
    ));
}

#[tokio::test]
async fn signing_out_and_revoking_the_key_end_the_session() {
    let (app, clock) = service();
    let (business, key) = app.create_business("Shop").await.unwrap();
    let (id, session) = app.sign_in(Some(&key)).await.unwrap();
    app.sign_out(Some(&id)).await.unwrap();
    assert!(app.session(Some(&id)).await.is_err());

    let (id, _) = app.sign_in(Some(&key)).await.unwrap();
    let tenant = Tenant {
        business_id: business,
    };
    app.revoke_key(&tenant, &session.key_id).await.unwrap();
    clock.advance(1);
    assert!(matches!(
        app.session(Some(&id)).await,
        Err(DomainError::Unauthenticated)
    ));
}

#[tokio::test]
async fn the_key_of_an_open_session_never_reaches_the_stored_session() {
    let (app, _) = service();
    let (_, key) = app.create_business("Shop").await.unwrap();
    let (id, session) = app.sign_in(Some(&key)).await.unwrap();
    let stored = serde_json::to_string(&session).unwrap();
    assert!(!stored.contains(&key) && !stored.contains(&id));
}

#[tokio::test]
async fn a_form_sent_twice_does_its_work_once_and_a_failed_one_may_be_sent_again() {
    let (app, _) = service();
    let (business, _) = app.create_business("Shop").await.unwrap();
    let runs = std::sync::atomic::AtomicU32::new(0);
    let key = Some("form_0123456789abcdef0123456789abcdef");
    for _ in 0..2 {
        let result = app
            .once_per_form(&business, key, || async {
                runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok("/dashboard/customers/cus_1".to_owned())
            })
            .await
            .unwrap();
        assert_eq!(result, "/dashboard/customers/cus_1");
    }
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);

    let other = Some("form_fedcba9876543210fedcba9876543210");
    let failed = app
        .once_per_form(&business, other, || async {
            Err::<String, _>(DomainError::Contention)
        })
        .await;
    assert!(failed.is_err());
    let again = app
        .once_per_form(&business, other, || async { Ok("/done".to_owned()) })
        .await;
    assert_eq!(again.unwrap(), "/done");
    assert!(app
        .once_per_form(&business, Some("form_nothex"), || async {
            Ok(String::new())
        })
        .await
        .is_err());
}

#[tokio::test]
async fn a_session_id_whose_business_is_changed_opens_nothing() {
    let (app, _) = service();
    let (_, key) = app.create_business("Shop").await.unwrap();
    let (other, _) = app.create_business("Other").await.unwrap();
    let (id, _) = app.sign_in(Some(&key)).await.unwrap();
    let (_, random) = id.split_once('.').unwrap();
    let forged = format!("{other}.{random}");
    assert_eq!(claimed_business(Some(&forged)), Some(other));
    assert!(matches!(
        app.session(Some(&forged)).await,
        Err(DomainError::Unauthenticated)
    ));
    assert!(matches!(
        app.session(Some(random)).await,
        Err(DomainError::Unauthenticated)
    ));
    app.session(Some(&id)).await.unwrap();
}
