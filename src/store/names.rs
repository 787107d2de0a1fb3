//! Textual identities the store uses besides the shared ids: catalog keys, plan addresses,
//! plan ids, lock ids and fingerprints.
//!
//! They are newtypes (made with the workspace's one macro, `supctl_ids::text_newtype!`) so an
//! address can never be confused with a catalog key, and so that validation happens once
//! when a value enters the store.

use supctl_ids::text_newtype;

use super::model::CertKind;
use crate::ids::{Thumbprint, UpdateId};

/// Why a store name was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error(
        "`{0}` is not a catalog key (expected 1-64 characters: letters, digits, `_` or `-`, starting with a letter or digit)"
    )]
    CatalogKey(String),
    #[error("`{0}` is not an address (expected non-empty text without whitespace)")]
    Address(String),
    #[error("`{0}` is not a {1} (expected 1-128 characters: letters, digits, `_`, `-` or `.`)")]
    Token(String, &'static str),
}

fn token(s: &str, what: &'static str) -> Result<String, NameError> {
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(s.to_string())
    } else {
        Err(NameError::Token(s.to_string(), what))
    }
}

text_newtype!(
    /// The stable key of a catalog in TOML (`[catalog.dell]`), also the first part of its
    /// plan address; kept strict so addresses stay unambiguous.
    CatalogKey,
    NameError,
    |s| {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok { Ok(s.to_string()) } else { Err(NameError::CatalogKey(s.to_string())) }
    }
);

text_newtype!(
    /// A plan address (`catalog.dell`, `catalog.dell.update[<guid>]`,
    /// `certificate[<thumbprint>]` or one role of it, `certificate[<thumbprint>].catalog`,
    /// `sync`, `signing`): how the journal and the inventory name objects, so they line up
    /// with plan output.
    Address,
    NameError,
    |s| {
        if !s.is_empty() && !s.chars().any(char::is_whitespace) {
            Ok(s.to_string())
        } else {
            Err(NameError::Address(s.to_string()))
        }
    }
);

text_newtype!(
    /// Identifies one plan (and so one apply journal) across runs, for `apply --resume`.
    PlanId,
    NameError,
    |s| token(s, "plan id")
);

text_newtype!(
    /// Identifies one holder of the state lock; `force-unlock` takes it as a nonce so an
    /// admin cannot break a lock other than the one they looked at.
    LockId,
    NameError,
    |s| token(s, "lock id")
);

text_newtype!(
    /// A hash of one stored object, compared by apply before changing it (compare-and-swap).
    Fingerprint,
    NameError,
    |s| token(s, "fingerprint")
);

impl Address {
    /// True when this is `target` or an object inside it (`catalog.a.update[x]` is within
    /// `catalog.a`; `catalog.ab` is not).
    pub fn is_within(&self, target: &Address) -> bool {
        let (a, t) = (self.as_str(), target.as_str());
        a == t || (a.starts_with(t) && matches!(a.as_bytes().get(t.len()), Some(b'.') | Some(b'[')))
    }
    /// The apply itself: the journal key of the entry that ends an apply which was not
    /// interrupted (it names no object), and where a diagnostic about an apply points.
    pub fn apply() -> Self {
        Self("apply".into())
    }
    /// Every certificate: a `--target` (and a pass's scope) that covers all of them.
    pub fn every_certificate() -> Self {
        Self("certificate".into())
    }
    /// A setting of the config a diagnostic points at (`server.max_deletions`).
    pub fn setting(table: &str, key: &str) -> Self {
        Self(format!("{table}.{key}").into())
    }
    /// Where a diagnostic about the config as a whole points.
    pub fn config() -> Self {
        Self("config".into())
    }
    pub fn catalog(key: &CatalogKey) -> Self {
        Self(format!("catalog.{key}").into())
    }
    pub fn update(catalog: &CatalogKey, id: &UpdateId) -> Self {
        Self(format!("catalog.{catalog}.update[{id}]").into())
    }
    /// Every role of a certificate: the inventory's name for it.
    pub fn certificate(t: &Thumbprint) -> Self {
        Self(format!("certificate[{t}]").into())
    }
    /// One role of a certificate (catalog signer, content certificate, WSUS signing): what
    /// a plan approves or blocks, so one thumbprint in two roles is two objects.
    pub fn certificate_role(t: &Thumbprint, kind: CertKind) -> Self {
        Self(format!("certificate[{t}].{kind}").into())
    }
    pub fn sync() -> Self {
        Self("sync".into())
    }
    pub fn signing() -> Self {
        Self("signing".into())
    }

    /// What kind of object the address names, when it is one the store can fingerprint.
    pub fn target(&self) -> Option<Target> {
        let s: &str = &self.0;
        match s {
            "sync" => return Some(Target::Sync),
            "signing" => return Some(Target::Signing),
            _ => {}
        }
        if let Some(rest) = s.strip_prefix("certificate[") {
            let (t, role) = rest.split_once(']')?;
            let role = match role {
                "" => None,
                r => Some(CertKind::parse(r.strip_prefix('.')?)?),
            };
            return Thumbprint::parse(t)
                .ok()
                .map(|t| Target::Certificate(t, role));
        }
        if let Some(rest) = s.strip_prefix("group[") {
            return Some(Target::Group(decode_group(rest.strip_suffix(']')?)?));
        }
        let rest = s.strip_prefix("catalog.")?;
        match rest.split_once('.') {
            None => CatalogKey::parse(rest).ok().map(Target::Catalog),
            Some((key, tail)) => {
                let tail = tail.strip_prefix("update[")?;
                let (id, rest) = tail.split_once(']')?;
                let (key, id) = (CatalogKey::parse(key).ok()?, UpdateId::parse(id).ok()?);
                match rest {
                    "" => Some(Target::Update(key, id)),
                    r => {
                        let group = r.strip_prefix(".approval[")?.strip_suffix(']')?;
                        Some(Target::Approval(key, id, decode_group(group)?))
                    }
                }
            }
        }
    }

