//! The shipped examples work: every TOML under `conf/` and `packaging/` (and the one inside the
//! Kubernetes ConfigMap) loads with [`Config::parse`] once its placeholders are filled in; the
//! Kubernetes YAML parses and keeps its safety properties; the Dockerfile and the systemd unit
//! are well formed and say what the packaging promises.

use std::path::{Path, PathBuf};
use std::process::Command;

use csc_rfc2136::config::{Config, ENV_API_KEY, ENV_BEARER_TOKEN};

/// What the examples carry instead of a real TSIG secret.
const PLACEHOLDER: &str = "REPLACE-WITH-BASE64-FROM-KEYGEN";
/// A valid secret to put in its place (base64 of 32 bytes).
const SECRET: &str = "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k=";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir` whose name ends with one of `extensions`, sorted.
fn files(dir: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if extensions
                .iter()
                .any(|ext| path.extension().is_some_and(|e| e == *ext))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The TOML of the ConfigMap: the block under `csc-rfc2136.toml: |`, unindented.
fn configmap_toml() -> String {
    let yaml = std::fs::read_to_string(root().join("packaging/kubernetes/configmap.yaml")).unwrap();
    let mut lines = yaml
        .lines()
        .skip_while(|l| l.trim() != "csc-rfc2136.toml: |");
    assert!(
        lines.next().is_some(),
        "configmap.yaml has no csc-rfc2136.toml"
    );
    let block: Vec<&str> = lines
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .collect();
    assert!(block.len() > 10, "the ConfigMap's TOML is cut short");
    block
        .iter()
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Points every `*_file` setting at a file in `dir` holding a valid value, and fills the secret
/// placeholder in, so the example can be loaded here.
fn fill_in(text: &str, dir: &Path) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let setting = line.split('=').next().unwrap_or("").trim();
        let replaced = match setting {
            "api_key_file" | "bearer_token_file" | "secret_file" => {
                let file = dir.join(format!("file-{}", out.len()));
                let value = if setting == "secret_file" {
                    SECRET
                } else {
                    "credential"
                };
                std::fs::write(&file, format!("{value}\n")).unwrap();
                format!("{setting} = \"{}\"", file.display())
            }
            _ => line.replace(PLACEHOLDER, SECRET),
        };
        out.push_str(&replaced);
        out.push('\n');
    }
    out
}

/// Loads one example; the CSC credentials come from the environment when the file names none.
fn load(name: &str, text: &str) -> Config {
    let dir = tempfile::tempdir().unwrap();
    let text = fill_in(text, dir.path());
    let sets = |setting: &str| {
        text.lines()
            .any(|l| l.trim_start().starts_with(setting) && l.contains('='))
    };
    let (has_key, has_token) = (sets("api_key"), sets("bearer_token"));
    Config::parse(&dir.path().join(name), &text, |var| match var {
        ENV_API_KEY if !has_key => Some("env-api-key".to_owned()),
        ENV_BEARER_TOKEN if !has_token => Some("env-bearer-token".to_owned()),
        _ => None,
    })
    .unwrap_or_else(|err| panic!("{name} does not load: {err}"))
}

#[test]
fn every_toml_example_loads() {
    let mut examples = files(&root().join("conf"), &["toml"]);
    examples.extend(files(&root().join("packaging"), &["toml"]));
    let names: Vec<String> = examples
        .iter()
        .map(|p| p.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    for expected in [
        "conf/csc-rfc2136.toml",
        "conf/minimal.toml",
        "conf/multi-team.toml",
        "packaging/docker/csc-rfc2136.toml",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} is gone: {names:?}"
        );
    }
    for (path, name) in examples.iter().zip(&names) {
        let config = load(name, &std::fs::read_to_string(path).unwrap());
        assert!(!config.keys.is_empty(), "{name} has no key");
    }
    load("configmap.yaml", &configmap_toml());
}

#[test]
fn the_multi_team_example_narrows_each_key() {
    let text = std::fs::read_to_string(root().join("conf/multi-team.toml")).unwrap();
    let config = load("multi-team.toml", &text);
    assert_eq!(config.keys.len(), 4);
    for key in &config.keys {
        assert!(key.zones.is_some(), "{} is not narrowed to zones", key.name);
    }
    let web = &config.keys[0];
    assert!(web.names[0].matches("_acme-challenge.example.com"));
    assert!(
        !web.names
            .iter()
            .any(|p| p.matches("_acme-challenge.mail.example.com"))
    );
    assert_eq!(config.keys[2].secrets.len(), 2, "cert-manager rotates");
    assert!(config.server.http.is_some(), "status needs server.http");
}

#[test]
fn the_container_configs_serve_http_for_status_and_probes() {
    for config in [
        load(
            "csc-rfc2136.toml",
            &std::fs::read_to_string(root().join("packaging/docker/csc-rfc2136.toml")).unwrap(),
        ),
        load("configmap.yaml", &configmap_toml()),
    ] {
        let http = config.server.http.expect("server.http is set");
        assert_eq!(http.port(), 9153);
        assert!(config.server.listen.iter().all(|a| a.port() == 53));
        assert_eq!(config.state.dir, Path::new("/var/lib/csc-rfc2136"));
    }
    let text = configmap_toml();
    assert!(
        !text.lines().any(|l| {
            let l = l.trim_start();
            !l.starts_with('#') && (l.starts_with("api_key") || l.starts_with("secret ="))
        }),
        "the ConfigMap holds no secret"
    );
}

fn python() -> PathBuf {
    let path = root().join(".venv/bin/python");
    assert!(
        path.exists(),
        "{} is missing: run scripts/test.sh once to create the venv (with PyYAML)",
        path.display()
    );
    path
}

/// Loads every YAML document under packaging/kubernetes and checks what the manifests promise.
const YAML_CHECK: &str = r#"
import glob, sys, yaml
docs = {}
for path in sorted(glob.glob(sys.argv[1] + "/*.yaml")):
    with open(path) as f:
        for doc in yaml.safe_load_all(f):
            if doc:
                docs.setdefault(doc["kind"], []).append(doc)
kinds = sorted(docs)
assert kinds == ["ConfigMap", "Deployment", "Kustomization", "Namespace",
                 "PersistentVolumeClaim", "Secret", "Service"], kinds
dep = docs["Deployment"][0]["spec"]
assert dep["replicas"] == 1 and dep["strategy"]["type"] == "Recreate", dep
pod = dep["template"]["spec"]
assert pod["securityContext"]["runAsNonRoot"] is True
assert pod["securityContext"]["runAsUser"] == 10001
(c,) = pod["containers"]
sc = c["securityContext"]
assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
assert sc["capabilities"] == {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}, sc
assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
ports = {(p["containerPort"], p["protocol"]) for p in c["ports"]}
assert ports == {(53, "UDP"), (53, "TCP"), (9153, "TCP")}, ports
env = {e["name"] for e in c["env"]}
assert {"CSC_API_KEY", "CSC_BEARER_TOKEN"} <= env, env
mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
assert mounts["/var/lib/csc-rfc2136"] == "state", mounts
vols = {v["name"]: v for v in pod["volumes"]}
assert vols["state"]["persistentVolumeClaim"]["claimName"] == docs["PersistentVolumeClaim"][0]["metadata"]["name"]
secrets = {s["metadata"]["name"]: s for s in docs["Secret"]}
assert vols["tsig"]["secret"]["secretName"] in secrets
assert vols["config"]["configMap"]["name"] == docs["ConfigMap"][0]["metadata"]["name"]
assert "csc-rfc2136.toml" in docs["ConfigMap"][0]["data"]
svc = docs["Service"][0]["spec"]
assert svc["type"] == "ClusterIP"
assert {(p["port"], p["protocol"]) for p in svc["ports"]} == {(53, "UDP"), (53, "TCP"), (9153, "TCP")}
kust = docs["Kustomization"][0]
import os
for res in kust["resources"]:
    assert os.path.exists(os.path.join(sys.argv[1], res)), res
print("ok")
"#;

#[test]
fn the_kubernetes_manifests_parse_and_keep_their_promises() {
    let output = Command::new(python())
        .arg("-c")
        .arg(YAML_CHECK)
        .arg(root().join("packaging/kubernetes"))
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Dockerfile instructions, for a syntax check without a Docker daemon.
const INSTRUCTIONS: [&str; 18] = [
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
    "MAINTAINER",
];

/// The Dockerfile's instructions with their arguments, continuation lines joined.
fn dockerfile() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (word, rest) = current.split_once(' ').unwrap_or((&current, ""));
        instructions.push((word.to_owned(), rest.trim().to_owned()));
        current.clear();
    }
    assert!(
        current.is_empty(),
        "the Dockerfile ends inside a continuation"
    );
    instructions
}

#[test]
fn the_dockerfile_is_well_formed_and_builds_a_small_non_root_image() {
    let instructions = dockerfile();
    for (word, _) in &instructions {
        assert!(
            INSTRUCTIONS.contains(&word.as_str()),
            "unknown Dockerfile instruction {word}"
        );
    }
    let froms: Vec<&str> = instructions
        .iter()
        .filter(|(w, _)| w == "FROM")
        .map(|(_, a)| a.as_str())
        .collect();
    assert_eq!(froms.len(), 2, "two stages: {froms:?}");
    assert!(froms[0].starts_with("rust:") && froms[0].ends_with(" AS builder"));
    assert!(froms[1].starts_with("debian:") && froms[1].contains("-slim"));
    let runtime: Vec<&(String, String)> = instructions
        .iter()
        .skip_while(|(w, a)| !(w == "FROM" && a.starts_with("debian:")))
        .collect();
    let has =
        |word: &str, needle: &str| runtime.iter().any(|(w, a)| w == word && a.contains(needle));
    assert!(
        instructions
            .iter()
            .any(|(w, a)| w == "RUN" && a.contains("cargo build --release --locked")),
        "a locked release build"
    );
    assert!(has("RUN", "--no-install-recommends ca-certificates"));
    assert!(
        !has("RUN", "curl"),
        "the runtime installs nothing but ca-certificates"
    );
    assert!(has("COPY", "--from=builder"));
    assert!(has("USER", "10001"));
    assert!(has("EXPOSE", "53/udp") && has("EXPOSE", "53/tcp") && has("EXPOSE", "9153/tcp"));
    assert!(has("VOLUME", "/var/lib/csc-rfc2136"));
    assert!(has("HEALTHCHECK", "\"status\""));
    assert!(has("ENTRYPOINT", "/usr/local/bin/csc-rfc2136"));
    let dockerignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    for needed in ["!Cargo.toml", "!Cargo.lock", "!src/", "!benches/"] {
        assert!(
            dockerignore.contains(needed),
            ".dockerignore drops {needed}"
        );
    }
}

#[test]
fn the_systemd_unit_is_hardened() {
    let unit =
        std::fs::read_to_string(root().join("packaging/systemd/csc-rfc2136.service")).unwrap();
    let settings: Vec<(&str, &str)> = unit
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .map(|l| {
            l.split_once('=')
                .unwrap_or_else(|| panic!("not a setting: {l:?}"))
        })
        .collect();
    let value = |name: &str| {
        settings
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("the unit lacks {name}="))
    };
    assert!(value("ExecStart").contains(" serve --config /etc/csc-rfc2136/"));
    assert_eq!(value("StateDirectory"), "csc-rfc2136");
    assert_eq!(value("ConfigurationDirectory"), "csc-rfc2136");
    assert_eq!(value("AmbientCapabilities"), "CAP_NET_BIND_SERVICE");
    assert_eq!(value("CapabilityBoundingSet"), "CAP_NET_BIND_SERVICE");
    assert_eq!(value("ProtectSystem"), "strict");
    assert_eq!(value("RestrictAddressFamilies"), "AF_INET AF_INET6 AF_UNIX");
    assert_eq!(value("SystemCallFilter"), "@system-service");
    assert_eq!(value("Restart"), "on-failure");
    for yes in [
        "NoNewPrivileges",
        "ProtectHome",
        "PrivateTmp",
        "PrivateDevices",
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "ProtectKernelLogs",
        "ProtectControlGroups",
        "MemoryDenyWriteExecute",
        "LockPersonality",
        "RestrictNamespaces",
    ] {
        assert_eq!(value(yes), "yes", "{yes}");
    }
    value("TimeoutStopSec");
    let user = value("User");
    let sysusers =
        std::fs::read_to_string(root().join("packaging/systemd/csc-rfc2136.sysusers")).unwrap();
    assert!(
        sysusers
            .lines()
            .any(|l| l.starts_with(&format!("u {user} "))),
        "sysusers creates {user}"
    );
}
