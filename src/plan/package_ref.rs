//! How a plan carries the package it publishes: by reference, never by value.
//!
//! A plan that published 100,000 updates used to hold every package's SDP XML (1.2 GB of
//! JSON, read back whole by `apply --resume`). The XML is already on disk in a form that
//! cannot drift unnoticed: the catalog's CAB in the fetch cache, whose SHA-256 the plan
//! records (`Plan::sources`) and whose signature is verified again when the XML is read.
//! So a saved plan refers to each package by its update id and content hash (the SHA-256
//! of its XML), about 130 bytes; apply re-reads the XML from that CAB
//! (`reconcile::hydrate`) and refuses, naming the update, when the CAB is gone, changed or
//! no longer trusted, or holds a different package.
//!
//! In memory a plan's `Payload::Update` shares the catalog's summary record (no XML either),
//! which the planning steps read; before apply, `Plan::refer_to_packages` turns it into the
//! same stub a reference loads as (`UpdateRecord::reference`), a summary apply never
//! publishes as it is ([`UpdateRecord::is_summary`]): apply reads the XML through
//! `apply::packages`. Plans saved before references existed embed the record and still
//! load; apply publishes such a record as it is.

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::catalog::model::UpdateRecord;
use crate::ids::{Sha256, UpdateId};

/// The serialized form of a publish or revise payload.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackageRef {
    id: UpdateId,
    /// SHA-256 of the package's XML as the catalog holds it.
    content_hash: Sha256,
}

/// What a saved plan may hold: a reference (plans that record `sources`), or the
/// whole record (older plans).
#[derive(Deserialize)]
#[serde(untagged)]
enum Form {
    Ref(PackageRef),
    Full(Box<UpdateRecord>),
}

pub(super) fn serialize<S: Serializer>(
    record: &Arc<UpdateRecord>,
    s: S,
) -> Result<S::Ok, S::Error> {
    PackageRef {
        id: record.id,
        content_hash: record.content_hash(),
    }
    .serialize(s)
}

pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<UpdateRecord>, D::Error> {
    Ok(match Form::deserialize(d)? {
        Form::Ref(r) => Arc::new(UpdateRecord::reference(r.id, r.content_hash)),
        Form::Full(record) => Arc::from(record),
    })
}

#[cfg(test)]
mod tests {
    use crate::plan::Payload;

    fn record() -> crate::catalog::model::UpdateRecord {
        let xml = include_str!("../../tests/fixtures/catalog/package.sdp");
        crate::catalog::sdp::parse_catalog(xml).unwrap().remove(0)
    }

    #[test]
    fn a_payload_is_saved_as_a_reference_and_loads_as_a_summary() {
        let r = record();
        let hash = r.content_hash();
        let json = serde_json::to_string(&Payload::Update {
            record: std::sync::Arc::new(r.clone()),
        })
        .unwrap();
        assert_eq!(
            json,
            format!(
                "{{\"type\":\"update\",\"record\":{{\"id\":\"{}\",\"content_hash\":\"{}\"}}}}",
                r.id,
                hash.to_hex()
            )
        );
        let Payload::Update { record: back } = serde_json::from_str(&json).unwrap() else {
            panic!("an update payload");
        };
        assert_eq!((back.id, back.content_hash()), (r.id, hash));
        assert!(back.is_summary(), "a reference is never published as it is");
    }

    #[test]
    fn a_plan_saved_with_the_whole_record_still_loads_it() {
        let r = record();
        let old = serde_json::json!({ "type": "update", "record": r });
        let Payload::Update { record: back } = serde_json::from_value(old).unwrap() else {
            panic!("an update payload");
        };
        assert_eq!(*back, r);
        assert!(!back.is_summary());
    }
}
