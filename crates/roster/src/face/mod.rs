//! Face verification (contract §8): what a face photo encodes to, how two
//! encodings compare, and the bounded pool every encoding runs on.
//!
//! A photo is decoded by content (JPEG or PNG), turned upright by its EXIF
//! orientation and shrunk to at most 1024 px on its long side; a
//! [`FaceVerifier`] then finds exactly one face in it and encodes it as 128
//! floats. Two encodings match when their Euclidean distance is at most the
//! threshold (0.6, the dlib / `face_recognition` default, so encodings of
//! the original system import unchanged). The real verifier is dlib
//! ([`dlib`], cargo feature `dlib`, model files from [`models`]); without
//! it every face operation is [`FaceError::Unavailable`] — never a silent
//! accept.
//!
//! Encoding is CPU-heavy (0.2–0.9 s a photo), so [`Faces::encode`] runs it
//! with `spawn_blocking`, at most [`POOL_SIZE`] at a time per node.

#[cfg(feature = "dlib")]
mod dlib;
pub mod models;

use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use axum::body::Bytes;
use base64::Engine as _;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use kernel::ApiError;
use kernel::upload::{FileKind, FormBody};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::Serialize;
use tokio::sync::Semaphore;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::entities::face;
use crate::state::AppState;

/// Floats in an encoding.
pub const DIMENSIONS: usize = 128;

/// The match threshold unless a school sets its own (`face_match_threshold`).
pub const DEFAULT_THRESHOLD: f32 = 0.6;

/// Encodings running at once on one node.
pub const POOL_SIZE: usize = 2;

/// The largest upload (contract §1).
pub const MAX_BYTES: usize = 5 * 1024 * 1024;

/// The smallest photo, in pixels each way.
pub const MIN_SIDE: u32 = 80;

/// The long side a photo is shrunk to before detection.
pub const MAX_SIDE: u32 = 1024;

/// The largest photo decoded at all, in pixels each way (a 5 MB PNG can
/// claim far more; such a photo is refused, not decoded).
const DECODE_LIMIT: u32 = 12_000;

pub const NO_FACE: &str =
    "No face was found in the image. Use a clear, well-lit photo of your face.";
pub const MULTIPLE_FACES: &str =
    "More than one face was found in the image; upload a photo of one person.";
pub const NOT_AN_IMAGE: &str =
    "Upload a valid image. The file you uploaded was either not an image or a corrupted image.";
pub const TOO_SMALL: &str = "The image must be at least 80×80 pixels.";
pub const TOO_LARGE: &str = "File size must not exceed 5 MB.";
pub const UNAVAILABLE: &str = "Face verification is not available on this server.";
pub const UNAVAILABLE_CODE: &str = "face_verification_unavailable";

/// Why a photo gave no encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceError {
    /// No face in the photo.
    NoFace,
    /// Two or more faces in the photo.
    MultipleFaces,
    /// Not a usable photo; the message says why (shown on the `image` field).
    BadImage(&'static str),
    /// No verifier on this server (feature off, or model files missing).
    Unavailable,
}

impl From<FaceError> for ApiError {
    /// `NoFace`, `MultipleFaces`, `BadImage` are 400 on `image`;
    /// `Unavailable` is 503 `face_verification_unavailable`.
    fn from(error: FaceError) -> Self {
        match error {
            FaceError::NoFace => ApiError::field("image", NO_FACE),
            FaceError::MultipleFaces => ApiError::field("image", MULTIPLE_FACES),
            FaceError::BadImage(message) => ApiError::field("image", message),
            FaceError::Unavailable => unavailable(),
        }
    }
}

/// 503 `{"detail": "Face verification is not available on this server.",
/// "code": "face_verification_unavailable"}`.
pub fn unavailable() -> ApiError {
    ApiError::unavailable(UNAVAILABLE, UNAVAILABLE_CODE)
}

/// A face as 128 floats (dlib's ResNet descriptor).
#[derive(Debug, Clone, PartialEq)]
pub struct FaceEncoding(pub [f32; DIMENSIONS]);

impl FaceEncoding {
    /// Euclidean distance to `other`.
    pub fn distance(&self, other: &Self) -> f32 {
        self.0
            .iter()
            .zip(other.0.iter())
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f32>()
            .sqrt()
    }

    /// As stored in `roster_faces.encoding`: a JSON array of 128 numbers.
    pub fn to_text(&self) -> String {
        serde_json::to_string(&self.0.as_slice()).unwrap_or_default()
    }

