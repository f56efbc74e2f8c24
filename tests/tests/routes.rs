//! The route table, the cargo-lambda router, `template.yaml` and the function crates agree, and
//! the template's table is the one `shared::adapters::dynamo::table` creates.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{KeySchemaElement, Projection};
use integration_tests::workspace_root as root;
use shared::adapters::dynamo::table;
use yaml_rust2::{Yaml, YamlLoader};

type RouteSet = BTreeSet<(String, String, String)>;

/// The binary of every HTTP function (`functions/http-api`).
const HTTP_BINARY: &str = "http-api";

/// The functions that serve no route, with the one event that triggers each.
const TRIGGERED: &[(&str, &str)] = &[("webhook-dispatcher", "DynamoDB"), ("sweep", "ScheduleV2")];

/// The function that no event triggers: the dispatcher invokes it.
const INVOKED: &str = "webhook-deliverer";

/// (method, path, what serves it) of every route of the code; `serves` names the server.
fn from_code(serves: impl Fn(&api::routes::RouteSpec) -> String) -> RouteSet {
    api::ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned(), serves(r)))
        .collect()
}

/// `create-ledger-entry` → `CreateLedgerEntryFunction`: the route's function in the template.
fn logical_id(spec: &api::routes::RouteSpec) -> String {
    let mut id: String = spec
        .function
        .split('-')
        .map(|word| word[..1].to_uppercase() + &word[1..])
        .collect();
    id.push_str("Function");
    id
}

fn from_cargo_router() -> RouteSet {
    let manifest: toml::Table = std::fs::read_to_string(root().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .expect("router table");
    let mut routes = RouteSet::new();
    for (path, targets) in router {
        for target in targets
            .as_array()
            .expect("each path lists method/function pairs")
        {
            routes.insert((
                target["method"].as_str().unwrap().to_owned(),
                path.clone(),
                target["function"].as_str().unwrap().to_owned(),
            ));
        }
    }
    routes
}

/// `template.yaml`, parsed. CloudFormation's short tags (`!Ref X`, `!Sub "..."`) read as their
/// plain values (`X`, `...`).
fn template() -> Yaml {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    YamlLoader::load_from_str(&text)
        .expect("template.yaml is YAML")
        .remove(0)
}

fn text(value: &Yaml, what: &str) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what}: expected a string, found {value:?}"))
        .to_owned()
}

fn list<'a>(value: &'a Yaml, what: &str) -> &'a [Yaml] {
    value
        .as_vec()
        .unwrap_or_else(|| panic!("{what}: expected a list, found {value:?}"))
}

/// (logical id, resource) of every resource of `kind`.
fn resources(template: &Yaml, kind: &str) -> Vec<(String, Yaml)> {
    template["Resources"]
        .as_hash()
        .expect("Resources")
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some(kind))
        .map(|(id, resource)| (text(id, "logical id"), resource.clone()))
        .collect()
}

fn binary(function: &Yaml, id: &str) -> String {
    assert_eq!(
        function["Metadata"]["BuildMethod"].as_str(),
        Some("rust-cargolambda"),
        "{id} is built by cargo-lambda"
    );
    text(&function["Metadata"]["BuildProperties"]["Binary"], id)
}

/// The template's functions that serve routes.
fn http_functions() -> Vec<(String, Yaml)> {
    resources(&template(), "AWS::Serverless::Function")
        .into_iter()
        .filter(|(id, f)| {
            let binary = binary(f, id);
            binary != INVOKED && !TRIGGERED.iter().any(|(name, _)| *name == binary)
        })
        .collect()
}

/// (Method, Path, logical id) of every route of the template.
fn from_template() -> RouteSet {
    let mut routes = RouteSet::new();
    for (id, function) in http_functions() {
        for (_, event) in function["Properties"]["Events"].as_hash().expect("Events") {
            assert_eq!(event["Type"].as_str(), Some("HttpApi"), "{id}'s event");
            let properties = &event["Properties"];
            routes.insert((
                text(&properties["Method"], &id),
                text(&properties["Path"], &id),
                id.clone(),
            ));
        }
    }
    routes
}

#[test]
fn the_stream_and_schedule_functions_have_their_crate_and_their_one_trigger() {
    let functions = resources(&template(), "AWS::Serverless::Function");
    for (binary, event_type) in TRIGGERED {
        assert!(root()
            .join("functions")
            .join(binary)
            .join("src/main.rs")
            .exists());
        let (id, function) = functions
            .iter()
            .find(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(binary))
            .unwrap_or_else(|| panic!("{binary} is in template.yaml"));
        let events: Vec<&str> = function["Properties"]["Events"]
            .as_hash()
            .expect("Events")
            .values()
            .map(|e| e["Type"].as_str().unwrap())
            .collect();
        assert_eq!(events, [*event_type], "{id}");
    }
}

#[test]
fn cargo_lambda_router_sends_exactly_the_routes_of_the_code_to_the_http_binary() {
    assert_eq!(from_cargo_router(), from_code(|_| HTTP_BINARY.to_owned()));
}

