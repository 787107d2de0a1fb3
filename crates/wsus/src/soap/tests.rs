use super::*;

fn envelope(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>{body}</soap:Body></soap:Envelope>"#
    )
}

#[test]
fn request_has_the_wsdl_shape() {
    let call = Call::new("GetSubscriptionCategories")
        .arg("preferredCulture", "en")
        .arg("retrieveUpdateClassifications", true);
    assert_eq!(
        call.soap_action(),
        "\"http://www.microsoft.com/SoftwareDistribution/Server/ApiRemotingWebService/GetSubscriptionCategories\""
    );
    let doc = call.envelope();
    let root = Element::parse(&doc).unwrap();
    assert!(root.is(SOAP_ENV, "Envelope"));
    let op = &root.child("Body").unwrap().children[0];
    assert!(op.is(TNS, "GetSubscriptionCategories"));
    let names: Vec<_> = op
        .children
        .iter()
        .map(|c| (c.ns.as_deref(), c.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            (Some(TNS), "preferredCulture"),
            (Some(TNS), "retrieveUpdateClassifications")
        ]
    );
    assert_eq!(op.children[1].text, "true");
}

#[test]
fn response_is_found_by_namespace_not_prefix() {
    let body = envelope(&format!(
        r#"<w:GetServerVersionResponse xmlns:w="{TNS}"><w:GetServerVersionResult>10.0.20348.1</w:GetServerVersionResult></w:GetServerVersionResponse>"#
    ));
    let r = decode("GetServerVersion", 200, "text/xml; charset=utf-8", &body).unwrap();
    assert_eq!(result("GetServerVersion", &r).unwrap().text, "10.0.20348.1");
    let wrong_ns = envelope(r#"<GetServerVersionResponse xmlns="urn:other"/>"#);
    let e = decode("GetServerVersion", 200, "text/xml", &wrong_ns).unwrap_err();
    assert!(matches!(e, WsusError::Malformed { .. }), "{e}");
}

#[test]
fn fault_keeps_the_innermost_message_and_the_operation() {
    let body = envelope(
        r#"<soap:Fault><faultcode>soap:Server</faultcode><faultstring>System.Web.Services.Protocols.SoapException: Server was unable to process request. ---&gt; System.UnauthorizedAccessException: Access is denied.</faultstring><detail /></soap:Fault>"#,
    );
    let e = decode("SetSubscription", 500, "text/xml; charset=utf-8", &body).unwrap_err();
    match &e {
        WsusError::Fault {
            operation,
            code,
            message,
            access_denied,
        } => {
            assert_eq!(operation, "SetSubscription");
            assert_eq!(code, "soap:Server");
            assert_eq!(
                message,
                "System.UnauthorizedAccessException: Access is denied."
            );
            assert!(access_denied);
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("WSUS Administrators"), "{e}");
}

#[test]
fn html_error_pages_become_http_errors_with_an_excerpt() {
    let page = "<!DOCTYPE html><html><head><title>Runtime Error</title></head><body><h1>Server Error in '/ApiRemoting30' Application.</h1></body></html>";
    let e = decode("GetServerVersion", 500, "text/html; charset=utf-8", page).unwrap_err();
    match &e {
        WsusError::Http {
            operation,
            status,
            html,
            excerpt,
        } => {
            assert_eq!(
                (operation.as_str(), *status, *html),
                ("GetServerVersion", 500, true)
            );
            assert_eq!(excerpt, "Runtime Error");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("IIS"), "{e}");
}

#[test]
fn statuses_401_and_403_are_typed() {
    let e = decode(
        "GetCurrentUserRole",
        401,
        "text/html",
        "<h1>401 - Unauthorized</h1>",
    )
    .unwrap_err();
    assert!(
        matches!(&e, WsusError::Unauthorized { excerpt, .. } if excerpt == "401 - Unauthorized"),
        "{e:?}"
    );
    let e = decode(
        "GetCurrentUserRole",
        403,
        "text/html",
        "<p>403.4 SSL required</p>",
    )
    .unwrap_err();
    assert!(
        matches!(&e, WsusError::Forbidden { excerpt, .. } if excerpt.contains("SSL required")),
        "{e:?}"
    );
    let e = decode("GetCurrentUserRole", 200, "text/plain", "hello").unwrap_err();
    assert!(matches!(e, WsusError::Malformed { .. }));
}

#[test]
fn excerpt_is_bounded_and_tag_free() {
    let long = format!("<p>{}</p>", "word ".repeat(200));
    let ex = excerpt(&long);
    assert!(ex.chars().count() <= EXCERPT_CHARS + 1);
    assert!(!ex.contains('<'));
    assert_eq!(excerpt("   "), "(empty body)");
}

#[test]
fn structured_params_are_renamed_into_the_target_namespace() {
    let rev = Element::new(None, "x")
        .with_child(Element::leaf(Some(TNS), "UpdateId", "0f1e"))
        .with_child(Element::leaf(Some(TNS), "RevisionNumber", "2"));
    let doc = Call::new("ExecuteSPGetUpdateById")
        .arg("preferredCulture", "en")
        .arg_element("id", rev)
        .envelope();
    assert!(
        doc.contains("<id><UpdateId>0f1e</UpdateId><RevisionNumber>2</RevisionNumber></id>"),
        "{doc}"
    );
}
