//! The deployment files checked against the binaries they run: `Dockerfile`,
//! `.dockerignore`, `docker-compose.yml` and `deploy/k8s/`.
//!
//! No Docker engine or cluster runs here, so nothing is built or started:
//! what can be checked is that every file parses, that every variable they set
//! is one `chat --help` or `bot --help` lists and its value passes the binary's
//! own configuration check, and that entrypoints, ports, probes, credentials
//! and the references between objects agree.

use chat::Configuration as _;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use serde::Deserialize;
use serde_norway::Value;

type Env = BTreeMap<String, String>;

// ---- reading ---------------------------------------------------------------

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// Every YAML document of a file (empty documents skipped).
fn documents(relative: &str) -> Vec<Value> {
    let text = read(relative);
    serde_norway::Deserializer::from_str(&text)
        .map(|document| Value::deserialize(document).unwrap_or_else(|e| panic!("{relative}: {e}")))
        .filter(|value| !value.is_null())
        .collect()
}

/// The value at a dotted path (`spec.template.spec`; a number indexes a list).
fn get<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |current, key| match current {
        Value::Sequence(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => current.get(key),
    })
}

fn at<'a>(value: &'a Value, path: &str) -> &'a Value {
    get(value, path).unwrap_or_else(|| panic!("no {path} in {}", brief(value)))
}

fn str_at<'a>(value: &'a Value, path: &str) -> &'a str {
    at(value, path).as_str().unwrap_or_else(|| panic!("{path} is not a string in {}", brief(value)))
}

fn seq_at<'a>(value: &'a Value, path: &str) -> &'a [Value] {
    at(value, path).as_sequence().unwrap_or_else(|| panic!("{path} is not a list"))
}

/// A scalar as the string a process would see in its environment.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// `kind/name` of an object, or the start of its text, for messages.
fn brief(value: &Value) -> String {
    match (get(value, "kind"), get(value, "metadata.name")) {
        (Some(kind), Some(name)) => format!("{}/{}", scalar(kind), scalar(name)),
        _ => {
            let text = serde_norway::to_string(value).unwrap_or_default();
            text.chars().take(120).collect()
        }
    }
}

fn port_of(addr: &str) -> u16 {
    addr.parse::<SocketAddr>().unwrap_or_else(|e| panic!("{addr}: {e}")).port()
}

// ---- the binaries' own view ------------------------------------------------

/// Variable names of a `--help` text: each `[env: NAME]`.
fn help_variables(help: &str) -> BTreeSet<String> {
    help.split("[env: ")
        .skip(1)
        .filter_map(|rest| rest.split_once(']'))
        .map(|(name, _)| name.to_owned())
        .collect()
}

fn chat_variables() -> BTreeSet<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_chat")).arg("--help").output().unwrap();
    assert!(output.status.success());
    let variables = help_variables(&String::from_utf8(output.stdout).unwrap());
    for name in ["CHAT_ADDR", "DATABASE_URL", "RABBITMQ_URL", "COOKIE_SECURE", "RUST_LOG"] {
        assert!(variables.contains(name), "chat --help: {name} not found in {variables:?}");
    }
    variables
}

/// `bot --help` prints `bot::Config::help()`.
fn bot_variables() -> BTreeSet<String> {
    let variables = help_variables(&bot::Config::help());
    for name in ["RABBITMQ_URL", "STOOQ_API_URL", "STOOQ_API_KEY", "BOT_METRICS_ADDR", "RUST_LOG"] {
        assert!(variables.contains(name), "bot --help: {name} not found in {variables:?}");
    }
    variables
}

/// The environment of a chat process: only variables chat reads, values it
/// accepts, and an address reachable from outside the container.
fn check_chat_env(env: &Env, origin: &str) -> chat::Config {
    let known = chat_variables();
    for name in env.keys() {
        assert!(known.contains(name), "{origin}: chat reads no {name} (see chat --help)");
    }
    let config = chat::Config::from_lookup(|name| env.get(name).cloned())
        .unwrap_or_else(|e| panic!("{origin}: chat would refuse to start: {e}"));
    assert!(env.contains_key("CHAT_ADDR"), "{origin}: CHAT_ADDR unset (the default is loopback)");
    assert!(
        config.addr.ip().is_unspecified(),
        "{origin}: CHAT_ADDR={} is unreachable from outside the container",
        config.addr
    );
    config
}

