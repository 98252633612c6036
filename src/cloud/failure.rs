//! AWS failures a person can act on: the few that are not AWS's own answer
//! to a request (no credentials, an endpoint that cannot be reached), and the
//! answers that need more than AWS's code (AccessDenied: which IAM action,
//! and where the policy comes from; a CA that is not in this region). Each
//! is one sentence and a hint, never the SDK's `Debug` output; `--verbose`
//! logs the SDK's own chain of causes.

use std::error::Error as StdError;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_iot::config::http::HttpResponse;
use aws_sdk_iot::error::{ProvideErrorMetadata, SdkError};

use crate::aws_op::AwsOp;

/// The credential sources of the SDK's default chain, in its order
/// (aws-config's `DefaultCredentialsChain`).
const CREDENTIAL_SOURCES: &str = "environment variables, the shared config and credentials files \
     (AWS_PROFILE), a web identity token, the ECS container endpoint and EC2 instance metadata";

/// How many times a call is tried when the endpoint cannot be reached: a
/// blip is retried, a wrong endpoint or a network down is reported quickly.
pub const UNREACHABLE_ATTEMPTS: u32 = 3;

/// A failure fleetcert explains itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsFailure {
    #[error("no AWS credentials found (tried {CREDENTIAL_SOURCES}); not retried")]
    NoCredentials,
    #[error("the AWS SSO session has expired; not retried")]
    SsoExpired,
    #[error("AWS credentials could not be loaded: {reason}; not retried")]
    CredentialsUnavailable { reason: String },
    #[error("cannot reach {endpoint}: {reason} (tried {attempts} times)")]
    Unreachable {
        endpoint: String,
        reason: String,
        attempts: u32,
    },
    #[error(
        "access denied: the AWS principal may not call {action} on {resource} (AWS: {message})"
    )]
    AccessDenied {
        action: &'static str,
        resource: String,
        /// AWS's own words: they name the principal, and the service really
        /// refusing (KMS behind Secrets Manager, say).
        message: String,
    },
    #[error("the CA {arn} does not exist in region {region}")]
    CaNotFound { arn: String, region: String },
}

impl AwsFailure {
    /// What to do about it, in one line.
    pub fn hint(&self) -> &'static str {
        match self {
            AwsFailure::NoCredentials => {
                "set AWS_PROFILE to a profile in ~/.aws/config (for an SSO profile, run `aws sso login --profile NAME` first), or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            }
            AwsFailure::SsoExpired => {
                "run `aws sso login` (with `--profile NAME` for the profile in use), then run fleetcert again"
            }
            AwsFailure::CredentialsUnavailable { .. } => {
                "check AWS_PROFILE and its entry in ~/.aws/config; `aws sts get-caller-identity` shows what the AWS CLI finds"
            }
            AwsFailure::Unreachable { .. } => {
                "check --endpoint-url (or AWS_ENDPOINT_URL), the region, and the network (proxy, VPN, firewall)"
            }
            AwsFailure::AccessDenied { .. } => {
                "run `fleetcert iam-policy` for the policy this spec needs, and attach it to the principal fleetcert runs as"
            }
            AwsFailure::CaNotFound { .. } => {
                "check ca.arn and the region (the spec's `region`, --region or AWS_REGION): a private CA lives in one region"
            }
        }
    }

    /// Never worth another attempt: no credentials do not appear by waiting.
    pub fn is_credentials(&self) -> bool {
        matches!(
            self,
            AwsFailure::NoCredentials
                | AwsFailure::SsoExpired
                | AwsFailure::CredentialsUnavailable { .. }
        )
    }
}

/// The chain of causes below `error`, each shown by its `Display` (never
/// `Debug`), outermost first.
pub fn causes(error: &(dyn StdError + 'static)) -> Vec<String> {
    let mut out = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        let text = current.to_string();
        if out.last() != Some(&text) {
            out.push(text);
        }
        next = current.source();
    }
    out
}

