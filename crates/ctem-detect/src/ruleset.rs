//! Loading rule folders into a compiled [`RuleSet`], and the `rules check` report.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::compile::{CompileOptions, CompiledDetection, compile_detection};
use crate::correlation::CorrelationRule;
use crate::error::{Error, Result};
use crate::rule::{Document, LogSource, Rule, parse_yaml};

/// Metadata an alert needs about the rule that fired.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleMeta {
    pub id: String,
    pub name: Option<String>,
    pub title: String,
    pub level: String,
    pub tags: Vec<String>,
    pub path: String,
}

/// A compiled detection rule.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub meta: RuleMeta,
    pub logsource: LogSource,
    pub detection: CompiledDetection,
}

/// A correlation rule with its origin.
#[derive(Debug, Clone)]
pub struct LoadedCorrelation {
    pub meta: RuleMeta,
    pub rule: CorrelationRule,
}

/// One rule that could not be compiled, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unsupported {
    pub path: String,
    pub reason: String,
}

/// The `ctem rules check --json` report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RulesReport {
    /// Rule documents seen (detection and correlation).
    pub rules: usize,
    /// Rule documents compiled.
    pub compiled: usize,
    pub unsupported: Vec<Unsupported>,
    /// Per logsource of the compiled rules: how many rules name it and whether a source of
    /// the routing table (`mappings/sources.yml` and files from `ctem.toml`) can feed it.
    pub logsources: Vec<LogsourceReport>,
}

/// One logsource in the `rules check` report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LogsourceReport {
    pub product: Option<String>,
    pub service: Option<String>,
    pub category: Option<String>,
    /// Compiled rules with this logsource.
    pub rules: usize,
    /// Whether any source can feed it (events of an unknown source feed the logsources that
    /// name no product and no service).
    pub fed: bool,
    /// The routing-table entries whose events it may run on (`unknown` for unknown sources).
    pub fed_by: Vec<String>,
}

/// Compiled rules and correlations, ready for an [`Engine`](crate::Engine).
#[derive(Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<CompiledRule>,
    pub correlations: Vec<LoadedCorrelation>,
    pub report: RulesReport,
}

fn meta_of(
    id: Option<&str>,
    name: Option<&str>,
    title: &str,
    level: Option<&str>,
    tags: &[String],
    path: &str,
) -> RuleMeta {
    RuleMeta {
        id: id.unwrap_or(title).to_string(),
        name: name.map(str::to_string),
        title: title.to_string(),
        level: level.unwrap_or("medium").to_string(),
        tags: tags.to_vec(),
        path: path.to_string(),
    }
}