    /// A stored encoding (`None` when the text is not 128 numbers).
    pub fn from_text(text: &str) -> Option<Self> {
        let values: Vec<f32> = serde_json::from_str(text).ok()?;
        values.try_into().ok().map(Self)
    }
}

/// Where the face is, in pixels of the upright photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct FaceBox {
    pub left: i32,
    pub top: i32,
    pub right: i32,
    pub bottom: i32,
}

impl FaceBox {
    /// This box in a photo `factor` times the size of the one it was found in.
    fn scaled(self, factor: f64) -> Self {
        // Saturating float-to-int casts; coordinates stay well inside i32.
        let scale = |v: i32| (f64::from(v) * factor).round() as i32;
        Self {
            left: scale(self.left),
            top: scale(self.top),
            right: scale(self.right),
            bottom: scale(self.bottom),
        }
    }
}

/// The one face of a photo.
#[derive(Debug, Clone, PartialEq)]
pub struct Face {
    pub encoding: FaceEncoding,
    pub face_box: FaceBox,
}

/// Finds the one face of an upright RGB photo and encodes it.
pub trait FaceVerifier: Send + Sync {
    /// The face of `image`: `NoFace` or `MultipleFaces` unless exactly one.
    fn encode(&self, image: &RgbImage) -> Result<Face, FaceError>;
}

/// A photo ready for a verifier, and how much it was shrunk.
pub struct Prepared {
    pub image: RgbImage,
    /// Original size ÷ prepared size (1.0 when not shrunk).
    pub factor: f64,
}

/// Decodes `bytes` by content (JPEG or PNG only), applies the EXIF
/// orientation and shrinks the photo to at most [`MAX_SIDE`] px.
pub fn prepare(bytes: &[u8]) -> Result<Prepared, FaceError> {
    if bytes.len() > MAX_BYTES {
        return Err(FaceError::BadImage(TOO_LARGE));
    }
    let format = match FileKind::sniff(bytes) {
        Some(FileKind::Jpeg) => ImageFormat::Jpeg,
        Some(FileKind::Png) => ImageFormat::Png,
        _ => return Err(FaceError::BadImage(NOT_AN_IMAGE)),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(DECODE_LIMIT);
    limits.max_image_height = Some(DECODE_LIMIT);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let bad = |_| FaceError::BadImage(NOT_AN_IMAGE);
    let mut decoder = reader.into_decoder().map_err(bad)?;
    let orientation = decoder.orientation().ok();
    let mut photo = DynamicImage::from_decoder(decoder).map_err(bad)?;
    if let Some(orientation) = orientation {
        photo.apply_orientation(orientation);
    }
    if photo.width() < MIN_SIDE || photo.height() < MIN_SIDE {
        return Err(FaceError::BadImage(TOO_SMALL));
    }
    let long_side = photo.width().max(photo.height());
    let (photo, factor) = if long_side > MAX_SIDE {
        let shrunk = photo.resize(MAX_SIDE, MAX_SIDE, image::imageops::FilterType::Triangle);
        let factor = f64::from(long_side) / f64::from(shrunk.width().max(shrunk.height()));
        (shrunk, factor)
    } else {
        (photo, 1.0)
    };
    Ok(Prepared {
        image: photo.to_rgb8(),
        factor,
    })
}

/// The node's verifier and the pool its work runs on.
pub struct Faces {
    verifier: Option<Arc<dyn FaceVerifier>>,
    permits: Semaphore,
    queue: QueueCounters,
}

/// How long encodings waited for a slot of the pool.
#[derive(Debug, Default)]
struct QueueCounters {
    encodings: std::sync::atomic::AtomicU64,
    waited_micros: std::sync::atomic::AtomicU64,
    longest_wait_micros: std::sync::atomic::AtomicU64,
    waiting: std::sync::atomic::AtomicU64,
}

/// The pool's queueing so far (operators and the check-in benchmark).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    /// Encodings that got a slot.
    pub encodings: u64,
    /// Time spent waiting for a slot, summed over every encoding.
    pub waited_micros: u64,
    /// The longest one encoding waited.
    pub longest_wait_micros: u64,
    /// Encodings waiting right now.
    pub waiting: u64,
}

impl Faces {
    /// The dlib verifier over the model files in `dir`; unavailable (with a
    /// warning in the log) without the `dlib` feature or the files.
    pub fn open(dir: &Path) -> Self {
        match open_verifier(dir) {
            Ok(verifier) => Self::with(verifier),
            Err(reason) => {
                tracing::warn!(%reason, "face verification is not available");
                Self::unavailable()
            }
        }
    }

