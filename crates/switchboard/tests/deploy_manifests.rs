//! The deployment examples (`deploy/kubernetes`, `deploy/systemd`,
//! described in docs/deploy.md) hold together and match the product: the
//! manifests parse and link up (3 replicas, a disruption budget over the
//! same pods, probes on the admin port the config listens on, every
//! `${VAR}` of the config from the Secret, a grace longer than the
//! broker's), the ConfigMap's config passes the real `switchboard check`,
//! the Deployment's command line starts the real binary whose admin API
//! answers every probe path, and the systemd unit's command line, signal
//! and stop timeout work with the real binary too.
//!
//! These tests only read `deploy/`. The configs are run as written except
//! for what ties them to the target machine (see `deploy::launch`).

mod deploy;

use std::path::{Path, PathBuf};

use deploy::examples::{Kube, Systemd, program_args};
use deploy::inspect;
use deploy::kube::{self, EnvSource};
use deploy::launch::{self, Sims};
use deploy::unit;
use serde_json::Value;
use switchboard::app::DRAIN_DEADLINE;

#[test]
fn the_kubernetes_manifests_link_up_and_match_the_config() {
    let kube = Kube::read();
    for (file, object) in &kube.manifests.objects {
        for field in [
            &object["apiVersion"],
            &object["kind"],
            &object["metadata"]["name"],
        ] {
            assert!(
                field.is_string(),
                "{}: apiVersion, kind and metadata.name are needed",
                file.display()
            );
        }
    }
    let deployment = kube.deployment();
    let spec = &deployment["spec"];
    let replicas = spec["replicas"].as_u64().expect("spec.replicas");
    assert_eq!(replicas, 3, "the Deployment runs 3 replicas");
    let pod_labels = kube::string_map(&spec["template"]["metadata"]["labels"]);
    assert!(
        kube::selects(
            &kube::string_map(&spec["selector"]["matchLabels"]),
            &pod_labels
        ),
        "the Deployment's selector matches its pods' labels"
    );
    assert_eq!(spec["strategy"]["type"], "RollingUpdate");
    let rolling = &spec["strategy"]["rollingUpdate"];
    assert_eq!(
        (&rolling["maxUnavailable"], &rolling["maxSurge"]),
        (&Value::from(0), &Value::from(1))
    );

    let pdb = &kube.manifests.one("PodDisruptionBudget")["spec"];
    assert!(
        kube::selects(
            &kube::string_map(&pdb["selector"]["matchLabels"]),
            &pod_labels
        ),
        "the PodDisruptionBudget selects the Deployment's pods"
    );
    let disruptions = match (pdb["maxUnavailable"].as_u64(), pdb["minAvailable"].as_u64()) {
        (Some(max), None) => max,
        (None, Some(min)) => replicas.saturating_sub(min),
        other => {
            panic!("the budget sets one of maxUnavailable and minAvailable as a number: {other:?}")
        }
    };
    assert_eq!(
        disruptions, 1,
        "the budget lets exactly one pod go at a time"
    );

    let container = kube.container();
    let config = inspect(&kube.config_text, &kube.config_path, &kube.env());
    let sources = kube::env(container);
    assert!(
        !config.vars.is_empty(),
        "the config reads its secrets with ${{VAR}}"
    );
    for var in &config.vars {
        match sources.get(var) {
            Some(EnvSource::Secret(name, key)) => {
                let secret = kube.manifests.named("Secret", name);
                assert!(
                    secret.is_some_and(|s| kube::secret_value(s, key).is_some()),
                    "${{{var}}} comes from Secret {name:?} key {key:?}, which the manifests lack"
                );
            }
            other => panic!("${{{var}}} must come from the Secret (secretKeyRef), is {other:?}"),
        }
    }
    let config = config.config;
    assert!(
        config.store.postgres.is_some(),
        "store.url: the replicas share PostgreSQL"
    );

    let admin = config.admin.listen;
    assert!(
        admin.ip().is_unspecified(),
        "admin.listen = {admin}: the kubelet probes the pod's IP"
    );
    let probes = kube.http_probes();
    for (kind, get) in &probes {
        let port = kube::port_number(container, &get["port"]).unwrap_or_else(|| {
            panic!(
                "{kind}'s port {} is none of the container's ports",
                get["port"]
            )
        });
        assert_eq!(
            port,
            u64::from(admin.port()),
            "{kind} probes the admin port ({admin})"
        );
    }
    let path = |kind: &str| {
        probes
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, get)| &get["path"])
    };
    assert_eq!(path("livenessProbe"), Some(&Value::from("/livez")));
    assert_eq!(path("readinessProbe"), Some(&Value::from("/readyz")));

    let stop = config.broker.shutdown_grace + DRAIN_DEADLINE;
    assert!(
        kube.grace() > stop,
        "terminationGracePeriodSeconds must exceed shutdown_grace + drain ({stop:?})"
    );

    let pod = &spec["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    // With a read-only root, whatever switchboard or the agent writes must
    // lie on a writable volume.
    let agent = config.agent.expect("[agent]");
    let mut written: Vec<PathBuf> = vec![agent.cwd.clone()];
    written.extend(kube.env().get("HOME").map(PathBuf::from));
    written.extend(
        agent
            .env
            .values()
            .map(|v| PathBuf::from(v.expose()))
            .filter(|p| p.is_absolute()),
    );
    if config.store.postgres.is_none() {
        written.push(config.store.data_dir.clone());
    }
    for path in written {
        assert!(
            kube::writable(deployment, container, &path),
            "{} is on no writable volume",
            path.display()
        );
    }
}

