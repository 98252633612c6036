//! The GitHub Action (action.yml) run by a fake runner against the emulator
//! (action_runner.rs): a pull request's plan is commented once and edited in
//! place on the next push, and the merge applies the plan of this
//! repository's own pull-request run, fetched by that run's id.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::action_runner::{
    FakeGitHub, Finished, Job, REPOSITORY, TOKEN, WORKFLOW, action_file, write_executable,
};
use crate::fleet_dir::{FleetDir, run};
use crate::harness::{Account, shared};

const MARKER: &str = "<!-- fleetcert-plan: fleet.yaml -->";
const PULL: u64 = 7;

fn sha(n: u8) -> String {
    format!("{n:02x}").repeat(20)
}

fn inputs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The directory of the fleetcert binary under test.
fn fleetcert_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_fleetcert"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn pull_request_event(head: &str) -> Value {
    json!({"action": "synchronize", "number": PULL, "pull_request": {
        "number": PULL, "head": {"sha": head, "ref": "more-sensors", "repo": {"full_name": REPOSITORY}},
        "base": {"ref": "main", "repo": {"full_name": REPOSITORY}},
    }})
}

/// A job of the workflow on `event`, with fleetcert on PATH.
fn job<'a>(
    github: &'a FakeGitHub,
    fleet: &'a FleetDir,
    account: Option<&'a Account<'a>>,
    (event_name, event): (&'a str, Value),
    (sha, run_id): (String, u64),
    command: &str,
) -> Job<'a> {
    Job {
        github,
        workspace: fleet.path(),
        event_name,
        event,
        sha,
        run_id,
        inputs: inputs(&[("command", command)]),
        path: vec![fleetcert_dir()],
        aws: account,
    }
}

/// A workflow run as GitHub's REST API lists it.
fn workflow_run(id: u64, head: &str, repository: &str, path: &str) -> Value {
    json!({"id": id, "event": "pull_request", "status": "completed", "conclusion": "success",
           "head_sha": head, "path": path, "repository": {"full_name": REPOSITORY},
           "head_repository": {"full_name": repository}, "pull_requests": []})
}

fn calls_to(github: &FakeGitHub, method: &str, path: &str) -> Vec<Value> {
    github
        .calls()
        .into_iter()
        .filter(|c| c["method"] == method && c["path"] == path)
        .collect()
}

