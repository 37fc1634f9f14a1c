//! What every backend's import session decides the same way, outside SQL.

use crate::{Error, Result};

/// A report's own tool name (`ScanInfo.tool`) replaces the command line's, unless findings
/// were already stored under the first one: a report may not rename its tool after them.
pub(crate) fn take_report_tool(
    findings_stored: bool,
    current: &mut Option<String>,
    reported: Option<String>,
) -> Result<()> {
    if reported.is_none() {
        return Ok(());
    }
    if findings_stored && reported != *current {
        return Err(Error::Invalid(
            "the report named its tool after its findings".into(),
        ));
    }
    *current = reported;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::take_report_tool;

    #[test]
    fn a_report_names_its_tool_only_before_its_findings() {
        let mut tool = None;
        take_report_tool(false, &mut tool, None).expect("no name");
        assert_eq!(tool, None);
        take_report_tool(false, &mut tool, Some("trivy".into())).expect("before findings");
        assert_eq!(tool.as_deref(), Some("trivy"));
        take_report_tool(true, &mut tool, Some("trivy".into())).expect("the same name again");
        take_report_tool(true, &mut tool, None).expect("no name after findings");
        let e = take_report_tool(true, &mut tool, Some("grype".into())).expect_err("renamed");
        assert!(e.to_string().contains("after its findings"), "{e}");
        assert_eq!(tool.as_deref(), Some("trivy"));
    }
}
