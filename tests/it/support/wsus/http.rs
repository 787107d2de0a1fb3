//! HTTP/1.1 framing for the test double: one request read, one answer written.

use std::io::{BufRead as _, BufReader, Read, Write};

use super::MAX_BODY;

pub(crate) struct Request {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub(super) fn read_request<S: Read>(r: &mut BufReader<S>) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 || !line.starts_with("POST ") {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
        if headers.len() > 100 {
            return None;
        }
    }
    let mut req = Request {
        headers,
        body: String::new(),
    };
    let len: usize = req.header("content-length")?.parse().ok()?;
    if len > MAX_BODY {
        return None;
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    req.body = String::from_utf8(body).ok()?;
    Some(req)
}

pub(super) fn respond<W: Write>(
    w: &mut W,
    status: &str,
    extra: &[(&str, String)],
    ctype: &str,
    body: &str,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nServer: Microsoft-IIS/10.0\r\n",
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    w.write_all(body.as_bytes())?;
    w.flush()
}
