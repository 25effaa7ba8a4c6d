//! The Kubernetes examples under `deploy/kubernetes` as the tests read
//! them: every YAML document parsed with a real YAML parser
//! (`serde_norway`) into JSON values, objects found by kind and name, and
//! the links between them followed (a container's `--config` file to the
//! ConfigMap key behind its mount, named ports, env from the Secret).
//!
//! Owns reading the manifests only. It never changes a file under
//! `deploy/`, and it judges nothing: a link that cannot be followed is
//! `None` or a panic naming it, and the tests decide what must hold.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// Every object of every YAML file in a folder, with the file it came from.
pub struct Manifests {
    pub objects: Vec<(PathBuf, Value)>,
}

impl Manifests {
    /// Parse every `*.yaml` / `*.yml` file in `dir` (each may hold several
    /// documents); an empty document is skipped.
    pub fn load(dir: &Path) -> Manifests {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no YAML file in {}", dir.display());
        let mut objects = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for document in serde_norway::Deserializer::from_str(&text) {
                let value = Value::deserialize(document)
                    .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", file.display()));
                if !value.is_null() {
                    objects.push((file.clone(), value));
                }
            }
        }
        Manifests { objects }
    }

    /// The one object of `kind`; panics when there are none or several.
    pub fn one(&self, kind: &str) -> &Value {
        let found: Vec<&Value> = self.of_kind(kind).collect();
        assert_eq!(
            found.len(),
            1,
            "expected exactly one {kind}, found {}",
            found.len()
        );
        found[0]
    }

    /// The object of `kind` called `name`.
    pub fn named(&self, kind: &str, name: &str) -> Option<&Value> {
        self.of_kind(kind).find(|o| o["metadata"]["name"] == name)
    }

    pub fn of_kind(&self, kind: &str) -> impl Iterator<Item = &Value> {
        let kind = kind.to_owned();
        self.objects
            .iter()
            .map(|(_, o)| o)
            .filter(move |o| o["kind"] == kind.as_str())
    }
}

/// The Deployment's one container.
pub fn container(deployment: &Value) -> &Value {
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("spec.template.spec.containers");
    assert_eq!(containers.len(), 1, "one container expected");
    &containers[0]
}

/// `command` followed by `args`, as strings.
pub fn argv(container: &Value) -> Vec<String> {
    ["command", "args"]
        .iter()
        .filter_map(|key| container[key].as_array())
        .flatten()
        .map(|a| a.as_str().expect("string arguments").to_owned())
        .collect()
}

/// The value after `--config` / `-c` in `args`.
pub fn config_arg(args: &[String]) -> Option<&str> {
    args.iter()
        .position(|a| a == "--config" || a == "-c")
        .and_then(|at| args.get(at + 1))
        .map(String::as_str)
}

/// A map of string to string (labels, selectors); empty when absent.
pub fn string_map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string values").to_owned()))
        .collect()
}

/// Whether every label of `selector` is in `labels` with the same value.
pub fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The container port a probe's `port` (a number or a port's name) means.
pub fn port_number(container: &Value, port: &Value) -> Option<u64> {
    let ports = container["ports"].as_array()?;
    match port {
        Value::Number(n) => ports
            .iter()
            .find(|p| p["containerPort"].as_u64() == n.as_u64())
            .and_then(|p| p["containerPort"].as_u64()),
        Value::String(name) => ports
            .iter()
            .find(|p| p["name"] == name.as_str())
            .and_then(|p| p["containerPort"].as_u64()),
        _ => None,
    }
}

/// A pod volume by name.
pub fn volume<'a>(deployment: &'a Value, name: &str) -> Option<&'a Value> {
    deployment["spec"]["template"]["spec"]["volumes"]
        .as_array()?
        .iter()
        .find(|v| v["name"] == name)
}

/// The container's mount that holds `path` (the longest mountPath that is
/// `path` or one of its folders).
pub fn mount_of<'a>(container: &'a Value, path: &Path) -> Option<&'a Value> {
    container["volumeMounts"]
        .as_array()?
        .iter()
        .filter_map(|m| Some((m, m["mountPath"].as_str()?)))
        .filter(|(_, at)| path.starts_with(at))
        .max_by_key(|(_, at)| at.len())
        .map(|(m, _)| m)
}

/// Whether `path` lies on a volume the container may write: a mount that
/// is not read-only, of an emptyDir or a persistent volume claim.
pub fn writable(deployment: &Value, container: &Value, path: &Path) -> bool {
    let Some(mount) = mount_of(container, path) else {
        return false;
    };
    let Some(volume) = volume(deployment, mount["name"].as_str().unwrap_or("")) else {
        return false;
    };
    mount["readOnly"] != true
        && (volume.get("emptyDir").is_some() || volume.get("persistentVolumeClaim").is_some())
}

/// The ConfigMap name and key that the file `path` in the container comes
/// from, following its mount (subPath or items) to the volume.
pub fn configmap_key(
    deployment: &Value,
    container: &Value,
    path: &Path,
) -> Option<(String, String)> {
    let mount = mount_of(container, path)?;
    let volume = volume(deployment, mount["name"].as_str()?)?;
    let map = volume.get("configMap")?;
    let name = map["name"].as_str()?.to_owned();
    let inside = path.strip_prefix(mount["mountPath"].as_str()?).ok()?;
    let inside = match mount["subPath"].as_str() {
        Some(sub) if inside.as_os_str().is_empty() => PathBuf::from(sub),
        Some(_) => return None,
        None => inside.to_path_buf(),
    };
    let inside = inside.to_str()?.to_owned();
    let key = match map["items"].as_array() {
        Some(items) => items.iter().find(|i| i["path"] == inside.as_str())?["key"]
            .as_str()?
            .to_owned(),
        None => inside,
    };
    Some((name, key))
}

/// How an environment variable of the container is set.
#[derive(Debug, PartialEq, Eq)]
pub enum EnvSource {
    Value(String),
    /// `valueFrom.secretKeyRef`: (Secret name, key).
    Secret(String, String),
    Other,
}

/// The container's env entries by name.
pub fn env(container: &Value) -> BTreeMap<String, EnvSource> {
    let mut out = BTreeMap::new();
    for entry in container["env"].as_array().into_iter().flatten() {
        let name = entry["name"].as_str().expect("env name").to_owned();
        let source = if let Some(value) = entry["value"].as_str() {
            EnvSource::Value(value.to_owned())
        } else if let Some(secret) = entry["valueFrom"].get("secretKeyRef") {
            EnvSource::Secret(
                secret["name"].as_str().unwrap_or_default().to_owned(),
                secret["key"].as_str().unwrap_or_default().to_owned(),
            )
        } else {
            EnvSource::Other
        };
        out.insert(name, source);
    }
    out
}

/// A Secret's value for `key`, from `stringData` (the examples write
/// plain text there; base64 `data` is not decoded here).
pub fn secret_value(secret: &Value, key: &str) -> Option<String> {
    secret["stringData"][key].as_str().map(str::to_owned)
}

/// The container's environment as the pod would see it: plain values, and
/// Secret references resolved against the Secrets in `manifests`.
/// Anything that cannot be resolved is left out.
pub fn resolved_env(manifests: &Manifests, container: &Value) -> BTreeMap<String, String> {
    env(container)
        .into_iter()
        .filter_map(|(name, source)| match source {
            EnvSource::Value(v) => Some((name, v)),
            EnvSource::Secret(secret, key) => {
                let value = secret_value(manifests.named("Secret", &secret)?, &key)?;
                Some((name, value))
            }
            EnvSource::Other => None,
        })
        .collect()
}
