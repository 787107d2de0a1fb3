//! In-memory WSUS state and answers in the WSDL's shapes (rows positional, §4 column maps).

use supctl::store::wsus::ntlm::crypto::utf16le;
use supctl::store::wsus::soap::Element;

/// Escapes text for element content.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn envelope(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>{body}</soap:Body></soap:Envelope>"#
    )
}

/// A .NET-style SOAP fault wrapping `inner`.
pub fn fault(inner: &str) -> String {
    envelope(&format!(
        "<soap:Fault><faultcode>soap:Server</faultcode><faultstring>System.Web.Services.Protocols.SoapException: Server was unable to process request. ---&gt; {}</faultstring><detail /></soap:Fault>",
        esc(inner)
    ))
}

/// NetBIOS domain `CORP`, computer `WSUS01`, then EOL (the timestamp is added by the caller).
pub fn target_info() -> Vec<u8> {
    let mut t = Vec::new();
    for (id, v) in [(2u16, "CORP"), (1, "WSUS01")] {
        let v = utf16le(v);
        t.extend(id.to_le_bytes());
        t.extend((v.len() as u16).to_le_bytes());
        t.extend(v);
    }
    t.extend([7, 0, 8, 0]);
    t.extend(0x01da_0000_0000_0000u64.to_le_bytes());
    t.extend([0, 0, 0, 0]);
    t
}

fn row(cells: &[Option<(&str, String)>]) -> String {
    let mut s = String::from("<GenericReadableRow><Values>");
    for c in cells {
        match c {
            Some((ty, v)) => s.push_str(&format!(
                r#"<anyType xsi:type="xsd:{ty}">{}</anyType>"#,
                esc(v)
            )),
            None => s.push_str(r#"<anyType xsi:nil="true" />"#),
        }
    }
    s + "</Values></GenericReadableRow>"
}

#[derive(Debug, Clone)]
pub struct Category {
    pub id: String,
    pub kind: &'static str,
    pub title: String,
    pub subscribed: bool,
}

#[derive(Debug, Clone)]
pub struct Update {
    pub id: String,
    pub revision: u32,
    pub title: String,
    pub declined: bool,
    pub expired: bool,
    /// Locally published updates have an SDP; synced Microsoft updates do not.
    pub sdp: Option<String>,
}

#[derive(Debug, Clone)]
pub struct State {
    pub version: String,
    pub role: i32,
    pub change_number: i64,
    pub time_of_day: i64,
    pub per_day: i32,
    pub last_modified: String,
    pub categories: Vec<Category>,
    pub updates: Vec<Update>,
    pub signing_certificate: Option<Vec<u8>>,
}

impl Default for State {
    fn default() -> Self {
        let cat = |id: &str, kind, title: &str, subscribed| Category {
            id: id.into(),
            kind,
            title: title.into(),
            subscribed,
        };
        State {
            version: "10.0.20348.1".into(),
            role: 2,
            change_number: 100,
            time_of_day: 7200,
            per_day: 1,
            last_modified: "2024-05-01T08:00:00.123".into(),
            categories: vec![
                cat("6407468e-edc7-4ecd-8c32-521f64cee65e", "Product", "Windows 11", true),
                cat("e6cf1350-c01b-414d-a61f-263d14d133b4", "UpdateClassification", "Critical Updates", true),
                cat("0fa1201d-4330-4fa8-8ae9-b877473b6441", "UpdateClassification", "Security Updates", false),
            ],
            updates: vec![Update {
                id: "1f2e3d4c-0000-4000-8000-00000000abcd".into(),
                revision: 2,
                title: "Contoso Tool 2.1".into(),
                declined: false,
                expired: false,
                sdp: Some("<SoftwareDistributionPackage PackageID=\"1f2e3d4c-0000-4000-8000-00000000abcd\"/>".into()),
            }],
            signing_certificate: None,
        }
    }
}

fn text<'a>(params: &'a Element, name: &str) -> &'a str {
    params.child(name).map(|c| c.text.as_str()).unwrap_or("")
}

