//! The permission policy: which option of a `session/request_permission`
//! to pick.
//!
//! Owns: the choice by option KIND and the fallbacks when the wanted kind is
//! not offered. Pure; the actor logs and reports the outcome.
//!
//! Must never: match on optionId strings (agents name them as they like),
//! or pick an allow option when the policy says deny.

use agent_client_protocol_schema::v1::{PermissionOption, PermissionOptionKind, ToolKind};

use super::PermissionPolicy;

/// What to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Select this option.
    Selected {
        /// The agent's optionId.
        option_id: String,
        /// Its kind.
        kind: PermissionOptionKind,
        /// The wanted kinds were not offered; this is the next best.
        fallback: bool,
    },
    /// Answer `cancelled`: no acceptable option (or the turn is cancelled).
    Cancelled,
}

impl Decision {
    /// The chosen option kind's wire name, or `cancelled`.
    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            Self::Selected { kind, .. } => option_kind_name(*kind),
            Self::Cancelled => "cancelled",
        }
    }
}

/// The wire name of an option kind.
pub(crate) fn option_kind_name(kind: PermissionOptionKind) -> &'static str {
    match kind {
        PermissionOptionKind::AllowOnce => "allow_once",
        PermissionOptionKind::AllowAlways => "allow_always",
        PermissionOptionKind::RejectOnce => "reject_once",
        PermissionOptionKind::RejectAlways => "reject_always",
        _ => "unknown",
    }
}

/// Tool kinds that only look at things.
fn is_read_only(kind: ToolKind) -> bool {
    matches!(
        kind,
        ToolKind::Read | ToolKind::Search | ToolKind::Fetch | ToolKind::Think
    )
}

/// Whether `policy` allows a tool of `kind` (unknown kind = not read-only).
pub(crate) fn allows(policy: PermissionPolicy, kind: Option<ToolKind>) -> bool {
    match policy {
        PermissionPolicy::Allow => true,
        PermissionPolicy::Deny => false,
        PermissionPolicy::AllowReads => kind.is_some_and(is_read_only),
        // Asked of people, not decided here; should a request ever reach
        // the policy under `ask` (no turn to ask in), it is not allowed.
        PermissionPolicy::Ask => false,
    }
}

/// Pick the option for a tool call of `kind` under `policy`.
///
/// Allowing: allow_once, else allow_always; if the agent offers no allow
/// option at all, rejecting is the safe answer (reject_once, reject_always).
/// Denying: reject_once, else reject_always, else cancelled (never allow).
pub(crate) fn choose(
    policy: PermissionPolicy,
    kind: Option<ToolKind>,
    options: &[PermissionOption],
) -> Decision {
    use PermissionOptionKind::{AllowAlways, AllowOnce, RejectAlways, RejectOnce};
    let preference: &[PermissionOptionKind] = if allows(policy, kind) {
        &[AllowOnce, AllowAlways, RejectOnce, RejectAlways]
    } else {
        &[RejectOnce, RejectAlways]
    };
    for (rank, wanted) in preference.iter().enumerate() {
        if let Some(option) = options.iter().find(|o| o.kind == *wanted) {
            return Decision::Selected {
                option_id: option.option_id.0.to_string(),
                kind: option.kind,
                fallback: rank >= 2,
            };
        }
    }
    Decision::Cancelled
}

#[cfg(test)]
mod tests {
    use super::*;
    use PermissionOptionKind::{AllowAlways, AllowOnce, RejectAlways, RejectOnce};

    fn options(kinds: &[PermissionOptionKind]) -> Vec<PermissionOption> {
        kinds
            .iter()
            .enumerate()
            .map(|(i, kind)| PermissionOption::new(format!("id-{i}"), format!("option {i}"), *kind))
            .collect()
    }

    fn chosen(
        policy: PermissionPolicy,
        kind: Option<ToolKind>,
        kinds: &[PermissionOptionKind],
    ) -> &'static str {
        choose(policy, kind, &options(kinds)).kind_name()
    }

    const ALL: [PermissionOptionKind; 4] = [RejectAlways, AllowAlways, RejectOnce, AllowOnce];

    #[test]
    fn chooses_by_kind_not_position() {
        let decision = choose(
            PermissionPolicy::Allow,
            Some(ToolKind::Edit),
            &options(&ALL),
        );
        assert_eq!(
            decision,
            Decision::Selected {
                option_id: "id-3".into(),
                kind: AllowOnce,
                fallback: false
            }
        );
        assert_eq!(
            chosen(PermissionPolicy::Deny, Some(ToolKind::Read), &ALL),
            "reject_once"
        );
    }

    #[test]
    fn once_is_preferred_then_always() {
        assert_eq!(
            chosen(PermissionPolicy::Allow, None, &[AllowAlways, RejectOnce]),
            "allow_always"
        );
        assert_eq!(
            chosen(PermissionPolicy::Deny, None, &[AllowOnce, RejectAlways]),
            "reject_always"
        );
    }

    #[test]
    fn allow_reads_splits_by_tool_kind() {
        for kind in [
            ToolKind::Read,
            ToolKind::Search,
            ToolKind::Fetch,
            ToolKind::Think,
        ] {
            assert_eq!(
                chosen(PermissionPolicy::AllowReads, Some(kind), &ALL),
                "allow_once",
                "{kind:?}"
            );
        }
        for kind in [
            ToolKind::Edit,
            ToolKind::Delete,
            ToolKind::Move,
            ToolKind::Execute,
            ToolKind::SwitchMode,
            ToolKind::Other,
        ] {
            assert_eq!(
                chosen(PermissionPolicy::AllowReads, Some(kind), &ALL),
                "reject_once",
                "{kind:?}"
            );
        }
        // A tool call of unknown kind is not known to be harmless.
        assert_eq!(
            chosen(PermissionPolicy::AllowReads, None, &ALL),
            "reject_once"
        );
    }

    #[test]
    fn fallbacks_never_allow_when_denying() {
        assert_eq!(
            chosen(PermissionPolicy::Deny, None, &[AllowOnce, AllowAlways]),
            "cancelled"
        );
        assert_eq!(chosen(PermissionPolicy::Deny, None, &[]), "cancelled");
        let decision = choose(PermissionPolicy::Allow, None, &options(&[RejectOnce]));
        assert!(matches!(
            decision,
            Decision::Selected {
                kind: RejectOnce,
                fallback: true,
                ..
            }
        ));
        assert_eq!(chosen(PermissionPolicy::Allow, None, &[]), "cancelled");
    }
}