/// The same for the bot; returns its metrics port.
fn check_bot_env(env: &Env, origin: &str) -> u16 {
    let known = bot_variables();
    for name in env.keys() {
        assert!(known.contains(name), "{origin}: bot reads no {name} (see bot --help)");
    }
    let config = bot::Config::from_lookup(|name| env.get(name).cloned())
        .unwrap_or_else(|e| panic!("{origin}: bot would refuse to start: {e}"));
    let addr = config.metrics_addr.unwrap_or_else(|| panic!("{origin}: metrics (and /health) off"));
    assert!(env.contains_key("BOT_METRICS_ADDR"), "{origin}: BOT_METRICS_ADDR unset (loopback)");
    assert!(addr.ip().is_unspecified(), "{origin}: BOT_METRICS_ADDR={addr} is unreachable");
    addr.port()
}

/// `url` names `host:port` as `user`/`password`.
fn check_url(url: &str, host: &str, port: u16, user: &str, password: &str, origin: &str) {
    let parsed = url::Url::parse(url).unwrap_or_else(|e| panic!("{origin}: {url}: {e}"));
    assert_eq!(parsed.host_str(), Some(host), "{origin}: {url} names the wrong host");
    assert_eq!(parsed.port(), Some(port), "{origin}: {url} names the wrong port");
    assert_eq!(parsed.username(), user, "{origin}: {url} names the wrong user");
    assert_eq!(parsed.password(), Some(password), "{origin}: {url} has the wrong password");
}

// ---- Dockerfile ------------------------------------------------------------

struct Stage {
    name: String,
    base: String,
    /// (INSTRUCTION, arguments), continuation lines joined.
    instructions: Vec<(String, String)>,
}

fn dockerfile() -> Vec<Stage> {
    let text = read("Dockerfile");
    let mut logical = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                logical.push(std::mem::take(&mut current));
            }
        }
    }
    assert!(current.is_empty(), "Dockerfile ends in a continuation");

    let mut stages: Vec<Stage> = Vec::new();
    for line in logical {
        let (instruction, arguments) = line.split_once(' ').unwrap_or((&line, ""));
        let (instruction, arguments) = (instruction.to_ascii_uppercase(), arguments.trim());
        if instruction == "FROM" {
            let words: Vec<&str> = arguments.split_whitespace().collect();
            let name = match words.as_slice() {
                [_, as_, name] if as_.eq_ignore_ascii_case("as") => name.to_string(),
                _ => panic!("Dockerfile: every stage is named (FROM image AS name): {line}"),
            };
            stages.push(Stage { name, base: words[0].to_owned(), instructions: Vec::new() });
        } else if !(instruction == "ARG" && stages.is_empty()) {
            let stage = stages.last_mut().unwrap_or_else(|| panic!("before any FROM: {line}"));
            stage.instructions.push((instruction, arguments.to_owned()));
        }
    }
    stages
}

/// The instructions of a stage and of the stages it is built on, oldest first.
fn stage_chain<'a>(stages: &'a [Stage], name: &str) -> Vec<&'a (String, String)> {
    let stage = stages
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("Dockerfile has no stage {name}"));
    let mut chain = if stages.iter().any(|s| s.name == stage.base) {
        stage_chain(stages, &stage.base)
    } else {
        Vec::new()
    };
    chain.extend(stage.instructions.iter());
    chain
}

fn last<'a>(chain: &[&'a (String, String)], instruction: &str) -> Option<&'a str> {
    chain
        .iter()
        .rev()
        .copied()
        .find(|(i, _)| i == instruction)
        .map(|(_, arguments)| arguments.as_str())
}

fn image_env(chain: &[&(String, String)]) -> Env {
    let mut env = Env::new();
    for (_, arguments) in chain.iter().filter(|(i, _)| i == "ENV") {
        for pair in arguments.split_whitespace() {
            let (name, value) =
                pair.split_once('=').unwrap_or_else(|| panic!("ENV {arguments}: write NAME=value"));
            env.insert(name.to_owned(), value.to_owned());
        }
    }
    env
}