/// A failure that happened before AWS answered: credentials, or a
/// connection that could not be made. `endpoint` is the URL being reached.
pub fn before_answer<E>(
    error: &SdkError<E, HttpResponse>,
    endpoint: &str,
    attempts: u32,
) -> Option<AwsFailure> {
    let SdkError::DispatchFailure(failure) = error else {
        return None;
    };
    let connector = failure.as_connector_error()?;
    if let Some(credentials) = credentials_failure(connector) {
        return Some(credentials);
    }
    let reason = unreachable_reason(connector)?;
    Some(AwsFailure::Unreachable {
        endpoint: endpoint.to_string(),
        reason,
        attempts,
    })
}

/// The credentials failure somewhere in `error`'s chain, if any.
fn credentials_failure(error: &(dyn StdError + 'static)) -> Option<AwsFailure> {
    let mut next = Some(error);
    while let Some(current) = next {
        if let Some(credentials) = current.downcast_ref::<CredentialsError>() {
            return Some(explain_credentials(credentials));
        }
        next = current.source();
    }
    None
}

fn explain_credentials(error: &CredentialsError) -> AwsFailure {
    let text = causes(error).join(": ");
    let lower = text.to_ascii_lowercase();
    if lower.contains("sso") && (lower.contains("expired") || lower.contains("unauthorized")) {
        AwsFailure::SsoExpired
    } else if matches!(
        error,
        CredentialsError::CredentialsNotLoaded(_) | CredentialsError::ProviderTimedOut(_)
    ) || lower.contains("imds")
    {
        // Instance metadata that cannot be reached means "not on EC2": the
        // chain found nothing, whatever the last provider's words.
        AwsFailure::NoCredentials
    } else {
        AwsFailure::CredentialsUnavailable { reason: text }
    }
}

/// Why a connection could not be made, if that is what `error` is.
fn unreachable_reason(error: &aws_sdk_iot::error::ConnectorError) -> Option<String> {
    if error.is_timeout() {
        return Some("the connection timed out".to_string());
    }
    let mut next: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(current) = next {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            return io_reason(io);
        }
        next = current.source();
    }
    let text = causes(error).join(": ").to_ascii_lowercase();
    text.contains("dns error")
        .then(|| "the host name does not resolve".to_string())
}

/// Connection-level I/O failures (not a connection dropped mid-request,
/// which stays an ordinary transient failure).
fn io_reason(io: &std::io::Error) -> Option<String> {
    use std::io::ErrorKind;
    let reason = match io.kind() {
        ErrorKind::ConnectionRefused => "connection refused",
        ErrorKind::HostUnreachable => "no route to host",
        ErrorKind::NetworkUnreachable => "the network is unreachable",
        ErrorKind::AddrNotAvailable => "the address is not available",
        ErrorKind::TimedOut => "the connection timed out",
        _ if io.to_string().contains("failed to lookup address") => {
            "the host name does not resolve"
        }
        _ => return None,
    };
    Some(reason.to_string())
}

/// AccessDenied, with the IAM action `operation` needs.
pub fn access_denied<E: ProvideErrorMetadata>(
    operation: AwsOp,
    resource: &str,
    error: &SdkError<E, HttpResponse>,
) -> Option<AwsFailure> {
    let code = error.code()?;
    let denied = matches!(
        code,
        "AccessDeniedException" | "AccessDenied" | "UnauthorizedException"
    );
    denied.then(|| AwsFailure::AccessDenied {
        action: operation.iam_action(),
        message: error.message().unwrap_or(code).to_string(),
        resource: if resource.is_empty() {
            "*".to_string()
        } else {
            resource.to_string()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_credentials_is_one_sentence_and_not_retried() {
        let failure = explain_credentials(&CredentialsError::not_loaded("nothing"));
        assert_eq!(failure, AwsFailure::NoCredentials);
        assert!(failure.is_credentials());
        assert!(failure.to_string().ends_with("not retried"));
        assert!(failure.hint().contains("aws sso login"));
    }

    #[test]
    fn an_expired_sso_token_is_named() {
        let failure = explain_credentials(&CredentialsError::provider_error(
            "the SSO token has expired and cannot be refreshed",
        ));
        assert_eq!(failure, AwsFailure::SsoExpired);
    }

    #[test]
    fn causes_are_shown_without_debug() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(io_reason(&io).as_deref(), Some("connection refused"));
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert_eq!(io_reason(&reset), None);
    }
}
