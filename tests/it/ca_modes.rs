//! A CA in short-lived certificate mode: created with PCA's UsageMode,
//! issuing 7-day certificates, and fixed for its life.

use crate::aws_check;
use crate::fleet_dir::{FleetDir, apply_ok, run};
use crate::harness::{Account, shared};

const SHORT_LIVED: &str = r#"version: 1
fleet: weekly
ca:
  subject: {common_name: Weekly Root CA, country: JP}
  validity: 1y
  usage_mode: short_lived
  iot: {mode: sni_only}
defaults:
  validity: 7d
  renew_before: 2d
  policies: [connect]
policies:
  connect:
    document:
      Version: "2012-10-17"
      Statement:
        - {Effect: Allow, Action: "iot:Connect", Resource: "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"}
devices:
  - name: kiosk-1
output:
  dir: out
"#;

#[tokio::test]
async fn a_short_lived_fleet_gets_a_short_lived_ca_and_7_day_certificates() {
    let account = Account::new(shared());
    let fleet = FleetDir::with_spec(SHORT_LIVED);
    let plan = run(account.fleetcert(fleet.path()).arg("plan")).success();
    assert!(
        plan.stdout.contains("+ usage_mode = \"short_lived\""),
        "{}",
        plan.stdout
    );
    apply_ok(&account, fleet.path());

    let pca = account.pca().await;
    let (arn, ..) = aws_check::fleet_ca(&pca, "weekly").await;
    let described = pca
        .describe_certificate_authority()
        .certificate_authority_arn(&arn)
        .send()
        .await
        .unwrap();
    let mode = described
        .certificate_authority()
        .unwrap()
        .usage_mode()
        .unwrap();
    assert_eq!(mode.as_str(), "SHORT_LIVED_CERTIFICATE");

    let pem = std::fs::read_to_string(fleet.path().join("out/kiosk-1/certificate.pem")).unwrap();
    let der = aws_check::der(&pem);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let validity = cert.validity();
    let days = (validity.not_after.timestamp() - validity.not_before.timestamp()) / 86_400;
    assert!((7..8).contains(&days), "{days} days");
    let again = run(account
        .fleetcert(fleet.path())
        .args(["plan", "--detailed-exitcode"]));
    assert_eq!(again.code, 0, "{}", again.stdout);

    // The mode is fixed at creation: asking for another is refused, not planned.
    fleet.edit("  usage_mode: short_lived\n", "");
    fleet.edit("  validity: 7d\n", "  validity: 30d\n");
    let changed = run(account.fleetcert(fleet.path()).arg("plan"));
    assert_eq!(changed.code, 1, "{}", changed.stdout);
    assert!(
        changed.stderr.contains("its usage mode is short_lived but the spec asks for general_purpose; a CA's usage mode cannot change"),
        "{}",
        changed.stderr
    );
}
