//! Customer Wallets domain: money rules, wallet operations, and the storage port with its
//! DynamoDB adapter. Knows nothing of Lambda or HTTP.

pub mod auth;
pub mod clock;
pub mod closing;
pub mod config;
pub mod error;
pub mod fx;
pub mod holds;
pub mod ids;
pub mod invoices;
pub mod ledger;
pub mod model;
pub mod money;
pub mod retry;
pub mod service;
pub mod store;
pub mod validation;

pub use config::Config;
pub use error::{DomainError, DomainResult, Original, ValidationError};
pub use service::Wallets;
pub use store::dynamo::DynamoStore;

/// The service wired to DynamoDB, as every function uses it.
pub type DynamoWallets = Wallets<DynamoStore>;

/// Builds the DynamoDB-backed service from the environment.
pub async fn from_env() -> Result<DynamoWallets, ValidationError> {
    let config = Config::from_env()?;
    let client = config.dynamodb_client().await;
    let store = DynamoStore::new(client, config.table_name.clone());
    Ok(Wallets::new(store, config))
}
