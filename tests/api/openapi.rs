//! The OpenAPI document covers every route `configure` registers, and nothing else; it is
//! served at `/openapi.json` with its docs page at `/docs`.

use std::collections::HashSet;

use serde_json::Value;
use wa_gateway::http::openapi::document;
use wa_gateway::http::route_table;

use crate::helpers::{json, spawn_app};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn is_gateway(path: &str) -> bool {
    path == "/wa" || path.starts_with("/wa/")
}

#[test]
fn every_registered_route_is_documented() {
    let paths = document()["paths"].as_object().expect("paths");
    let mut missing = Vec::new();
    for spec in route_table() {
        if is_gateway(spec.path) {
            // The gateway's catch-all serves every group of contract §6.1 and the admin API.
            assert!(spec.method.is_none(), "{} is a catch-all", spec.path);
            let groups = wa_gateway::gateway::GROUPS.iter().chain(&["admin"]);
            for group in groups {
                for path in [format!("/wa/{group}"), format!("/wa/{group}/{{path}}")] {
                    for m in ["get", "post", "put", "delete"] {
                        if paths.get(&path).and_then(|p| p.get(m)).is_none() {
                            missing.push(format!("{m} {path}"));
                        }
                    }
                }
            }
            continue;
        }
        let method = spec
            .method
            .as_ref()
            .unwrap_or_else(|| panic!("{} answers every method", spec.path))
            .as_str()
            .to_lowercase();
        if paths.get(spec.path).and_then(|p| p.get(&method)).is_none() {
            missing.push(format!("{method} {}", spec.path));
        }
    }
    assert!(
        missing.is_empty(),
        "routes missing from the OpenAPI document: {missing:?}"
    );
}

#[test]
fn every_documented_operation_is_routed() {
    let routed: HashSet<(String, &str)> = route_table()
        .iter()
        .filter_map(|r| Some((r.method.as_ref()?.as_str().to_lowercase(), r.path)))
        .collect();
    let mut stale = Vec::new();
    for (path, item) in document()["paths"].as_object().expect("paths") {
        if is_gateway(path) {
            continue;
        }
        for m in METHODS {
            if item.get(m).is_some() && !routed.contains(&(m.to_string(), path.as_str())) {
                stale.push(format!("{m} {path}"));
            }
        }
    }
    assert!(stale.is_empty(), "documented but not routed: {stale:?}");
}

fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r);
            }
            m.values().for_each(|v| refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn the_document_is_consistent() {
    let doc = document();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    let mut ids = HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in METHODS {
            let Some(op) = item.get(m) else { continue };
            let id = op["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_string()), "duplicate operationId {id}");
            for req in op["security"].as_array().into_iter().flatten() {
                for name in req.as_object().unwrap().keys() {
                    assert!(
                        schemes.contains_key(name),
                        "{m} {path}: unknown scheme {name}"
                    );
                }
            }
            let bulk = path.starts_with("/bulk/") && path != "/bulk/cron/process";
            assert_eq!(
                bulk,
                op["security"].to_string().contains("bearer_token"),
                "{m} {path}: bearer security iff /bulk/*"
            );
        }
    }
    let mut all = Vec::new();
    refs(doc, &mut all);
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").expect("local ref");
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "dangling $ref {r}"
        );
    }
}

#[actix_web::test]
async fn openapi_json_and_docs_are_served() {
    let app = spawn_app().await;
    let resp = app.get("/openapi.json", None).await;
    assert_eq!(resp.status(), 200);
    let body = json(resp).await;
    assert!(body["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(body["paths"]["/bulk/campaign"]["post"].is_object());

    let resp = app.get("/docs", None).await;
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/html"), "{ct}");
    let page = resp.text().await.unwrap();
    assert!(page.contains("/openapi.json"));
}
