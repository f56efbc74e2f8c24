//! Page weight (issue 20, item 7): a main dashboard page, as a browser first downloads it (its
//! HTML and every CSS and JS asset it links, each gzip -9, without images), stays under 60 KB.
//! Rendered by the real page handler over DynamoDB Local, with the data that makes each page its
//! heaviest: the customer page with a full ledger page, two full charts (100 entries per
//! currency) and a full page of pending holds (50, each with its two forms). The sizes come from
//! the system's `gzip` (no compression crate in the workspace); `src/bin/dashboard_bench.rs`
//! prints the same figures.

use integration_tests::dashboard::{self, Seed, PAGE_WEIGHT_BUDGET};
use integration_tests::Harness;

#[tokio::test]
async fn every_main_page_with_its_assets_weighs_under_60_kb_compressed() {
    let h = Harness::new().await;
    let customer = dashboard::seed(
        &h,
        Seed {
            holds: 50,
            ..Seed::REALISTIC
        },
    )
    .await;
    let cookie = dashboard::session_cookie(&h).await;
    let pages = [
        "/dashboard/customers".to_owned(),
        format!("/dashboard/customers/{customer}"),
        format!("/dashboard/customers/{customer}/settings?currency=USD"),
        "/dashboard/webhooks".to_owned(),
        "/dashboard/api-keys".to_owned(),
    ];
    for path in &pages {
        let html = dashboard::page_html(&h, &cookie, path).await;
        let weight = dashboard::weight(&html);
        // Every asset is linked and counted: a page that linked none would weigh only its HTML.
        // (All but the customer portal's own script.)
        let dashboards = web::assets::ALL
            .iter()
            .filter(|a| a.stem != web::assets::PORTAL_JS.stem)
            .count();
        assert_eq!(weight.linked, dashboards, "{path} links every asset");
        assert!(
            weight.total() < PAGE_WEIGHT_BUDGET,
            "{path}: {weight:?} = {} B gzip, budget {PAGE_WEIGHT_BUDGET} B",
            weight.total()
        );
    }
    // The customer page shows what makes it heavy (else the test would weigh a lighter page).
    let html = dashboard::page_html(&h, &cookie, &pages[1]).await;
    assert_eq!(html.matches("/release\"").count(), 50, "50 holds");
    assert_eq!(html.matches("Balance over time").count(), 2, "two charts");
}