/// The image of target `binary`: runs `/…/binary`, copied from the build
/// stage's `target/release/binary`, as a non-root user, with the port of
/// its address variable exposed and health-checked at `health`.
/// Returns the image's environment.
fn check_image(stages: &[Stage], binary: &str, health: &str, addr_variable: &str) -> Env {
    let chain = stage_chain(stages, binary);

    let entrypoint =
        last(&chain, "ENTRYPOINT").unwrap_or_else(|| panic!("{binary}: no ENTRYPOINT"));
    let entrypoint: Vec<String> = serde_json::from_str(entrypoint)
        .unwrap_or_else(|_| panic!("{binary}: ENTRYPOINT not in exec form: {entrypoint}"));
    let program = &entrypoint[0];
    assert_eq!(Path::new(program).file_name().unwrap(), binary, "target {binary} runs {program}");

    let copy = chain
        .iter()
        .filter(|(i, _)| i == "COPY")
        .map(|(_, arguments)| arguments.split_whitespace().collect::<Vec<_>>())
        .find(|words| words.last() == Some(&program.as_str()))
        .unwrap_or_else(|| panic!("{binary}: nothing is copied to {program}"));
    let from = copy.iter().find_map(|w| w.strip_prefix("--from=")).expect("COPY --from=build");
    let source = copy[copy.len() - 2];
    assert_eq!(Path::new(source).file_name().unwrap(), binary, "{binary}: copies {source}");
    let built = stage_chain(stages, from);
    let build = built
        .iter()
        .filter(|(i, _)| i == "RUN")
        .find(|(_, run)| run.contains("cargo build"))
        .unwrap_or_else(|| panic!("stage {from} runs no cargo build"));
    assert!(
        build.1.contains(&format!("target/release/{binary} {source}")),
        "stage {from} does not put target/release/{binary} at {source}: {}",
        build.1
    );

    let user = last(&chain, "USER").unwrap_or_else(|| panic!("{binary}: runs as root"));
    assert!(!["root", "0", "0:0"].contains(&user), "{binary}: USER {user}");

    let env = image_env(&chain);
    let port = port_of(
        env.get(addr_variable).unwrap_or_else(|| panic!("{binary}: no ENV {addr_variable}")),
    );
    let exposed = last(&chain, "EXPOSE").unwrap_or_else(|| panic!("{binary}: no EXPOSE"));
    assert_eq!(
        exposed,
        port.to_string(),
        "{binary}: EXPOSE {exposed} but {addr_variable} port {port}"
    );

    let check = last(&chain, "HEALTHCHECK").unwrap_or_else(|| panic!("{binary}: no HEALTHCHECK"));
    assert!(
        check.ends_with(&format!(":{port}{health}\"]")),
        "{binary}: HEALTHCHECK does not ask {health} on port {port}: {check}"
    );
    if check.contains("\"curl\"") {
        assert!(
            chain.iter().any(|(i, run)| i == "RUN"
                && run.contains("apt-get install")
                && run.contains(" curl")),
            "{binary}: the health check runs curl, which the image does not install"
        );
    }
    env
}

#[test]
fn dockerfile_builds_both_binaries_and_each_target_runs_its_own() {
    let stages = dockerfile();
    let names: BTreeSet<&str> = stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.len(), stages.len(), "two stages share a name");

    let builds: Vec<&str> = stages
        .iter()
        .flat_map(|s| &s.instructions)
        .filter(|(i, run)| i == "RUN" && run.contains("cargo build"))
        .map(|(_, run)| run.as_str())
        .collect();
    assert_eq!(builds.len(), 1, "one cargo build for both binaries: {builds:?}");
    let words: Vec<&str> = builds[0].split_whitespace().collect();
    for flag in ["--release", "--locked"] {
        assert!(words.contains(&flag), "cargo build without {flag}");
    }
    for package in ["chat", "bot"] {
        assert!(
            words.windows(2).any(|w| w == ["-p", package]),
            "cargo build does not name -p {package}: {}",
            builds[0]
        );
    }

    let chat_env = check_image(&stages, "chat", "/health/ready", "CHAT_ADDR");
    check_chat_env(&chat_env, "Dockerfile target chat");
    let bot_env = check_image(&stages, "bot", "/health", "BOT_METRICS_ADDR");
    check_bot_env(&bot_env, "Dockerfile target bot");
}

#[test]
fn dockerignore_keeps_the_sources_and_drops_build_outputs() {
    let patterns: BTreeSet<String> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.trim_matches('/').to_owned())
        .collect();
    for dropped in [".git", "target", "target-*", "**/target"] {
        assert!(patterns.contains(dropped), ".dockerignore keeps {dropped}");
    }
    let manifest = read("Cargo.toml");
    let members = manifest
        .split_once("members = [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .expect("workspace members")
        .0;
    let members = members.split(',').map(|m| m.trim().trim_matches('"')).filter(|m| !m.is_empty());
    // Every member, and what chat embeds (the page, the migrations).
    for needed in members.chain(["Cargo.toml", "Cargo.lock", "www", "sql"]) {
        assert!(root().join(needed).exists(), "{needed} is not in the repository");
        assert!(!patterns.contains(needed), ".dockerignore drops {needed}, which the build needs");
    }
}