fn comments(github: &FakeGitHub) -> Vec<Value> {
    github.state()["comments"][PULL.to_string()]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Comments already on the pull request: a reviewer's, and one by someone
/// else holding the marker (which must not be taken for ours).
fn seed_comments(github: &FakeGitHub) {
    github.update(|s| {
        s["comments"][PULL.to_string()] = json!([
            {"id": 11, "user": {"login": "reviewer"}, "body": "Looks good"},
            {"id": 12, "user": {"login": "mallory"}, "body": format!("{MARKER}\nNo changes.")},
            {"id": 13, "user": {"login": "reviewer"}, "body": "One more"},
        ]);
    });
}

#[track_caller]
fn assert_plan_job(done: &Finished, github: &FakeGitHub, head: &str, run_id: u64) {
    assert_eq!(done.action["exitcode"], "2", "{}", done.log);
    assert_eq!(done.action["has-changes"], "true");
    let plan = &done.action["plan-path"];
    assert!(Path::new(plan).is_file(), "{plan}");
    // fleetcert was on PATH: nothing to cache or build.
    let uses: Vec<&str> = done.uses.iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(uses, ["actions/upload-artifact@v4"], "{:?}", done.uses);
    let with = &done.uses[0].1;
    assert_eq!(with["name"], format!("fleetcert-plan-{head}"));
    assert_eq!(&with["path"], plan);
    assert!(done.summary.contains("sensor-001"), "{}", done.summary);
    let state = github.state();
    let stored = &state["artifacts"][run_id.to_string()];
    assert!(stored.get(&with["name"]).is_some(), "{state}");
}

#[track_caller]
fn assert_no_secret(texts: &[&str]) {
    for text in texts {
        assert!(!text.contains(TOKEN), "the token leaked:\n{text}");
        assert!(
            !text.contains("emulator-secret"),
            "the AWS secret leaked:\n{text}"
        );
    }
}

/// A push to the pull request: the plan job for head commit `head`.
fn plan_push(
    github: &FakeGitHub,
    fleet: &FleetDir,
    account: &Account,
    head: &str,
    run_id: u64,
) -> Finished {
    let event = ("pull_request", pull_request_event(head));
    let merge = format!("{run_id:040x}"); // the test merge commit
    let done = job(github, fleet, Some(account), event, (merge, run_id), "plan")
        .run()
        .success();
    assert_plan_job(&done, github, head, run_id);
    done
}

fn comment_posts(github: &FakeGitHub) -> Vec<Value> {
    let path = format!("repos/{REPOSITORY}/issues/{PULL}/comments");
    calls_to(github, "POST", &path)
}

/// The second push edited our comment (id 5000) and posted none, leaving a
/// stranger's marked comment as it was.
#[track_caller]
fn assert_edited_in_place(github: &FakeGitHub, second: &Finished, head2: &str) {
    assert_eq!(second.action["comment-id"], "5000");
    let patch = format!("repos/{REPOSITORY}/issues/comments/5000");
    assert_eq!(
        calls_to(github, "PATCH", &patch).len(),
        1,
        "{:#?}",
        github.calls()
    );
    assert_eq!(
        comment_posts(github).len(),
        1,
        "a second comment was posted"
    );
    let now = comments(github);
    assert_eq!(now.len(), 4, "{now:#?}");
    let ours = now.iter().find(|c| c["id"] == 5000).unwrap()["body"]
        .as_str()
        .unwrap();
    assert!(
        ours.contains("gateway-03") && !ours.contains("gateway-02"),
        "{ours}"
    );
    assert!(ours.contains(&head2[..12]), "{ours}");
    let stranger = format!("{MARKER}\nNo changes.");
    assert_eq!(now[1]["body"], stranger, "mallory's comment was edited");
    // The comments were read across pages (2 per page here).
    assert!(github.raw_log().contains("--paginate"));
}

#[test]
fn the_action_comments_the_plan_once_edits_it_on_the_next_push_and_applies_it_on_merge() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    let github = FakeGitHub::new();
    seed_comments(&github);

    // First push: the plan is posted as a new comment carrying the marker.
    let (head1, head2) = (sha(0xa1), sha(0xa2));
    let first = plan_push(&github, &fleet, &account, &head1, 101);
    let posts = comment_posts(&github);
    assert_eq!(posts.len(), 1, "{:#?}", github.calls());
    let body = posts[0]["files"]["body"].as_str().unwrap();
    assert!(body.starts_with(&format!("{MARKER}\n")), "{body}");
    assert!(
        body.contains("gateway-02") && body.contains(&head1[..12]),
        "{body}"
    );
    assert_eq!(first.action["comment-id"], "5000");

    // Second push (a device renamed): the same comment is edited, not added.
    fleet.edit("  - name: gateway-02\n", "  - name: gateway-03\n");
    let second = plan_push(&github, &fleet, &account, &head2, 102);
    assert_edited_in_place(&github, &second, &head2);

    let applied = merge_and_apply(&github, &fleet, &account, &head2);
    let log = github.raw_log();
    assert_no_secret(&[
        &first.log,
        &second.log,
        &applied.log,
        &first.summary,
        &applied.summary,
        &log,
    ]);
    for done in [&first, &second, &applied] {
        assert_no_secret(&[&format!("{:?}", done.outputs)]);
    }
}

/// The apply stopped at fetching the plan, saying why.
#[track_caller]
fn assert_fetch_refused(done: &Finished, why: &str) {
    assert_eq!(done.failed, Some(("fetch".to_string(), 1)), "{}", done.log);
    assert!(done.log.contains(why), "{}", done.log);
}

