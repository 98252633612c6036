//! A fake GitHub Actions runner for the composite action in action.yml: it
//! runs the action's `run:` steps in order with bash, in the environment a
//! runner gives a composite action's steps (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY
//! and GITHUB_PATH files per step, GITHUB_EVENT_PATH with the event, the
//! step's `env:` with its expressions evaluated), and a fake GitHub: a
//! stand-in `gh` first on PATH (tests/fixtures/github/gh) that answers from a
//! JSON state and logs every call. `uses:` steps (actions/cache,
//! actions/upload-artifact) cannot run here: they are recorded with their
//! evaluated `with:`, and an upload stores the file where the fake
//! `gh run download` finds it.
//!
//! What a runner does is from GitHub's documentation: the default variables
//! (https://docs.github.com/en/actions/reference/variables-reference), bash
//! steps run as `bash --noprofile --norc -eo pipefail {0}`
//! (https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-syntax#jobsjob_idstepsshell),
//! environment files and the multiline form
//! (https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::harness::{Account, repo_root};

pub const REPOSITORY: &str = "example/fleet";
/// The job's token: it must never show in a log, a summary or an output.
pub const TOKEN: &str = "ghs_fakeTokenThatMustNeverBeLogged0123";
pub const WORKFLOW: &str = ".github/workflows/fleetcert.yml";

#[derive(Deserialize)]
pub struct ActionFile {
    pub inputs: BTreeMap<String, InputSpec>,
    pub outputs: BTreeMap<String, OutputSpec>,
    pub runs: Runs,
}

#[derive(Deserialize)]
pub struct OutputSpec {
    pub value: String,
}

#[derive(Deserialize)]
pub struct InputSpec {
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
}

#[derive(Deserialize)]
pub struct Runs {
    pub using: String,
    pub steps: Vec<Step>,
}

#[derive(Deserialize)]
pub struct Step {
    pub id: String,
    #[serde(rename = "if")]
    pub condition: Option<String>,
    pub uses: Option<String>,
    pub run: Option<String>,
    pub shell: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub with: BTreeMap<String, String>,
}

pub fn action_file() -> ActionFile {
    let text = std::fs::read_to_string(repo_root().join("action.yml")).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("action.yml: {e}"))
}

/// The fake GitHub: the stand-in `gh`, its state and its call log.
pub struct FakeGitHub {
    dir: TempDir,
}

impl FakeGitHub {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        // The emulator's Python runs the fake (the suite needs it anyway).
        let python = repo_root().join("tests/emulator/.venv/bin/python");
        let fake = repo_root().join("tests/fixtures/github/gh");
        let wrapper = format!(
            "#!/bin/sh\nexport FAKE_GH_STATE='{state}' FAKE_GH_LOG='{log}'\nexec '{}' '{}' \"$@\"\n",
            python.display(),
            fake.display(),
            state = dir.path().join("state.json").display(),
            log = dir.path().join("gh-calls.jsonl").display(),
        );
        write_executable(&bin.join("gh"), &wrapper);
        let github = FakeGitHub { dir };
        github.set_state(json!({
            "repository": REPOSITORY, "token": TOKEN, "page_size": 2,
            "comments": {}, "next_id": 5000, "pulls": {}, "runs": [], "artifacts": {},
        }));
        std::fs::write(github.log_path(), "").unwrap();
        github
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn bin(&self) -> PathBuf {
        self.path().join("bin")
    }

    fn state_path(&self) -> PathBuf {
        self.path().join("state.json")
    }

    fn log_path(&self) -> PathBuf {
        self.path().join("gh-calls.jsonl")
    }

    pub fn state(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.state_path()).unwrap()).unwrap()
    }

    pub fn set_state(&self, state: Value) {
        std::fs::write(self.state_path(), state.to_string()).unwrap();
    }

    pub fn update(&self, change: impl FnOnce(&mut Value)) {
        let mut state = self.state();
        change(&mut state);
        self.set_state(state);
    }

    /// Every `gh` call so far: argv, and for `gh api` method, path and the
    /// contents of @file fields.
    pub fn calls(&self) -> Vec<Value> {
        std::fs::read_to_string(self.log_path())
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    pub fn raw_log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap()
    }

    /// Where the stub of actions/upload-artifact keeps a run's artifact.
    fn store_artifact(&self, run_id: u64, name: &str, file: &Path) {
        let dir = self.path().join(format!("artifacts/{run_id}/{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(file, dir.join(file.file_name().unwrap())).unwrap();
        self.update(|s| s["artifacts"][run_id.to_string()][name] = json!(dir));
    }
}

pub fn write_executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// One job that uses the action once.
pub struct Job<'a> {
    pub github: &'a FakeGitHub,
    pub workspace: &'a Path,
    pub event_name: &'a str,
    pub event: Value,
    pub sha: String,
    pub run_id: u64,
    pub inputs: BTreeMap<String, String>,
    /// Directories before the system PATH (the fleetcert binary, a fake cargo).
    pub path: Vec<PathBuf>,
    /// AWS settings for fleetcert (the emulator account), if any.
    pub aws: Option<&'a Account<'a>>,
}