// ---- docker-compose.yml ----------------------------------------------------

/// Compose's `${NAME:-default}` with nothing set: every variable needs a
/// default, so `docker compose up` runs as it is. `$$` is a literal `$`.
fn interpolate(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let body = rest.strip_prefix('{').unwrap_or_else(|| panic!("compose: bare ${rest}"));
        let end = body.find('}').unwrap_or_else(|| panic!("compose: unclosed ${{{body}"));
        let (name, default) = body[..end]
            .split_once(":-")
            .unwrap_or_else(|| panic!("compose: ${{{}}} has no default", &body[..end]));
        assert!(name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'), "compose: ${name}");
        out.push_str(default);
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    out
}

/// docker-compose.yml with every string interpolated.
fn compose() -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::String(text) => *text = interpolate(text),
            Value::Sequence(items) => items.iter_mut().for_each(walk),
            Value::Mapping(map) => map.values_mut().for_each(walk),
            _ => {}
        }
    }
    let mut all = documents("docker-compose.yml");
    assert_eq!(all.len(), 1, "docker-compose.yml: one document");
    let mut compose = all.remove(0);
    walk(&mut compose);
    compose
}

fn compose_env(service: &Value) -> Env {
    match get(service, "environment") {
        None => Env::new(),
        Some(Value::Mapping(map)) => map.iter().map(|(k, v)| (scalar(k), scalar(v))).collect(),
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|item| {
                let item = scalar(item);
                let (k, v) = item.split_once('=').unwrap_or((&item, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        Some(other) => panic!("compose: environment is {other:?}"),
    }
}

/// The health check's command as one line.
fn compose_health(service: &Value) -> String {
    match at(service, "healthcheck.test") {
        Value::Sequence(words) => words.iter().map(scalar).collect::<Vec<_>>().join(" "),
        other => scalar(other),
    }
}

/// Container-side ports a service publishes or exposes.
fn compose_ports(service: &Value) -> BTreeSet<u16> {
    ["ports", "expose"]
        .iter()
        .filter_map(|key| get(service, key).and_then(Value::as_sequence))
        .flatten()
        .map(|entry| {
            let entry = scalar(entry);
            let container = entry.rsplit(':').next().unwrap().trim_end_matches("/tcp");
            container.parse().unwrap_or_else(|_| panic!("compose: port {entry}"))
        })
        .collect()
}

fn check_depends_on_healthy(services: &Value, name: &str, dependencies: &[&str]) {
    let service = at(services, name);
    for dependency in dependencies {
        let condition = get(service, &format!("depends_on.{dependency}.condition"))
            .unwrap_or_else(|| panic!("compose: {name} does not wait for {dependency}"));
        assert_eq!(scalar(condition), "service_healthy", "compose: {name} on {dependency}");
        assert!(
            get(at(services, dependency), "healthcheck.test").is_some(),
            "{dependency}: no healthcheck"
        );
    }
}

#[test]
fn compose_starts_each_service_in_order_with_a_configuration_it_accepts() {
    let compose = compose();
    let services = at(&compose, "services");
    let stages: BTreeSet<String> = dockerfile().into_iter().map(|s| s.name).collect();

    let postgres = at(services, "postgres");
    assert!(str_at(postgres, "image").starts_with("postgres:"));
    assert!(compose_health(postgres).contains("pg_isready"));
    let rabbitmq = at(services, "rabbitmq");
    assert!(str_at(rabbitmq, "image").starts_with("rabbitmq:"));
    assert!(compose_health(rabbitmq).contains("rabbitmq-diagnostics -q ping"));

    for binary in ["chat", "bot"] {
        let service = at(services, binary);
        assert_eq!(
            str_at(service, "build.target"),
            binary,
            "compose: {binary} builds another target"
        );
        assert_eq!(str_at(service, "build.context"), ".");
        assert!(stages.contains(binary), "Dockerfile has no target {binary}");
    }
    check_depends_on_healthy(services, "chat", &["postgres", "rabbitmq"]);
    check_depends_on_healthy(services, "bot", &["rabbitmq"]);

    let postgres_env = compose_env(postgres);
    let rabbitmq_env = compose_env(rabbitmq);
    let rabbit_url = |env: &Env, origin: &str| {
        let user = &rabbitmq_env["RABBITMQ_DEFAULT_USER"];
        check_url(
            &env["RABBITMQ_URL"],
            "rabbitmq",
            5672,
            user,
            &rabbitmq_env["RABBITMQ_DEFAULT_PASS"],
            origin,
        );
    };

    let chat = at(services, "chat");
    let chat_env = compose_env(chat);
    let config = check_chat_env(&chat_env, "compose chat");
    let port = config.addr.port();
    assert!(compose_ports(chat).contains(&port), "compose: chat does not publish {port}");
    let health = compose_health(chat);
    assert!(
        health.contains(&format!(":{port}/health/ready")),
        "compose chat healthcheck: {health}"
    );
    let user = &postgres_env["POSTGRES_USER"];
    let password = &postgres_env["POSTGRES_PASSWORD"];
    check_url(&chat_env["DATABASE_URL"], "postgres", 5432, user, password, "compose chat");
    rabbit_url(&chat_env, "compose chat");

    let bot = at(services, "bot");
    let bot_env = compose_env(bot);
    let port = check_bot_env(&bot_env, "compose bot");
    assert!(compose_ports(bot).contains(&port), "compose: bot does not expose {port}");
    let health = compose_health(bot);
    assert!(health.ends_with(&format!(":{port}/health")), "compose bot healthcheck: {health}");
    rabbit_url(&bot_env, "compose bot");
}

// ---- deploy/k8s ------------------------------------------------------------

const K8S: &str = "deploy/k8s";

/// Every object of every manifest in deploy/k8s but the kustomization.
fn k8s_objects() -> Vec<Value> {
    let mut objects = Vec::new();
    for file in k8s_files() {
        objects.extend(documents(&format!("{K8S}/{file}")));
    }
    objects
}

fn k8s_files() -> BTreeSet<String> {
    std::fs::read_dir(root().join(K8S))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".yaml") || name.ends_with(".yml"))
        .filter(|name| name != "kustomization.yaml")
        .collect()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| str_at(o, "kind") == kind && str_at(o, "metadata.name") == name)
        .unwrap_or_else(|| panic!("k8s: no {kind}/{name}"))
}