/// An artifact directory holding something that is not a plan.
fn bogus_plan(github: &FakeGitHub) -> PathBuf {
    let bogus = github.path().join("bogus");
    std::fs::create_dir_all(&bogus).unwrap();
    std::fs::write(bogus.join("fleet.plan"), "{\"kind\":\"not a plan\"}").unwrap();
    bogus
}

/// The pull request whose merge made commit `merge`, as the REST API lists it.
fn merged_pull(head: &str, merge: &str) -> Value {
    json!([{"number": PULL, "merged_at": "2026-01-05T10:00:00Z",
            "merge_commit_sha": merge, "head": {"sha": head}}])
}

/// The merge of the pull request: its runs (the reviewed one, and decoys a
/// fork and another workflow made for the same head, newer and holding a
/// bogus plan), then the apply job; afterwards nothing is left to plan.
fn merge_and_apply(
    github: &FakeGitHub,
    fleet: &FleetDir,
    account: &Account,
    head: &str,
) -> Finished {
    let merge = sha(0xbb);
    let bogus = bogus_plan(github);
    github.update(|s| {
        s["runs"] = json!([
            workflow_run(101, &sha(0xa1), REPOSITORY, WORKFLOW),
            workflow_run(102, head, REPOSITORY, WORKFLOW),
            workflow_run(103, head, "mallory/fleet", WORKFLOW),
            workflow_run(104, head, REPOSITORY, ".github/workflows/other.yml"),
        ]);
        for run in ["103", "104"] {
            s["artifacts"][run] = json!({format!("fleetcert-plan-{head}"): bogus});
        }
        s["pulls"][&merge] = merged_pull(head, &merge);
    });
    let event = ("push", json!({"ref": "refs/heads/main", "after": merge}));
    let applied = job(github, fleet, Some(account), event, (merge, 200), "apply")
        .run()
        .success();
    assert_eq!(applied.action["plan-run-id"], "102", "{}", applied.log);
    assert_eq!(applied.action["exitcode"], "0");
    let downloads: Vec<Value> = github
        .calls()
        .into_iter()
        .filter(|c| c["argv"][0] == "run")
        .collect();
    assert_eq!(downloads.len(), 1, "{downloads:#?}");
    let argv = &downloads[0]["argv"];
    assert_eq!(argv[2], "102");
    assert_eq!(argv[6], format!("fleetcert-plan-{head}"), "{argv}");
    assert!(
        applied.summary.contains("Apply complete"),
        "{}",
        applied.summary
    );
    let again = run(account
        .fleetcert(fleet.path())
        .args(["plan", "--detailed-exitcode"]));
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    applied
}

#[test]
fn the_action_refuses_to_apply_without_a_reviewed_run_of_this_repository() {
    let fleet = FleetDir::root_example();
    let github = FakeGitHub::new();
    let (head, merge) = (sha(0xc1), sha(0xcc));
    let bogus = bogus_plan(&github);
    github.update(|s| {
        // Only a fork's run exists for the merged head.
        s["runs"] = json!([workflow_run(301, &head, "mallory/fleet", WORKFLOW)]);
        s["artifacts"]["301"] = json!({format!("fleetcert-plan-{head}"): bogus});
        s["pulls"][&merge] = merged_pull(&head, &merge);
    });
    let push = || ("push", json!({"ref": "refs/heads/main"}));
    let refused = job(&github, &fleet, None, push(), (merge, 400), "apply").run();
    assert_fetch_refused(&refused, "no successful pull_request run");
    assert!(github.calls().iter().all(|c| c["argv"][0] != "run"));

    // A push that merged no pull request (a direct push) applies nothing either.
    let direct = job(&github, &fleet, None, push(), (sha(0xdd), 401), "apply").run();
    assert_fetch_refused(&direct, "is not the merge of a pull request");
}

