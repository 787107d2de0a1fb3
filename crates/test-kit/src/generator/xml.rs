//! A minimal streaming XML writer with the formatting real catalogs use: CRLF line ends,
//! two-space indentation, ` />` on empty elements.
//!
//! Hand-written rather than quick-xml's writer because the output must be byte-stable
//! across dependency upgrades (tests and benchmarks compare bytes) and reproduce vendor
//! formatting quirks exactly.

use std::io::{self, Write};

pub const NS: &[(&str, &str)] = &[
    (
        "bar",
        "http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/BaseApplicabilityRules.xsd",
    ),
    (
        "bt",
        "http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/BaseTypes.xsd",
    ),
    (
        "cmd",
        "http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/Installers/CommandLineInstallation.xsd",
    ),
    (
        "lar",
        "http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/LogicalApplicabilityRules.xsd",
    ),
    (
        "msi",
        "http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/Installers/MsiInstallation.xsd",
    ),
    (
        "msiar",
        "http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/MsiApplicabilityRules.xsd",
    ),
    (
        "msp",
        "http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/Installers/MspInstallation.xsd",
    ),
    (
        "sdp",
        "http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/SoftwareDistributionPackage.xsd",
    ),
    (
        "uei",
        "http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/Installers/UpdateExeInstallation.xsd",
    ),
    (
        "usp",
        "http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/UpdateServicesPackage.xsd",
    ),
    (
        "drv",
        "http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/Installers/WindowsDriver.xsd",
    ),
    ("xsi", "http://www.w3.org/2001/XMLSchema-instance"),
    (
        "smc",
        "http://schemas.microsoft.com/sms/2005/04/CorporatePublishing/SystemsManagementCatalog.xsd",
    ),
];

/// The namespace URI bound to `prefix` in real catalogs.
pub fn uri(prefix: &str) -> &'static str {
    NS.iter()
        .find(|(p, _)| *p == prefix)
        .map(|(_, u)| *u)
        .expect("known prefix")
}

/// Escapes an attribute value or text node (`&`, `<`, `>`, `"`).
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

/// Writes indented elements. `redeclare` makes [`X::open_ns`]/[`X::leaf_ns`] add an
/// `xmlns:<prefix>` attribute, the Dell/Lenovo habit the parser must cope with.
pub struct X<'a, W: Write + ?Sized> {
    pub w: &'a mut W,
    depth: usize,
    pub redeclare: bool,
}

impl<'a, W: Write + ?Sized> X<'a, W> {
    pub fn new(w: &'a mut W, depth: usize, redeclare: bool) -> Self {
        X {
            w,
            depth,
            redeclare,
        }
    }

    fn start(&mut self, tag: &str, attrs: &[(&str, &str)], ns: Option<&str>) -> io::Result<()> {
        for _ in 0..self.depth {
            self.w.write_all(b"  ")?;
        }
        write!(self.w, "<{tag}")?;
        for (k, v) in attrs {
            write!(self.w, " {k}=\"{}\"", esc(v))?;
        }
        if let Some(prefix) = ns.filter(|_| self.redeclare) {
            write!(self.w, " xmlns:{prefix}=\"{}\"", uri(prefix))?;
        }
        Ok(())
    }

    pub fn open(&mut self, tag: &str, attrs: &[(&str, &str)]) -> io::Result<()> {
        self.start(tag, attrs, None)?;
        self.w.write_all(b">\r\n")?;
        self.depth += 1;
        Ok(())
    }

    /// Opens `tag`, re-declaring its own prefix when `redeclare` is on.
    pub fn open_ns(&mut self, tag: &str, attrs: &[(&str, &str)]) -> io::Result<()> {
        self.start(tag, attrs, tag.split(':').next())?;
        self.w.write_all(b">\r\n")?;
        self.depth += 1;
        Ok(())
    }

    pub fn close(&mut self, tag: &str) -> io::Result<()> {
        self.depth -= 1;
        for _ in 0..self.depth {
            self.w.write_all(b"  ")?;
        }
        write!(self.w, "</{tag}>\r\n")
    }

    pub fn leaf(&mut self, tag: &str, attrs: &[(&str, &str)]) -> io::Result<()> {
        self.start(tag, attrs, None)?;
        self.w.write_all(b" />\r\n")
    }

    pub fn leaf_ns(&mut self, tag: &str, attrs: &[(&str, &str)]) -> io::Result<()> {
        self.start(tag, attrs, tag.split(':').next())?;
        self.w.write_all(b" />\r\n")
    }

    pub fn text(&mut self, tag: &str, text: &str) -> io::Result<()> {
        self.start(tag, &[], None)?;
        write!(self.w, ">{}</{tag}>\r\n", esc(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_crlf_indented_and_escaped() {
        let mut out = Vec::new();
        let mut x = X::new(&mut out, 1, true);
        x.open_ns("sdp:A", &[("Q", "a&b<'c'>\"")]).unwrap();
        x.leaf("bar:B", &[]).unwrap();
        x.text("sdp:T", "x & y").unwrap();
        x.close("sdp:A").unwrap();
        let s = String::from_utf8(out).unwrap();
        assert_eq!(
            s,
            format!(
                "  <sdp:A Q=\"a&amp;b&lt;'c'&gt;&quot;\" xmlns:sdp=\"{}\">\r\n    <bar:B />\r\n    <sdp:T>x &amp; y</sdp:T>\r\n  </sdp:A>\r\n",
                uri("sdp")
            )
        );
    }
}
