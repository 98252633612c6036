//! The jobs HTTPS data plane ("Jobs device HTTP API",
//! https://docs.aws.amazon.com/iot/latest/developerguide/jobs-http-device-api.html):
//! StartNextPendingJobExecution is `PUT /things/<thing>/jobs/$next`,
//! UpdateJobExecution `POST /things/<thing>/jobs/<jobId>`, both JSON and
//! signed with SigV4. A minimal HTTP/1.1 client (one request per
//! connection, `Connection: close`) over rustls, or plain TCP for a local
//! emulator (`http://`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use serde_json::{Value, json};

use crate::jobs::{Execution, JobsChannel, Proof, Status, StatusDetails};
use crate::sigv4::{self, Credentials};
use crate::store::Identity;
use crate::tls::{ServerRoots, server_only_config};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    /// `https://host[:port]` or `http://host[:port]` (no path).
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!("{url}: not an http:// or https:// URL"));
        };
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') {
            return Err(format!("{url}: give the endpoint without a path"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| format!("{url}: bad port"))?),
            None => (rest, if tls { 443 } else { 80 }),
        };
        Ok(Endpoint {
            tls,
            host: host.to_string(),
            port,
        })
    }

    /// The Host header: the port only when it is not the scheme's default.
    fn host_header(&self) -> String {
        if self.port == if self.tls { 443 } else { 80 } {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Percent-encode a URI label (everything but unreserved characters).
fn label(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("bad chunked body")?;
        let size_text = std::str::from_utf8(&body[..line_end]).map_err(|_| "bad chunk size")?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| "bad chunk size")?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size + 2 {
            return Err("truncated chunked body".into());
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

/// Parse a whole HTTP/1.1 response (the server closed the connection).
pub fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no complete HTTP response header")?;
    let head =
        std::str::from_utf8(&raw[..head_end]).map_err(|_| "the response header is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let rest = &raw[head_end + 4..];
    response.body = if response
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        dechunk(rest)?
    } else if let Some(len) = response.header("content-length") {
        let len: usize = len.parse().map_err(|_| "bad content-length")?;
        rest.get(..len).ok_or("truncated body")?.to_vec()
    } else {
        rest.to_vec()
    };
    Ok(response)
}

/// One request, one connection.
pub fn request(
    endpoint: &Endpoint,
    tls: Option<&Arc<ClientConfig>>,
    timeout: Duration,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Response, String> {
    let mut text = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        endpoint.host_header(),
        body.len()
    );
    for (n, v) in headers {
        text.push_str(&format!("{n}: {v}\r\n"));
    }
    text.push_str("\r\n");
    let mut message = text.into_bytes();
    message.extend_from_slice(body);

    let where_ = format!("{}:{}", endpoint.host, endpoint.port);
    let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
        .map_err(|e| format!("connect to {where_}: {e}"))?;
    tcp.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    tcp.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    let io = |e: std::io::Error| format!("{where_}: {e}");
    if endpoint.tls {
        let config = tls.ok_or("an https endpoint needs a TLS configuration")?;
        let name = ServerName::try_from(endpoint.host.clone()).map_err(|e| e.to_string())?;
        let conn =
            rustls::ClientConnection::new(config.clone(), name).map_err(|e| e.to_string())?;
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        stream.write_all(&message).map_err(io)?;
        match stream.read_to_end(&mut raw) {
            Ok(_) => {}
            // A server that closes without close_notify after a complete answer.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
            Err(e) => return Err(io(e)),
        }
    } else {
        let mut stream = tcp;
        stream.write_all(&message).map_err(io)?;
        stream.read_to_end(&mut raw).map_err(io)?;
    }
    parse_response(&raw)
}

pub struct HttpJobsConfig {
    pub endpoint: Endpoint,
    /// Server roots for an https endpoint.
    pub roots: ServerRoots,
    pub region: String,
    pub credentials: Credentials,
    pub timeout: Duration,
}

/// The jobs data plane over HTTP(S), SigV4-signed.
pub struct HttpJobs {
    cfg: HttpJobsConfig,
    thing: String,
    tls: Option<Arc<ClientConfig>>,
}

impl HttpJobs {
    pub fn new(cfg: HttpJobsConfig, thing: &str) -> Result<HttpJobs, String> {
        let tls = if cfg.endpoint.tls {
            Some(Arc::new(server_only_config(&cfg.roots)?))
        } else {
            None
        };
        Ok(HttpJobs {
            cfg,
            thing: thing.to_string(),
            tls,
        })
    }

    fn call(&self, method: &str, path: &str, body: &Value) -> Result<Value, String> {
        let body = body.to_string().into_bytes();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let host = self.cfg.endpoint.host_header();
        let mut headers = sigv4::sign(
            &sigv4::Request {
                method,
                path,
                host: &host,
                content_type: "application/json",
                body: &body,
            },
            &self.cfg.credentials,
            &self.cfg.region,
            sigv4::JOBS_DATA_SERVICE,
            &sigv4::amz_date(now),
        );
        headers.insert(0, ("Content-Type".into(), "application/json".into()));
        let response = request(
            &self.cfg.endpoint,
            self.tls.as_ref(),
            self.cfg.timeout,
            method,
            path,
            &headers,
            &body,
        )?;
        let json: Value = if response.body.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(&response.body).map_err(|e| {
                format!(
                    "{method} {path}: HTTP {} with a body that is not JSON: {e}",
                    response.status
                )
            })?
        };
        if response.status / 100 != 2 {
            // restJson1 errors: the code in x-amzn-ErrorType, {"message"} in the body.
            let code = response
                .header("x-amzn-errortype")
                .map(|c| c.split(':').next().unwrap_or(c).to_string())
                .unwrap_or_else(|| format!("HTTP {}", response.status));
            let message = json.get("message").and_then(Value::as_str).unwrap_or("");
            return Err(format!("{method} {path}: {code}: {message}"));
        }
        Ok(json)
    }
}

impl JobsChannel for HttpJobs {
    fn start_next(&mut self) -> Result<Option<Execution>, String> {
        let path = format!("/things/{}/jobs/$next", label(&self.thing));
        let answer = self.call("PUT", &path, &json!({}))?;
        match answer.get("execution") {
            Some(e) if e.is_object() => Execution::from_json(e).map(Some),
            _ => Ok(None),
        }
    }

    fn update(
        &mut self,
        execution: &Execution,
        status: Status,
        details: &StatusDetails,
    ) -> Result<(), String> {
        let path = format!(
            "/things/{}/jobs/{}",
            label(&self.thing),
            label(&execution.job_id)
        );
        self.call("POST", &path, &execution.update_body(status, details))
            .map(|_| ())
    }

    /// SigV4 requests do not carry the certificate: nothing to switch, and
    /// nothing proven (the agent probes the broker itself).
    fn switch_identity(&mut self, _identity: &Identity) -> Result<Proof, String> {
        Ok(Proof::NotChecked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            Endpoint::parse("http://127.0.0.1:5000").unwrap(),
            Endpoint {
                tls: false,
                host: "127.0.0.1".into(),
                port: 5000
            }
        );
        let aws = Endpoint::parse("https://abc.jobs.iot.eu-west-1.amazonaws.com/").unwrap();
        assert_eq!((aws.tls, aws.port), (true, 443));
        assert_eq!(aws.host_header(), "abc.jobs.iot.eu-west-1.amazonaws.com");
        assert!(Endpoint::parse("ftp://x").is_err());
        assert!(Endpoint::parse("https://x/things").is_err());
    }

    #[test]
    fn labels_are_percent_encoded() {
        assert_eq!(label("sensor:1_a-b"), "sensor%3A1_a-b");
    }

    #[test]
    fn responses_with_length_or_chunks() {
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}extra",
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, b"{}".as_slice()));
        let r = parse_response(
            b"HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\nx-amzn-ErrorType: VersionMismatchException\r\n\r\n3\r\n{\"a\r\n3\r\n\":1\r\n1\r\n}\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.status, 409);
        assert_eq!(r.body, b"{\"a\":1}");
        assert_eq!(
            r.header("X-AMZN-ERRORTYPE"),
            Some("VersionMismatchException")
        );
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
    }
}
