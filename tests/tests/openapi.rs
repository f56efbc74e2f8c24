//! `openapi.yaml` describes the code: the routes of `api::ROUTES` (and so of `template.yaml`, which
//! `routes.rs` compares with them), the limits the code enforces, and the error codes it answers.

use std::collections::BTreeSet;

use integration_tests::{rust_files, workspace_root as root};
use serde_json::Value;
use shared::ledger::model::{EntryType, EventType, WalletStatus};

fn document() -> Value {
    let text = std::fs::read_to_string(root().join("openapi.yaml")).expect("openapi.yaml");
    serde_norway::from_str(&text).expect("openapi.yaml is valid YAML")
}

/// The value a local `$ref` (`#/components/...`) points at.
fn resolve<'a>(doc: &'a Value, reference: &str) -> &'a Value {
    let pointer = reference
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("only local references: {reference}"));
    doc.pointer(pointer)
        .unwrap_or_else(|| panic!("dangling reference {reference}"))
}

/// Follows `$ref`s until a value that is not a reference.
fn deref<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
        value = resolve(doc, reference);
    }
    value
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["components"]["schemas"][name]
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// (METHOD, path, operation) of every operation in the document.
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (key, op) in item.as_object().expect("path item") {
            if METHODS.contains(&key.as_str()) {
                ops.push((key.to_uppercase(), path.clone(), op));
            } else {
                assert_eq!(key, "parameters", "unexpected key `{key}` under {path}");
            }
        }
    }
    ops
}

/// Every parameter of an operation: the path item's and its own.
fn parameters<'a>(doc: &'a Value, path: &str, op: &'a Value) -> Vec<&'a Value> {
    let shared = doc["paths"][path]["parameters"].as_array();
    let own = op["parameters"].as_array();
    shared
        .into_iter()
        .chain(own)
        .flatten()
        .map(|p| deref(doc, p))
        .collect()
}

fn enum_strings(value: &Value) -> BTreeSet<String> {
    value["enum"]
        .as_array()
        .expect("an enum")
        .iter()
        .map(|v| v.as_str().expect("string enum").to_owned())
        .collect()
}

#[test]
fn the_document_lists_exactly_the_routes_of_the_code() {
    let doc = document();
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    let code: BTreeSet<(String, String)> = api::ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(documented, code);
    assert_eq!(doc["openapi"], "3.1.0");
}

#[test]
fn every_reference_resolves() {
    fn walk(doc: &Value, value: &Value, count: &mut usize) {
        match value {
            Value::Object(map) => {
                if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                    resolve(doc, reference);
                    *count += 1;
                }
                map.values().for_each(|v| walk(doc, v, count));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(doc, v, count)),
            _ => {}
        }
    }
    let doc = document();
    let mut count = 0;
    walk(&doc, &doc, &mut count);
    assert!(
        count > 50,
        "only {count} references: is the document whole?"
    );
}

/// Statuses beyond authentication (401), lookup (404), input (413, 422) and storage (500): the
/// domain's refusals of a valid request, per route.
const DOMAIN_REFUSALS: &[(&str, &str, &[&str])] = &[
    // 409 a customer contended through every retry (the items' own refusals are in the 200)
    ("POST", "/wallets/ledger-entries/batch", &["409"]),
    // 400 insufficient balance; 409 repeated idempotency key, closed wallet, or contention
    (
        "POST",
        "/customers/{customer_id}/wallets/ledger-entries",
        &["400", "409"],
    ),
    (
        "POST",
        "/customers/{customer_id}/wallets/holds",
        &["400", "409"],
    ),
    // 409 hold no longer pending, or expired
    (
        "POST",
        "/customers/{customer_id}/wallets/holds/{hold_id}/capture",
        &["409"],
    ),
    (
        "POST",
        "/customers/{customer_id}/wallets/holds/{hold_id}/release",
        &["409"],
    ),
    // 409 repeated idempotency key, closed wallet, contention; a paid or expired link
    (
        "POST",
        "/customers/{customer_id}/wallets/top-up-links",
        &["409"],
    ),
    (
        "POST",
        "/customers/{customer_id}/wallets/top-up-links/{link_id}/cancel",
        &["409"],
    ),
    // 409 invoice paid before, closed wallet
    (
        "POST",
        "/customers/{customer_id}/wallets/invoice-payments",
        &["409"],
    ),
    (
        "POST",
        "/customers/{customer_id}/wallets/invoice-payments/{invoice_id}/reversals",
        &["409"],
    ),
    // 409 closed already, holds pending
    ("POST", "/customers/{customer_id}/wallets/close", &["409"]),
    // 409 the wallet stayed contended
    (
        "PATCH",
        "/customers/{customer_id}/wallets/settings",
        &["409"],
    ),
    // 429 too many portal mails to the customer this hour
    (
        "POST",
        "/customers/{customer_id}/customer-portal/session",
        &["429"],
    ),
    // 409 the settings stayed contended
    ("PATCH", "/customer-portal/settings", &["409"]),
    // 409 another worker is attempting the delivery
    (
        "POST",
        "/webhooks/{webhook_id}/deliveries/{delivery_id}/resend",
        &["409"],
    ),
];

