//! The agent sees a cleaned environment: only HOME, PATH, USER and LANG
//! from switchboard's (when set), plus the configured variables. Its own
//! test binary, so setting a variable here races with no other test.

mod agent_support;

use agent_support::*;
use switchboard::agent::{AgentSession, PermissionPolicy, StopReason};

#[test]
fn the_agent_environment_is_cleaned() {
    // SAFETY: set before any other thread (runtime, test) of this binary
    // exists; this file holds a single test.
    unsafe { std::env::set_var("SWITCHBOARD_TEST_SECRET", "hunter2") };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        init_logs();
        let mut command = demo_agent(&[]);
        command.env.insert("AGENT_EXTRA".into(), "1".into());
        let session = AgentSession::start(&command, options(PermissionPolicy::Deny), None)
            .await
            .unwrap();
        let (result, updates) = turn(&session, "[[env]]").await;
        assert_eq!(result.unwrap(), StopReason::EndTurn);
        let answer = text(&updates);
        let line = answer
            .lines()
            .find_map(|l| l.strip_prefix("env: "))
            .expect("env line");
        let names: Vec<&str> = line.split(',').filter(|n| !n.is_empty()).collect();
        assert!(names.contains(&"AGENT_EXTRA"), "{names:?}");
        assert!(!names.contains(&"SWITCHBOARD_TEST_SECRET"), "{names:?}");
        for name in &names {
            assert!(
                ["HOME", "PATH", "USER", "LANG", "AGENT_EXTRA"].contains(name),
                "unexpected variable {name} in {names:?}"
            );
        }
        if std::env::var_os("PATH").is_some() {
            assert!(names.contains(&"PATH"));
        }
        session.shutdown().await;
    });
}
