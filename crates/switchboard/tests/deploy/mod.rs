//! Helpers of tests/deploy_manifests.rs: where the deployment examples
//! are, and a config as switchboard's own loader reads it. `kube` reads
//! the Kubernetes manifests, `unit` the systemd unit, `launch` runs the
//! real binary as an example says to.
//!
//! Owns finding and reading the examples. It must never change a file
//! under `deploy/`.

pub mod examples;
pub mod kube;
pub mod launch;
pub mod unit;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use switchboard::config::Config;

/// `deploy/` at the repository's root.
pub fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// A config as switchboard reads it, and what it read from the environment.
pub struct Inspected {
    pub config: Config,
    /// Every `${NAME}` the loader expanded.
    pub vars: BTreeSet<String>,
}

/// Load `text` with switchboard's own loader (`${VAR}` expansion,
/// validation), `source` standing for the file's path where it is
/// installed, and `env` as the whole environment. Panics with the
/// loader's message when it does not load.
pub fn inspect(text: &str, source: &str, env: &BTreeMap<String, String>) -> Inspected {
    let asked = RefCell::new(BTreeSet::new());
    let lookup = |name: &str| {
        asked.borrow_mut().insert(name.to_owned());
        env.get(name).cloned()
    };
    let config = Config::from_toml_str(text, source, &lookup)
        .unwrap_or_else(|e| panic!("switchboard does not load {source}: {e}"));
    Inspected {
        config,
        vars: asked.into_inner(),
    }
}