/// Routes that answer 204 without a body where the others answer 200 with one.
const NO_CONTENT: &[(&str, &str)] = &[
    ("DELETE", "/webhooks/{webhook_id}"),
    ("PATCH", "/webhooks/{webhook_id}/headers"),
];

#[test]
fn every_operation_declares_the_errors_the_code_can_answer() {
    let doc = document();
    assert_eq!(doc["security"][0]["API_KEY"], Value::Array(vec![]));
    assert_eq!(
        doc["components"]["securitySchemes"]["API_KEY"]["scheme"],
        "bearer"
    );
    for (method, path, op) in operations(&doc) {
        let name = format!("{method} {path}");
        let statuses: BTreeSet<&str> = op["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{name}: responses"))
            .keys()
            .map(String::as_str)
            .collect();
        let success = if NO_CONTENT.contains(&(method.as_str(), path.as_str())) {
            "204"
        } else {
            "200"
        };
        // Stripe's webhook takes no key: a bad signature is 400, never 401 or 403.
        if path == "/stripe/webhooks" {
            assert_eq!(
                statuses,
                BTreeSet::from(["200", "400", "413", "422", "500"]),
                "{name}"
            );
            assert_eq!(op["security"], Value::Array(vec![]), "{name}: no API key");
            continue;
        }
        let mut expected = BTreeSet::from([success, "401", "500"]);
        // A read-only key is refused every route that changes something.
        let spec = api::ROUTES
            .iter()
            .find(|s| (s.method, s.path) == (method.as_str(), path.as_str()))
            .unwrap_or_else(|| panic!("{name} is a route of the code"));
        if spec.changes() {
            expected.insert("403");
        }
        let params = parameters(&doc, &path, op);
        if params.iter().any(|p| p["in"] == "path") {
            expected.insert("404");
        }
        if params.iter().any(|p| p["in"] == "query") {
            expected.insert("422");
        }
        if !op["requestBody"].is_null() {
            expected.extend(["413", "422"]);
        }
        for (m, p, statuses) in DOMAIN_REFUSALS {
            if (method.as_str(), path.as_str()) == (*m, *p) {
                expected.extend(statuses.iter().copied());
            }
        }
        assert_eq!(statuses, expected, "{name}");
        for (status, response) in op["responses"].as_object().unwrap() {
            let response = deref(&doc, response);
            if status == "204" {
                assert!(response["content"].is_null(), "{name} 204: no body");
                continue;
            }
            let content = &response["content"];
            // An export's pages are JSON lines (or CSV), not one JSON document.
            let body = match &content["application/json"] {
                Value::Null if status == "200" => {
                    deref(&doc, &content["application/x-ndjson"]["schema"])
                }
                json => deref(&doc, &json["schema"]),
            };
            assert!(!body.is_null(), "{name} {status}: a JSON body");
            if status != "200" {
                assert!(
                    !response["headers"]["x-should-retry"].is_null(),
                    "{name} {status}: x-should-retry"
                );
                let variants = body["oneOf"]
                    .as_array()
                    .cloned()
                    .unwrap_or(vec![body.clone()]);
                for variant in &variants {
                    let variant = deref(&doc, variant);
                    let required = variant["required"].as_array().expect("required");
                    assert_eq!(
                        required[..2],
                        [Value::from("code"), Value::from("message")],
                        "{name} {status}: {{code, message}}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_documented_limits_are_the_limits_of_the_code() {
    use shared::customers::rules::*;
    use shared::kernel::ids::IDEMPOTENCY_KEY_LENGTH_MAX;
    use shared::kernel::money::{AMOUNT_MAX_MINOR, BALANCE_MAX_MINOR};
    use shared::kernel::paging::{PAGE_NUMBER_MAX, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX};
    use shared::kernel::text::{REASON_LENGTH_MAX, REFERENCE_LENGTH_MAX};

    let doc = document();
    let param = |name: &str| doc["components"]["parameters"][name]["schema"].clone();
    assert_eq!(param("PageNumber")["minimum"], 0);
    assert_eq!(param("PageNumber")["maximum"], PAGE_NUMBER_MAX);
    assert_eq!(param("PageSize")["minimum"], 1);
    assert_eq!(param("PageSize")["maximum"], PAGE_SIZE_MAX);
    assert_eq!(param("PageSize")["default"], PAGE_SIZE_DEFAULT);
    for list in [
        "GetCustomersListResponse",
        "CustomerWalletTransactionsResponse",
    ] {
        assert_eq!(
            schema(&doc, list)["properties"]["items"]["maxItems"],
            PAGE_SIZE_MAX
        );
    }
    assert_eq!(schema(&doc, "Amount")["minimum"], 1);
    assert_eq!(schema(&doc, "Amount")["maximum"], AMOUNT_MAX_MINOR);
    assert_eq!(schema(&doc, "Balance")["minimum"], 0);
    assert_eq!(schema(&doc, "Balance")["maximum"], BALANCE_MAX_MINOR);
    assert_eq!(schema(&doc, "Email")["maxLength"], EMAIL_LENGTH_MAX);
    assert_eq!(schema(&doc, "Name")["maxLength"], NAME_LENGTH_MAX);
    assert_eq!(schema(&doc, "Text500")["maxLength"], REASON_LENGTH_MAX);
    assert_eq!(schema(&doc, "Text255")["maxLength"], REFERENCE_LENGTH_MAX);
    assert!(schema(&doc, "PhoneNumber")["pattern"]
        .as_str()
        .unwrap()
        .ends_with(&format!("{{1,{PHONE_LENGTH_MAX}}}$")));
    let entry = &schema(&doc, "CustomerLedgerEntryRequest")["properties"];
    assert_eq!(
        entry["idempotency_key"]["oneOf"][0]["maxLength"],
        IDEMPOTENCY_KEY_LENGTH_MAX
    );
    assert_eq!(
        entry["reason"]["oneOf"][0]["$ref"],
        "#/components/schemas/Text500"
    );
    assert_eq!(
        entry["reference_object_id"]["oneOf"][0]["$ref"],
        "#/components/schemas/Text255"
    );
    let metadata = schema(&doc, "Metadata");
    assert_eq!(metadata["maxProperties"], METADATA_KEYS_MAX);
    assert_eq!(
        metadata["propertyNames"]["maxLength"],
        METADATA_KEY_LENGTH_MAX
    );
    assert_eq!(
        metadata["additionalProperties"]["oneOf"][0]["maxLength"],
        METADATA_VALUE_LENGTH_MAX
    );
    let export = parameters(
        &doc,
        "/reports/ledger-entries",
        &doc["paths"]["/reports/ledger-entries"]["get"],
    );
    let export_page = export
        .iter()
        .find(|p| p["name"] == "page_size")
        .expect("page_size");
    assert_eq!(
        export_page["schema"]["maximum"],
        shared::ledger::export::EXPORT_PAGE_MAX
    );
    assert_eq!(
        export_page["schema"]["default"],
        shared::ledger::export::EXPORT_PAGE_DEFAULT
    );
    let too_large = deref(&doc, &doc["components"]["responses"]["PayloadTooLarge"]);
    assert!(too_large["description"]
        .as_str()
        .unwrap()
        .contains(&api::BODY_LENGTH_MAX.to_string()));
}

#[test]
fn the_documented_enums_are_the_values_the_code_accepts() {
    let doc = document();
    // Currencies: exactly the three-letter codes that parse.
    let documented = enum_strings(schema(&doc, "Currency"));
    let mut accepted = BTreeSet::new();
    for a in b'A'..=b'Z' {
        for b in b'A'..=b'Z' {
            for c in b'A'..=b'Z' {
                let code = String::from_utf8(vec![a, b, c]).unwrap();
                if shared::kernel::Currency::parse(&code).is_ok() {
                    accepted.insert(code);
                }
            }
        }
    }
    assert_eq!(documented, accepted);

    let locales: BTreeSet<String> = shared::customers::rules::LOCALES
        .iter()
        .map(|l| (*l).to_owned())
        .collect();
    assert_eq!(enum_strings(schema(&doc, "Locale")), locales);

    assert_serde_enum::<EventType>(schema(&doc, "CustomerLedgerEventType"));
    assert_serde_enum::<EntryType>(schema(&doc, "CustomerLedgerEntryType"));
    assert_serde_enum::<WalletStatus>(
        &schema(&doc, "CustomerWalletResponse")["properties"]["status"],
    );
    assert_serde_enum::<shared::holds::model::HoldStatus>(schema(&doc, "HoldStatus"));
    assert_serde_enum::<shared::webhooks::model::DeliveryStatus>(schema(&doc, "DeliveryStatus"));
    assert_serde_enum::<shared::access::model::Scope>(schema(&doc, "ApiKeyScope"));

    // Webhook events: the catalog of the code, in the enum and in the `webhooks` section.
    let catalog: BTreeSet<String> = shared::webhooks::model::EventType::ALL
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    assert_eq!(enum_strings(schema(&doc, "WebhookEventType")), catalog);
    let documented: BTreeSet<String> = doc["webhooks"]
        .as_object()
        .expect("a webhooks section")
        .keys()
        .cloned()
        .collect();
    assert_eq!(documented, catalog);
}

#[test]
fn the_documented_webhook_limits_are_the_limits_of_the_code() {
    use shared::webhooks::address::MAX_URL_LEN;
    use shared::webhooks::rules::*;

    let doc = document();
    assert_eq!(schema(&doc, "WebhookUrl")["maxLength"], MAX_URL_LEN);
    assert_eq!(
        schema(&doc, "WebhookDescription")["maxLength"],
        DESCRIPTION_MAX
    );
    let headers = schema(&doc, "WebhookHeaderMap");
    assert_eq!(headers["maxProperties"], HEADERS_MAX);
    assert_eq!(
        headers["additionalProperties"]["maxLength"],
        HEADER_VALUE_MAX
    );
    let metadata = schema(&doc, "WebhookMetadata");
    assert_eq!(metadata["maxProperties"], METADATA_KEYS_MAX);
    assert_eq!(metadata["propertyNames"]["maxLength"], METADATA_KEY_MAX);
    assert_eq!(
        metadata["additionalProperties"]["maxLength"],
        METADATA_VALUE_MAX
    );
    assert_eq!(schema(&doc, "WebhookRateLimit")["minimum"], 1);
    assert_eq!(schema(&doc, "WebhookRateLimit")["maximum"], RATE_LIMIT_MAX);
}

/// The documented values of a string enum are exactly the variants of the serde enum `T`: each
/// round-trips, and serde's error for an unknown one names them all and no other.
fn assert_serde_enum<T: serde::de::DeserializeOwned + serde::Serialize>(documented: &Value) {
    let names = enum_strings(documented);
    for name in &names {
        let parsed: T = serde_json::from_value(Value::from(name.as_str())).unwrap();
        assert_eq!(serde_json::to_value(parsed).unwrap(), name.as_str());
    }
    let unknown = serde_json::from_value::<T>(Value::from("?"))
        .err()
        .expect("`?` is no variant")
        .to_string();
    for name in &names {
        assert!(unknown.contains(&format!("`{name}`")), "{unknown}");
    }
    // "unknown variant `?`, expected one of `a`, `b`" (or "expected `a` or `b`")
    assert_eq!(
        unknown.matches('`').count(),
        2 * (names.len() + 1),
        "{unknown}"
    );
}

/// The code (first string literal) of every `ValidationError::new(` and `ApiError::invalid(`.
fn validation_codes_in_source() -> BTreeSet<String> {
    let mut codes = BTreeSet::new();
    for file in rust_files(&root().join("shared/src"))
        .into_iter()
        .chain(rust_files(&root().join("api/src")))
    {
        let text = std::fs::read_to_string(&file).unwrap();
        for call in ["ValidationError::new(", "ApiError::invalid("] {
            for (at, _) in text.match_indices(call) {
                let rest = text[at + call.len()..].trim_start();
                if let Some(literal) = rest.strip_prefix('"') {
                    let code = &literal[..literal.find('"').unwrap()];
                    codes.insert(code.to_owned());
                }
            }
        }
    }
    codes
}

#[test]
fn the_documented_error_codes_are_the_codes_of_the_code() {
    use shared::DomainError;
    let doc = document();
    let const_code = |name: &str| schema(&doc, name)["properties"]["code"]["const"].clone();
    let entry: shared::ledger::model::LedgerEntry = serde_json::from_value(serde_json::json!({
        "id": "wle_1", "customer_id": "cus_1", "business_id": "bus_1", "currency": "USD",
        "amount": 1, "is_credit": true, "before_balance": 0, "after_balance": 1,
        "event_type": "payment", "reason": null, "reference_object_id": null,
        "idempotency_key": "k", "created_at": "2024-01-01T00:00:00.000Z",
        "customer_seq": 1, "currency_seq": 1
    }))
    .unwrap();
    let cases = [
        (
            "InsufficientBalanceError",
            DomainError::InsufficientBalance {
                currency: "USD".into(),
                available: 0,
                requested: 1,
            },
        ),
        ("UnauthenticatedError", DomainError::Unauthenticated),
        ("InvalidSignatureError", DomainError::InvalidSignature),
        ("InsufficientScopeError", DomainError::InsufficientScope),
        (
            "CustomerNotFoundError",
            DomainError::CustomerNotFound("cus_1".into()),
        ),
        (
            "IdempotencyKeyReusedError",
            DomainError::IdempotencyKeyReused {
                key: "k".into(),
                original: Box::new(shared::Original::Entry(entry)),
            },
        ),
        (
            "HoldNotFoundError",
            DomainError::HoldNotFound("hld_1".into()),
        ),
        (
            "InvoicePaymentNotFoundError",
            DomainError::InvoicePaymentNotFound("in_1".into()),
        ),
        (
            "WalletClosedError",
            DomainError::WalletClosed {
                currency: "USD".into(),
            },
        ),
        (
            "HoldsPendingError",
            DomainError::HoldsPending {
                currency: "USD".into(),
                pending_charges: 1,
            },
        ),
        ("ConcurrentUpdateError", DomainError::Contention),
        ("InternalError", DomainError::Storage("x".into())),
    ];
    for (name, error) in cases {
        assert_eq!(const_code(name), error.code(), "{name}");
    }
    let handlers = std::fs::read_to_string(root().join("api/src/http/request.rs")).unwrap();
    let payload_too_large = const_code("PayloadTooLargeError");
    assert!(handlers.contains(&payload_too_large.to_string()));

    // 422: every validation code in the source, and the domain's refusals of a valid request,
    // less the codes that never reach a response (configuration; ids, which answer 404).
    let mut expected = validation_codes_in_source();
    for not_an_answer in ["invalid_config", "invalid_rate", "invalid_id"] {
        assert!(expected.remove(not_an_answer), "{not_an_answer} is gone");
    }
    expected.insert(
        DomainError::CurrencyNotEnabled {
            customer_id: String::new(),
            currency: String::new(),
            enabled: String::new(),
        }
        .code()
        .to_owned(),
    );
    expected.insert(
        DomainError::BalanceLimitExceeded {
            currency: String::new(),
            max: 0,
        }
        .code()
        .to_owned(),
    );
    expected.insert(
        DomainError::CaptureExceedsHold {
            hold_id: String::new(),
            held: 0,
            requested: 0,
        }
        .code()
        .to_owned(),
    );
    expected.insert(
        DomainError::ReversalExceedsApplied {
            invoice_id: String::new(),
            applied: 0,
            reversed: 0,
            requested: 0,
        }
        .code()
        .to_owned(),
    );
    expected.insert(DomainError::PaymentMethodNotOwned.code().to_owned());
    let documented = enum_strings(&schema(&doc, "InvalidInputError")["properties"]["code"]);
    assert_eq!(documented, expected);
}
