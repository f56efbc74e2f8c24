//! The route table, the cargo-lambda router, `template.yaml` and the function crates agree.

use std::collections::BTreeSet;
use std::path::Path;

type RouteSet = BTreeSet<(String, String, String)>;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
}

fn from_code() -> RouteSet {
    api::ROUTES
        .iter()
        .map(|r| {
            (
                r.method.to_owned(),
                r.path.to_owned(),
                r.function.to_owned(),
            )
        })
        .collect()
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

/// Reads (Method, Path, Binary) of every `AWS::Serverless::Function` in the template.
fn from_template() -> RouteSet {
    let template = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    let value = |line: &str, key: &str| {
        line.trim()
            .strip_prefix(key)
            .map(|v| v.trim().trim_matches('"').to_owned())
    };
    let mut routes = RouteSet::new();
    let (mut binary, mut method) = (None, None);
    for line in template.lines() {
        if line.starts_with("  ") && !line.starts_with("   ") {
            (binary, method) = (None, None); // a new resource
        }
        if let Some(b) = value(line, "Binary:") {
            binary = Some(b);
        } else if let Some(m) = value(line, "Method:") {
            method = Some(m);
        } else if let Some(path) = value(line, "Path:") {
            let (b, m) = (
                binary.clone().expect("Binary before Path"),
                method.clone().expect("Method before Path"),
            );
            routes.insert((m, path, b));
        }
    }
    routes
}

fn function_crates() -> BTreeSet<String> {
    std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

#[test]
fn cargo_lambda_router_lists_exactly_the_routes_of_the_code() {
    assert_eq!(from_cargo_router(), from_code());
}

#[test]
fn sam_template_lists_exactly_the_routes_of_the_code() {
    assert_eq!(from_template(), from_code());
}

#[test]
fn every_function_crate_serves_one_route_and_every_route_has_a_crate() {
    let functions: BTreeSet<String> = api::ROUTES.iter().map(|r| r.function.to_owned()).collect();
    assert_eq!(functions.len(), api::ROUTES.len(), "one function per route");
    assert_eq!(function_crates(), functions);
    for spec in api::ROUTES {
        let main = std::fs::read_to_string(
            root()
                .join("functions")
                .join(spec.function)
                .join("src/main.rs"),
        )
        .unwrap();
        assert!(
            main.contains(&format!("api::Route::{:?}", spec.route)),
            "{} serves {:?}",
            spec.function,
            spec.route
        );
    }
}
