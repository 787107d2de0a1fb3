//! Whole-row writes (`SetSubscription`, `ExecuteSPSetConfiguration`) and the signing
//! certificate. Each validates everything first and mutates last.

use supctl::store::wsus::soap::Element;

use super::answers::{
    ACCESS_DENIED, SUBSCRIPTION_FIELDS, State, missing_fields, need, parse_bool, text,
};

/// Certificates `ExecuteSetSelfSigningCertificate` rotates through (real DER, so clients can
/// compute thumbprints): each call installs the first one that differs from the current one.
pub(crate) const SELF_SIGNED: [&[u8]; 2] = [
    include_bytes!("../../../fixtures/pki/signer.cer"),
    include_bytes!("../../../fixtures/pki/other.cer"),
];

const PRODUCT_KINDS: &[&str] = &["Company", "ProductFamily", "Product"];

/// The `guid` children of an `ArrayOfGuid` parameter, lower-cased.
fn guids(params: &Element, name: &str) -> Vec<String> {
    params
        .child(name)
        .map(|a| {
            a.children_named("guid")
                .map(|g| g.text.trim().trim_matches(['{', '}']).to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default()
}

/// The texts of an `ArrayOfAnyType` parameter (language short names).
fn any_types(params: &Element, name: &str) -> Vec<String> {
    params
        .child(name)
        .map(|a| {
            a.children_named("anyType")
                .map(|g| g.text.trim().to_string())
                .collect()
        })
        .unwrap_or_default()
}

impl State {
    pub(super) fn set_subscription(
        &mut self,
        params: &Element,
        violations: &mut Vec<String>,
    ) -> Result<String, String> {
        if self.role < 2 {
            return Err(ACCESS_DENIED.into());
        }
        let row = params.child("subscription").filter(|r| !r.is_nil()).ok_or(
            "System.ArgumentNullException: Value cannot be null. Parameter name: subscription",
        )?;
        let missing = missing_fields("SetSubscription", row, SUBSCRIPTION_FIELDS.iter().copied());
        if !missing.is_empty() {
            let msg = format!("System.ArgumentException: {}", missing.join("; "));
            violations.extend(missing);
            return Err(msg);
        }
        let time_of_day: i64 = need(row, "synchronizeAutomaticallyTimeOfDay")?;
        let per_day: i32 = need(row, "NumberOfSynchronizationsPerDay")?;
        if !(1..=24).contains(&per_day) {
            return Err(format!(
                "System.ArgumentOutOfRangeException: NumberOfSynchronizationsPerDay must be between 1 and 24 (was {per_day})"
            ));
        }
        let automatic = parse_bool(text(row, "SynchronizeAutomatically"))
            .ok_or("System.ArgumentException: SynchronizeAutomatically is not a boolean")?;
        let products = guids(params, "categoryIds");
        let classifications = guids(params, "updateClassificationIds");
        for (ids, kinds, what) in [
            (&products, PRODUCT_KINDS, "categoryIds"),
            (
                &classifications,
                &["UpdateClassification"][..],
                "updateClassificationIds",
            ),
        ] {
            for id in ids {
                let known = self
                    .categories
                    .iter()
                    .any(|c| c.id.eq_ignore_ascii_case(id) && kinds.contains(&c.kind));
                if !known {
                    return Err(format!(
                        "System.ArgumentException: {what}: {id} is not a known category of kind {kinds:?}"
                    ));
                }
            }
        }
        // Validated: write the whole row.
        self.time_of_day = time_of_day;
        self.per_day = per_day;
        self.synchronize_automatically = automatic;
        for c in &mut self.categories {
            let list = if c.kind == "UpdateClassification" {
                &classifications
            } else {
                &products
            };
            c.subscribed = list.iter().any(|id| c.id.eq_ignore_ascii_case(id));
        }
        self.subscription_writes += 1;
        let n = self.subscription_writes;
        self.last_modified = format!("2024-05-01T08:{:02}:{:02}.5", n / 60 % 60, n % 60);
        self.last_modified_by = text(params, "userName").to_string();
        Ok(String::new())
    }

    pub(super) fn set_configuration(
        &mut self,
        params: &Element,
        violations: &mut Vec<String>,
    ) -> Result<String, String> {
        if self.role < 2 {
            return Err(ACCESS_DENIED.into());
        }
        let row = params
            .child("row")
            .filter(|r| !r.is_nil())
            .ok_or("System.ArgumentNullException: Value cannot be null. Parameter name: row")?;
        let fields = self.configuration_fields();
        let missing = missing_fields(
            "ExecuteSPSetConfiguration",
            row,
            fields.iter().map(|(k, _)| k.as_str()),
        );
        if !missing.is_empty() {
            let msg = format!("System.ArgumentException: {}", missing.join("; "));
            violations.extend(missing);
            return Err(msg);
        }
        let all_languages = parse_bool(text(row, "ServerSupportsAllLanguages"))
            .ok_or("System.ArgumentException: ServerSupportsAllLanguages is not a boolean")?;
        let lists: Vec<Vec<String>> = ["listTrue", "listFalse", "ussListTrue", "ussListFalse"]
            .iter()
            .map(|n| any_types(params, n))
            .collect();
        for l in lists.iter().flatten() {
            if !self
                .languages
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(l))
            {
                return Err(format!(
                    "System.ArgumentException: {l} is not a language this server knows"
                ));
            }
        }
        // Validated: write the whole row.
        let values: Vec<(String, Option<String>)> = self
            .configuration
            .iter()
            .map(|(k, _)| {
                let c = row.child(k).expect("checked above");
                (k.clone(), (!c.is_nil()).then(|| c.text.clone()))
            })
            .collect();
        self.configuration = values;
        self.server_supports_all_languages = all_languages;
        for (name, on) in &mut self.languages {
            if lists[0].iter().any(|l| l.eq_ignore_ascii_case(name)) {
                *on = true;
            }
            if lists[1].iter().any(|l| l.eq_ignore_ascii_case(name)) {
                *on = false;
            }
        }
        for l in &lists[2] {
            if !self.uss_languages.iter().any(|u| u.eq_ignore_ascii_case(l)) {
                self.uss_languages.push(l.to_ascii_lowercase());
            }
        }
        self.uss_languages
            .retain(|u| !lists[3].iter().any(|l| l.eq_ignore_ascii_case(u)));
        self.change_number += 1;
        Ok(String::new())
    }

    pub(super) fn self_signing_certificate(&mut self) -> Result<String, String> {
        if self.role < 2 {
            return Err(ACCESS_DENIED.into());
        }
        let next = SELF_SIGNED
            .iter()
            .find(|c| self.signing_certificate.as_deref() != Some(**c))
            .expect("two distinct certificates");
        self.signing_certificate = Some(next.to_vec());
        Ok(String::new())
    }

    /// Imports a PFX as WSUS does: the password arrives as UTF-16LE bytes; a wrong one (or a
    /// PFX without its key) is a fault, and the certificate in force stays.
    pub(super) fn set_signing_certificate(&mut self, params: &Element) -> Result<String, String> {
        use base64::Engine as _;
        if self.role < 2 {
            return Err(ACCESS_DENIED.into());
        }
        let b64 = &base64::engine::general_purpose::STANDARD;
        let pfx = b64
            .decode(super::answers::text(params, "PFXFileContent"))
            .map_err(|e| format!("System.FormatException: PFXFileContent: {e}"))?;
        let bytes = b64
            .decode(super::answers::text(params, "passwordBytes"))
            .map_err(|e| format!("System.FormatException: passwordBytes: {e}"))?;
        let units: Vec<u16> = bytes
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)]))
            .collect();
        let password = String::from_utf16(&units)
            .map_err(|_| "System.ArgumentException: passwordBytes is not UTF-16".to_string())?;
        let store = p12_keystore::KeyStore::from_pkcs12(
            &pfx,
            &password,
            p12_keystore::Pkcs12ImportPolicy::Strict,
        )
        .map_err(|e| format!("System.Security.Cryptography.CryptographicException: {e}"))?;
        let (_, chain) = store
            .private_key_chain()
            .ok_or("System.ArgumentException: the PFX has no private key")?;
        let cert = chain
            .certs()
            .first()
            .ok_or("System.ArgumentException: the PFX has no certificate")?;
        self.signing_certificate = Some(cert.as_der().to_vec());
        Ok(String::new())
    }
}
