//! The real verifier (contract §8): dlib's HOG frontal face detector (no
//! model file), its 5-point landmark predictor and its ResNet encoder, the
//! pipeline of Python's `face_recognition` with `model="small"`.
//!
//! dlib's detector and network are not thread-safe, so the verifier keeps
//! one engine per pool slot, each behind its own lock.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

use dlib_face_recognition::{
    FaceDetector, FaceDetectorTrait, FaceEncoderNetwork, FaceEncoderTrait, ImageMatrix,
    LandmarkPredictor, LandmarkPredictorTrait, Rectangle,
};
use image::RgbImage;

use super::models::{self, ENCODER, LANDMARKS};
use super::{DIMENSIONS, Face, FaceBox, FaceEncoding, FaceError, FaceVerifier, POOL_SIZE};

/// One detector, predictor and network.
struct Engine {
    detector: FaceDetector,
    predictor: LandmarkPredictor,
    network: FaceEncoderNetwork,
}

/// dlib, with [`POOL_SIZE`] engines over the models of one directory.
pub struct Dlib {
    engines: Vec<Mutex<Engine>>,
}

/// Loaded verifiers by models directory: each node (and each test app of a
/// process) shares one instead of loading 30 MB of models again.
static LOADED: LazyLock<Mutex<HashMap<PathBuf, Arc<Dlib>>>> = LazyLock::new(Default::default);

impl Dlib {
    /// The verifier over the models in `dir` (loaded once per process).
    pub fn shared(dir: &Path) -> Result<Arc<Self>, String> {
        let key = dir
            .canonicalize()
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut loaded = LOADED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(dlib) = loaded.get(&key) {
            return Ok(dlib.clone());
        }
        let dlib = Arc::new(Self::open(&key)?);
        loaded.insert(key, dlib.clone());
        Ok(dlib)
    }

    /// Checks and loads the models in `dir`.
    pub fn open(dir: &Path) -> Result<Self, String> {
        models::check(dir)?;
        let predictor = LandmarkPredictor::open(LANDMARKS.path(dir))?;
        let network = FaceEncoderNetwork::open(ENCODER.path(dir))?;
        let engines = (0..POOL_SIZE)
            .map(|_| {
                Mutex::new(Engine {
                    detector: FaceDetector::new(),
                    predictor: predictor.clone(),
                    network: network.clone(),
                })
            })
            .collect();
        Ok(Self { engines })
    }

    /// A free engine (the pool's semaphore keeps one free for each caller;
    /// anyone else waits for the first).
    fn engine(&self) -> MutexGuard<'_, Engine> {
        self.engines
            .iter()
            .find_map(|engine| engine.try_lock().ok())
            .unwrap_or_else(|| {
                self.engines[0]
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
            })
    }
}

impl FaceVerifier for Dlib {
    fn encode(&self, image: &RgbImage) -> Result<Face, FaceError> {
        let pixels = dlib_image::ImageBuffer::<dlib_image::Rgb<u8>, &[u8]>::from_raw(
            image.width(),
            image.height(),
            image.as_raw().as_slice(),
        )
        .ok_or(FaceError::BadImage(super::NOT_AN_IMAGE))?;
        let matrix = ImageMatrix::from_image(&pixels);
        let engine = self.engine();
        let locations = engine.detector.face_locations(&matrix);
        let rect = match *locations {
            [] => return Err(FaceError::NoFace),
            [rect] => rect,
            _ => return Err(FaceError::MultipleFaces),
        };
        let landmarks = engine.predictor.face_landmarks(&matrix, &rect);
        let encodings = engine.network.get_face_encodings(&matrix, &[landmarks], 1);
        let values = encodings.first().ok_or(FaceError::NoFace)?.as_ref();
        let mut encoding = [0.0_f32; DIMENSIONS];
        if values.len() != DIMENSIONS {
            return Err(FaceError::NoFace);
        }
        for (slot, value) in encoding.iter_mut().zip(values) {
            // dlib computes in f32 and widens; this narrows back.
            *slot = *value as f32;
        }
        Ok(Face {
            encoding: FaceEncoding(encoding),
            face_box: face_box(rect, image),
        })
    }
}

/// dlib's rectangle, clamped to the photo.
#[allow(
    clippy::useless_conversion,
    reason = "`c_long` is 32 bits on some targets"
)]
fn face_box(rect: Rectangle, image: &RgbImage) -> FaceBox {
    let clamp = |value: std::ffi::c_long, limit: u32| {
        let limit = i64::from(limit.saturating_sub(1));
        i32::try_from(i64::from(value).clamp(0, limit)).unwrap_or(0)
    };
    FaceBox {
        left: clamp(rect.left, image.width()),
        top: clamp(rect.top, image.height()),
        right: clamp(rect.right, image.width()),
        bottom: clamp(rect.bottom, image.height()),
    }
}
