//! Adapters of the ports: DynamoDB for the functions, memory for fast unit tests.

pub mod dynamo;
pub mod faulty;
pub mod memory;
pub mod webhook_http;
