//! AWS Signature Version 4 for one request (the jobs HTTPS data plane).
//!
//! "Devices can communicate with AWS IoT Jobs using HTTP Signature Version 4
//! on port 443." ("Jobs device HTTP API",
//! https://docs.aws.amazon.com/iot/latest/developerguide/jobs-http-device-api.html).
//! The steps are those of the IAM User Guide's "Create a signed AWS API
//! request": canonical request, string to sign with the credential scope
//! `<date>/<region>/<service>/aws4_request`, the signing key derived by HMAC
//! from `AWS4<secret>`, and the `Authorization` header.

use ring::{digest, hmac};

/// The jobs data plane's signing name: "The service name used by Amazon Web
/// Services Signature Version 4 to sign requests is: iot-jobs-data." (AWS
/// IoT Jobs Data Plane API, as the SDKs document it, e.g.
/// https://docs.aws.amazon.com/botocore/latest/reference/services/iot-jobs-data.html)
pub const JOBS_DATA_SERVICE: &str = "iot-jobs-data";

#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// What is signed.
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as sent (already percent-encoded), without the query.
    pub path: &'a str,
    pub host: &'a str,
    pub content_type: &'a str,
    pub body: &'a [u8],
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
        .as_ref()
        .to_vec()
}

/// The canonical URI: every byte but unreserved ones and `/` percent-encoded
/// again (services other than S3 encode the path twice).
fn canonical_uri(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() { "/".into() } else { out }
}

/// `YYYYMMDD'T'HHMMSS'Z'` for a time in seconds since the epoch (UTC).
pub fn amz_date(epoch_seconds: u64) -> String {
    let days = (epoch_seconds / 86_400) as i64;
    let secs = epoch_seconds % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The headers to add: `X-Amz-Date`, `X-Amz-Security-Token` (with a session
/// token) and `Authorization`, as (name, value).
pub fn sign(
    request: &Request<'_>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    amz_date: &str,
) -> Vec<(String, String)> {
    let date = &amz_date[..8];
    let mut headers = vec![
        ("content-type", request.content_type.to_string()),
        ("host", request.host.to_string()),
        ("x-amz-date", amz_date.to_string()),
    ];
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token", token.clone()));
    }
    let signed_headers = headers
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(";");
    let canonical_headers: String = headers
        .iter()
        .map(|(n, v)| format!("{n}:{}\n", v.trim()))
        .collect();
    let canonical_request = format!(
        "{}\n{}\n\n{canonical_headers}\n{signed_headers}\n{}",
        request.method,
        canonical_uri(request.path),
        sha256_hex(request.body)
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let mut key = hmac_sha256(
        format!("AWS4{}", credentials.secret_access_key).as_bytes(),
        date.as_bytes(),
    );
    for part in [region, service, "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    let signature = hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()));
    let mut out = vec![("X-Amz-Date".to_string(), amz_date.to_string())];
    if let Some(token) = &credentials.session_token {
        out.push(("X-Amz-Security-Token".to_string(), token.clone()));
    }
    out.push((
        "Authorization".to_string(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            credentials.access_key_id
        ),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
        assert_eq!(amz_date(4_102_444_799), "20991231T235959Z");
    }

    #[test]
    fn canonical_uris_encode_the_sent_path_again() {
        assert_eq!(
            canonical_uri("/things/a%3Ab/jobs/$next"),
            "/things/a%253Ab/jobs/%24next"
        );
        assert_eq!(canonical_uri(""), "/");
    }

    /// The expected headers were computed by botocore's `SigV4Auth` (the emulator venv's pinned botocore)
    /// (the AWS SDK for Python's signer), for the same request, credentials
    /// and time: an independent implementation, not ours replayed.
    #[test]
    fn signs_as_botocore_does() {
        let request = Request {
            method: "PUT",
            path: "/things/sensor-1/jobs/$next",
            host: "127.0.0.1:4567",
            content_type: "application/json",
            body: b"{}",
        };
        let creds = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        };
        let headers = sign(
            &request,
            &creds,
            "us-east-1",
            JOBS_DATA_SERVICE,
            "20150830T123600Z",
        );
        assert_eq!(headers.last().unwrap().1, BOTOCORE_AUTHORIZATION);
        let with_token = Credentials {
            session_token: Some("TOKEN".into()),
            ..creds
        };
        let headers = sign(
            &request,
            &with_token,
            "us-east-1",
            JOBS_DATA_SERVICE,
            "20150830T123600Z",
        );
        assert_eq!(headers[1], ("X-Amz-Security-Token".into(), "TOKEN".into()));
        assert_eq!(headers[2].1, BOTOCORE_AUTHORIZATION_WITH_TOKEN);
    }

    const BOTOCORE_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iot-jobs-data/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=538d8485edc3cf4d08af971d80ecd45bd5cc885eb17de24409cb37017fc0b361";
    const BOTOCORE_AUTHORIZATION_WITH_TOKEN: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iot-jobs-data/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=77abf18af8d3b4efd0c3aa6519dbf3a59be18479677e59fdb7338d11703e886f";
}
