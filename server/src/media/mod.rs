//! Image work, pure and synchronous: reading an image's dimensions with its EXIF
//! orientation applied, thumbnails, the tiny blurred preview Rocket.Chat puts in
//! `image_preview`, square avatars, and the initials SVG shown when there is no
//! avatar. A layer beside `files`: it knows nothing of rooms, users or storage.
//!
//! Every decode first reads the header and refuses images whose pixel count passes
//! the caller's limit (a decompression bomb is a small file with huge dimensions),
//! then decodes with an allocation cap. Decoding is CPU-heavy: callers run these
//! functions on blocking threads, bounded (see `chat::media`).

mod initials;
mod svg;

use std::io::Cursor;

use base64::Engine;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::imageops::FilterType;
pub use initials::{initials_png, initials_svg};
pub use svg::process_svg;

use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageFormat, ImageReader, Limits};

/// Why an image could not be used.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// More pixels than allowed: refused before decoding.
    #[error("the image is {width}×{height} pixels; at most {max} pixels are accepted")]
    TooManyPixels { width: u32, height: u32, max: u64 },
    /// Not one of the formats read here (JPEG, PNG, GIF, WebP).
    #[error("not a JPEG, PNG, GIF or WebP image")]
    Unsupported,
    /// The bytes claim a format but do not decode (truncated, corrupt).
    #[error("the image cannot be decoded: {0}")]
    Undecodable(String),
    #[error("the image cannot be encoded: {0}")]
    Encode(String),
}

pub type MediaResult<T> = Result<T, MediaError>;

/// Width and height as shown (after the EXIF orientation) and the format read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    pub width: u32,
    pub height: u32,
    /// `jpeg`, `png`, `gif`, `webp` (Rocket.Chat's `identify.format`) or `svg`.
    pub format: &'static str,
}

/// An image written out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    /// `image/jpeg` or `image/png`.
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
}

/// What an uploaded image yields.
#[derive(Clone, Debug)]
pub struct Processed {
    pub info: ImageInfo,
    /// Absent when the image already fits the thumbnail box (or none was asked).
    pub thumbnail: Option<Encoded>,
    /// A blurred JPEG of at most 32×32, base64 (`image_preview`).
    pub preview: String,
}

/// Decodes an upload once: its dimensions, a thumbnail fitting `thumb_box`
/// (width, height) when it is larger, and the preview.
pub fn process_upload(
    bytes: &[u8],
    max_pixels: u64,
    thumb_box: Option<(u32, u32)>,
) -> MediaResult<Processed> {
    let (img, format) = decode(bytes, max_pixels)?;
    let info = ImageInfo {
        width: img.width(),
        height: img.height(),
        format,
    };
    let thumbnail = match thumb_box {
        Some((w, h)) if img.width() > w || img.height() > h => {
            let thumb = img.resize(w.max(1), h.max(1), FilterType::Triangle);
            Some(encode(&thumb)?)
        }
        _ => None,
    };
    let preview = preview(&img)?;
    Ok(Processed {
        info,
        thumbnail,
        preview,
    })
}

/// A square avatar of `size` pixels (cropped to fill), PNG if the image has
/// transparency, else JPEG.
pub fn avatar(bytes: &[u8], max_pixels: u64, size: u32) -> MediaResult<Encoded> {
    let (img, _) = decode(bytes, max_pixels)?;
    let size = size.max(1);
    let (w, h) = (img.width(), img.height());
    let square = if w == size && h == size {
        img
    } else {
        img.resize_to_fill(size, size, FilterType::Triangle)
    };
    encode(&square)
}

/// An avatar (already square) scaled down to `size` pixels, same format rules.
pub fn scale_avatar(bytes: &[u8], max_pixels: u64, size: u32) -> MediaResult<Encoded> {
    let (img, _) = decode(bytes, max_pixels)?;
    let scaled = img.resize_exact(size.max(1), size.max(1), FilterType::Triangle);
    encode(&scaled)
}

