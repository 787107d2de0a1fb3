//! The nested shapes of structured request parameters, copied from the WSDL's complex types
//! (element names are case-sensitive, children come in sequence order, `minOccurs="1"`
//! children must be present). Row types (`SubscriptionTableRow`, `ConfigurationTableRow`) are
//! checked by their write operations instead, against the fields the server sent.

use supctl::store::wsus::soap::{Element, TNS};

/// One complex type, as far as the double checks it.
pub(crate) enum Shape {
    /// A simple value (or `anyType`): not looked into.
    Leaf,
    /// A sequence: (child name, required, child shape).
    Struct(&'static [(&'static str, bool, Shape)]),
    /// `ArrayOf…`: every child is named this and has this shape.
    Array(&'static str, &'static Shape),
}

const LEAF: Shape = Shape::Leaf;

/// `UpdateRevisionId`.
pub(crate) const UPDATE_REVISION_ID: Shape = Shape::Struct(&[
    ("UpdateId", true, Shape::Leaf),
    ("RevisionNumber", true, Shape::Leaf),
]);

/// `UpdateRevisionIdentifier` (note `UpdateID`, unlike `UpdateRevisionId`).
pub(crate) const UPDATE_REVISION_IDENTIFIER: Shape = Shape::Struct(&[
    ("UpdateID", true, Shape::Leaf),
    ("RevisionNumber", true, Shape::Leaf),
]);

const SERVER_SYNC_URL_DATA: Shape = Shape::Struct(&[
    ("FileDigest", false, Shape::Leaf),
    ("MUUrl", false, Shape::Leaf),
    ("UssUrl", false, Shape::Leaf),
    ("DecryptionKey", false, Shape::Leaf),
]);

const EVENT_ID_FILTER: Shape = Shape::Struct(&[
    ("NamespaceId", true, Shape::Leaf),
    ("EventId", true, Shape::Leaf),
]);

const EVENT_SOURCE_FILTER: Shape = Shape::Struct(&[
    ("NamespaceId", true, Shape::Leaf),
    ("SourceId", true, Shape::Leaf),
]);

const PROGRAM_KEY: Shape = Shape::Struct(&[
    ("Key", true, Shape::Leaf),
    ("Description", false, Shape::Leaf),
]);

/// `EventHistoryFilter`: both casings of the time bounds are separate WSDL elements.
pub(crate) const EVENT_HISTORY_FILTER: Shape = Shape::Struct(&[
    ("eventInstanceIdFilter", false, Shape::Array("guid", &LEAF)),
    (
        "eventIdFilter",
        false,
        Shape::Array("EventIdFilter", &EVENT_ID_FILTER),
    ),
    (
        "eventSourceFilter",
        false,
        Shape::Array("EventSourceFilter", &EVENT_SOURCE_FILTER),
    ),
    ("eventSeverityFilter", false, Shape::Array("int", &LEAF)),
    ("updateFilter", false, UPDATE_REVISION_IDENTIFIER),
    ("fromTimeAtTarget", true, Shape::Leaf),
    ("toTimeAtTarget", true, Shape::Leaf),
    ("fromTimeAtServer", true, Shape::Leaf),
    ("toTimeAtServer", true, Shape::Leaf),
    ("targetId", false, Shape::Leaf),
    ("FromTimeAtTarget", true, Shape::Leaf),
    ("ToTimeAtTarget", true, Shape::Leaf),
    ("FromTimeAtServer", true, Shape::Leaf),
    ("ToTimeAtServer", true, Shape::Leaf),
]);

/// The shape of a structured parameter, when the double knows it.
pub(crate) fn of(op: &str, param: &str) -> Option<&'static Shape> {
    const GUIDS: Shape = Shape::Array("guid", &LEAF);
    const ANY: Shape = Shape::Array("anyType", &LEAF);
    Some(match (op, param) {
        ("ExecuteSPDeployUpdate1", "updateId") | ("ExecuteSPGetUpdateById", "id") => {
            &UPDATE_REVISION_ID
        }
        ("SetSubscription", "categoryIds" | "updateClassificationIds") => &GUIDS,
        (
            "ExecuteSPSetConfiguration",
            "listTrue" | "listFalse" | "ussListTrue" | "ussListFalse",
        ) => &ANY,
        ("ExecuteSPSetConfiguration", "programKeys") => &Shape::Array("ProgramKey", &PROGRAM_KEY),
        ("ImportUpdateForPublishing", "urlData") => {
            &Shape::Array("ServerSyncUrlData", &SERVER_SYNC_URL_DATA)
        }
        ("CatalogSiteGetMetadataAndImport", "downloadedFileDigests") => {
            &Shape::Array("base64Binary", &LEAF)
        }
        ("ExecuteSPSearchEventHistory", "eventHistoryFilter") => &EVENT_HISTORY_FILTER,
        _ => return None,
    })
}

/// Checks `el` (at `path`) against `shape`; the message names the first difference.
pub(crate) fn check(path: &str, el: &Element, shape: &Shape) -> Result<(), String> {
    if el.is_nil() {
        return Ok(());
    }
    match shape {
        Shape::Leaf => Ok(()),
        Shape::Array(item, inner) => {
            for c in &el.children {
                if c.name != *item || c.ns.as_deref() != Some(TNS) {
                    return Err(format!(
                        "{path} holds <{}> ({:?}), WSDL says <{item}> in the ApiRemoting namespace",
                        c.name, c.ns
                    ));
                }
                check(&format!("{path}/{item}"), c, inner)?;
            }
            Ok(())
        }
        Shape::Struct(fields) => {
            let names: Vec<&str> = fields.iter().map(|f| f.0).collect();
            let mut next = 0;
            for c in &el.children {
                if c.ns.as_deref() != Some(TNS) {
                    return Err(format!(
                        "{path}/{} is not in the ApiRemoting namespace",
                        c.name
                    ));
                }
                let Some(i) = fields[next..].iter().position(|f| f.0 == c.name) else {
                    return Err(format!(
                        "{path} has <{}> out of place or unknown, WSDL sequence is {names:?}",
                        c.name
                    ));
                };
                let (_, _, inner) = &fields[next + i];
                check(&format!("{path}/{}", c.name), c, inner)?;
                next += i + 1;
            }
            for (name, required, _) in fields.iter() {
                if *required && el.child(name).is_none() {
                    return Err(format!("{path} lacks the required <{name}>"));
                }
            }
            Ok(())
        }
    }
}