/// What a job left behind.
#[derive(Default, Debug)]
pub struct Finished {
    pub outputs: BTreeMap<String, BTreeMap<String, String>>,
    pub summary: String,
    pub log: String,
    /// The `uses:` steps that would have run, with their evaluated `with:`.
    pub uses: Vec<(String, BTreeMap<String, String>)>,
    /// The step that failed and its exit code.
    pub failed: Option<(String, i32)>,
    pub github_path: Vec<PathBuf>,
    /// The action's own outputs (action.yml `outputs:`), as a workflow sees them.
    pub action: BTreeMap<String, String>,
}

impl Finished {
    pub fn output(&self, step: &str, name: &str) -> &str {
        self.outputs
            .get(step)
            .and_then(|o| o.get(name))
            .map_or("", String::as_str)
    }

    #[track_caller]
    pub fn success(self) -> Self {
        assert!(
            self.failed.is_none(),
            "step failed: {:?}\n{}",
            self.failed,
            self.log
        );
        self
    }
}

impl Job<'_> {
    pub fn run(&self) -> Finished {
        let action = action_file();
        assert_eq!(action.runs.using, "composite");
        let temp = self.github.path().join(format!("runner-{}", self.run_id));
        std::fs::create_dir_all(temp.join("tool-cache")).unwrap();
        std::fs::write(temp.join("event.json"), self.event.to_string()).unwrap();
        let mut done = Finished::default();
        for step in &action.runs.steps {
            if !self.condition(step, &action, &done) {
                continue;
            }
            let outputs = if let Some(uses) = &step.uses {
                self.stub_uses(uses, step, &action, &mut done)
            } else {
                self.run_step(step, &action, &temp, &mut done)
            };
            done.outputs.insert(step.id.clone(), outputs);
            if done.failed.is_some() {
                break; // later steps of a composite action are skipped
            }
        }
        for (name, output) in &action.outputs {
            let value = self.substitute(&output.value, &action, &done);
            done.action.insert(name.clone(), value);
        }
        done
    }

    fn condition(&self, step: &Step, action: &ActionFile, done: &Finished) -> bool {
        let Some(condition) = &step.condition else {
            return true;
        };
        // The expressions action.yml uses: `a == 'x'`, `a != 'x'` joined by &&.
        condition.split("&&").all(|clause| {
            let (lhs, negate, literal) = if let Some((l, r)) = clause.split_once("!=") {
                (l, true, r)
            } else if let Some((l, r)) = clause.split_once("==") {
                (l, false, r)
            } else {
                panic!("condition {clause:?} is not modelled")
            };
            let literal = literal.trim().trim_matches('\'');
            (self.evaluate(lhs.trim(), action, done) == literal) != negate
        })
    }

    /// The value of one `${{ }}` expression; anything the fake does not know
    /// is an error, so action.yml cannot come to use what was never tested.
    fn evaluate(&self, expression: &str, action: &ActionFile, done: &Finished) -> String {
        let parts: Vec<&str> = expression.split('.').collect();
        match parts.as_slice() {
            ["inputs", name] => self.input(name, action, done),
            ["steps", step, "outputs", name] => done.output(step, name).to_string(),
            ["github", "token"] => TOKEN.to_string(),
            ["github", "action_repository"] => "example/fleetcert".to_string(),
            ["runner", "os"] => "Linux".to_string(),
            ["runner", "arch"] => "X64".to_string(),
            _ => panic!("expression {expression:?} is not modelled"),
        }
    }

    fn input(&self, name: &str, action: &ActionFile, done: &Finished) -> String {
        let spec = action
            .inputs
            .get(name)
            .unwrap_or_else(|| panic!("action.yml has no input {name}"));
        if let Some(value) = self.inputs.get(name) {
            return value.clone();
        }
        assert!(!spec.required, "input {name} is required");
        self.substitute(spec.default.as_deref().unwrap_or(""), action, done)
    }

    fn substitute(&self, text: &str, action: &ActionFile, done: &Finished) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            let end = rest[start..].find("}}").expect("unclosed ${{") + start;
            out.push_str(&rest[..start]);
            out.push_str(&self.evaluate(rest[start + 3..end].trim(), action, done));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    fn stub_uses(
        &self,
        uses: &str,
        step: &Step,
        action: &ActionFile,
        done: &mut Finished,
    ) -> BTreeMap<String, String> {
        let with: BTreeMap<String, String> = step
            .with
            .iter()
            .map(|(k, v)| (k.clone(), self.substitute(v, action, done)))
            .collect();
        let mut outputs = BTreeMap::new();
        if uses.starts_with("actions/upload-artifact@") {
            self.github
                .store_artifact(self.run_id, &with["name"], Path::new(&with["path"]));
        } else if uses.starts_with("actions/cache@") {
            outputs.insert("cache-hit".to_string(), "false".to_string());
        } else {
            panic!("uses {uses} is not modelled");
        }
        done.uses.push((uses.to_string(), with));
        outputs
    }

    fn run_step(
        &self,
        step: &Step,
        action: &ActionFile,
        temp: &Path,
        done: &mut Finished,
    ) -> BTreeMap<String, String> {
        let run = step
            .run
            .as_deref()
            .expect("a step runs a script or uses an action");
        assert_eq!(step.shell.as_deref(), Some("bash"), "step {}", step.id);
        let script = temp.join(format!("{}.sh", step.id));
        std::fs::write(&script, run).unwrap();
        let files = ["output", "summary", "path"].map(|f| temp.join(format!("{}.{f}", step.id)));
        for file in &files {
            std::fs::write(file, "").unwrap();
        }
        let mut command = Command::new("bash");
        command
            .args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script);
        self.environment(&mut command, temp, done);
        command
            .env("GITHUB_OUTPUT", &files[0])
            .env("GITHUB_STEP_SUMMARY", &files[1])
            .env("GITHUB_PATH", &files[2]);
        for (name, value) in &step.env {
            command.env(name, self.substitute(value, action, done));
        }
        let output = command.output().expect("run bash");
        done.log.push_str(&format!(
            "--- step {} ---\n{}{}",
            step.id,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
        done.summary
            .push_str(&std::fs::read_to_string(&files[1]).unwrap());
        let added = std::fs::read_to_string(&files[2]).unwrap();
        done.github_path.extend(added.lines().map(PathBuf::from));
        if !output.status.success() {
            done.failed = Some((step.id.clone(), output.status.code().unwrap_or(-1)));
        }
        parse_outputs(&std::fs::read_to_string(&files[0]).unwrap())
    }

    /// The runner's default variables, and nothing of the test's own CI.
    fn environment(&self, command: &mut Command, temp: &Path, done: &Finished) {
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().into_owned();
            if ["GITHUB_", "RUNNER_", "ACTIONS_", "AWS_", "GH_"]
                .iter()
                .any(|p| name.starts_with(p))
            {
                command.env_remove(&name);
            }
        }
        if let Some(account) = self.aws {
            let aws = account.fleetcert(self.workspace);
            for (name, value) in aws.get_envs() {
                match value {
                    Some(value) => command.env(name, value),
                    None => command.env_remove(name),
                };
            }
        }
        let mut path = vec![self.github.bin()];
        path.extend(done.github_path.iter().rev().cloned());
        path.extend(self.path.iter().cloned());
        path.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap()));
        let workflow_ref = format!("{REPOSITORY}/{WORKFLOW}@refs/heads/main");
        command
            .env("PATH", std::env::join_paths(path).unwrap())
            .env("CI", "true")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTION_PATH", repo_root())
            .env("GITHUB_WORKSPACE", self.workspace)
            .env("GITHUB_REPOSITORY", REPOSITORY)
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_EVENT_NAME", self.event_name)
            .env("GITHUB_EVENT_PATH", temp.join("event.json"))
            .env("GITHUB_SHA", &self.sha)
            .env("GITHUB_RUN_ID", self.run_id.to_string())
            .env("GITHUB_WORKFLOW_REF", workflow_ref)
            .env("RUNNER_TEMP", temp)
            .env("RUNNER_TOOL_CACHE", temp.join("tool-cache"))
            .env("RUNNER_OS", "Linux")
            .current_dir(self.workspace);
    }
}

/// GITHUB_OUTPUT: `name=value` lines and `name<<DELIMITER` blocks.
pub fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut outputs = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            for line in lines.by_ref() {
                if line == delimiter {
                    break;
                }
                value.push(line);
            }
            outputs.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            outputs.insert(name.to_string(), value.to_string());
        }
    }
    outputs
}