    /// A node that verifies with `verifier`.
    pub fn with(verifier: Arc<dyn FaceVerifier>) -> Self {
        Self {
            verifier: Some(verifier),
            permits: Semaphore::new(POOL_SIZE),
            queue: QueueCounters::default(),
        }
    }

    /// A node without face verification.
    pub fn unavailable() -> Self {
        Self {
            verifier: None,
            permits: Semaphore::new(POOL_SIZE),
            queue: QueueCounters::default(),
        }
    }

    pub fn is_available(&self) -> bool {
        self.verifier.is_some()
    }

    /// The pool's queueing since the node started.
    pub fn queue_stats(&self) -> QueueStats {
        use std::sync::atomic::Ordering::Relaxed;
        QueueStats {
            encodings: self.queue.encodings.load(Relaxed),
            waited_micros: self.queue.waited_micros.load(Relaxed),
            longest_wait_micros: self.queue.longest_wait_micros.load(Relaxed),
            waiting: self.queue.waiting.load(Relaxed),
        }
    }

    /// The one face of the photo `bytes`, encoded on the pool (waits for a
    /// free slot; at most [`POOL_SIZE`] run at once).
    pub async fn encode(&self, bytes: Bytes) -> Result<Face, FaceError> {
        use std::sync::atomic::Ordering::Relaxed;
        let verifier = self.verifier.clone().ok_or(FaceError::Unavailable)?;
        let asked = std::time::Instant::now();
        self.queue.waiting.fetch_add(1, Relaxed);
        let permit = self.permits.acquire().await;
        self.queue.waiting.fetch_sub(1, Relaxed);
        let _permit = permit.map_err(|_| FaceError::Unavailable)?;
        let waited = u64::try_from(asked.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.queue.encodings.fetch_add(1, Relaxed);
        self.queue.waited_micros.fetch_add(waited, Relaxed);
        self.queue.longest_wait_micros.fetch_max(waited, Relaxed);
        tokio::task::spawn_blocking(move || {
            let prepared = prepare(&bytes)?;
            let face = verifier.encode(&prepared.image)?;
            Ok(Face {
                face_box: face.face_box.scaled(prepared.factor),
                ..face
            })
        })
        .await
        .map_err(|error| {
            tracing::error!(%error, "face encoding failed");
            FaceError::BadImage(NOT_AN_IMAGE)
        })?
    }
}

#[cfg(feature = "dlib")]
fn open_verifier(dir: &Path) -> Result<Arc<dyn FaceVerifier>, String> {
    dlib::Dlib::shared(dir).map(|dlib| dlib as Arc<dyn FaceVerifier>)
}

#[cfg(not(feature = "dlib"))]
fn open_verifier(_dir: &Path) -> Result<Arc<dyn FaceVerifier>, String> {
    Err("built without the `dlib` feature".into())
}

/// A photo compared with a user's reference face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct FaceMatch {
    /// `distance <= threshold`.
    #[serde(rename = "match")]
    pub matched: bool,
    /// Euclidean distance of the two encodings (4 decimals).
    pub distance: f64,
    pub threshold: f64,
}

/// Compares the one face of `image` with the reference face of `user_id`
/// (on the pool): `Ok(None)` when the user has no reference face (or its
/// stored encoding is unreadable). For attendance and the verify endpoint.
pub async fn verify(
    state: &AppState,
    user_id: Uuid,
    image: Bytes,
    threshold: f32,
) -> Result<Option<FaceMatch>, VerifyError> {
    if !state.faces.is_available() {
        return Err(VerifyError::Face(FaceError::Unavailable));
    }
    let Some(reference) = reference(&state.db, user_id).await? else {
        return Ok(None);
    };
    let face = state.faces.encode(image).await?;
    let distance = face.encoding.distance(&reference);
    Ok(Some(FaceMatch {
        matched: distance <= threshold,
        distance: (f64::from(distance) * 10_000.0).round() / 10_000.0,
        threshold: (f64::from(threshold) * 100.0).round() / 100.0,
    }))
}

/// Why [`verify`] gave no answer.
#[derive(Debug)]
pub enum VerifyError {
    Face(FaceError),
    Db(sea_orm::DbErr),
}

impl From<FaceError> for VerifyError {
    fn from(error: FaceError) -> Self {
        Self::Face(error)
    }
}

