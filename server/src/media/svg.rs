//! SVG uploads: rasterized into a PNG thumbnail fitting the thumbnail box (larger
//! or smaller, as Rocket.Chat's sharp `resize({fit: 'inside'}).png()` does) and
//! the blurred preview. The document is parsed with usvg, which caps its elements
//! (a million, `<use>` expansions included); nothing outside it is read: external
//! images (files, URLs) are ignored, and text is not drawn (no fonts here).

use image::{DynamicImage, RgbaImage};
use resvg::{tiny_skia, usvg};

use super::{encode, preview, ImageInfo, MediaError, MediaResult, Processed};

/// The largest side rendered when no thumbnail is asked (the preview's source).
const PREVIEW_SOURCE: u32 = 256;

/// The SVG's size, its thumbnail in `thumb_box` (width, height; always made,
/// as PNG) and the preview.
pub fn process_svg(bytes: &[u8], thumb_box: Option<(u32, u32)>) -> MediaResult<Processed> {
    let tree = parse(bytes)?;
    let size = tree.size();
    let info = ImageInfo {
        width: size.width().round().max(1.0) as u32,
        height: size.height().round().max(1.0) as u32,
        format: "svg",
    };
    let (w, h) = thumb_box.unwrap_or((PREVIEW_SOURCE, PREVIEW_SOURCE));
    let raster = render(&tree, w.max(1), h.max(1))?;
    let thumbnail = match thumb_box {
        Some(_) => {
            let mut encoded = encode(&raster)?;
            // A drawing with no transparency would be a JPEG; Rocket.Chat's is a PNG.
            if encoded.content_type != "image/png" {
                encoded = encode(&DynamicImage::ImageRgba8(raster.to_rgba8()))?;
            }
            Some(encoded)
        }
        None => None,
    };
    let preview = preview(&raster)?;
    Ok(Processed {
        info,
        thumbnail,
        preview,
    })
}

fn parse(bytes: &[u8]) -> MediaResult<usvg::Tree> {
    let options = usvg::Options {
        image_href_resolver: usvg::ImageHrefResolver {
            resolve_data: usvg::ImageHrefResolver::default_data_resolver(),
            // Never a file of the server's, never a URL.
            resolve_string: Box::new(|_, _| None),
        },
        ..usvg::Options::default()
    };
    usvg::Tree::from_data(bytes, &options).map_err(|e| MediaError::Undecodable(e.to_string()))
}

/// The drawing scaled to fit inside `max_w`×`max_h`, keeping its proportions.
fn render(tree: &usvg::Tree, max_w: u32, max_h: u32) -> MediaResult<DynamicImage> {
    let size = tree.size();
    let scale = (max_w as f32 / size.width()).min(max_h as f32 / size.height());
    if !scale.is_finite() || scale <= 0.0 {
        return Err(MediaError::Undecodable("the drawing has no size".into()));
    }
    let width = ((size.width() * scale).round() as u32).clamp(1, max_w);
    let height = ((size.height() * scale).round() as u32).clamp(1, max_h);
    let mut pixmap = tiny_skia::Pixmap::new(width, height)
        .ok_or_else(|| MediaError::Encode("cannot allocate the thumbnail".into()))?;
    resvg::render(
        tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    // tiny-skia keeps premultiplied alpha; images are straight.
    let mut rgba = Vec::with_capacity(pixmap.data().len());
    for p in pixmap.pixels() {
        let c = p.demultiply();
        rgba.extend_from_slice(&[c.red(), c.green(), c.blue(), c.alpha()]);
    }
    let image = RgbaImage::from_raw(width, height, rgba)
        .ok_or_else(|| MediaError::Encode("the rendered drawing has the wrong size".into()))?;
    Ok(DynamicImage::ImageRgba8(image))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGO: &str = r##"<svg width="768" height="221" viewBox="0 0 768 221" xmlns="http://www.w3.org/2000/svg">
        <rect x="0" y="0" width="384" height="221" fill="#F5455C"/>
        <circle cx="576" cy="110" r="100" fill="#2F343D"/></svg>"##;

    #[test]
    fn a_drawing_is_rendered_to_fit_the_box_as_png() {
        let p = process_svg(LOGO.as_bytes(), Some((480, 360))).unwrap();
        assert_eq!(
            (p.info.width, p.info.height, p.info.format),
            (768, 221, "svg")
        );
        let thumb = p.thumbnail.expect("a thumbnail");
        assert_eq!(thumb.content_type, "image/png");
        assert_eq!((thumb.width, thumb.height), (480, 138));
        let decoded = image::load_from_memory(&thumb.bytes).unwrap().to_rgba8();
        assert_eq!(decoded.get_pixel(10, 10).0, [0xF5, 0x45, 0x5C, 0xFF]);
        assert_eq!(
            decoded.get_pixel(300, 5).0[3],
            0,
            "transparent where nothing is drawn"
        );
        assert!(!p.preview.is_empty());
    }

    #[test]
    fn a_small_drawing_is_enlarged_as_sharp_does() {
        let small = r#"<svg width="10" height="20" xmlns="http://www.w3.org/2000/svg"><rect width="10" height="20"/></svg>"#;
        let thumb = process_svg(small.as_bytes(), Some((480, 360)))
            .unwrap()
            .thumbnail
            .unwrap();
        assert_eq!((thumb.width, thumb.height), (180, 360));
    }

    #[test]
    fn files_and_urls_are_never_read() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("secret.png");
        let mut img = RgbaImage::new(4, 4);
        img.pixels_mut().for_each(|p| p.0 = [255, 0, 0, 255]);
        img.save(&png).unwrap();
        let svg = format!(
            r#"<svg width="4" height="4" xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><image width="4" height="4" xlink:href="{}"/></svg>"#,
            png.display()
        );
        let thumb = process_svg(svg.as_bytes(), Some((4, 4)))
            .unwrap()
            .thumbnail
            .unwrap();
        let decoded = image::load_from_memory(&thumb.bytes).unwrap().to_rgba8();
        assert!(
            decoded.pixels().all(|p| p.0[3] == 0),
            "the file was not drawn"
        );
    }

    #[test]
    fn what_is_not_an_svg_is_refused() {
        assert!(matches!(
            process_svg(b"<html>no</html>", Some((480, 360))),
            Err(MediaError::Undecodable(_))
        ));
        assert!(process_svg(b"\x89PNG", None).is_err());
    }
}
