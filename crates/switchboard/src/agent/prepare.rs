//! Preparing what the session sends: checking the options (absolute cwd,
//! MCP server objects) and building prompt content blocks.
//!
//! Owns: the translation from switchboard's options and prompt parts to ACP
//! payloads. Pure functions.
//!
//! Must never: send an image to an agent that did not ask for images.

use agent_client_protocol_schema::v1::{ContentBlock, ImageContent, McpServer, TextContent};

use super::{AgentCommand, AgentError, PromptPart, SessionOptions};

/// Check the options and read the MCP server objects.
pub(crate) fn check_options(
    command: &AgentCommand,
    options: &SessionOptions,
) -> Result<Vec<McpServer>, AgentError> {
    if !command.cwd.is_absolute() {
        return Err(AgentError::Options(format!(
            "the agent's working directory must be absolute, got {}",
            command.cwd.display()
        )));
    }
    options
        .mcp_servers
        .iter()
        .enumerate()
        .map(|(index, value)| {
            serde_json::from_value::<McpServer>(value.clone()).map_err(|err| {
                AgentError::Options(format!(
                    "mcp server #{} is not an ACP McpServer object: {err}",
                    index + 1
                ))
            })
        })
        .collect()
}

/// The prompt's content blocks; images only when the agent takes them.
pub(crate) fn prompt_blocks(parts: Vec<PromptPart>, images: bool) -> Vec<ContentBlock> {
    parts
        .into_iter()
        .filter_map(|part| match part {
            PromptPart::Text(text) => Some(ContentBlock::Text(TextContent::new(text))),
            PromptPart::Image {
                mime_type,
                data_base64,
            } if images => Some(ContentBlock::Image(ImageContent::new(
                data_base64,
                mime_type,
            ))),
            PromptPart::Image { mime_type, .. } => {
                tracing::debug!(%mime_type, "agent does not accept images; image dropped");
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn command(cwd: &str) -> AgentCommand {
        AgentCommand {
            command: "agent".into(),
            args: vec![],
            cwd: cwd.into(),
            env: Default::default(),
        }
    }

    #[test]
    fn images_only_when_supported() {
        let parts = vec![
            PromptPart::Text("look".into()),
            PromptPart::Image {
                mime_type: "image/png".into(),
                data_base64: "AA==".into(),
            },
        ];
        let with = serde_json::to_value(prompt_blocks(parts.clone(), true)).unwrap();
        assert_eq!(
            with,
            json!([{"type":"text","text":"look"},{"type":"image","data":"AA==","mimeType":"image/png"}])
        );
        let without = serde_json::to_value(prompt_blocks(parts, false)).unwrap();
        assert_eq!(without, json!([{"type":"text","text":"look"}]));
    }

    #[test]
    fn options_are_checked() {
        let mut options = SessionOptions {
            mcp_servers: vec![
                json!({"name":"fs","command":"/bin/mcp","args":[],"env":[]}),
                json!({"type":"http","name":"web","url":"http://127.0.0.1:1/mcp","headers":[]}),
            ],
            ..SessionOptions::default()
        };
        assert_eq!(check_options(&command("/tmp"), &options).unwrap().len(), 2);
        assert!(matches!(
            check_options(&command("relative/dir"), &options),
            Err(AgentError::Options(_))
        ));
        options.mcp_servers.push(json!({"nonsense": true}));
        let err = check_options(&command("/tmp"), &options).unwrap_err();
        assert!(err.to_string().contains("mcp server #3"), "{err}");
    }

    #[test]
    fn policies_parse_and_print() {
        use crate::agent::PermissionPolicy;
        for policy in [
            PermissionPolicy::Allow,
            PermissionPolicy::Deny,
            PermissionPolicy::AllowReads,
            PermissionPolicy::Ask,
        ] {
            assert_eq!(policy.to_string().parse::<PermissionPolicy>(), Ok(policy));
        }
        assert!("yes".parse::<PermissionPolicy>().is_err());
    }
}