impl State {
    /// The inner XML of `<{op}Response>`, or a fault message.
    pub fn answer(
        &mut self,
        op: &str,
        params: &Element,
        user: Option<&str>,
    ) -> Result<String, String> {
        let res = |v: String| format!("<{op}Result>{v}</{op}Result>");
        Ok(match op {
            "GetServerVersion" => res(esc(&self.version)),
            "GetCurrentUserRole" => res(self.role.to_string()),
            "ExecuteSPGetConfiguration" => res(format!(
                "<Configuration><maxDeltaSyncPeriod>30</maxDeltaSyncPeriod><configurationChangeNumber>{}</configurationChangeNumber><ServerId>6bfa4bd4-7c5a-4e0d-9b8f-1f2e3d4c5b6a</ServerId><SyncToMU>true</SyncToMU><UpstreamServerName /><HostOnMu>false</HostOnMu><LocalContentCacheLocation>D:\\WSUS</LocalContentCacheLocation><EncryptionKey xsi:nil=\"true\" /><ReplicaMode>false</ReplicaMode></Configuration><GroupAuthorization /><Authorization />",
                self.change_number
            )),
            "GetSubscription" => res(format!(
                "<synchronizeAutomaticallyTimeOfDay>{}</synchronizeAutomaticallyTimeOfDay><LastModifiedBy>CORP\\admin</LastModifiedBy><LastModifiedTime>{}</LastModifiedTime><LastSynchronizationTime>2024-05-02T02:00:00</LastSynchronizationTime><SynchronizeAutomatically>true</SynchronizeAutomatically><Anchor /><DeploymentAnchor /><NumberOfSynchronizationsPerDay>{}</NumberOfSynchronizationsPerDay><IsCategoryOnly>false</IsCategoryOnly>",
                self.time_of_day, self.last_modified, self.per_day
            )),
            "GetSubscriptionCategories" | "ExecuteSPGetCategories" => {
                let classifications = text(params, "retrieveUpdateClassifications") == "true";
                let only_subscribed = op == "GetSubscriptionCategories";
                let rows: String = self
                    .categories
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| (c.kind == "UpdateClassification") == classifications)
                    .filter(|(_, c)| c.subscribed || !only_subscribed)
                    .map(|(i, c)| {
                        let mut cells = vec![
                            Some(("int", (i + 1).to_string())),
                            Some(("string", c.id.to_uppercase())),
                            Some(("string", c.kind.to_string())),
                            Some(("boolean", "false".into())),
                            Some(("boolean", "false".into())),
                            Some(("int", "0".into())),
                            Some(("int", i.to_string())),
                            Some(("string", c.title.clone())),
                            None,
                            None,
                            Some(("dateTime", "2009-01-01T00:00:00".into())),
                            Some(("string", "MicrosoftUpdate".into())),
                        ];
                        cells.push(Some(("string", "undocumented trailing column".into())));
                        row(&cells)
                    })
                    .collect();
                res(rows)
            }
            "ExecuteSPSearchUpdates" => {
                let rows: String = self
                    .updates
                    .iter()
                    .enumerate()
                    .map(|(i, u)| {
                        let mut cells: Vec<Option<(&str, String)>> = vec![None; 39];
                        cells[0] = Some(("string", u.id.clone()));
                        cells[1] = Some(("int", u.revision.to_string()));
                        cells[2] = Some(("int", (20000 + i).to_string()));
                        cells[3] = Some(("int", (900 + i).to_string()));
                        cells[16] = Some(("int", if u.expired { "1" } else { "0" }.into()));
                        cells[17] = Some(("dateTime", "2023-11-02T10:00:00".into()));
                        cells[22] = Some(("boolean", u.declined.to_string()));
                        cells[24] = Some(("boolean", "true".into()));
                        cells[29] = Some(("string", u.title.clone()));
                        cells[30] = Some(("string", String::new()));
                        row(&cells)
                    })
                    .collect();
                res(format!(
                    "<minimalProperties>{rows}</minimalProperties><localizedCategoryTitleRows /><kbArticles /><bulletins /><infoUrls />"
                ))
            }
            "ExecuteSPGetSdpXmlForUpdate" => {
                let id = text(params, "updateId").to_ascii_lowercase();
                match self
                    .updates
                    .iter()
                    .find(|u| u.id == id)
                    .and_then(|u| u.sdp.clone())
                {
                    Some(sdp) => res(esc(&sdp)),
                    None => String::new(),
                }
            }
            "ExecuteGetSigningCertificate" => match &self.signing_certificate {
                Some(der) => {
                    use base64::Engine as _;
                    res(base64::engine::general_purpose::STANDARD.encode(der))
                }
                None => String::new(),
            },
            "ExecuteSPDeclineUpdate" => {
                if self.role < 2 {
                    return Err("System.UnauthorizedAccessException: Access is denied.".into());
                }
                let id = text(params, "updateId").to_ascii_lowercase();
                let u = self
                    .updates
                    .iter_mut()
                    .find(|u| u.id == id)
                    .ok_or_else(|| format!("System.ArgumentException: update {id} not found"))?;
                let _ = user;
                u.declined = true;
                String::new()
            }
            other => {
                return Err(format!(
                    "System.NotImplementedException: the test double does not implement {other}"
                ));
            }
        })
    }
}
