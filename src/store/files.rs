//! The store is private to its owner (docs/product-rules.md §10): its directory and every
//! directory in it 0700, every file 0600. A database created by an older console (0755/0644)
//! is tightened when it is opened, with one log line; the process's umask (set by the binary
//! at start, `main.rs`) keeps new files private.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::StoreError;

/// Directory mode of the store: owner only.
pub const DIR_MODE: u32 = 0o700;
/// File mode of the store: owner read and write only.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and its parents) when missing, then sets `dir` to [`DIR_MODE`].
///
/// Errors: [`StoreError::Io`] naming the directory.
pub fn private_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| StoreError::Io(format!("cannot create {}: {e}", dir.display())))?;
    set_mode(dir, DIR_MODE)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), StoreError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| {
        StoreError::Io(format!(
            "cannot set mode {mode:o} on {}: {e}",
            path.display()
        ))
    })
}

/// Sets every directory under `root` (itself included) to [`DIR_MODE`] and every file to
/// [`FILE_MODE`], following no symbolic links. Returns how many modes it changed.
///
/// Errors: [`StoreError::Io`] naming the path that could not be read or changed.
pub fn tighten(root: &Path) -> Result<usize, StoreError> {
    let mut changed = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|e| StoreError::Io(format!("cannot read {}: {e}", path.display())))?;
        let want = if meta.is_dir() {
            DIR_MODE
        } else if meta.is_file() {
            FILE_MODE
        } else {
            continue;
        };
        if meta.permissions().mode() & 0o7777 != want {
            set_mode(&path, want)?;
            changed += 1;
        }
        if meta.is_dir() {
            let entries = std::fs::read_dir(&path)
                .map_err(|e| StoreError::Io(format!("cannot read {}: {e}", path.display())))?;
            for entry in entries {
                let entry = entry
                    .map_err(|e| StoreError::Io(format!("cannot read {}: {e}", path.display())))?;
                stack.push(entry.path());
            }
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_loose_tree_is_tightened_once() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("db");
        std::fs::create_dir_all(root.join("blobs")).unwrap();
        std::fs::write(root.join("conf"), b"x").unwrap();
        std::fs::write(root.join("blobs/1"), b"y").unwrap();
        for (p, m) in [(&root, 0o755), (&root.join("blobs"), 0o755)] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
        }
        for p in [root.join("conf"), root.join("blobs/1")] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        assert_eq!(tighten(&root).unwrap(), 4);
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("blobs")), 0o700);
        assert_eq!(mode(&root.join("conf")), 0o600);
        assert_eq!(mode(&root.join("blobs/1")), 0o600);
        assert_eq!(tighten(&root).unwrap(), 0);
    }
}