fn container<'a>(workload: &'a Value, name: &str) -> &'a Value {
    seq_at(workload, "spec.template.spec.containers")
        .iter()
        .find(|c| str_at(c, "name") == name)
        .unwrap_or_else(|| panic!("{}: no container {name}", brief(workload)))
}

/// A ConfigMap's `data`, or a Secret's `stringData` and decoded `data`.
fn object_data(object: &Value) -> Env {
    let mut data = Env::new();
    let secret = str_at(object, "kind") == "Secret";
    for (field, encoded) in [("data", secret), ("stringData", false)] {
        let Some(map) = get(object, field).and_then(Value::as_mapping) else { continue };
        for (key, value) in map {
            let mut value = scalar(value);
            if encoded {
                let bytes = base64::engine::general_purpose::STANDARD.decode(&value).unwrap();
                value = String::from_utf8(bytes).unwrap();
            }
            data.insert(scalar(key), value);
        }
    }
    data
}

/// What a container's process finds in its environment.
fn container_env(objects: &[Value], container: &Value) -> Env {
    let mut env = Env::new();
    for source in get(container, "envFrom").and_then(Value::as_sequence).into_iter().flatten() {
        let (kind, reference) = match (get(source, "configMapRef"), get(source, "secretRef")) {
            (Some(reference), None) => ("ConfigMap", reference),
            (None, Some(reference)) => ("Secret", reference),
            _ => panic!("envFrom: {source:?}"),
        };
        env.extend(object_data(find(objects, kind, str_at(reference, "name"))));
    }
    for variable in get(container, "env").and_then(Value::as_sequence).into_iter().flatten() {
        let name = str_at(variable, "name").to_owned();
        let value = match (get(variable, "value"), get(variable, "valueFrom")) {
            (Some(value), None) => scalar(value),
            (None, Some(from)) => {
                let (kind, reference) =
                    match (get(from, "secretKeyRef"), get(from, "configMapKeyRef")) {
                        (Some(reference), None) => ("Secret", reference),
                        (None, Some(reference)) => ("ConfigMap", reference),
                        _ => panic!("{name}: valueFrom {from:?}"),
                    };
                let source = find(objects, kind, str_at(reference, "name"));
                let key = str_at(reference, "key");
                object_data(source)
                    .remove(key)
                    .unwrap_or_else(|| panic!("{name}: {} has no key {key}", brief(source)))
            }
            _ => panic!("{name}: neither value nor valueFrom"),
        };
        env.insert(name, value);
    }
    env
}

