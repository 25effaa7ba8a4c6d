//! The two deployment examples as whole objects: the Kubernetes one (its
//! manifests, the config file the container is started with, and that
//! file's text from the ConfigMap behind the mount) and the systemd one
//! (the unit, and the config and EnvironmentFile it names, found beside
//! it by file name); and a command line of theirs made to run here.
//!
//! Owns following the examples' own references from one file to the
//! next. It never changes a file under `deploy/` and asserts only that a
//! reference can be followed.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::deploy_dir;
use super::kube::{self, Manifests};
use super::unit::{self, Unit};

/// The Kubernetes example: its objects, the path of the config file in the
/// container and that file's text (from the ConfigMap behind the mount).
pub struct Kube {
    pub manifests: Manifests,
    pub config_path: String,
    pub config_text: String,
}

impl Kube {
    pub fn read() -> Kube {
        let manifests = Manifests::load(&deploy_dir().join("kubernetes"));
        let deployment = manifests.one("Deployment");
        let container = kube::container(deployment);
        let args = kube::argv(container);
        let config_path = kube::config_arg(&args)
            .unwrap_or_else(|| panic!("the container's command has no --config: {args:?}"))
            .to_owned();
        let (map, key) = kube::configmap_key(deployment, container, Path::new(&config_path))
            .unwrap_or_else(|| {
                panic!("{config_path} is not a ConfigMap key mounted in the container")
            });
        let configmap = manifests
            .named("ConfigMap", &map)
            .unwrap_or_else(|| panic!("the mounted ConfigMap {map:?} is not in the manifests"));
        let config_text = configmap["data"][&key]
            .as_str()
            .unwrap_or_else(|| panic!("ConfigMap {map:?} has no key {key:?}"))
            .to_owned();
        Kube {
            manifests,
            config_path,
            config_text,
        }
    }

    pub fn deployment(&self) -> &Value {
        self.manifests.one("Deployment")
    }

    pub fn container(&self) -> &Value {
        kube::container(self.deployment())
    }

    /// The pod's environment (Secret values resolved).
    pub fn env(&self) -> BTreeMap<String, String> {
        kube::resolved_env(&self.manifests, self.container())
    }

    pub fn grace(&self) -> Duration {
        let seconds =
            self.deployment()["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
                .as_u64()
                .expect("terminationGracePeriodSeconds is set");
        Duration::from_secs(seconds)
    }

    /// Each HTTP probe of the container: (kind, httpGet).
    pub fn http_probes(&self) -> Vec<(&'static str, &Value)> {
        ["startupProbe", "livenessProbe", "readinessProbe"]
            .into_iter()
            .filter_map(|kind| Some((kind, self.container()[kind].get("httpGet")?)))
            .collect()
    }
}

/// The arguments after the program in a command line the example writes
/// (the program must be switchboard, unless only arguments are given),
/// with the value of `--config` replaced by `config`.
pub fn program_args(mut words: Vec<String>, config: &Path) -> Vec<String> {
    if words
        .first()
        .is_some_and(|w| !w.starts_with('-') && w != "run" && w != "check")
    {
        let program = words.remove(0);
        assert_eq!(
            Path::new(&program).file_name().and_then(|n| n.to_str()),
            Some("switchboard")
        );
    }
    let at = words
        .iter()
        .position(|w| w == "--config" || w == "-c")
        .expect("--config");
    words[at + 1] = config.display().to_string();
    words
}

/// The systemd example: the unit, the config its ExecStart names and the
/// EnvironmentFile's example, each found beside the unit by file name.
pub struct Systemd {
    pub unit: Unit,
    pub exec: Vec<String>,
    pub config_path: String,
    pub config_text: String,
    pub env_file: BTreeMap<String, String>,
}

impl Systemd {
    pub fn read() -> Systemd {
        let dir = deploy_dir().join("systemd");
        let unit = Unit::parse(&std::fs::read_to_string(dir.join("switchboard.service")).unwrap());
        let exec = unit::exec_words(&unit.get("Service", "ExecStart").expect("ExecStart"));
        let config_path = kube::config_arg(&exec)
            .expect("ExecStart has --config")
            .to_owned();
        let beside = |installed: &str| {
            let path = dir.join(Path::new(installed).file_name().expect("a file name"));
            std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "{installed}: its example {} is missing: {e}",
                    path.display()
                )
            })
        };
        let config_text = beside(&config_path);
        let env_path = unit
            .get("Service", "EnvironmentFile")
            .expect("EnvironmentFile");
        let env_file = unit::env_file(&beside(env_path.trim_start_matches('-')));
        Systemd {
            unit,
            exec,
            config_path,
            config_text,
            env_file,
        }
    }

    /// The service's environment: the EnvironmentFile and `Environment=`.
    pub fn env(&self) -> BTreeMap<String, String> {
        let mut env = self.env_file.clone();
        env.extend(unit::environment(&self.unit));
        env
    }

    pub fn service(&self, key: &str) -> Option<String> {
        self.unit.get("Service", key)
    }
}
