//! SOAP 1.1 for ApiRemoting30: request envelopes, `SOAPAction`, and decoding answers into
//! the operation's response element or a typed [`WsusError`].
//!
//! Document/literal, no SOAP headers (reference §2): the body is `<Operation xmlns=TNS>` with
//! one child per parameter in WSDL order, and the answer is `<OperationResponse>`. Answers
//! are read by namespace URI, never by prefix, because .NET picks prefixes freely.

pub mod xml;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, Event};

use super::error::{Result, WsusError};
pub use xml::{Element, XSD, XSI};

/// The ApiRemoting30 target namespace: every operation but `Ping`.
pub const TNS: &str = "http://www.microsoft.com/SoftwareDistribution/Server/ApiRemotingWebService";
/// SOAP 1.1 envelope namespace.
pub const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The content type SOAP 1.1 requires.
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";
/// How much of a non-SOAP answer goes into an error message.
const EXCERPT_CHARS: usize = 240;

/// One SOAP call: the operation and its parameters (children in WSDL order, names exact).
#[derive(Debug, Clone)]
pub struct Call {
    pub operation: &'static str,
    pub params: Vec<Element>,
}

impl Call {
    pub fn new(operation: &'static str) -> Self {
        Call {
            operation,
            params: Vec::new(),
        }
    }

    /// Appends a text parameter.
    pub fn arg(mut self, name: &str, value: impl ToString) -> Self {
        self.params
            .push(Element::leaf(Some(TNS), name, value.to_string()));
        self
    }

    /// Appends a structured parameter (the element is renamed to the parameter name).
    pub fn arg_element(mut self, name: &str, mut value: Element) -> Self {
        value.name = name.to_string();
        value.ns = Some(TNS.to_string());
        self.params.push(value);
        self
    }

    /// The quoted ASMX-style action the WSDL's SOAP 1.1 binding states.
    pub fn soap_action(&self) -> String {
        format!("\"{TNS}/{}\"", self.operation)
    }

    /// The full request document.
    pub fn envelope(&self) -> String {
        let mut w = Writer::new(Vec::with_capacity(512));
        let body = Element {
            ns: Some(TNS.to_string()),
            name: self.operation.to_string(),
            children: self.params.clone(),
            ..Element::default()
        };
        let write = |w: &mut Writer<Vec<u8>>| -> std::io::Result<()> {
            w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
            w.write_event(Event::Start(
                BytesStart::new("soap:Envelope").with_attributes([
                    ("xmlns:soap", SOAP_ENV),
                    ("xmlns:xsi", XSI),
                    ("xmlns:xsd", XSD),
                ]),
            ))?;
            w.write_event(Event::Start(BytesStart::new("soap:Body")))?;
            body.write(w, None)?;
            w.write_event(Event::End(BytesEnd::new("soap:Body")))?;
            w.write_event(Event::End(BytesEnd::new("soap:Envelope")))
        };
        write(&mut w).expect("writing to a Vec cannot fail");
        String::from_utf8(w.into_inner()).expect("the writer only emits UTF-8")
    }
}

/// Turns an HTTP answer into the `<OperationResponse>` element or a typed error.
///
/// A SOAP fault wins over the status (ASMX sends faults with 500); otherwise 401, 403 and
/// other non-2xx statuses become errors carrying a short, tag-free excerpt of the body.
pub fn decode(operation: &str, status: u16, content_type: &str, body: &str) -> Result<Element> {
    let xmlish = content_type.contains("xml") || body.trim_start().starts_with("<?xml");
    let parsed = if xmlish {
        Element::parse(body).ok()
    } else {
        None
    };
    if let Some(envelope) = parsed.as_ref().filter(|e| e.is(SOAP_ENV, "Envelope")) {
        let body_el = envelope
            .children
            .iter()
            .find(|c| c.is(SOAP_ENV, "Body"))
            .ok_or_else(|| WsusError::malformed(operation, "SOAP envelope without a Body"))?;
        if let Some(fault) = body_el.children.iter().find(|c| c.is(SOAP_ENV, "Fault")) {
            return Err(fault_error(operation, fault));
        }
        if (200..300).contains(&status) {
            let want = format!("{operation}Response");
            return body_el
                .children
                .iter()
                .find(|c| c.ns.as_deref() == Some(TNS) && c.name == want)
                .cloned()
                .ok_or_else(|| {
                    WsusError::malformed(
                        operation,
                        format!("the SOAP body has no {{{TNS}}}{want} element"),
                    )
                });
        }
    }
    let excerpt = excerpt(body);
    let operation = operation.to_string();
    match status {
        200..=299 => Err(WsusError::Malformed {
            operation,
            reason: format!("not a SOAP envelope: {excerpt}"),
        }),
        401 => Err(WsusError::Unauthorized { operation, excerpt }),
        403 => Err(WsusError::Forbidden { operation, excerpt }),
        _ => Err(WsusError::Http {
            operation,
            status,
            html: content_type.contains("html") || body.contains("<html"),
            excerpt,
        }),
    }
}

/// The `<OperationResult>` child of a response; `None` for operations that return nothing
/// or a null result (`minOccurs="0"`).
pub fn result<'a>(operation: &str, response: &'a Element) -> Option<&'a Element> {
    response
        .child(&format!("{operation}Result"))
        .filter(|r| !r.is_nil())
}

fn fault_error(operation: &str, fault: &Element) -> WsusError {
    let text = |n: &str| fault.child(n).map(|e| e.text.trim().to_string());
    let code = text("faultcode").unwrap_or_default();
    let full = text("faultstring").unwrap_or_default();
    // .NET nests exceptions as "Outer ---> Inner ---> Innermost"; the innermost says why.
    let message = full
        .rsplit("--->")
        .next()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .unwrap_or("(the fault carried no message)")
        .to_string();
    WsusError::Fault {
        operation: operation.to_string(),
        access_denied: full.contains("UnauthorizedAccess") || full.contains("Access is denied"),
        code,
        message,
    }
}

/// A short plain-text excerpt of an answer: the HTML `<title>` when there is one, else the
/// text with tags removed and whitespace collapsed, cut at a character boundary.
pub fn excerpt(body: &str) -> String {
    let lower = body.to_ascii_lowercase();
    let title = lower.find("<title>").and_then(|s| {
        let from = s + "<title>".len();
        lower[from..]
            .find("</title>")
            .map(|e| &body[from..from + e])
    });
    let source = title.unwrap_or(body);
    let mut out = String::new();
    let mut in_tag = false;
    let mut last_space = true;
    for c in source.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                if !last_space {
                    out.push(' ');
                    last_space = true;
                }
            }
            _ if in_tag => {}
            c if c.is_whitespace() => {
                if !last_space {
                    out.push(' ');
                    last_space = true;
                }
            }
            c => {
                out.push(c);
                last_space = false;
            }
        }
        if out.chars().count() >= EXCERPT_CHARS {
            out.push('…');
            break;
        }
    }
    let out = out.trim().to_string();
    if out.is_empty() {
        "(empty body)".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests;