/// The container port a probe or a Service's `targetPort` names, by number or
/// by name, if the container declares it.
fn find_port(container: &Value, port: &Value) -> Option<u16> {
    let ports = get(container, "ports").and_then(Value::as_sequence)?;
    let found = match port.as_u64() {
        Some(number) => ports.iter().find(|p| at(p, "containerPort").as_u64() == Some(number)),
        None => ports.iter().find(|p| get(p, "name") == Some(port)),
    }?;
    Some(u16::try_from(at(found, "containerPort").as_u64()?).unwrap())
}

fn resolve_port(container: &Value, port: &Value) -> u16 {
    find_port(container, port)
        .unwrap_or_else(|| panic!("{}: declares no port {port:?}", str_at(container, "name")))
}

fn workloads(objects: &[Value]) -> impl Iterator<Item = &Value> {
    objects.iter().filter(|o| matches!(str_at(o, "kind"), "Deployment" | "StatefulSet"))
}

/// The one workload whose pods a Service selects.
fn selected<'a>(objects: &'a [Value], service: &Value) -> &'a Value {
    let selector = at(service, "spec.selector").as_mapping().unwrap();
    let matching: Vec<&Value> = workloads(objects)
        .filter(|w| {
            let labels = at(w, "spec.template.metadata.labels");
            selector.iter().all(|(k, v)| labels.get(k) == Some(v))
        })
        .collect();
    assert_eq!(matching.len(), 1, "{} selects {} workloads", brief(service), matching.len());
    matching[0]
}

/// `host:port` is a Service of the set; returns the container behind it.
fn service_backend<'a>(objects: &'a [Value], host: &str, port: u16) -> &'a Value {
    let service = find(objects, "Service", host);
    let workload = selected(objects, service);
    let entry = seq_at(service, "spec.ports")
        .iter()
        .find(|p| at(p, "port").as_u64() == Some(u64::from(port)))
        .unwrap_or_else(|| panic!("Service {host} has no port {port}"));
    let target = get(entry, "targetPort").unwrap_or(at(entry, "port"));
    seq_at(workload, "spec.template.spec.containers")
        .iter()
        .find(|c| find_port(c, target).is_some())
        .unwrap_or_else(|| panic!("Service {host}: no container declares port {target:?}"))
}

/// An HTTP probe of a container: its path and resolved port.
fn http_probe(container: &Value, probe: &str) -> (String, u16) {
    let request = at(container, &format!("{probe}.httpGet"));
    (str_at(request, "path").to_owned(), resolve_port(container, at(request, "port")))
}

#[test]
fn k8s_objects_are_complete_namespace_less_and_all_in_the_kustomization() {
    let kustomization = documents(&format!("{K8S}/kustomization.yaml"));
    assert_eq!(kustomization.len(), 1);
    assert_eq!(str_at(&kustomization[0], "kind"), "Kustomization");
    let listed: BTreeSet<String> =
        seq_at(&kustomization[0], "resources").iter().map(scalar).collect();
    assert_eq!(listed, k8s_files(), "kustomization.yaml resources and the files of {K8S}");

    let objects = k8s_objects();
    let mut seen = BTreeSet::new();
    for object in &objects {
        for field in ["apiVersion", "kind", "metadata.name"] {
            assert!(!str_at(object, field).is_empty(), "{}: empty {field}", brief(object));
        }
        assert!(
            get(object, "metadata.namespace").is_none(),
            "{}: names a namespace",
            brief(object)
        );
        assert!(seen.insert(brief(object)), "{} twice", brief(object));
    }
    for kind in ["ConfigMap", "Secret", "Service", "Deployment", "StatefulSet"] {
        assert!(objects.iter().any(|o| str_at(o, "kind") == kind), "k8s: no {kind}");
    }

    // Every image built here is named in the kustomization, to be retargeted.
    let images: BTreeSet<String> =
        seq_at(&kustomization[0], "images").iter().map(|i| str_at(i, "name").to_owned()).collect();
    let compose = compose();
    for binary in ["chat", "bot"] {
        let image = str_at(container(find(&objects, "Deployment", binary), binary), "image");
        let built = str_at(&compose, &format!("services.{binary}.image"));
        assert_eq!(image, built.split(':').next().unwrap(), "{binary}: k8s and compose images");
        assert!(images.contains(image), "kustomization images: no {image}");
    }
}

