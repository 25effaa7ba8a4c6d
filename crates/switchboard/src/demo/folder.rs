//! The demo's temporary folder: `switchboard.log` (every log line of the
//! run, so none lands inside the chat) and `data/` (the store).
//!
//! Owns the layout only. The log outlives the run, so a person can read it
//! after `/quit`; the store does not (the demo keeps no state between runs).

use std::path::{Path, PathBuf};

/// A fresh `switchboard-demo-*` folder under the system's temp dir.
pub struct DemoFolder {
    root: PathBuf,
}

impl DemoFolder {
    /// Create the folder (kept after the run: it holds the log).
    pub fn create() -> std::io::Result<Self> {
        let root = tempfile::Builder::new()
            .prefix("switchboard-demo-")
            .tempdir()?
            .keep();
        Ok(Self { root })
    }

    /// Where every log line of the run is written.
    pub fn log_path(&self) -> PathBuf {
        self.root.join("switchboard.log")
    }

    /// The store's `data_dir`.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// Remove the store; the log stays.
    pub fn remove_data(&self) {
        let _ = std::fs::remove_dir_all(self.data_dir());
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_outlives_the_data() {
        let folder = DemoFolder::create().unwrap();
        std::fs::create_dir_all(folder.data_dir()).unwrap();
        std::fs::write(folder.log_path(), "line\n").unwrap();
        folder.remove_data();
        assert!(!folder.data_dir().exists());
        assert!(folder.log_path().is_file());
        assert!(folder.root().starts_with(std::env::temp_dir()));
        std::fs::remove_dir_all(folder.root()).unwrap();
    }
}
