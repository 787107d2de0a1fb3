//! The committed operation table (`tests/fixtures/wsus/operations.txt`) against the real
//! WSDL in `../shared/fixtures/wsus/ApiRemoting30.wsdl`, when that capture is present.

use crate::support::wsus as wsus_support;

use supctl::store::wsus::soap::{Element, TNS};

const XS: &str = "http://www.w3.org/2001/XMLSchema";

fn request_params(schema_elements: &[&Element], op: &str) -> Option<Vec<String>> {
    let el = schema_elements
        .iter()
        .find(|e| e.attr(None, "name") == Some(op))?;
    let seq = el.child("complexType").and_then(|c| c.child("sequence"));
    Some(
        seq.map(|s| {
            s.children
                .iter()
                .filter(|c| c.is(XS, "element"))
                .filter_map(|c| c.attr(None, "name").map(str::to_string))
                .collect()
        })
        .unwrap_or_default(),
    )
}

#[test]
fn operation_table_matches_the_captured_wsdl() {
    let table = wsus_support::operations();
    assert!(table.len() >= 10);
    // Absent, the operation table is not compared with the real WSDL.
    let Some(path) = crate::support::shared_fixture("wsus/ApiRemoting30.wsdl") else {
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap();
    let wsdl = Element::parse(&text).expect("the WSDL parses");
    let schemas: Vec<&Element> = wsdl
        .child("types")
        .expect("wsdl:types")
        .children
        .iter()
        .filter(|s| s.attr(None, "targetNamespace") == Some(TNS))
        .collect();
    let elements: Vec<&Element> = schemas
        .iter()
        .flat_map(|s| s.children.iter().filter(|c| c.is(XS, "element")))
        .collect();
    for (op, params) in &table {
        let wsdl_params = request_params(&elements, op)
            .unwrap_or_else(|| panic!("{op} is not an operation of the WSDL"));
        assert_eq!(&wsdl_params, params, "parameters of {op}");
        assert!(
            request_params(&elements, &format!("{op}Response")).is_some(),
            "{op}Response is missing"
        );
    }
}