#[test]
fn k8s_workloads_select_their_pods_and_every_reference_resolves() {
    let objects = k8s_objects();
    for workload in workloads(&objects) {
        let what = brief(workload);
        let labels = at(workload, "spec.template.metadata.labels");
        for (k, v) in at(workload, "spec.selector.matchLabels").as_mapping().unwrap() {
            assert_eq!(labels.get(k), Some(v), "{what}: selector {k:?} not on its pods");
        }
        let pod = at(workload, "spec.template.spec");
        let mut volumes: BTreeSet<String> = BTreeSet::new();
        for volume in get(pod, "volumes").and_then(Value::as_sequence).into_iter().flatten() {
            volumes.insert(str_at(volume, "name").to_owned());
        }
        if str_at(workload, "kind") == "StatefulSet" {
            find(&objects, "Service", str_at(workload, "spec.serviceName"));
            for claim in seq_at(workload, "spec.volumeClaimTemplates") {
                volumes.insert(str_at(claim, "metadata.name").to_owned());
            }
        }
        for container in seq_at(pod, "containers") {
            container_env(&objects, container); // panics on a dangling reference
            for mount in
                get(container, "volumeMounts").and_then(Value::as_sequence).into_iter().flatten()
            {
                assert!(
                    volumes.contains(str_at(mount, "name")),
                    "{what}: mounts no volume {mount:?}"
                );
            }
            assert!(get(container, "resources.requests").is_some(), "{what}: no resource requests");
            assert!(get(container, "resources.limits.memory").is_some(), "{what}: no memory limit");
            assert!(get(container, "readinessProbe").is_some(), "{what}: no readinessProbe");
            assert!(get(container, "livenessProbe").is_some(), "{what}: no livenessProbe");
        }
    }
    for service in objects.iter().filter(|o| str_at(o, "kind") == "Service") {
        let workload = selected(&objects, service);
        for entry in seq_at(service, "spec.ports") {
            let port = u16::try_from(at(entry, "port").as_u64().unwrap()).unwrap();
            let target = get(entry, "targetPort").unwrap_or(at(entry, "port"));
            let listens = seq_at(workload, "spec.template.spec.containers")
                .iter()
                .any(|c| find_port(c, target).is_some());
            assert!(
                listens,
                "{}: port {port} targets nothing in {}",
                brief(service),
                brief(workload)
            );
        }
    }
}

#[test]
fn k8s_chat_runs_two_probed_replicas_behind_a_load_balancer() {
    let objects = k8s_objects();
    let deployment = find(&objects, "Deployment", "chat");
    assert_eq!(at(deployment, "spec.replicas").as_u64(), Some(2), "chat replicas");
    let chat = container(deployment, "chat");
    let env = container_env(&objects, chat);
    let config = check_chat_env(&env, "k8s chat");
    let port = config.addr.port();

    assert_eq!(http_probe(chat, "readinessProbe"), ("/health/ready".to_owned(), port));
    assert_eq!(http_probe(chat, "livenessProbe"), ("/health".to_owned(), port));
    if get(chat, "startupProbe").is_some() {
        assert_eq!(http_probe(chat, "startupProbe"), ("/health".to_owned(), port));
    }

    let service = find(&objects, "Service", "chat");
    assert_eq!(str_at(service, "spec.type"), "LoadBalancer");
    assert!(std::ptr::eq(selected(&objects, service), deployment), "Service chat selects chat");
    let entry = &seq_at(service, "spec.ports")[0];
    assert_eq!(resolve_port(chat, at(entry, "targetPort")), port, "Service chat targetPort");

    // The same port as the image exposes.
    let stages = dockerfile();
    let image = stage_chain(&stages, "chat");
    assert_eq!(last(&image, "EXPOSE"), Some(port.to_string().as_str()), "EXPOSE and CHAT_ADDR");

    // DATABASE_URL and RABBITMQ_URL reach the StatefulSets as their users.
    let postgres = service_backend(&objects, "postgres", 5432);
    let postgres_env = container_env(&objects, postgres);
    let (user, password) = (&postgres_env["POSTGRES_USER"], &postgres_env["POSTGRES_PASSWORD"]);
    check_url(&env["DATABASE_URL"], "postgres", 5432, user, password, "k8s chat");
    let rabbitmq = service_backend(&objects, "rabbitmq", 5672);
    let rabbitmq_env = container_env(&objects, rabbitmq);
    let (user, password) =
        (&rabbitmq_env["RABBITMQ_DEFAULT_USER"], &rabbitmq_env["RABBITMQ_DEFAULT_PASS"]);
    check_url(&env["RABBITMQ_URL"], "rabbitmq", 5672, user, password, "k8s chat");
}

