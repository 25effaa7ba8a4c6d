//! What a `session/new` or `session/load` result says about the session:
//! its modes and config options, read into [`AgentInfo`].
//!
//! Owns: that lenient reading (a malformed field counts as not announced).
//! Must never: fail a session start over these optional fields.

use agent_client_protocol_schema::v1::{SessionConfigOption, SessionModeState};

use super::AgentInfo;

impl AgentInfo {
    /// Read the modes and config options a `session/new` or `session/load`
    /// result announced; a malformed field counts as not announced.
    pub(super) fn session_features(&mut self, result: &serde_json::Value) {
        let modes = result
            .get("modes")
            .and_then(|m| serde_json::from_value::<SessionModeState>(m.clone()).ok());
        if let Some(modes) = modes {
            self.current_mode = Some(modes.current_mode_id.0.to_string());
            self.modes = modes
                .available_modes
                .iter()
                .map(|mode| mode.id.0.to_string())
                .collect();
        }
        let options = result
            .get("configOptions")
            .and_then(|o| serde_json::from_value::<Vec<SessionConfigOption>>(o.clone()).ok());
        self.config_options = options
            .unwrap_or_default()
            .iter()
            .map(|option| option.id.0.to_string())
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info() -> AgentInfo {
        AgentInfo::default()
    }

    #[test]
    fn modes_and_config_options_are_read_and_bad_ones_ignored() {
        let mut read = info();
        read.session_features(&json!({
            "sessionId": "s",
            "modes": {"currentModeId": "plan", "availableModes": [
                {"id": "default", "name": "Default"}, {"id": "plan", "name": "Plan"}
            ]},
            "configOptions": [{"id": "model", "name": "Model", "type": "select",
                "currentValue": "m1", "options": [{"value": "m1", "name": "M1"}]}]
        }));
        assert_eq!(read.modes, ["default", "plan"]);
        assert_eq!(read.current_mode.as_deref(), Some("plan"));
        assert_eq!(read.config_options, ["model"]);

        let mut bad = info();
        bad.session_features(&json!({"sessionId": "s", "modes": 7, "configOptions": "x"}));
        assert_eq!(bad, info());
    }
}
