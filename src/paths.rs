//! Paths as people read them. A plan's relative paths are joined to its
//! folder with the `..` that climb out of that folder resolved
//! (`/srv/app/plans/../demo/tiku.db` is `/srv/app/demo/tiku.db`): the
//! plan's folder is canonical, so climbing out of it lexically is exact,
//! while a `..` after a folder the plan names is left alone (that folder
//! may be a symbolic link).

use std::path::{Component, Path, PathBuf};

/// `rel` joined to the canonical folder `base`, its leading `..` taken off
/// `base`. An absolute `rel` is returned as it is.
pub fn join(base: &Path, rel: impl AsRef<Path>) -> PathBuf {
    let rel = rel.as_ref();
    if rel.is_absolute() {
        return rel.to_path_buf();
    }
    let mut out = base.to_path_buf();
    let mut rest = rel.components().peekable();
    while let Some(c) = rest.peek() {
        match c {
            Component::CurDir => {}
            // The root's parent is the root.
            Component::ParentDir if out.has_root() && out.parent().is_none() => {}
            Component::ParentDir if out.parent().is_some() && !ends_in_parent(&out) => {
                out.pop();
            }
            _ => break,
        }
        rest.next();
    }
    out.extend(rest);
    out
}

/// A base that is itself relative and climbs (`../x/..`): its last `..`
/// cannot be taken back.
fn ends_in_parent(p: &Path) -> bool {
    matches!(
        p.components().next_back(),
        Some(Component::ParentDir) | None
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn climbing_out_of_the_plan_folder_is_resolved() {
        let j = |b: &str, r: &str| join(Path::new(b), r).display().to_string();
        assert_eq!(
            j("/srv/app/plans", "../demo/tiku.db"),
            "/srv/app/demo/tiku.db"
        );
        assert_eq!(
            j("/srv/app/plans", "./backups/x.json"),
            "/srv/app/plans/backups/x.json"
        );
        assert_eq!(j("/srv/app/plans", "../../x"), "/srv/x");
        assert_eq!(j("/srv/app/plans", "/abs/x"), "/abs/x");
        // A `..` after a named folder may climb out of a link: kept.
        assert_eq!(j("/srv/app/plans", "link/../x"), "/srv/app/plans/link/../x");
        // Relative bases (a plan named relative to the working folder).
        assert_eq!(j("plans", "../demo"), "demo");
        assert_eq!(j("", "../demo"), "../demo");
        assert_eq!(j("..", "../demo"), "../../demo");
        assert_eq!(j("/", "../x"), "/x");
    }
}
