//! Tests of the reply as a whole, against a recording fake platform.
//! Unit tests of the parts live in their modules.

mod fake;
mod props;
mod render;
mod streaming;
mod tools;

use super::{ReplyConfig, ToolDisplay};

#[test]
fn tool_display_reads_and_prints_its_names() {
    for display in [ToolDisplay::Full, ToolDisplay::Compact, ToolDisplay::None] {
        assert_eq!(display.to_string().parse::<ToolDisplay>().unwrap(), display);
    }
    assert!("verbose".parse::<ToolDisplay>().is_err());
    let config = ReplyConfig::default();
    assert_eq!(
        (config.tool_display, config.placeholder.as_str()),
        (ToolDisplay::Compact, "…")
    );
    assert_eq!(config.edit_interval.as_millis(), 1500);
}
