//! Metrics as CloudWatch embedded metric format (EMF) lines: one JSON line on stdout per
//! request, stream batch or sweep, which CloudWatch turns into metrics with no API call from the
//! function. Namespace `CustomerWallets`.
//!
//! Per request (dimensions `Route`, and `Route` + `Code`, so 4xx and 5xx are counted by code):
//! `Requests`, `ClientErrors` (4xx), `ServerErrors` (5xx), `LedgerEntriesWritten`,
//! `ContentionRetries`, `StoreCalls`, `StoreLatency` (ms, all calls), `StoreLatencyMax` (ms),
//! `Latency` (ms, the whole request).

use serde_json::{json, Map, Value};
use shared::kernel::Timestamp;
use shared::stats::WorkStats;

pub const NAMESPACE: &str = "CustomerWallets";

/// One EMF line: `values` (name → (value, unit)) under `dimensions` (name → value).
pub fn line(
    dimensions: &[(&str, &str)],
    dimension_sets: &[&[&str]],
    values: &[(&str, f64, &str)],
) -> String {
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": Timestamp::now().unix_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": dimension_sets,
                "Metrics": values.iter().map(|(name, _, unit)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
            }],
        }),
    );
    for (name, value) in dimensions {
        root.insert((*name).into(), Value::String((*value).into()));
    }
    for (name, value, _) in values {
        root.insert((*name).into(), json!(value));
    }
    Value::Object(root).to_string()
}

/// The line of one answered request.
pub fn request_line(
    route: &str,
    status: u16,
    code: &str,
    stats: &WorkStats,
    latency_ms: f64,
) -> String {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1_000.0;
    line(
        &[("Route", route), ("Code", code)],
        &[&["Route"], &["Route", "Code"]],
        &[
            ("Requests", 1.0, "Count"),
            (
                "ClientErrors",
                f64::from(u8::from((400..500).contains(&status))),
                "Count",
            ),
            ("ServerErrors", f64::from(u8::from(status >= 500)), "Count"),
            (
                "LedgerEntriesWritten",
                f64::from(stats.ledger_entries),
                "Count",
            ),
            (
                "ContentionRetries",
                f64::from(stats.contention_retries),
                "Count",
            ),
            ("StoreCalls", f64::from(stats.store_calls), "Count"),
            ("StoreLatency", ms(stats.store_time), "Milliseconds"),
            ("StoreLatencyMax", ms(stats.store_time_max), "Milliseconds"),
            ("Latency", latency_ms, "Milliseconds"),
        ],
    )
}

/// Writes a line where CloudWatch reads EMF: the function's stdout. Only inside a Lambda
/// function (or `cargo lambda watch`, which sets the same variable): tests and benchmarks that
/// call the handlers directly stay quiet.
pub fn emit(line: &str) {
    static IN_LAMBDA: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *IN_LAMBDA.get_or_init(|| std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()) {
        println!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_line_is_emf_with_its_dimensions_and_values() {
        let stats = WorkStats {
            ledger_entries: 1,
            contention_retries: 2,
            store_calls: 3,
            store_time: std::time::Duration::from_millis(12),
            store_time_max: std::time::Duration::from_millis(6),
        };
        let line: Value = serde_json::from_str(&request_line(
            "create-ledger-entry",
            409,
            "concurrent_update",
            &stats,
            20.0,
        ))
        .unwrap();
        let spec = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(spec["Namespace"], NAMESPACE);
        assert_eq!(spec["Dimensions"], json!([["Route"], ["Route", "Code"]]));
        let names: Vec<&str> = spec["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        for name in names {
            assert!(line[name].is_number(), "{name} has a value");
        }
        assert_eq!(line["Route"], "create-ledger-entry");
        assert_eq!(line["Code"], "concurrent_update");
        assert_eq!(
            (line["ClientErrors"].as_f64(), line["ServerErrors"].as_f64()),
            (Some(1.0), Some(0.0))
        );
        assert_eq!(line["ContentionRetries"], 2.0);
        assert_eq!(line["StoreLatency"], 12.0);
    }
}
