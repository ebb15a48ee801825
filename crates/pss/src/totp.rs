//! RFC 6238 time-based one-time passwords (HMAC-SHA-1, 6 digits, 30-second
//! steps), base32 secrets, `otpauth://` URIs and their QR code as a PNG.

use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha1::Sha1;

pub const DIGITS: u32 = 6;
pub const STEP_SECONDS: i64 = 30;
pub const ISSUER: &str = "PSS Backend";
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A fresh 160-bit secret, base32 (32 characters, no padding).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    base32_encode(&bytes)
}

pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| *c != b'=') {
        let value = BASE32.iter().position(|b| *b == c.to_ascii_uppercase())?;
        buffer = (buffer << 5) | value as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

/// The code of one time step (RFC 4226 dynamic truncation).
pub fn code_at(key: &[u8], step: i64) -> u32 {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else {
        return u32::MAX;
    };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let value = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    value % 10u32.pow(DIGITS)
}

pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The time step (within ±1 of now) whose code `code` is, later than
/// `after` (a used step cannot be replayed).
pub fn matching_step(secret: &str, code: &str, now: i64, after: Option<i64>) -> Option<i64> {
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted: u32 = code.parse().ok()?;
    let key = base32_decode(secret)?;
    let current = step_of(now);
    let mut found = None;
    for step in [current - 1, current, current + 1] {
        // Compare every candidate, in constant time, to not leak which matched.
        let same = subtle::ConstantTimeEq::ct_eq(&code_at(&key, step), &wanted);
        if bool::from(same) && after.is_none_or(|used| step > used) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `otpauth://totp/ISSUER:email?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`
pub fn provisioning_uri(secret: &str, email: &str) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={secret}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        percent(ISSUER),
        percent(email),
        percent(ISSUER)
    )
}

/// The QR code of `text` as a black-on-white PNG (8 pixels a module, a
/// 4-module quiet zone), or `None` when the text is too long for a QR code.
pub fn qr_png(text: &str) -> Option<Vec<u8>> {
    let qr = qrcodegen::QrCode::encode_text(text, qrcodegen::QrCodeEcc::Medium).ok()?;
    let (scale, border) = (8usize, 4i32);
    let modules = usize::try_from(qr.size() + 2 * border).ok()?;
    let side = modules * scale;
    // 8-bit grayscale rows, each led by filter byte 0.
    let mut raw = Vec::with_capacity(side * (side + 1));
    for y in 0..side {
        raw.push(0u8);
        let my = i32::try_from(y / scale).ok()? - border;
        for x in 0..side {
            let mx = i32::try_from(x / scale).ok()? - border;
            raw.push(if qr.get_module(mx, my) { 0 } else { 255 });
        }
    }
    Some(png_gray(u32::try_from(side).ok()?, &raw))
}

/// A PNG of 8-bit grayscale scanlines, deflated with stored blocks (no
/// compression dependency; a QR code is small).
fn png_gray(side: u32, raw: &[u8]) -> Vec<u8> {
    let mut zlib = vec![0x78, 0x01];
    let chunks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == chunks.len()));
        let len = chunk.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(chunk);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());

    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (b"IHDR", &ihdr[..]),
        (b"IDAT", &zlib[..]),
        (b"IEND", &[][..]),
    ] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = png.len();
        png.extend_from_slice(kind);
        png.extend_from_slice(data);
        let crc = crc32(&png[start..]);
        png.extend_from_slice(&crc.to_be_bytes());
    }
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Ten single-use backup codes `XXXX-XXXX` (A–Z, 0–9).
pub fn backup_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..10)
        .map(|_| {
            let mut code = String::with_capacity(9);
            for i in 0..8 {
                if i == 4 {
                    code.push('-');
                }
                let pick = rng.next_u32() as usize % ALPHABET.len();
                code.push(char::from(ALPHABET[pick]));
            }
            code
        })
        .collect()
}

/// A backup code as typed (any case, spaces, with or without the hyphen) in
/// its stored form `XXXX-XXXX`.
pub fn normalize_backup(code: &str) -> String {
    let mut text: String = code
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    if text.len() == 8 && !text.contains('-') {
        text.insert(4, '-');
    }
    text
}

/// SHA-256 hex, how backup codes and one-time tokens are stored.
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A random URL-safe token of 32 bytes.
pub fn random_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 appendix B, SHA-1, truncated to 6 digits.
        let key = b"12345678901234567890";
        for (time, code) in [
            (59, 287_082),
            (1_111_111_109, 81_804),
            (1_111_111_111, 50_471),
            (1_234_567_890, 5_924),
            (2_000_000_000, 279_037),
        ] {
            assert_eq!(code_at(key, step_of(time)), code, "{time}");
        }
    }

    #[test]
    fn base32_round_trips_and_codes_match_once() {
        let secret = new_secret();
        assert_eq!(secret.len(), 32);
        let key = base32_decode(&secret).unwrap();
        assert_eq!(base32_encode(&key), secret);
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        let now = 1_700_000_000;
        let code = format!("{:06}", code_at(&key, step_of(now)));
        assert_eq!(matching_step(&secret, &code, now, None), Some(step_of(now)));
        assert_eq!(
            matching_step(&secret, &code, now + 30, None),
            Some(step_of(now))
        );
        assert_eq!(matching_step(&secret, &code, now + 90, None), None);
        assert_eq!(matching_step(&secret, &code, now, Some(step_of(now))), None);
        assert_eq!(matching_step(&secret, "12345", now, None), None);
        assert_eq!(normalize_backup(" ab12 cd34 "), "AB12-CD34");
        let codes = backup_codes();
        assert_eq!(codes.len(), 10);
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 9 && c.as_bytes()[4] == b'-')
        );
    }

    #[test]
    fn qr_is_a_png() {
        let png = qr_png(&provisioning_uri("JBSWY3DPEHPK3PXP", "a@b.org")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[png.len() - 8..png.len() - 4], b"IEND");
    }
}
