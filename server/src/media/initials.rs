//! The fallback avatar when a user or room has none: the first letter or digit of
//! the name on a colour picked by the name's length, as Rocket.Chat's
//! `renderSVGLetters` draws it. SVG by default; PNG for clients asking
//! `format=png`, with the letter rasterized from the bundled DejaVu Sans
//! (`server/assets/fonts`, Bitstream Vera licence) so that no system font is needed.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use image::codecs::png::PngEncoder;
use image::{ImageEncoder, Rgb, RgbImage};

use super::{Encoded, MediaError, MediaResult};

/// DejaVu Sans 2.37 (Debian's fonts-dejavu-core), unmodified.
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Rocket.Chat's avatar colours, picked by the name's length as it does.
const COLORS: &[&str] = &[
    "#158D65", "#7F1B9F", "#B68D00", "#E26D0E", "#10529E", "#6C727A",
];

/// The text colour (Rocket.Chat's `#ffffff`).
const TEXT: [u8; 3] = [0xff, 0xff, 0xff];

/// Font size relative to the square (Rocket.Chat: `size / 1.6`).
const FONT_RATIO: f32 = 1.6;
/// Baseline below the middle, in ems (Rocket.Chat's `dy="0.36em"`).
const BASELINE_EM: f32 = 0.36;

/// The background colour and the letter drawn for `name` (empty when the name has
/// no ASCII letter or digit).
fn look(name: &str) -> (&'static str, String) {
    if name == "?" {
        return ("#000000", "?".to_string());
    }
    let initial = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(1)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (COLORS[name.chars().count() % COLORS.len()], initial)
}

/// The SVG fallback (`viewBox` of `size`).
pub fn initials_svg(name: &str, size: u32) -> String {
    let (color, initial) = look(name);
    let font_size = f64::from(size) / f64::from(FONT_RATIO);
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"{color}\"/>\n\
         <text x=\"50%\" y=\"50%\" dy=\"0.36em\" text-anchor=\"middle\" pointer-events=\"none\" \
         fill=\"#ffffff\" font-family=\"'Helvetica', 'Arial', 'Lucida Grande', 'sans-serif'\" \
         font-size=\"{font_size}\">\n{initial}\n</text>\n</svg>"
    )
}

/// The PNG fallback: the same square and letter as the SVG (centred on its advance,
/// baseline at `0.36em` below the middle), anti-aliased. Deterministic: the same
/// name and size give the same bytes.
pub fn initials_png(name: &str, size: u32) -> MediaResult<Encoded> {
    let (hex, initial) = look(name);
    let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0);
    let background = [channel(1), channel(3), channel(5)];
    let size = size.clamp(1, 1024);
    let mut img = RgbImage::from_pixel(size, size, Rgb(background));
    if let Some(c) = initial.chars().next() {
        draw_letter(&mut img, c)?;
    }
    let mut bytes = Vec::new();
    PngEncoder::new(&mut bytes)
        .write_image(img.as_raw(), size, size, image::ExtendedColorType::Rgb8)
        .map_err(|e| MediaError::Encode(e.to_string()))?;
    Ok(Encoded {
        bytes,
        content_type: "image/png",
        width: size,
        height: size,
    })
}

/// Blends the glyph of `c` in the text colour over the square's middle.
fn draw_letter(img: &mut RgbImage, c: char) -> MediaResult<()> {
    let font = FontRef::try_from_slice(FONT)
        .map_err(|e| MediaError::Encode(format!("the bundled font: {e}")))?;
    let size = img.width() as f32;
    let px = size / FONT_RATIO;
    let scaled = font.as_scaled(PxScale::from(px));
    let id = font.glyph_id(c);
    let x = (size - scaled.h_advance(id)) / 2.0;
    let baseline = size / 2.0 + BASELINE_EM * px;
    let glyph = id.with_scale_and_position(px, ab_glyph::point(x, baseline));
    let Some(outline) = font.outline_glyph(glyph) else {
        return Ok(()); // A glyph without an outline (a space): nothing to draw.
    };
    let bounds = outline.px_bounds();
    let (width, height) = (img.width() as i64, img.height() as i64);
    outline.draw(|gx, gy, coverage| {
        let px = bounds.min.x as i64 + i64::from(gx);
        let py = bounds.min.y as i64 + i64::from(gy);
        if px < 0 || py < 0 || px >= width || py >= height {
            return;
        }
        let a = coverage.clamp(0.0, 1.0);
        let pixel = img.get_pixel_mut(px as u32, py as u32);
        for (channel, text) in pixel.0.iter_mut().zip(TEXT) {
            let blended = f32::from(*channel) * (1.0 - a) + f32::from(text) * a;
            *channel = blended.round() as u8;
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(png: &[u8]) -> RgbImage {
        image::load_from_memory(png).unwrap().to_rgb8()
    }

    #[test]
    fn svg() {
        let svg = initials_svg("alice", 200);
        assert!(svg.contains(">\nA\n<"), "{svg}");
        // Rocket.Chat picks the colour by the name's length: 5 % 6.
        assert!(svg.contains("#6C727A"), "{svg}");
        assert!(initials_svg("?", 50).contains("#000"));
    }

    #[test]
    fn png_draws_the_letter_in_the_middle() {
        let png = initials_png("alice", 200).unwrap();
        assert_eq!(
            (png.width, png.height, png.content_type),
            (200, 200, "image/png")
        );
        let img = decode(&png.bytes);
        // The corners are the name's colour (#6C727A).
        assert_eq!(img.get_pixel(0, 0).0, [0x6c, 0x72, 0x7a]);
        assert_eq!(img.get_pixel(199, 199).0, [0x6c, 0x72, 0x7a]);
        // Pure text colour in the middle third, where the letter is.
        let white = (66..134)
            .flat_map(|y| (66..134).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0 == TEXT)
            .count();
        assert!(white > 200, "{white} white pixels in the centre");
        // And none near the edges: the letter is centred, not spilled.
        let edge_white = (0..200)
            .filter(|&i| img.get_pixel(i, 2).0 == TEXT || img.get_pixel(2, i).0 == TEXT)
            .count();
        assert_eq!(edge_white, 0);
    }

    #[test]
    fn png_is_deterministic_and_differs_by_letter() {
        let a = initials_png("alice", 64).unwrap().bytes;
        assert_eq!(a, initials_png("alice", 64).unwrap().bytes);
        // Same length (same colour), another letter: other pixels.
        assert_ne!(a, initials_png("bruno", 64).unwrap().bytes);
    }

    #[test]
    fn png_without_a_letter_is_a_plain_square() {
        let img = decode(&initials_png("---", 16).unwrap().bytes);
        assert!(img.pixels().all(|p| p.0 == [0xe2, 0x6d, 0x0e]));
        let q = decode(&initials_png("?", 48).unwrap().bytes);
        assert!(q.pixels().any(|p| p.0 == TEXT), "the ? is drawn");
    }
}
