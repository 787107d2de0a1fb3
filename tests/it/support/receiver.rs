//! A local notification receiver for the `notify` tests: plain HTTP/1.1 on 127.0.0.1, one
//! thread per connection, recording each request (method, path, headers, body) and
//! answering with a fixed status, or never answering (a hung receiver).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the receiver does with a request.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Answer {
    /// Answers with this status and an empty body.
    Status(u16),
    /// Reads the request, then keeps the connection open and silent until dropped.
    Hang,
}

#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub method: String,
    pub path: String,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

pub(crate) struct Receiver {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    pub(crate) fn start(answer: Answer) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (reqs, halt) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            while !halt.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (reqs, halt) = (reqs.clone(), halt.clone());
                        std::thread::spawn(move || serve(stream, answer, &reqs, &halt));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Receiver {
            addr,
            requests,
            stop,
        }
    }

    /// `http://127.0.0.1:PORT<path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn requests(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits (bounded) until at least `n` requests arrived, returning all of them.
    pub(crate) fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let r = self.requests();
            if r.len() >= n {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver got {} request(s), not {n}, within {timeout:?}: {:#?}",
                r.len(),
                r.iter()
                    .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(stream: TcpStream, answer: Answer, requests: &Mutex<Vec<Received>>, stop: &AtomicBool) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0usize);
    let mut body = vec![0; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    requests.lock().unwrap().push(Received {
        method,
        path,
        headers,
        body,
    });
    match answer {
        Answer::Hang => {
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Answer::Status(code) => {
            let _ = write!(
                stream,
                "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.flush();
        }
    }
}

/// A minimal SMTP server (no TLS, no AUTH) that accepts every mail and records its DATA:
/// enough for lettre's plain-relay transport (`smtp://host:port?tls=none`).
pub(crate) struct SmtpReceiver {
    pub addr: SocketAddr,
    mails: Arc<Mutex<Vec<String>>>,
}

impl SmtpReceiver {
    pub(crate) fn start() -> SmtpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let store = mails.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let store = store.clone();
                std::thread::spawn(move || smtp_session(stream, &store));
            }
        });
        SmtpReceiver { addr, mails }
    }

    pub(crate) fn mails(&self) -> Vec<String> {
        self.mails.lock().unwrap().clone()
    }
}

fn smtp_session(stream: TcpStream, mails: &Mutex<Vec<String>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    let mut say = |line: &str| {
        let _ = write!(out, "{line}\r\n");
        let _ = out.flush();
    };
    say("220 test ESMTP");
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let verb = line.trim_end().to_ascii_uppercase();
        if verb.starts_with("EHLO") || verb.starts_with("HELO") {
            say("250 test");
        } else if verb.starts_with("MAIL") || verb.starts_with("RCPT") || verb == "RSET" {
            say("250 OK");
        } else if verb == "DATA" {
            say("354 go ahead");
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if reader.read_line(&mut l).unwrap_or(0) == 0 {
                    return;
                }
                if l == ".\r\n" {
                    break;
                }
                data.push_str(&l);
            }
            mails.lock().unwrap().push(data);
            say("250 queued");
        } else if verb == "QUIT" {
            say("221 bye");
            return;
        } else {
            say("502 not implemented");
        }
    }
}
