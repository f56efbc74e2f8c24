//! Adapters of the ports: DynamoDB for the functions, memory for fast unit tests.

pub mod dynamo;
pub mod faulty;
mod faulty_portal;
mod faulty_totals;
mod https;
pub mod lambda_invoke;
pub mod mailbox;
pub mod mailer;
pub mod memory;
pub mod recording;
pub mod secrets;
pub mod ses;
pub mod stripe;
#[cfg(test)]
mod test_server;
pub mod webhook_http;