impl From<sea_orm::DbErr> for VerifyError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Db(error)
    }
}

impl From<VerifyError> for ApiError {
    fn from(error: VerifyError) -> Self {
        match error {
            VerifyError::Face(error) => error.into(),
            VerifyError::Db(error) => error.into(),
        }
    }
}

/// The stored reference encoding of `user_id`.
pub async fn reference(
    db: &impl ConnectionTrait,
    user_id: Uuid,
) -> Result<Option<FaceEncoding>, sea_orm::DbErr> {
    Ok(face::Entity::find()
        .filter(face::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .and_then(|row| FaceEncoding::from_text(&row.encoding)))
}

/// The photo of a body's `field`: a multipart file, or in JSON (or a
/// multipart text field) a base64 data URL `data:image/jpeg;base64,…`.
/// Checks presence, size and type by content; decoding comes later.
pub fn image_field(body: &FormBody, field: &str) -> Result<Bytes, ApiError> {
    let bytes = match (body.files.get(field), body.fields.get(field)) {
        (Some(file), _) => file.bytes.clone(),
        (None, Some(serde_json::Value::String(url))) => {
            data_url(url).ok_or_else(|| ApiError::field(field, NOT_AN_IMAGE))?
        }
        (None, None | Some(serde_json::Value::Null)) => {
            return Err(ApiError::field(field, "This field is required."));
        }
        (None, Some(_)) => {
            return Err(ApiError::field(
                field,
                "The submitted data was not a file. Check the encoding type on the form.",
            ));
        }
    };
    if bytes.is_empty() {
        return Err(ApiError::field(field, "The submitted file is empty."));
    }
    if bytes.len() > MAX_BYTES {
        return Err(ApiError::field(field, TOO_LARGE));
    }
    match FileKind::sniff(&bytes) {
        Some(FileKind::Jpeg | FileKind::Png) => Ok(bytes),
        _ => Err(ApiError::field(field, NOT_AN_IMAGE)),
    }
}

/// The bytes of `data:<type>;base64,<data>` (the type itself is not
/// trusted: the content decides).
fn data_url(url: &str) -> Option<Bytes> {
    let rest = url.trim().strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    if !meta.to_ascii_lowercase().ends_with(";base64") {
        return None;
    }
    let clean: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .ok()
        .map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoding(first: f32) -> FaceEncoding {
        let mut values = [0.0; DIMENSIONS];
        values[0] = first;
        FaceEncoding(values)
    }

    #[test]
    fn distance_is_euclidean() {
        assert!((encoding(0.0).distance(&encoding(0.6)) - 0.6).abs() < 1e-6);
        let mut a = [0.0; DIMENSIONS];
        a[1] = 3.0;
        a[2] = 4.0;
        assert!((FaceEncoding(a).distance(&encoding(0.0)) - 5.0).abs() < 1e-6);
    }

    #[test]
    fn encodings_round_trip_as_text() {
        let original = encoding(-0.125);
        let text = original.to_text();
        assert_eq!(FaceEncoding::from_text(&text), Some(original));
        assert_eq!(FaceEncoding::from_text("[1, 2]"), None);
        assert_eq!(FaceEncoding::from_text("nonsense"), None);
    }

    #[test]
    fn photos_are_checked_by_content() {
        assert_eq!(
            prepare(b"GIF89a....").err(),
            Some(FaceError::BadImage(NOT_AN_IMAGE))
        );
        assert_eq!(
            prepare(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]).err(),
            Some(FaceError::BadImage(NOT_AN_IMAGE))
        );
        let mut png = Vec::new();
        DynamicImage::ImageRgb8(RgbImage::new(40, 200))
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        assert_eq!(prepare(&png).err(), Some(FaceError::BadImage(TOO_SMALL)));
    }

    #[test]
    fn large_photos_are_shrunk() {
        let mut png = Vec::new();
        DynamicImage::ImageRgb8(RgbImage::new(2048, 1000))
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let prepared = prepare(&png).unwrap();
        assert_eq!(prepared.image.width(), 1024);
        assert_eq!(prepared.image.height(), 500);
        assert!((prepared.factor - 2.0).abs() < 1e-9);
    }

    #[test]
    fn data_urls_decode() {
        assert_eq!(
            data_url("data:image/png;base64,aGVsbG8=").as_deref(),
            Some(&b"hello"[..])
        );
        assert!(data_url("data:image/png,hello").is_none());
        assert!(data_url("hello").is_none());
    }
}