#[test]
fn sam_template_has_one_function_per_route_of_the_code() {
    assert_eq!(from_template(), from_code(logical_id));
}

/// SAM builds functions with the same code location and metadata once and copies the artifact
/// (its build graph's FunctionBuildDefinition): the 33 HTTP functions cost one build.
#[test]
fn every_http_function_runs_the_one_http_binary_from_one_build() {
    let functions = http_functions();
    assert_eq!(functions.len(), api::ROUTES.len(), "one function per route");
    let (first_id, first) = &functions[0];
    for (id, function) in &functions {
        assert_eq!(binary(function, id), HTTP_BINARY, "{id}");
        assert_eq!(
            function["Metadata"], first["Metadata"],
            "{id} and {first_id}"
        );
        for property in ["CodeUri", "Runtime", "Handler", "Architectures"] {
            assert_eq!(
                function["Properties"][property], first["Properties"][property],
                "{id}'s {property}"
            );
        }
    }
    assert_eq!(first["Properties"]["CodeUri"].as_str(), Some("."));
}

#[test]
fn the_function_crates_are_the_http_binary_and_the_triggered_ones() {
    let crates: BTreeSet<String> = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let expected: BTreeSet<String> = TRIGGERED
        .iter()
        .map(|(name, _)| name.to_string())
        .chain([HTTP_BINARY.to_owned(), INVOKED.to_owned()])
        .collect();
    assert_eq!(crates, expected);
}

/// A table or index definition in the vocabulary both sides share (DynamoDB's API names, which
/// CloudFormation uses too); lists sorted where order carries no meaning.
#[derive(Debug, PartialEq)]
struct TableShape {
    billing_mode: String,
    /// (AttributeName, AttributeType)
    attributes: Vec<(String, String)>,
    /// (AttributeName, KeyType), in order: HASH first.
    key: Vec<(String, String)>,
    local_indexes: Vec<IndexShape>,
    global_indexes: Vec<IndexShape>,
    /// The stream's view type; `None` without a stream.
    stream: Option<String>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct IndexShape {
    name: String,
    key: Vec<(String, String)>,
    projection_type: String,
    non_key_attributes: Vec<String>,
}

fn sorted<T: Ord>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut items: Vec<T> = items.into_iter().collect();
    items.sort();
    items
}

fn code_key(key: &[KeySchemaElement]) -> Vec<(String, String)> {
    key.iter()
        .map(|k| {
            (
                k.attribute_name().to_owned(),
                k.key_type().as_str().to_owned(),
            )
        })
        .collect()
}

fn code_index(name: &str, key: &[KeySchemaElement], projection: Option<&Projection>) -> IndexShape {
    let projection = projection.expect("every index has a projection");
    IndexShape {
        name: name.to_owned(),
        key: code_key(key),
        projection_type: projection
            .projection_type()
            .expect("projection type")
            .as_str()
            .to_owned(),
        non_key_attributes: sorted(projection.non_key_attributes().iter().cloned()),
    }
}

/// What `table::create_table` sends.
fn table_from_code() -> TableShape {
    TableShape {
        billing_mode: table::BILLING_MODE.as_str().to_owned(),
        attributes: sorted(table::attribute_definitions().iter().map(|a| {
            (
                a.attribute_name().to_owned(),
                a.attribute_type().as_str().to_owned(),
            )
        })),
        key: code_key(&table::key_schema()),
        // None: a local index would cap a customer's items at 10 GB (the ledger is chunked).
        local_indexes: Vec::new(),
        global_indexes: sorted(
            table::global_secondary_indexes()
                .iter()
                .map(|i| code_index(i.index_name(), i.key_schema(), i.projection())),
        ),
        stream: Some(table::stream_specification())
            .filter(|s| s.stream_enabled())
            .map(|s| {
                s.stream_view_type()
                    .expect("an enabled stream has a view type")
                    .as_str()
                    .to_owned()
            }),
    }
}

fn template_key(key: &Yaml) -> Vec<(String, String)> {
    list(key, "KeySchema")
        .iter()
        .map(|k| {
            (
                text(&k["AttributeName"], "AttributeName"),
                text(&k["KeyType"], "KeyType"),
            )
        })
        .collect()
}

fn template_indexes(indexes: &Yaml) -> Vec<IndexShape> {
    if indexes.is_badvalue() {
        return Vec::new(); // none declared
    }
    sorted(list(indexes, "indexes").iter().map(|index| {
        IndexShape {
            name: text(&index["IndexName"], "IndexName"),
            key: template_key(&index["KeySchema"]),
            projection_type: text(&index["Projection"]["ProjectionType"], "ProjectionType"),
            non_key_attributes: match &index["Projection"]["NonKeyAttributes"] {
                Yaml::BadValue => Vec::new(),
                names => sorted(
                    list(names, "NonKeyAttributes")
                        .iter()
                        .map(|n| text(n, "name")),
                ),
            },
        }
    }))
}

