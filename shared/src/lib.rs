//! Customer Wallets domain: money rules and wallet operations by capability, the ports they
//! need, and the adapters behind them. Knows nothing of Lambda or HTTP.
//!
//! `kernel` is the leaf; each capability folder (`access`, `customers`, `ledger`, `holds`,
//! `invoices`, `closing`) holds its model, pure rules and operations; every change goes through
//! the loop in `change`.

pub mod access;
pub mod adapters;
pub mod change;
pub mod closing;
pub mod config;
pub mod customers;
pub mod error;
pub mod hints;
pub mod holds;
pub mod invoices;
pub mod kernel;
pub mod ledger;
pub mod payins;
pub mod portal;
pub mod ports;
pub mod reports;
pub mod service;
pub mod stats;
pub mod sweep;
pub mod topups;
pub mod webhooks;

pub use config::Config;
pub use error::{DomainError, DomainResult, Original};
pub use kernel::ValidationError;
pub use service::Service;

/// The service as every function runs it: DynamoDB and the system clock.
pub type DynamoService = Service<adapters::dynamo::DynamoStore>;

/// Builds the DynamoDB-backed service from the environment (and, on AWS, the Stripe key and the
/// portal signing key from Secrets Manager: `adapters::secrets`).
pub async fn from_env() -> Result<DynamoService, ValidationError> {
    let mut config = Config::from_env()?;
    adapters::secrets::resolve_gateway_key(&mut config).await?;
    adapters::secrets::resolve_webhook_secret(&mut config).await?;
    adapters::secrets::resolve_portal_key(&mut config).await?;
    let store = adapters::dynamo::DynamoStore::connect(&config).await;
    Ok(Service::new(store, kernel::SystemClock, config))
}
