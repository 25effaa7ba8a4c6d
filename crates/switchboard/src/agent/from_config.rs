//! The `[agent]` section turned into what starts an agent: the
//! [`AgentCommand`] and the [`SessionOptions`]. One conversion, used by
//! `run` (every conversation) and by `switchboard check --agent`, so the
//! check starts the agent exactly as a conversation would.
//!
//! Owns: that mapping only. Must never: read the environment or touch a
//! process (spawning is `process`'s).

use super::{AgentCommand, PermissionPolicy, SessionOptions};
use crate::config::AgentConfig;

impl AgentCommand {
    /// The program, arguments, working directory and extra environment of
    /// `[agent]`.
    pub fn from_config(agent: &AgentConfig) -> Self {
        Self {
            command: agent.command.clone(),
            args: agent.args.clone(),
            cwd: agent.cwd.clone(),
            // The values are secrets in the config; the agent gets them.
            env: agent
                .env
                .iter()
                .map(|(name, value)| (name.clone(), value.expose().to_owned()))
                .collect(),
        }
    }
}

impl SessionOptions {
    /// The session settings of `[agent]`; the rest keep their defaults.
    pub fn from_config(agent: &AgentConfig) -> Self {
        Self {
            permission_policy: agent
                .permission_policy
                .parse::<PermissionPolicy>()
                // The config validated the name against the same list.
                .unwrap_or_default(),
            mcp_servers: agent.mcp_servers.clone(),
            turn_idle_timeout: agent.turn_idle_timeout,
            cancel_grace: agent.cancel_grace,
            max_message_size: agent.max_message_size.bytes(),
            ..Self::default()
        }
    }
}
