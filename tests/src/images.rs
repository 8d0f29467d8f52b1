//! Test images made in memory: plain PNG/JPEG/GIF/WebP of a given size, a JPEG
//! carrying an EXIF orientation, a decompression bomb (a tiny PNG whose header
//! claims huge dimensions), and reading back the size of what the server sent.

use std::io::Cursor;

use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, ImageEncoder, ImageReader, RgbImage};

fn picture(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 7 % 256) as u8, (y * 5 % 256) as u8, 120])
    })
}

pub fn png(width: u32, height: u32) -> Vec<u8> {
    let img = picture(width, height);
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(&img, width, height, ExtendedColorType::Rgb8)
        .expect("encode png");
    out
}

pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = picture(width, height);
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 85)
        .write_image(&img, width, height, ExtendedColorType::Rgb8)
        .expect("encode jpeg");
    out
}

pub fn webp(width: u32, height: u32) -> Vec<u8> {
    let img = picture(width, height);
    let mut out = Vec::new();
    WebPEncoder::new_lossless(&mut out)
        .write_image(&img, width, height, ExtendedColorType::Rgb8)
        .expect("encode webp");
    out
}

/// A GIF of two frames of `width`×`height`: red, then blue.
pub fn gif(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut out);
        for rgb in [[220u8, 20, 20], [20, 20, 220]] {
            let frame = image::RgbaImage::from_pixel(
                width,
                height,
                image::Rgba([rgb[0], rgb[1], rgb[2], 255]),
            );
            enc.encode_frame(image::Frame::new(frame))
                .expect("gif frame");
        }
    }
    out
}

/// A JPEG of `width`×`height` as stored, with an EXIF orientation tag
/// (6: to be shown turned a quarter clockwise, so `height`×`width`).
pub fn jpeg_with_orientation(width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let plain = jpeg(width, height);
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
    exif.extend_from_slice(&orientation.to_be_bytes());
    exif.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&plain[2..]);
    out
}

/// A PNG of a few dozen bytes whose header says `width`×`height`.
pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut out = png(1, 1);
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

/// The format (`png`, `jpeg`, …) and dimensions of image bytes; panics if they are
/// not an image.
pub fn dimensions(bytes: &[u8]) -> (String, u32, u32) {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .expect("read image");
    let format = format!("{:?}", reader.format().expect("an image format")).to_lowercase();
    let img = reader.decode().expect("decode image");
    (format, img.width(), img.height())
}

/// The colour of the pixel at the middle of the image.
pub fn middle_pixel(bytes: &[u8]) -> [u8; 3] {
    let img = image::load_from_memory(bytes)
        .expect("decode image")
        .to_rgb8();
    let p = img.get_pixel(img.width() / 2, img.height() / 2);
    [p[0], p[1], p[2]]
}