#[test]
fn k8s_bot_is_probed_on_its_metrics_port() {
    let objects = k8s_objects();
    let deployment = find(&objects, "Deployment", "bot");
    assert_eq!(at(deployment, "spec.replicas").as_u64(), Some(1), "bot replicas");
    let bot = container(deployment, "bot");
    let env = container_env(&objects, bot);
    let port = check_bot_env(&env, "k8s bot");
    assert_eq!(http_probe(bot, "readinessProbe"), ("/health".to_owned(), port));
    assert_eq!(http_probe(bot, "livenessProbe"), ("/health".to_owned(), port));

    let rabbitmq = service_backend(&objects, "rabbitmq", 5672);
    let rabbitmq_env = container_env(&objects, rabbitmq);
    let (user, password) =
        (&rabbitmq_env["RABBITMQ_DEFAULT_USER"], &rabbitmq_env["RABBITMQ_DEFAULT_PASS"]);
    check_url(&env["RABBITMQ_URL"], "rabbitmq", 5672, user, password, "k8s bot");
}

/// `.env.example` lists exactly the variables `docker-compose.yml` reads,
/// each with the default compose falls back to.
#[test]
fn the_env_example_matches_what_compose_reads() {
    let compose = read("docker-compose.yml");
    let mut read_by_compose = BTreeMap::new();
    for (_, rest) in compose.match_indices("${").map(|(i, _)| compose.split_at(i + 2)) {
        let end = rest.find('}').expect("closed ${");
        let (name, default) = rest[..end].split_once(":-").unwrap_or((&rest[..end], ""));
        read_by_compose.insert(name.to_owned(), default.to_owned());
    }
    let example: BTreeMap<String, String> = read(".env.example")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (name, value) = line.split_once('=').expect("NAME=value");
            (name.to_owned(), value.to_owned())
        })
        .collect();
    assert_eq!(example, read_by_compose);
}

/// The metric names a binary's source declares (`const …: &str = "name";`).
fn declared_metrics(relative: &str) -> BTreeSet<String> {
    read(relative)
        .lines()
        .filter(|line| line.contains("const ") && line.contains(": &str = \""))
        .filter_map(|line| line.split('"').nth(1).map(str::to_owned))
        .collect()
}

/// Every metric the provisioned Grafana dashboard queries is one that chat
/// or the bot exports (declared in their source, or on a live `/metrics`:
/// the `process_*` ones and `build_info`); and Prometheus scrapes the
/// metrics addresses compose gives them.
#[tokio::test]
async fn the_dashboard_queries_only_exported_metrics() {
    let mut exported = declared_metrics("chat/src/metrics.rs");
    exported.extend(declared_metrics("bot/src/metrics/mod.rs"));
    let server = crate::support::TestServer::start().await;
    let live = reqwest::get(server.url("/metrics")).await.unwrap().text().await.unwrap();
    exported.extend(
        live.lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split(['{', ' ']).next().map(str::to_owned)),
    );
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("deploy/observability/grafana/dashboards/chat.json")).unwrap();
    let mut queried = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            // A metric is a name right before its selector: `name{…}`.
            let mut rest = expr;
            while let Some(brace) = rest.find('{') {
                let name: String = rest[..brace]
                    .chars()
                    .rev()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                queried.insert(name);
                rest = &rest[brace + 1..];
            }
        }
    }
    assert!(queried.len() >= 10, "{queried:?}");
    for name in &queried {
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(name);
        assert!(
            exported.contains(base) || exported.contains(name.as_str()),
            "the dashboard queries {name}, which neither binary exports"
        );
    }
    let prometheus = documents("deploy/observability/prometheus.yml");
    let compose = compose();
    for (job, service, variable) in
        [("chat", "chat", "METRICS_ADDR"), ("bot", "bot", "BOT_METRICS_ADDR")]
    {
        let env = compose_env(at(&compose, &format!("services.{service}")));
        let port = port_of(&env[variable]);
        let jobs = seq_at(&prometheus[0], "scrape_configs");
        let config = jobs.iter().find(|j| str_at(j, "job_name") == job).expect("a job per binary");
        let target = scalar(&seq_at(&seq_at(config, "static_configs")[0], "targets")[0]);
        assert_eq!(target, format!("{service}:{port}"));
    }
}
