//! The served OpenAPI document: 3.1, with the shared error schema and the bearer scheme, equal
//! to what `ecommerce-api openapi` prints, and to the reviewed snapshot.

use crate::harness::spawn_app;

const SNAPSHOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/api/snapshots/openapi.json"
);

#[tokio::test]
async fn the_served_document_is_openapi_3_1_with_errors_and_bearer_auth() {
    let app = spawn_app().await;

    let response = app.get("/api-docs/openapi.json").await;

    response.assert_status(200);
    let doc = &response.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    let codes = &doc["components"]["schemas"]["ErrorCode"]["enum"];
    for code in [
        "VALIDATION_ERROR",
        "NOT_FOUND",
        "INSUFFICIENT_STOCK",
        "UNAVAILABLE",
    ] {
        assert!(
            codes.as_array().unwrap().iter().any(|c| c == code),
            "{code}"
        );
    }
    assert!(doc["components"]["schemas"]["ErrorEnvelope"].is_object());
    for path in ["/health", "/ready", "/metrics"] {
        assert!(doc["paths"][path]["get"].is_object(), "{path}");
    }
}

/// Client generators need a valid document with one id per operation; the schema is the
/// OpenAPI Initiative's own, vendored so the test runs offline.
#[tokio::test]
async fn the_served_document_is_valid_openapi_3_1_with_unique_readable_operation_ids() {
    let app = spawn_app().await;
    let document = app.get("/api-docs/openapi.json").await.body;
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/openapi-3.1.schema.json")).unwrap();

    let validator = jsonschema::draft202012::new(&schema).expect("the OpenAPI schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&document)
        .map(|error| format!("{error} (at {})", error.instance_path()))
        .collect();

    assert!(errors.is_empty(), "{errors:#?}");
    let mut ids = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(
                id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                    && id.chars().all(|c| c.is_ascii_alphanumeric()),
                "{method} {path}: {id} is not camelCase"
            );
            ids.push(id.to_owned());
        }
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "duplicate operationIds in {ids:?}");
}

/// A contract change shows in review as a diff of the snapshot. After an intended change, run
/// `UPDATE_SNAPSHOTS=1 cargo test openapi` and commit the file.
#[tokio::test]
async fn the_document_matches_the_reviewed_snapshot() {
    let app = spawn_app().await;
    let served = app.get("/api-docs/openapi.json").await.body;
    let pretty = serde_json::to_string_pretty(&served).unwrap() + "\n";

    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(SNAPSHOT, &pretty).unwrap();
    }
    let snapshot = std::fs::read_to_string(SNAPSHOT).expect("the snapshot exists");
    let first_difference = pretty
        .lines()
        .zip(snapshot.lines())
        .position(|(served, reviewed)| served != reviewed);
    assert!(
        pretty == snapshot,
        "the OpenAPI document changed (first at line {}: {:?}); review it and run \
         UPDATE_SNAPSHOTS=1 cargo test openapi",
        first_difference.map_or(pretty.lines().count().min(snapshot.lines().count()), |l| l
            + 1),
        first_difference.and_then(|l| pretty.lines().nth(l)),
    );
}