#[test]
fn the_action_builds_fleetcert_with_cargo_install_locked_when_path_has_no_such_version() {
    let fleet = FleetDir::root_example();
    let github = FakeGitHub::new();
    // No fleetcert on PATH; a stand-in cargo that records its arguments and
    // "builds" a fleetcert of the package's version.
    let tools = github.path().join("tools");
    std::fs::create_dir_all(&tools).unwrap();
    let recorded = github.path().join("cargo-args");
    let cargo = format!(
        "#!/bin/sh\necho \"$@\" > '{}'\nwhile [ \"$1\" != --root ]; do shift; done\n\
         mkdir -p \"$2/bin\"\nprintf '#!/bin/sh\\necho \"fleetcert {}\"\\n' > \"$2/bin/fleetcert\"\n\
         chmod +x \"$2/bin/fleetcert\"\n",
        recorded.display(),
        env!("CARGO_PKG_VERSION")
    );
    write_executable(&tools.join("cargo"), &cargo);
    let mut drift = job(
        &github,
        &fleet,
        None,
        ("schedule", json!({})),
        (sha(1), 500),
        "drift",
    );
    drift.path = vec![tools];
    let done = drift.run().success();

    let (uses, with) = &done.uses[0];
    assert_eq!(uses, "actions/cache@v4");
    let key = &with["key"];
    let prefix = format!("fleetcert-Linux-X64-{}-", env!("CARGO_PKG_VERSION"));
    assert!(
        key.starts_with(&prefix) && key.len() == prefix.len() + 16,
        "{key}"
    );
    let args = std::fs::read_to_string(&recorded).unwrap();
    let root = crate::harness::repo_root();
    assert_eq!(
        args.trim(),
        format!(
            "install --locked --root {} --path {}",
            with["path"],
            root.display()
        )
    );
    assert_eq!(done.github_path, [PathBuf::from(&with["path"]).join("bin")]);
}

#[test]
fn every_run_step_of_the_action_takes_its_inputs_from_env_only() {
    let action = action_file();
    for step in &action.runs.steps {
        let Some(run) = &step.run else { continue };
        // https://docs.github.com/en/actions/reference/security/secure-use#use-an-intermediate-environment-variable
        assert!(
            !run.contains("${{"),
            "step {} pastes an expression into its script",
            step.id
        );
        let script = run.trim().trim_matches('"');
        let relative = script
            .strip_prefix("$GITHUB_ACTION_PATH/")
            .unwrap_or_else(|| panic!("step {} runs {run}, not a script of the action", step.id));
        assert!(
            crate::harness::repo_root().join(relative).is_file(),
            "{relative}"
        );
    }
    // No script turns on tracing (which would print the token's variable).
    for entry in std::fs::read_dir(crate::harness::repo_root().join("action")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains("set -x") && !text.contains("xtrace"));
    }
}

#[test]
fn with_strict_the_plan_check_fails_on_an_unaccepted_policy_finding() {
    let fleet = FleetDir::root_example();
    let policy = fleet.path().join("policies/telemetry.json");
    let text = std::fs::read_to_string(&policy).unwrap();
    let widened = text.replace(
        "topic/factory-a/${iot:Connection.Thing.ThingName}/telemetry",
        "topic/factory-a/*",
    );
    assert_ne!(text, widened);
    std::fs::write(&policy, widened).unwrap();
    let github = FakeGitHub::new();
    let event = ("pull_request", pull_request_event(&sha(0xe1)));
    let mut strict = job(&github, &fleet, None, event, (sha(0xee), 500), "plan");
    strict.inputs.insert("strict".into(), "true".into());
    let done = strict.run();
    assert_eq!(done.action["exitcode"], "1", "{}", done.log);
    assert!(done.failed.is_some(), "{}", done.log);
    assert!(
        done.log.contains("strict mode refuses 1 policy finding")
            && done
                .log
                .contains("::error file=policies/telemetry.json,title=fleetcert TOPIC_NOT_BOUND::"),
        "{}",
        done.log
    );
    // Refused before planning: no plan to upload, no AWS account was needed.
    assert_eq!(done.action["plan-path"], "");
}