/// The template's one `AWS::DynamoDB::Table`.
fn template_table() -> Yaml {
    let tables = resources(&template(), "AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1, "one table: {tables:?}");
    tables.into_iter().next().unwrap().1
}

fn table_from_template() -> TableShape {
    let properties = &template_table()["Properties"];
    TableShape {
        billing_mode: text(&properties["BillingMode"], "BillingMode"),
        attributes: sorted(
            list(&properties["AttributeDefinitions"], "AttributeDefinitions")
                .iter()
                .map(|a| {
                    (
                        text(&a["AttributeName"], "AttributeName"),
                        text(&a["AttributeType"], "AttributeType"),
                    )
                }),
        ),
        key: template_key(&properties["KeySchema"]),
        local_indexes: template_indexes(&properties["LocalSecondaryIndexes"]),
        global_indexes: template_indexes(&properties["GlobalSecondaryIndexes"]),
        // CloudFormation turns the stream on when StreamSpecification is present.
        stream: match &properties["StreamSpecification"] {
            Yaml::BadValue => None,
            spec => Some(text(&spec["StreamViewType"], "StreamViewType")),
        },
    }
}

#[test]
fn sam_template_declares_the_table_that_the_code_creates() {
    assert_eq!(table_from_template(), table_from_code());
}

#[test]
fn sam_template_table_keeps_its_data() {
    let template = template();
    let table = template_table();
    let properties = &table["Properties"];
    assert_eq!(
        properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        Yaml::Boolean(true),
        "point-in-time recovery"
    );
    // `!Ref DeletionProtection`, a parameter that defaults to on.
    let parameter = text(
        &properties["DeletionProtectionEnabled"],
        "DeletionProtectionEnabled",
    );
    assert_eq!(
        template["Parameters"][parameter.as_str()]["Default"].as_str(),
        Some("true"),
        "deletion protection is on unless the deployer turns it off"
    );
}

/// Least privilege: every function names its DynamoDB actions one by one, on the table and on
/// indexes that exist, never `*`.
#[test]
fn sam_template_policies_name_actions_and_existing_indexes() {
    let indexes: BTreeSet<String> = table::global_secondary_indexes()
        .iter()
        .map(|i| i.index_name().to_owned())
        .collect();
    let known_actions = [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:Query",
        "sqs:SendMessage",
    ];
    let functions = resources(&template(), "AWS::Serverless::Function");
    assert!(!functions.is_empty());
    for (id, function) in functions {
        let policies = list(&function["Properties"]["Policies"], &id);
        assert!(!policies.is_empty(), "{id} has a policy");
        for policy in policies {
            for statement in list(&policy["Statement"], &id) {
                assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{id}");
                for action in list(&statement["Action"], &id) {
                    let action = text(action, &id);
                    assert!(
                        known_actions.contains(&action.as_str()),
                        "{id}: action {action}"
                    );
                }
                for resource in list(&statement["Resource"], &id) {
                    let resource = text(resource, &id);
                    let ok = resource == "WalletsTable.Arn"
                        || resource == "DispatcherFailures.Arn"
                        || resource
                            .strip_prefix("${WalletsTable.Arn}/index/")
                            .is_some_and(|index| indexes.contains(index));
                    assert!(ok, "{id}: resource {resource} (indexes: {indexes:?})");
                }
            }
        }
    }
}

/// The webhook deliverer has no trigger of its own: the dispatcher invokes it (asynchronously),
/// by the name the template gives it, and may do so.
#[test]
fn the_dispatcher_names_and_may_invoke_the_webhook_deliverer() {
    let template = template();
    let functions = resources(&template, "AWS::Serverless::Function");
    assert!(root()
        .join("functions")
        .join(INVOKED)
        .join("src/main.rs")
        .exists());
    let (id, deliverer) = functions
        .iter()
        .find(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(INVOKED))
        .expect("webhook-deliverer is in template.yaml");
    assert!(deliverer["Properties"]["Events"].is_badvalue(), "{id}");
    let dispatcher = &functions
        .iter()
        .find(|(_, f)| {
            f["Metadata"]["BuildProperties"]["Binary"].as_str() == Some("webhook-dispatcher")
        })
        .expect("webhook-dispatcher")
        .1;
    assert_eq!(
        text(
            &dispatcher["Properties"]["Environment"]["Variables"]["DELIVERER_FUNCTION"],
            "dispatcher"
        ),
        *id
    );
    let grants = resources(&template, "AWS::IAM::Policy");
    assert!(
        grants.iter().any(|(_, p)| {
            let statement = &p["Properties"]["PolicyDocument"]["Statement"][0];
            text(&p["Properties"]["Roles"][0], "roles") == "WebhookDispatcherFunctionRole"
                && text(&statement["Action"][0], "action") == "lambda:InvokeFunction"
                && text(&statement["Resource"][0], "resource") == format!("{id}.Arn")
        }),
        "the dispatcher's role may invoke {id}"
    );
}
