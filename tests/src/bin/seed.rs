//! Seeds DynamoDB Local for the cold-start bench (`infra/cold-start.sh`): the test table, a
//! business and one customer with a credit. Prints `TABLE_NAME`, `API_KEY` and `CUSTOMER_ID` as
//! shell assignments.
//!
//! Needs `DYNAMODB_ENDPOINT`, like the integration tests.

use integration_tests::{Harness, TEST_TABLE};

#[tokio::main]
async fn main() {
    let harness = Harness::new().await;
    let customer_id = harness.customer().await;
    harness.credit(&customer_id, 5000).await;
    println!("TABLE_NAME={TEST_TABLE}");
    println!("API_KEY={}", harness.key);
    println!("CUSTOMER_ID={customer_id}");
}
