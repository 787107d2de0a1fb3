//! The words the config, the plan, the store and the status messages share: one enum per
//! concept, so a certificate's kind read from TOML is the same value the planner compares
//! and the store writes, with no conversions between look-alike types.
//!
//! Each is a `text_enum!`: its TOML, JSON and database spelling in one place, `as_str` and
//! `parse` for the store's columns, and `JsonSchema` for the config's schema (the variants'
//! doc comments are the schema's descriptions).

/// An enum whose every variant has one spelling in TOML, JSON and the database.
macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, schemars::JsonSchema,
        )]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $text)] $variant),+
        }
        impl $name {
            /// The word used in TOML, JSON output and the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use text_enum;

text_enum!(
    /// Partner catalogs come from Microsoft's list; custom ones are added by URL.
    CatalogKind {
        /// Listed in Microsoft's partner catalog list; looked up by name.
        Partner = "partner",
        /// Added by URL or path, like ConfigMgr's "Add Custom Catalog".
        Custom = "custom",
    }
);
text_enum!(
    /// What a certificate is trusted for, as in ConfigMgr's Certificates node.
    CertKind {
        /// Signs catalog CABs ("Third-party Software Updates Catalog").
        Catalog = "catalog",
        /// Signs update binaries ("Third-party Software Updates Content").
        Content = "content",
        /// WSUS's own content signing certificate ("Third-party WSUS Signing").
        WsusSigning = "wsus-signing",
    }
);
text_enum!(
    /// Approval state of a certificate.
    CertState {
        Approved = "approved",
        Blocked = "blocked",
    }
);
text_enum!(
    /// `[signing] mode`: supctl manages the WSUS signing certificate, or an admin does.
    SigningMode {
        /// supctl creates a self-signed certificate and renews it before expiry.
        Managed = "managed",
        /// The admin provides the certificate.
        Manual = "manual",
    }
);
text_enum!(
    /// What a `[[window]]` does while it is active.
    WindowKind {
        /// The catalogs it names may be applied only during such windows.
        Allow = "allow",
        /// The catalogs it names are not applied while it is active (deny beats allow).
        Deny = "deny",
    }
);
text_enum!(
    /// How serious a diagnostic or a status message is, as ConfigMgr shows it.
    Severity {
        Error = "error",
        Warning = "warning",
        Info = "info",
    }
);
text_enum!(
    /// Where a `[[notify]]` rule sends its events.
    NotifyProvider {
        /// A JSON body (`schema = "supctl.event/v1"`), signed with HMAC-SHA256 when
        /// `secret_env` is set.
        Webhook = "webhook",
        /// A Microsoft Teams Workflows webhook: an Adaptive Card.
        Teams = "teams",
        /// A Slack incoming webhook.
        Slack = "slack",
        /// Mail through an SMTP server (STARTTLS or implicit TLS).
        Email = "email",
    }
);
text_enum!(
    /// What a notification is about: the `kind` of a `supctl.event/v1` event, and the
    /// words a `[[notify]]` rule's `events` filters on.
    EventKind {
        /// A catalog's (or the update point's) synchronization failed.
        SyncFailed = "sync-failed",
        /// A synchronization that was failing succeeded again.
        SyncRecovered = "sync-recovered",
        /// A monitor-only pass found the server drifting from the config.
        DriftDetected = "drift-detected",
        /// A catalog's signer is not approved or changed (status message 11508).
        SignerChanged = "signer-changed",
        /// Unsigned or badly signed content was refused (status message 11516).
        ContentRefused = "content-refused",
        /// A certificate expires soon (or has expired).
        CertificateExpiring = "certificate-expiring",
        /// A pass applied changes to the server.
        ApplyCompleted = "apply-completed",
        /// `watch` started.
        DaemonStarted = "daemon-started",
        /// `watch` stopped.
        DaemonStopped = "daemon-stopped",
        /// Sent by `supctl notify test`; no rule filters it out.
        Test = "test",
    }
);