pub(crate) fn reason(e: &Error) -> String {
    match e {
        Error::Unsupported { message, .. }
        | Error::Rule { message, .. }
        | Error::Condition { message, .. }
        | Error::Yaml { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

impl RuleSet {
    /// Loads every `.yml` / `.yaml` file under the folders (recursively) with default options.
    /// Rules that do not compile are listed in `report.unsupported`; only unreadable folders
    /// are errors.
    pub fn load_dirs<P: AsRef<Path>>(dirs: &[P]) -> Result<Self> {
        Self::load_dirs_with(dirs, &CompileOptions::default())
    }

    /// Like [`RuleSet::load_dirs`] with compile options (placeholder values).
    pub fn load_dirs_with<P: AsRef<Path>>(dirs: &[P], opts: &CompileOptions) -> Result<Self> {
        let files = collect_files(dirs)?;
        let mut set = RuleSet::default();
        for f in files {
            let text = std::fs::read(&f).map_err(|source| Error::Io {
                path: f.clone(),
                source,
            })?;
            let text = String::from_utf8_lossy(&text);
            set.add_yaml(&text, &f.display().to_string(), opts);
        }
        Ok(set)
    }

    /// Adds the documents of one YAML text; problems go to the report.
    pub fn add_yaml(&mut self, text: &str, origin: &str, opts: &CompileOptions) {
        let docs = parse_yaml(text, origin).map_err(|e| (reason(&e), origin.to_string()));
        self.add_docs(docs, origin, opts);
    }

    /// Adds the parsed documents of one file, or the reason it did not parse (and the path
    /// to name), to the set and its report.
    pub(crate) fn add_docs(
        &mut self,
        docs: std::result::Result<Vec<Document>, (String, String)>,
        origin: &str,
        opts: &CompileOptions,
    ) {
        let docs = match docs {
            Ok(d) => d,
            Err((reason, path)) => {
                self.report.rules += 1;
                self.report.unsupported.push(Unsupported { path, reason });
                return;
            }
        };
        for d in docs {
            match d {
                Document::Rule(r) => {
                    self.report.rules += 1;
                    match self.add_rule(&r, origin, opts) {
                        Ok(()) => self.report.compiled += 1,
                        Err(e) => self.report.unsupported.push(Unsupported {
                            path: origin.to_string(),
                            reason: reason(&e),
                        }),
                    }
                }
                Document::Correlation(c) => {
                    self.report.rules += 1;
                    self.report.compiled += 1;
                    let meta = meta_of(
                        c.id.as_deref(),
                        c.name.as_deref(),
                        &c.title,
                        c.level.as_deref(),
                        &c.tags,
                        origin,
                    );
                    self.correlations.push(LoadedCorrelation { meta, rule: *c });
                }
                Document::Other => {}
            }
        }
    }

    /// Compiles and adds one parsed rule.
    pub fn add_rule(&mut self, r: &Rule, origin: &str, opts: &CompileOptions) -> Result<()> {
        let detection = compile_detection(r, opts)?;
        self.rules.push(CompiledRule {
            meta: meta_of(
                r.id.as_deref(),
                r.name.as_deref(),
                &r.title,
                r.level.as_deref(),
                &r.tags,
                origin,
            ),
            logsource: r.logsource.clone(),
            detection,
        });
        Ok(())
    }

    /// A rule set from one YAML text (tests, embedded rules).
    pub fn from_yaml(text: &str) -> Result<Self> {
        let mut s = RuleSet::default();
        s.add_yaml(text, "<inline>", &CompileOptions::default());
        if let Some(u) = s.report.unsupported.first() {
            return Err(Error::Rule {
                rule: u.path.clone(),
                message: u.reason.clone(),
            });
        }
        Ok(s)
    }
}

/// The rule files under `dirs`, sorted (the load order).
pub(crate) fn collect_files<P: AsRef<Path>>(dirs: &[P]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for d in dirs {
        collect_once(d.as_ref(), &mut files, &mut Default::default())?;
    }
    files.sort();
    Ok(files)
}

/// Rule files under `dir`; each folder is read once whatever links lead to it (a `self -> .`
/// link would read every rule again, forever or until the path is too long), and each file
/// is listed once.
fn collect_once(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    seen: &mut std::collections::HashSet<PathBuf>,
) -> Result<()> {
    let meta = std::fs::metadata(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let real = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !seen.insert(real) {
        return Ok(());
    }
    if meta.is_file() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    let rd = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect_once(&p, out, seen)?;
        } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            let real = std::fs::canonicalize(&p).unwrap_or_else(|_| p.clone());
            if seen.insert(real) {
                out.push(p);
            }
        }
    }
    Ok(())
}

/// Parses and compiles every rule under `dirs` and reports what is unsupported and why, and
/// per logsource how many rules it has and which sources of the built-in routing table feed
/// it.
pub fn rules_check<P: AsRef<Path>>(dirs: &[P]) -> Result<RulesReport> {
    rules_check_with(dirs, &crate::Mappings::builtin()?)
}

/// [`rules_check`] with the routing table of `mappings` (built-in plus `ctem.toml` files).
pub fn rules_check_with<P: AsRef<Path>>(
    dirs: &[P],
    mappings: &crate::Mappings,
) -> Result<RulesReport> {
    let set = RuleSet::load_dirs(dirs)?;
    let mut report = set.report;
    let mut by_ls: std::collections::BTreeMap<LogSource, usize> = Default::default();
    for r in &set.rules {
        *by_ls.entry(r.logsource.clone()).or_default() += 1;
    }
    report.logsources = by_ls
        .into_iter()
        .map(|(ls, rules)| {
            let fed_by = mappings.sources.feeders(&ls);
            LogsourceReport {
                product: ls.product,
                service: ls.service,
                category: ls.category,
                rules,
                fed: !fed_by.is_empty(),
                fed_by,
            }
        })
        .collect();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rule folder holding `self -> .` and a second link to a rule file loads each rule
    /// once (it loaded every rule 41 times, until the path was too long).
    #[cfg(unix)]
    #[test]
    fn symlink_loops_in_rule_folders_are_followed_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rule = "title: t\nid: r-1\nlogsource: {category: test}\ndetection:\n  sel: {A: b}\n  condition: sel\n";
        std::fs::write(dir.path().join("r.yml"), rule).expect("write");
        std::os::unix::fs::symlink(".", dir.path().join("self")).expect("link");
        std::os::unix::fs::symlink(dir.path().join("r.yml"), dir.path().join("again.yml"))
            .expect("link");
        let set = RuleSet::load_dirs(&[dir.path()]).expect("loads");
        assert_eq!(set.rules.len(), 1);
        assert_eq!(set.report.rules, 1);
        let report = rules_check(&[dir.path()]).expect("check");
        assert_eq!(report.logsources.len(), 1);
        assert_eq!(report.logsources[0].rules, 1);
        assert!(report.logsources[0].fed, "{:?}", report.logsources);
    }
}
