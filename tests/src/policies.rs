//! `template.yaml` as the policy tests read it (`tests/routes.rs` for the API's functions,
//! `tests/dashboard_policies.rs` for the dashboard's): its resources, each function's policy
//! statements (inline and managed), and whether a statement allows what a store method asks of
//! DynamoDB (`shared::adapters::dynamo::permissions`).

use std::collections::BTreeSet;

use shared::adapters::dynamo::permissions::{StoreAccess, UPDATE_ITEM};
use yaml_rust2::{Yaml, YamlLoader};

use crate::workspace_root as root;

/// `template.yaml`, parsed. CloudFormation's short tags (`!Ref X`, `!Sub "..."`) read as their
/// plain values (`X`, `...`).
pub fn template() -> Yaml {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    YamlLoader::load_from_str(&text)
        .expect("template.yaml is YAML")
        .remove(0)
}

pub fn text(value: &Yaml, what: &str) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what}: expected a string, found {value:?}"))
        .to_owned()
}

pub fn list<'a>(value: &'a Yaml, what: &str) -> &'a [Yaml] {
    value
        .as_vec()
        .unwrap_or_else(|| panic!("{what}: expected a list, found {value:?}"))
}

/// (logical id, resource) of every resource of `kind`.
pub fn resources(template: &Yaml, kind: &str) -> Vec<(String, Yaml)> {
    template["Resources"]
        .as_hash()
        .expect("Resources")
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some(kind))
        .map(|(id, resource)| (text(id, "logical id"), resource.clone()))
        .collect()
}

pub fn binary(function: &Yaml, id: &str) -> String {
    assert_eq!(
        function["Metadata"]["BuildMethod"].as_str(),
        Some("rust-cargolambda"),
        "{id} is built by cargo-lambda"
    );
    text(&function["Metadata"]["BuildProperties"]["Binary"], id)
}

/// One statement of a function's policies.
#[derive(Debug)]
pub struct Grant {
    pub actions: BTreeSet<String>,
    pub resources: BTreeSet<String>,
    pub condition: Yaml,
}

/// The statements of `function`'s policies: inline documents, and managed policies of the
/// template named by `!Ref`.
pub fn grants(template: &Yaml, id: &str, function: &Yaml) -> Vec<Grant> {
    let mut grants = Vec::new();
    for policy in list(&function["Properties"]["Policies"], id) {
        // `!If [Condition, policy, !Ref AWS::NoValue]` reads as that list: the policy.
        let policy = match policy.as_vec().map(Vec::as_slice) {
            Some([_, conditional, none]) if none.as_str() == Some("AWS::NoValue") => conditional,
            _ => policy,
        };
        let document = match policy.as_str() {
            Some(name) => {
                let managed = &template["Resources"][name];
                assert_eq!(
                    managed["Type"].as_str(),
                    Some("AWS::IAM::ManagedPolicy"),
                    "{id}: policy {name}"
                );
                managed["Properties"]["PolicyDocument"].clone()
            }
            None => policy.clone(),
        };
        for statement in list(&document["Statement"], id) {
            assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{id}");
            let strings = |value: &Yaml| -> BTreeSet<String> {
                match value.as_str() {
                    Some(one) => BTreeSet::from([one.to_owned()]),
                    None => list(value, id).iter().map(|v| text(v, id)).collect(),
                }
            };
            grants.push(Grant {
                actions: strings(&statement["Action"]),
                resources: strings(&statement["Resource"]),
                condition: statement["Condition"].clone(),
            });
        }
    }
    grants
}

pub const TABLE: &str = "WalletsTable.Arn";

pub fn index_arn(index: &str) -> String {
    format!("${{WalletsTable.Arn}}/index/{index}")
}

/// The values of condition `key` under `operator` (`ForAllValues:StringLike`), if set.
pub fn condition_values(condition: &Yaml, operator: &str, key: &str) -> Option<BTreeSet<String>> {
    let values = &condition[operator][key];
    if values.is_badvalue() {
        return None;
    }
    Some(match values.as_str() {
        Some(one) => BTreeSet::from([one.to_owned()]),
        None => list(values, key).iter().map(|v| text(v, key)).collect(),
    })
}

/// Why `grant` does not allow `action` of `access` on `resource`, or `None` if it does.
pub fn refusal(
    grant: &Grant,
    action: &str,
    resource: &str,
    access: &StoreAccess,
) -> Option<String> {
    if !grant.actions.contains(action) || !grant.resources.contains(resource) {
        return Some("not granted".to_owned());
    }
    if action != UPDATE_ITEM {
        return None;
    }
    let reach = access
        .update
        .expect("an UpdateItem line says what it reaches");
    if let Some(patterns) = condition_values(
        &grant.condition,
        "ForAllValues:StringLike",
        "dynamodb:LeadingKeys",
    ) {
        let wanted = format!("{}*", reach.partition_key_prefix);
        if !patterns.contains(&wanted) {
            return Some(format!("LeadingKeys {patterns:?} lacks {wanted}"));
        }
    }
    if let Some(allowed) = condition_values(
        &grant.condition,
        "ForAllValues:StringEquals",
        "dynamodb:Attributes",
    ) {
        let missing: Vec<_> = reach
            .attributes
            .iter()
            .filter(|a| !allowed.contains(**a))
            .collect();
        if !missing.is_empty() {
            return Some(format!("Attributes lacks {missing:?}"));
        }
    }
    None
}
