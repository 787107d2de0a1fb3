//! The contract every request is checked against: the committed operation table (names
//! and parameter order from the WSDL) and, below the top level, the WSDL's shapes.

use supctl::store::wsus::soap::{Element, SOAP_ENV, TNS};

use super::http::Request;
use super::shape;

/// The committed operation table: (operation, parameters in WSDL order).
pub(crate) fn operations() -> Vec<(String, Vec<String>)> {
    let text = include_str!("../../../fixtures/wsus/operations.txt");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.split_whitespace();
            let op = parts.next().expect("operation").to_string();
            let params = match parts.next() {
                None | Some("-") => Vec::new(),
                Some(p) => p.split(',').map(str::to_string).collect(),
            };
            (op, params)
        })
        .collect()
}

/// Checks the request against the table: content type, SOAPAction (ASMX or WCF style),
/// envelope, operation element and parameter names, namespaces and order.
pub(crate) fn check(
    req: &Request,
    table: &[(String, Vec<String>)],
) -> Result<(String, Element), String> {
    let ctype = req.header("content-type").unwrap_or("");
    if !ctype.starts_with("text/xml") {
        return Err(format!("Content-Type {ctype} is not text/xml"));
    }
    let env = Element::parse(&req.body).map_err(|e| format!("body is not XML: {e}"))?;
    if !env.is(SOAP_ENV, "Envelope") {
        return Err("root is not a SOAP 1.1 Envelope".into());
    }
    let op_el = env
        .children
        .iter()
        .find(|c| c.is(SOAP_ENV, "Body"))
        .and_then(|b| b.children.first())
        .ok_or("no operation element in the Body")?;
    if op_el.ns.as_deref() != Some(TNS) {
        return Err(format!(
            "{} is not in the ApiRemoting namespace",
            op_el.name
        ));
    }
    let (op, params) = table
        .iter()
        .find(|(o, _)| *o == op_el.name)
        .ok_or_else(|| format!("{} is not in the operation table", op_el.name))?;
    let action = req.header("soapaction").unwrap_or("");
    let asmx = format!("\"{TNS}/{op}\"");
    let wcf = format!("\"{TNS}/ApiRemotingSoap/{op}\"");
    if action != asmx && action != wcf {
        return Err(format!("SOAPAction {action} does not name {op}"));
    }
    let sent: Vec<&str> = op_el.children.iter().map(|c| c.name.as_str()).collect();
    if sent != params.iter().map(String::as_str).collect::<Vec<_>>() {
        return Err(format!("{op} parameters {sent:?}, WSDL says {params:?}"));
    }
    if let Some(c) = op_el.children.iter().find(|c| c.ns.as_deref() != Some(TNS)) {
        return Err(format!(
            "{op} parameter {} is not in the ApiRemoting namespace",
            c.name
        ));
    }
    for c in &op_el.children {
        if let Some(s) = shape::of(op, &c.name) {
            shape::check(&format!("{op}/{}", c.name), c, s)?;
        }
    }
    Ok((op.clone(), op_el.clone()))
}