/// Reads the header, refuses too many pixels, then decodes (capped) and applies
/// the EXIF orientation.
fn decode(bytes: &[u8], max_pixels: u64) -> MediaResult<(DynamicImage, &'static str)> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| MediaError::Undecodable(e.to_string()))?;
    let format = match reader.format() {
        Some(ImageFormat::Jpeg) => "jpeg",
        Some(ImageFormat::Png) => "png",
        Some(ImageFormat::Gif) => "gif",
        Some(ImageFormat::WebP) => "webp",
        _ => return Err(MediaError::Unsupported),
    };
    // Our own pixel check comes first, so the refusal names the dimensions.
    reader.no_limits();
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| MediaError::Undecodable(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > max_pixels || width == 0 || height == 0 {
        return Err(MediaError::TooManyPixels {
            width,
            height,
            max: max_pixels,
        });
    }
    let mut limits = Limits::default();
    // RGBA at 16 bits per channel, plus room for the decoder's own buffers.
    limits.max_alloc = Some(max_pixels.saturating_mul(8).saturating_add(64 << 20));
    decoder
        .set_limits(limits)
        .map_err(|e| MediaError::Undecodable(e.to_string()))?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    // A GIF decodes to its first frame.
    let mut img =
        DynamicImage::from_decoder(decoder).map_err(|e| MediaError::Undecodable(e.to_string()))?;
    img.apply_orientation(orientation);
    Ok((img, format))
}

/// PNG when the image has an alpha channel, JPEG (quality 82) otherwise.
fn encode(img: &DynamicImage) -> MediaResult<Encoded> {
    let (width, height) = (img.width(), img.height());
    let mut bytes = Vec::new();
    let content_type = if img.color().has_alpha() {
        let rgba = img.to_rgba8();
        PngEncoder::new(&mut bytes)
            .write_image(&rgba, width, height, image::ExtendedColorType::Rgba8)
            .map_err(|e| MediaError::Encode(e.to_string()))?;
        "image/png"
    } else {
        let rgb = img.to_rgb8();
        JpegEncoder::new_with_quality(&mut bytes, 82)
            .write_image(&rgb, width, height, image::ExtendedColorType::Rgb8)
            .map_err(|e| MediaError::Encode(e.to_string()))?;
        "image/jpeg"
    };
    Ok(Encoded {
        bytes,
        content_type,
        width,
        height,
    })
}

/// Rocket.Chat's `image_preview`: fit inside 32×32, blurred, JPEG, base64.
fn preview(img: &DynamicImage) -> MediaResult<String> {
    let small = img.thumbnail(32, 32);
    let blurred = image::imageops::blur(&small.to_rgb8(), 1.0);
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, 60)
        .write_image(
            &blurred,
            blurred.width(),
            blurred.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| MediaError::Encode(e.to_string()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 99])
        });
        let mut out = Vec::new();
        PngEncoder::new(&mut out)
            .write_image(&img, width, height, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    /// A PNG header claiming `width`×`height` with almost no data behind it.
    fn png_bomb(width: u32, height: u32) -> Vec<u8> {
        let mut out = png(1, 1);
        // IHDR data starts at byte 16: width, height (big-endian), then the CRC at 29.
        out[16..20].copy_from_slice(&width.to_be_bytes());
        out[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&out[12..29]);
        out[29..33].copy_from_slice(&crc.to_be_bytes());
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn thumbnails_fit_the_box_and_small_images_get_none() {
        let p = process_upload(&png(1000, 500), 1 << 26, Some((480, 360))).unwrap();
        assert_eq!(
            (p.info.width, p.info.height, p.info.format),
            (1000, 500, "png")
        );
        let t = p.thumbnail.unwrap();
        assert_eq!(
            (t.width, t.height, t.content_type),
            (480, 240, "image/jpeg")
        );
        assert!(!p.preview.is_empty());
        let small = process_upload(&png(100, 80), 1 << 26, Some((480, 360))).unwrap();
        assert!(small.thumbnail.is_none());
    }

    #[test]
    fn bombs_are_refused_before_decoding() {
        let bomb = png_bomb(100_000, 100_000);
        assert!(bomb.len() < 100);
        match process_upload(&bomb, 50_000_000, Some((480, 360))) {
            Err(MediaError::TooManyPixels { width, height, .. }) => {
                assert_eq!((width, height), (100_000, 100_000))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            avatar(&bomb, 50_000_000, 200),
            Err(MediaError::TooManyPixels { .. })
        ));
    }

    /// A JPEG of `width`×`height` carrying an EXIF orientation tag.
    pub(crate) fn jpeg_with_orientation(width: u32, height: u32, orientation: u16) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(width, height, image::Rgb([200, 30, 30]));
        let mut plain = Vec::new();
        JpegEncoder::new_with_quality(&mut plain, 80)
            .write_image(&img, width, height, image::ExtendedColorType::Rgb8)
            .unwrap();
        let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
        exif.extend_from_slice(&orientation.to_be_bytes());
        exif.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
        out.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&exif);
        out.extend_from_slice(&plain[2..]);
        out
    }

    #[test]
    fn exif_orientation_is_applied() {
        // 6: the camera was turned; shown rotated a quarter turn.
        let p =
            process_upload(&jpeg_with_orientation(400, 100, 6), 1 << 26, Some((50, 50))).unwrap();
        assert_eq!(
            (p.info.width, p.info.height, p.info.format),
            (100, 400, "jpeg")
        );
        let t = p.thumbnail.unwrap();
        assert_eq!((t.width, t.height), (13, 50));
        let plain = process_upload(&jpeg_with_orientation(400, 100, 1), 1 << 26, None).unwrap();
        assert_eq!((plain.info.width, plain.info.height), (400, 100));
    }

    #[test]
    fn not_images_are_unsupported() {
        assert!(matches!(
            process_upload(b"hello, world", 1 << 20, None),
            Err(MediaError::Unsupported)
        ));
    }

    #[test]
    fn avatars_are_square() {
        let a = avatar(&png(300, 100), 1 << 26, 64).unwrap();
        assert_eq!((a.width, a.height), (64, 64));
        let s = scale_avatar(&a.bytes, 1 << 26, 32).unwrap();
        assert_eq!((s.width, s.height), (32, 32));
    }
}