#[tokio::test]
async fn the_configmaps_config_passes_switchboard_check() {
    let kube = Kube::read();
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let file = dir.path().join("switchboard.toml");
    std::fs::write(&file, launch::portable(&kube.config_text, &work)).unwrap();
    let mut env = kube.env();
    env.insert(
        "PATH".into(),
        launch::agent_on_path(&kube.config_text, dir.path()),
    );
    let out = launch::check(&file, &env).await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "switchboard check failed:\n{stdout}{stderr}"
    );
    assert!(stdout.starts_with("ok: "), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployments_command_starts_switchboard_and_every_probe_path_answers() {
    let kube = Kube::read();
    let sims = Sims::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("switchboard.toml");
    std::fs::write(
        &file,
        launch::runnable(&kube.config_text, dir.path(), &sims),
    )
    .unwrap();
    let mut env = kube.env();
    env.extend(launch::sim_tokens(&kube.config_text, &sims));
    env.insert(
        "PATH".into(),
        launch::agent_on_path(&kube.config_text, dir.path()),
    );
    env.insert("HOME".into(), dir.path().display().to_string());

    let args = program_args(kube::argv(kube.container()), &file);
    let running = launch::start(&args, &env).await;
    for (kind, get) in kube.http_probes() {
        let path = get["path"].as_str().expect("httpGet.path");
        let status = running.get(path).await;
        assert_ne!(status, 404, "{kind} {path}: no such endpoint");
        if kind == "livenessProbe" {
            assert_eq!(status, 200, "{kind} {path}: the process is alive");
        }
    }
    let status = running.stop(libc::SIGTERM, kube.grace()).await;
    assert!(status.success(), "exit after SIGTERM: {status}");
}

#[tokio::test]
async fn the_systemd_unit_is_hardened_and_its_config_passes_check() {
    let sd = Systemd::read();
    assert!(
        Path::new(&sd.exec[0]).is_absolute() && sd.exec[0].ends_with("/switchboard"),
        "ExecStart runs switchboard by absolute path: {:?}",
        sd.exec
    );
    let config = inspect(&sd.config_text, &sd.config_path, &sd.env());
    for var in &config.vars {
        assert!(
            sd.env_file.contains_key(var),
            "${{{var}}} is not in the EnvironmentFile's example"
        );
    }
    let config = config.config;
    let timeout = unit::time_span(&sd.service("TimeoutStopSec").expect("TimeoutStopSec"));
    let stop = config.broker.shutdown_grace + DRAIN_DEADLINE;
    assert!(
        timeout > stop,
        "TimeoutStopSec {timeout:?} must exceed shutdown_grace + drain ({stop:?})"
    );
    let signal = sd.service("KillSignal").unwrap_or_else(|| "SIGTERM".into());
    assert!(
        launch::signal_number(&signal).is_some(),
        "KillSignal={signal}: switchboard stops on SIGTERM or SIGINT"
    );
    assert_eq!(
        sd.service("KillMode").as_deref(),
        Some("mixed"),
        "SIGTERM to switchboard alone, not its agents"
    );
    assert_eq!(sd.service("Restart").as_deref(), Some("on-failure"));
    assert!(sd.unit.is_true("Service", "NoNewPrivileges"));
    assert_eq!(sd.service("ProtectSystem").as_deref(), Some("strict"));
    let user = sd.service("User");
    assert!(
        sd.unit.is_true("Service", "DynamicUser")
            || user.as_deref().is_some_and(|u| u != "root" && u != "0"),
        "a user of its own"
    );
    // ProtectSystem=strict: what switchboard and its agent write must be in
    // a StateDirectory (or ReadWritePaths).
    let writable: Vec<PathBuf> = sd
        .unit
        .all("Service", "StateDirectory")
        .iter()
        .flat_map(|l| {
            l.split_whitespace()
                .map(|d| Path::new("/var/lib").join(d))
                .collect::<Vec<_>>()
        })
        .chain(
            sd.unit
                .all("Service", "ReadWritePaths")
                .iter()
                .flat_map(|l| l.split_whitespace().map(PathBuf::from).collect::<Vec<_>>()),
        )
        .collect();
    let agent = config.agent.clone().expect("[agent]");
    let mut written = vec![agent.cwd.clone()];
    written.extend(sd.env().get("HOME").map(PathBuf::from));
    if config.store.postgres.is_none() {
        written.push(config.store.data_dir.clone());
    }
    for path in written {
        assert!(
            writable.iter().any(|w| path.starts_with(w)),
            "{} is not writable under ProtectSystem=strict",
            path.display()
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let file = dir.path().join("switchboard.toml");
    std::fs::write(&file, launch::portable(&sd.config_text, &work)).unwrap();
    let mut env = sd.env();
    env.insert(
        "PATH".into(),
        launch::agent_on_path(&sd.config_text, dir.path()),
    );
    let out = launch::check(&file, &env).await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "switchboard check failed:\n{stdout}{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_systemd_units_command_runs_and_stops_on_its_signal_within_its_timeout() {
    let sd = Systemd::read();
    let sims = Sims::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("switchboard.toml");
    std::fs::write(&file, launch::runnable(&sd.config_text, dir.path(), &sims)).unwrap();
    let mut env = sd.env();
    env.extend(launch::sim_tokens(&sd.config_text, &sims));
    env.insert(
        "PATH".into(),
        launch::agent_on_path(&sd.config_text, dir.path()),
    );
    env.insert("HOME".into(), dir.path().display().to_string());

    let running = launch::start(&program_args(sd.exec.clone(), &file), &env).await;
    assert_eq!(running.get("/livez").await, 200);
    assert_ne!(running.get("/readyz").await, 404);
    let signal = sd.service("KillSignal").unwrap_or_else(|| "SIGTERM".into());
    let signal = launch::signal_number(&signal).expect("a signal switchboard handles");
    let timeout = unit::time_span(&sd.service("TimeoutStopSec").expect("TimeoutStopSec"));
    let status = running.stop(signal, timeout).await;
    assert!(status.success(), "exit after KillSignal: {status}");
}