    /// A computer target group: `group[<name>]`.
    pub fn group(name: &str) -> Self {
        Self(format!("group[{}]", encode_group(name)).into())
    }

    /// The approval of an update for one group: `catalog.<key>.update[<id>].approval[<group>]`.
    pub fn approval(catalog: &CatalogKey, id: &UpdateId, group: &str) -> Self {
        Self(
            format!(
                "catalog.{catalog}.update[{id}].approval[{}]",
                encode_group(group)
            )
            .into(),
        )
    }
}

/// Group names may hold spaces and brackets; addresses hold neither, so those (and `%`)
/// are percent-encoded: `Ring 1 - Pilot` → `Ring%201%20-%20Pilot`.
fn encode_group(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_whitespace() || matches!(c, '%' | '[' | ']') {
            let mut b = [0u8; 4];
            for byte in c.encode_utf8(&mut b).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn decode_group(s: &str) -> Option<String> {
    let mut bytes = Vec::new();
    let mut it = s.bytes();
    while let Some(b) = it.next() {
        if b == b'%' {
            let hex = [it.next()?, it.next()?];
            bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes).ok().filter(|g| !g.is_empty())
}

/// The object an [`Address`] names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Catalog(CatalogKey),
    Update(CatalogKey, UpdateId),
    /// A certificate: one role of it, or (`None`, older plans and the inventory) all of them.
    Certificate(Thumbprint, Option<CertKind>),
    Sync,
    Signing,
    /// A computer target group, by name.
    Group(String),
    /// The approval of an update for a group (by name).
    Approval(CatalogKey, UpdateId, String),
}

/// Unit tests write addresses as literals; the product parses them ([`Address::parse`]).
#[cfg(test)]
impl From<&str> for Address {
    fn from(s: &str) -> Self {
        Address::parse(s).unwrap_or_else(|e| panic!("test address {s:?}: {e}"))
    }
}
#[cfg(test)]
impl From<String> for Address {
    fn from(s: String) -> Self {
        Address::from(s.as_str())
    }
}

impl PlanId {
    /// A fresh plan id ([`unique_token`]).
    pub fn new_unique() -> Self {
        Self(unique_token().into())
    }
}

/// A fresh identifier unique enough for plans, locks and runs: time, pid and a process counter,
/// hashed. No random source is needed because two holders can never share pid and time.
pub fn unique_token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seed = format!("{now}:{}:{n}", std::process::id());
    crate::ids::Sha256::of(seed.as_bytes()).to_hex()[..16].to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_to_targets() {
        let key = CatalogKey::parse("dell").unwrap();
        let id = UpdateId::parse("c9c7dfac-d9bc-4404-8a30-38d222bf01a7").unwrap();
        assert_eq!(
            Address::update(&key, &id).target(),
            Some(Target::Update(key.clone(), id))
        );
        assert_eq!(Address::catalog(&key).target(), Some(Target::Catalog(key)));
        assert_eq!(Address::sync().target(), Some(Target::Sync));
        let t = Thumbprint::parse("6D8B3C448B990E269336BB63A47F23498C95EB7D").unwrap();
        assert_eq!(
            Address::certificate_role(&t, CertKind::Content).target(),
            Some(Target::Certificate(t.clone(), Some(CertKind::Content)))
        );
        assert_eq!(
            Address::certificate(&t).target(),
            Some(Target::Certificate(t.clone(), None))
        );
        assert_eq!(
            Address::parse(&format!("certificate[{t}].bogus"))
                .unwrap()
                .target(),
            None
        );
        assert_eq!(Address::parse("catalog.x.bogus").unwrap().target(), None);
        assert!(Address::parse("has space").is_err());
    }

    #[test]
    fn catalog_keys_are_strict() {
        assert!(CatalogKey::parse("lenovo_v3-x").is_ok());
        assert!(CatalogKey::parse("-x").is_err());
        assert!(CatalogKey::parse("a.b").is_err());
        assert!(CatalogKey::parse("").is_err());
    }

    #[test]
    fn addresses_contain_the_objects_inside_them() {
        let a = |s: &str| Address::parse(s).unwrap();
        assert!(a("catalog.a.update[x]").is_within(&a("catalog.a")));
        assert!(a("catalog.a").is_within(&a("catalog.a")));
        assert!(!a("catalog.ab").is_within(&a("catalog.a")));
        assert!(!a("catalog.a").is_within(&a("catalog.a.update[x]")));
    }

    #[test]
    fn unique_tokens_differ() {
        assert_ne!(unique_token(), unique_token());
        assert!(LockId::parse(&unique_token()).is_ok());
    }
}

#[cfg(test)]
mod group_address_tests {
    use super::*;

    #[test]
    fn group_names_with_spaces_and_brackets_round_trip_through_addresses() {
        let key = CatalogKey::parse("contoso").unwrap();
        let id = UpdateId::parse("0c31a8ec-a368-4383-8149-3d8e2c264f17").unwrap();
        for name in ["Ring 1 - Pilot", "odd [name] 100%", "All Computers"] {
            let a = Address::approval(&key, &id, name);
            assert!(!a.as_str().contains(' '), "{a}");
            let parsed = Address::parse(a.as_str()).unwrap();
            assert_eq!(
                parsed.target(),
                Some(Target::Approval(key.clone(), id, name.to_string()))
            );
            assert!(parsed.is_within(&Address::update(&key, &id)));
            assert_eq!(
                Address::group(name).target(),
                Some(Target::Group(name.to_string()))
            );
        }
    }
}
