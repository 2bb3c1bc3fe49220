//! `somata::io::npy`, `somata::io::csv` and `somata::plot`: round trips, the exact `.npy` layout,
//! typed errors naming the problem, and figures whose pixels show the spikes where they are.

use somata::io::{csv, npy};
use somata::SomataError;
use std::path::PathBuf;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("somata-io-plot-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn format_msg(e: SomataError) -> String {
    match e {
        SomataError::Format(m) => m,
        e => panic!("expected a Format error, got {e:?}"),
    }
}

/// A `.npy` file by hand: version, header text (padded to 16 bytes + '\n'), body.
fn npy_bytes(major: u8, header: &str, body: &[u8]) -> Vec<u8> {
    let mut h = header.to_string();
    let pre = if major == 1 { 10 } else { 12 };
    while !(pre + h.len() + 1).is_multiple_of(16) {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY".to_vec();
    b.extend_from_slice(&[major, 0]);
    if major == 1 {
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
    } else {
        b.extend_from_slice(&(h.len() as u32).to_le_bytes());
    }
    b.extend_from_slice(h.as_bytes());
    b.extend_from_slice(body);
    b
}

#[test]
fn npy_round_trip_2d_and_1d() {
    let dir = TempDir::new("npy");
    let data: Vec<f32> = (0..12).map(|i| i as f32 * 0.1 - 0.35).chain([f32::MIN_POSITIVE, f32::MAX, -0.0]).collect();
    let path = dir.path("a.npy");
    npy::write_f32(&path, &data, &[5, 3]).unwrap();
    let a = npy::read(&path).unwrap();
    assert_eq!(a.shape, [5, 3]);
    assert_eq!(a.dtype(), npy::Dtype::F32);
    assert_eq!(a.rows_cols().unwrap(), (5, 3));
    let back = a.to_f32();
    assert!(back.iter().zip(&data).all(|(x, y)| x.to_bits() == y.to_bits()), "bit-exact round trip");
    assert!(!dir.path("a.npy.tmp").exists(), "the temporary file is renamed away");

    // overwrite with a 1-D array (atomically replaces the old file)
    npy::write_f32(&path, &[1.5, f32::NAN, f32::INFINITY], &[3]).unwrap();
    let a = npy::read(&path).unwrap();
    assert_eq!((a.shape.as_slice(), a.rows_cols().unwrap()), (&[3usize][..], (3, 1)));
    let v = a.to_f32();
    assert!(v[0] == 1.5 && v[1].is_nan() && v[2] == f32::INFINITY);

    // empty arrays
    npy::write_f32(&path, &[], &[0, 4]).unwrap();
    let a = npy::read(&path).unwrap();
    assert_eq!((a.shape.as_slice(), a.is_empty()), (&[0usize, 4][..], true));
}

#[test]
fn npy_layout_is_numpy_v1() {
    let b = npy::to_bytes_f32(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    assert_eq!(&b[..8], b"\x93NUMPY\x01\x00");
    let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
    assert_eq!((10 + hlen) % 64, 0, "data starts on a 64-byte boundary");
    let header = std::str::from_utf8(&b[10..10 + hlen]).unwrap();
    assert!(header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"), "{header}");
    assert!(header.ends_with('\n'));
    assert_eq!(&b[10 + hlen..10 + hlen + 4], &1.0f32.to_le_bytes());
    assert_eq!(b.len(), 10 + hlen + 24);
    let one = npy::to_bytes_f32(&[7.0], &[1]).unwrap();
    assert!(one.windows(13).any(|w| w == b"'shape': (1,)"), "1-D shapes are written `(n,)`");
    assert!(matches!(npy::to_bytes_f32(&[1.0; 5], &[2, 3]), Err(SomataError::ShapeMismatch { .. })));
}

#[test]
fn npy_reads_f64_and_versions_2_and_3() {
    let body: Vec<u8> = [0.1f64, -2.5, 1e300, 4.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let b = npy_bytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", &body);
    let a = npy::from_bytes(&b, "f64.npy").unwrap();
    assert_eq!((a.dtype(), a.shape.as_slice()), (npy::Dtype::F64, &[2usize, 2][..]));
    assert_eq!(a.to_f64(), [0.1, -2.5, 1e300, 4.0]);
    assert_eq!(a.to_f32()[0], 0.1f32);
    // key order and spacing of other writers; version 2.0 and 3.0 headers (u32 length)
    let body32: Vec<u8> = [1.0f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    for major in [2u8, 3] {
        let b = npy_bytes(major, "{'shape':(2,),'fortran_order':False,'descr':'<f4'}", &body32);
        assert_eq!(npy::from_bytes(&b, "v2").unwrap().to_f32(), [1.0, 2.0]);
    }
    // a 0-d array (numpy scalar)
    let b = npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", &3.5f32.to_le_bytes());
    let a = npy::from_bytes(&b, "scalar").unwrap();
    assert_eq!((a.shape.len(), a.to_f32()), (0, vec![3.5]));
    assert!(matches!(a.rows_cols(), Err(SomataError::ShapeMismatch { .. })));
}

#[test]
fn npy_errors_name_the_problem() {
    let good = npy::to_bytes_f32(&[1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    let e = format_msg(npy::from_bytes(b"PK\x03\x04 a zip", "x.npz").unwrap_err());
    assert!(e.contains("x.npz") && e.contains("bad magic"), "{e}");
    let e = format_msg(npy::from_bytes(&good[..good.len() - 3], "cut.npy").unwrap_err());
    assert!(e.contains("cut.npy") && e.contains("truncated"), "{e}");
    let e = format_msg(npy::from_bytes(&good[..40], "head.npy").unwrap_err());
    assert!(e.contains("truncated header"), "{e}");
    let mut long = good.clone();
    long.extend_from_slice(&[0, 0, 0, 0]);
    assert!(format_msg(npy::from_bytes(&long, "long.npy").unwrap_err()).contains("trailing"));
    for dtype in ["'>f4'", "'<i8'", "'<f2'", "'|b1'"] {
        let b = npy_bytes(1, &format!("{{'descr': {dtype}, 'fortran_order': False, 'shape': (1,), }}"), &[0; 8]);
        let e = format_msg(npy::from_bytes(&b, "t.npy").unwrap_err());
        assert!(e.contains("unsupported dtype") && e.contains(dtype.trim_matches('\'')), "{e}");
    }
    let b = npy_bytes(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", &[0; 16]);
    assert!(format_msg(npy::from_bytes(&b, "f.npy").unwrap_err()).contains("fortran order"));
    let b = npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", &[0; 16]);
    assert!(format_msg(npy::from_bytes(&b, "s.npy").unwrap_err()).contains("malformed shape"));
    let b = npy_bytes(1, "{'fortran_order': False, 'shape': (2,), }", &[0; 8]);
    assert!(format_msg(npy::from_bytes(&b, "d.npy").unwrap_err()).contains("no 'descr'"));
    let mut v9 = good.clone();
    v9[6] = 9;
    assert!(format_msg(npy::from_bytes(&v9, "v9.npy").unwrap_err()).contains("unsupported format version 9.0"));
    // files
    let dir = TempDir::new("npy-err");
    assert!(matches!(npy::read(dir.path("missing.npy")), Err(SomataError::Io(_))));
    assert!(matches!(npy::write_f32(dir.path("no/such/dir/a.npy"), &[1.0], &[1]), Err(SomataError::Io(_))));
}

#[test]
fn csv_round_trip_and_errors() {
    let dir = TempDir::new("csv");
    let path = dir.path("t.csv");
    let data = [0.1f32, -1e-7, 123456.79, f32::NAN, f32::NEG_INFINITY, 0.0];
    csv::write_f32(&path, &["t_ms", "V, mV", "say \"hi\""], &data).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, "t_ms,\"V, mV\",\"say \"\"hi\"\"\"\n0.1,-0.0000001,123456.79\nNaN,-inf,0\n");
    let t = csv::read_f32(&path).unwrap();
    assert_eq!(t.header, ["t_ms", "V, mV", "say \"hi\""]);
    assert_eq!(t.rows(), 2);
    for (a, b) in t.data.iter().zip(&data) {
        assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "{a} vs {b}");
    }
    assert_eq!(t.column("t_ms").unwrap()[0], 0.1f32);
    assert!(!dir.path("t.csv.tmp").exists());

    assert!(matches!(csv::write_f32(&path, &["a", "b"], &[1.0, 2.0, 3.0]), Err(SomataError::ShapeMismatch { .. })));
    assert!(matches!(csv::write_f32(&path, &[], &[]), Err(SomataError::ShapeMismatch { .. })));
    let e = format_msg(csv::parse_f32("a,b\n1,2\n3\n", "r.csv").unwrap_err());
    assert!(e.contains("r.csv line 3") && e.contains("1 cells"), "{e}");
    let e = format_msg(csv::parse_f32("a,b\n1,zwei\n", "r.csv").unwrap_err());
    assert!(e.contains("line 2, column 2") && e.contains("zwei"), "{e}");
    assert!(format_msg(csv::parse_f32("\n\n", "e.csv").unwrap_err()).contains("empty"));
    assert!(matches!(csv::read_f32(dir.path("missing.csv")), Err(SomataError::Io(_))));
    // CRLF line ends and a header with no rows
    let t = csv::parse_f32("x,y\r\n1,2\r\n", "crlf").unwrap();
    assert_eq!((t.header.clone(), t.data.clone()), (vec!["x".to_string(), "y".to_string()], vec![1.0, 2.0]));
    assert_eq!(csv::parse_f32("x\n", "h").unwrap().rows(), 0);
}

#[cfg(feature = "plot")]
mod plots {
    use super::*;
    use somata::plot;
    use std::io::Read;

    /// Decode a PNG written by somata (8-bit RGB, filter 0): (width, height, rgb).
    fn decode_png(b: &[u8]) -> (u32, u32, Vec<u8>) {
        assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n");
        let (mut at, mut w, mut h, mut idat) = (8, 0, 0, Vec::new());
        while at < b.len() {
            let len = u32::from_be_bytes(b[at..at + 4].try_into().unwrap()) as usize;
            let kind = &b[at + 4..at + 8];
            let data = &b[at + 8..at + 8 + len];
            let mut crc = flate2::Crc::new();
            crc.update(kind);
            crc.update(data);
            assert_eq!(crc.sum(), u32::from_be_bytes(b[at + 8 + len..at + 12 + len].try_into().unwrap()), "chunk CRC");
            match kind {
                b"IHDR" => {
                    w = u32::from_be_bytes(data[0..4].try_into().unwrap());
                    h = u32::from_be_bytes(data[4..8].try_into().unwrap());
                    assert_eq!(&data[8..13], &[8, 2, 0, 0, 0], "8-bit RGB");
                }
                b"IDAT" => idat.extend_from_slice(data),
                _ => {}
            }
            at += 12 + len;
        }
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&idat[..]).read_to_end(&mut raw).unwrap();
        let row = 1 + 3 * w as usize;
        assert_eq!(raw.len(), row * h as usize);
        let mut rgb = Vec::with_capacity(3 * (w * h) as usize);
        for r in raw.chunks_exact(row) {
            assert_eq!(r[0], 0, "filter none");
            rgb.extend_from_slice(&r[1..]);
        }
        (w, h, rgb)
    }

    /// Bounding box (x0, y0, x1, y1) of the pixels that differ between two images, and their
    /// count, checking that they are dark in `a`. The raster's title strip (the top
    /// `RASTER_TITLE_PX` rows, which states the spike count) is left out.
    fn diff_box(a: &[u8], b: &[u8], w: u32) -> (u32, u32, u32, u32, usize) {
        let (mut x0, mut y0, mut x1, mut y1, mut n) = (u32::MAX, u32::MAX, 0, 0, 0);
        for (k, (pa, pb)) in a.chunks_exact(3).zip(b.chunks_exact(3)).enumerate() {
            let (x, y) = (k as u32 % w, k as u32 / w);
            if pa != pb && y >= RASTER_TITLE_PX {
                assert!(pa.iter().map(|&v| v as u32).sum::<u32>() < 150, "a spike pixel is dark: {pa:?}");
                (x0, y0, x1, y1, n) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y), n + 1);
            }
        }
        (x0, y0, x1, y1, n)
    }

    /// Whether an SVG written by plotters has a text element reading exactly `t`.
    fn has_text(svg: &str, t: &str) -> bool {
        svg.contains(&format!(">\n{t}\n</text>"))
    }

    /// The title strip of a raster figure, pixels.
    const RASTER_TITLE_PX: u32 = 40;

    /// The pixels (x, y) that differ between two images below the title strip.
    fn changed(a: &[u8], b: &[u8], w: u32) -> Vec<(u32, u32)> {
        a.chunks_exact(3)
            .zip(b.chunks_exact(3))
            .enumerate()
            .map(|(k, (pa, pb))| (k as u32 % w, k as u32 / w, pa != pb))
            .filter(|&(_, y, d)| d && y >= RASTER_TITLE_PX)
            .map(|(x, y, _)| (x, y))
            .collect()
    }

    /// A small deterministic generator (64-bit LCG, high bits).
    struct Lcg(u64);
    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((self.0 >> 33) % n as u64) as usize
        }
    }

    fn png_of(bins: &plot::RasterBins, path: &std::path::Path) -> (u32, u32, Vec<u8>) {
        bins.draw(path, "counting").unwrap();
        decode_png(&std::fs::read(path).unwrap())
    }

    #[test]
    fn raster_of_n_spikes_in_distinct_pixels_darkens_n_pixels() {
        let dir = TempDir::new("raster-count");
        let (pw, ph) = plot::RasterBins::PLOT_PX;
        // as many steps and neurons as plot pixels: one bin = one pixel
        let mut bins = plot::RasterBins::new(pw, 0.1, &[("E", ph)]).unwrap();
        assert_eq!(bins.grid(), (pw, ph));
        let (_, _, empty) = png_of(&bins, &dir.path("empty.png"));
        let mut rng = Lcg(7);
        let mut seen = std::collections::HashSet::new();
        // the four corners, then random distinct cells
        for c in [(0, 0), (pw - 1, 0), (0, ph - 1), (pw - 1, ph - 1)] {
            seen.insert(c);
        }
        while seen.len() < 5000 {
            seen.insert((rng.below(pw), rng.below(ph)));
        }
        for &(t, i) in &seen {
            bins.add(0, t, i).unwrap();
        }
        assert_eq!((bins.spikes(), bins.occupied(), bins.max_count()), (5000, 5000, 1));
        let (w, h, img) = png_of(&bins, &dir.path("n.png"));
        assert_eq!((w, h), (1000, 600));
        let px = changed(&img, &empty, w);
        assert_eq!(px.len(), 5000, "N spikes in N distinct pixels darken exactly N pixels");
        // the corners span the plot area exactly; every spike is at its own pixel, in black
        let (x0, y0) = (px.iter().map(|p| p.0).min().unwrap(), px.iter().map(|p| p.1).min().unwrap());
        let (x1, y1) = (px.iter().map(|p| p.0).max().unwrap(), px.iter().map(|p| p.1).max().unwrap());
        assert_eq!(((x1 - x0 + 1) as usize, (y1 - y0 + 1) as usize), (pw, ph));
        for &(t, i) in &seen {
            let (x, y) = (x0 as usize + t, y1 as usize - i); // neuron 0 at the bottom
            assert_eq!(&img[3 * (y * w as usize + x)..][..3], &[0, 0, 0], "spike ({t}, {i}) at pixel ({x}, {y})");
        }
    }

    #[test]
    fn coba_sized_raster_shows_every_spike_by_population() {
        // the COBA shape: 10 000 steps × (3200 E + 800 I), ~65 000 E spikes: more steps and neurons
        // than pixels, each pixel a bin of ~12 steps × ~8 neurons
        let dir = TempDir::new("raster-coba");
        let (steps, ne, ni) = (10_000, 3200, 800);
        let mut bins = plot::RasterBins::new(steps, 0.1, &[("E", ne), ("I", ni)]).unwrap();
        let (pw, ph) = plot::RasterBins::PLOT_PX;
        assert_eq!(bins.grid(), (pw, ph));
        let (_, _, empty) = png_of(&bins, &dir.path("empty.png"));
        let mut rng = Lcg(42);
        let mut cells = std::collections::HashMap::new(); // (col, row from the bottom) -> population
        for (pop, n, count, first) in [(0, ne, 65_485, 0), (1, ni, 20_000, ne)] {
            for _ in 0..count {
                let (t, i) = (rng.below(steps), rng.below(n));
                bins.add(pop, t, i).unwrap();
                cells.insert((t * pw / steps, (first + i) * ph / (ne + ni)), pop);
            }
        }
        assert_eq!(bins.spikes(), 85_485);
        assert_eq!(bins.occupied(), cells.len());
        assert!(cells.len() > 50_000, "spikes spread over {} pixels", cells.len());
        let (w, _, img) = png_of(&bins, &dir.path("coba.png"));
        let px = changed(&img, &empty, w);
        assert_eq!(px.len(), cells.len(), "one darkened pixel per occupied bin");
        // E (bottom 80%) in blue, I (top 20%) in red, never white
        let (x0, y1) = (px.iter().map(|p| p.0).min().unwrap(), px.iter().map(|p| p.1).max().unwrap());
        let (mut blue, mut red) = (0, 0);
        for (&(c, r), &pop) in &cells {
            let (x, y) = (x0 as usize + c, y1 as usize - r);
            let p = &img[3 * (y * w as usize + x)..][..3];
            assert_ne!(p, &[255, 255, 255]);
            // a row straddling E and I takes the colour of its middle neuron
            if r != ne * ph / (ne + ni) {
                if pop == 0 {
                    assert!(p[2] > p[0], "E is blue: {p:?}");
                    blue += 1;
                } else {
                    assert!(p[0] > p[2], "I is red: {p:?}");
                    red += 1;
                }
            }
        }
        assert!(blue > 40_000 && red > 10_000, "{blue} E and {red} I pixels");
        let svg = dir.path("coba.svg");
        bins.draw(&svg, "COBA").unwrap();
        let s = std::fs::read_to_string(&svg).unwrap();
        for label in ["time (ms)", "neuron", "85485 spikes"] {
            assert!(s.contains(label), "svg has {label}");
        }
        assert!(has_text(&s, "E") && has_text(&s, "I"), "the populations are named");
    }

    #[test]
    fn dense_raster_counts_like_the_events_and_shades_by_density() {
        let dir = TempDir::new("raster-dense");
        // plot::raster on a dense record: the same pixels as the events
        let (steps, n) = (2000, 1000);
        let mut s = vec![0.0f32; steps * n];
        let mut rng = Lcg(3);
        let mut bins = plot::RasterBins::new(steps, 0.5, &[("", n)]).unwrap();
        for _ in 0..30_000 {
            let (t, i) = (rng.below(steps), rng.below(n));
            if s[t * n + i] == 0.0 {
                s[t * n + i] = 1.0;
                bins.add(0, t, i).unwrap();
            }
        }
        let empty = vec![0.0f32; steps * n];
        plot::raster(dir.path("e.png"), &empty, steps, n, 0.5, "counting").unwrap();
        plot::raster(dir.path("d.png"), &s, steps, n, 0.5, "counting").unwrap();
        let (w, _, e) = decode_png(&std::fs::read(dir.path("e.png")).unwrap());
        let (_, _, d) = decode_png(&std::fs::read(dir.path("d.png")).unwrap());
        let (_, _, b) = png_of(&bins, &dir.path("b.png"));
        assert_eq!(changed(&d, &e, w).len(), bins.occupied());
        assert!(changed(&d, &b, w).is_empty(), "dense and event-fed rasters draw the same pixels");

        // density: one bin with 1 spike, one with 9: both visible, the fuller darker
        let mut bins = plot::RasterBins::new(20, 1.0, &[("N", 10)]).unwrap();
        bins.add(0, 2, 2).unwrap();
        for _ in 0..9 {
            bins.add(0, 15, 7).unwrap();
        }
        assert_eq!((bins.spikes(), bins.max_count(), bins.occupied()), (10, 9, 2));
        let (_, _, img) = png_of(&bins, &dir.path("shade.png"));
        let (_, _, none) = png_of(&plot::RasterBins::new(20, 1.0, &[("N", 10)]).unwrap(), &dir.path("none.png"));
        let px = changed(&img, &none, w);
        let mut levels: Vec<u8> = px.iter().map(|&(x, y)| img[3 * (y * w + x) as usize]).collect();
        levels.sort_unstable();
        levels.dedup();
        assert_eq!(levels.len(), 2, "two shades: {levels:?}");
        assert_eq!(levels[0], 0, "the fullest bin in black");
        assert!((100..220).contains(&levels[1]), "a single spike is gray, clearly not white: {}", levels[1]);
    }

    #[test]
    fn raster_bins_errors_are_typed() {
        let mut b = plot::RasterBins::new(10, 0.1, &[("E", 4), ("I", 2)]).unwrap();
        for (pop, step, i) in [(2, 0, 0), (0, 10, 0), (1, 0, 2)] {
            let e = b.add(pop, step, i).unwrap_err();
            assert!(matches!(e, SomataError::ShapeMismatch { .. }), "{e}");
        }
        assert!(b.add_indices(1, 3, &[0, 5]).is_err());
        assert!(matches!(b.add_dense_row(0, 0, &[1.0; 3]), Err(SomataError::ShapeMismatch { .. })));
        assert!(matches!(b.add_dense(1, &[0.0; 19]), Err(SomataError::ShapeMismatch { .. })));
        assert_eq!(b.spikes(), 0, "nothing added on error");
        b.add_dense_row(0, 9, &[0.0, 1.0, 0.0, 2.0]).unwrap();
        b.add_indices(1, 0, &[1, 1]).unwrap();
        assert_eq!(b.spikes(), 4);
        assert!(matches!(plot::RasterBins::new(10, f64::NAN, &[]), Err(SomataError::InvalidDt(_))));
        // no neurons or no steps: an empty, labelled plot
        let dir = TempDir::new("raster-empty");
        plot::RasterBins::new(0, 0.1, &[("E", 0)]).unwrap().draw(dir.path("z.svg"), "").unwrap();
        assert!(std::fs::read_to_string(dir.path("z.svg")).unwrap().contains("time (ms)"));
        assert!(matches!(b.draw(dir.path("z.gif"), ""), Err(SomataError::Format(_))));
    }

    #[test]
    fn raster_png_has_dark_pixels_where_the_spikes_are() {
        let dir = TempDir::new("raster");
        let (steps, neurons) = (10, 5);
        let draw = |name: &str, spike: Option<(usize, usize)>| {
            let mut s = vec![0.0f32; steps * neurons];
            if let Some((t, i)) = spike {
                s[t * neurons + i] = 1.0;
            }
            let p = dir.path(name);
            plot::raster(&p, &s, steps, neurons, 0.5, "pattern").unwrap();
            decode_png(&std::fs::read(p).unwrap())
        };
        let (w, h, none) = draw("none.png", None);
        assert_eq!((w, h), (1000, 600));
        let (_, _, first) = draw("first.png", Some((0, 0))); // step 0, neuron 0: bottom left
        let (_, _, last) = draw("last.png", Some((9, 4))); // step 9, neuron 4: top right
        let a = diff_box(&first, &none, w);
        let b = diff_box(&last, &none, w);
        // each spike fills a cell of about (plot width / 10) × (plot height / 5) pixels
        for (x0, y0, x1, y1, n) in [a, b] {
            let (cw, ch) = (x1 - x0 + 1, y1 - y0 + 1);
            assert!((60..=100).contains(&cw) && (80..=120).contains(&ch), "cell {cw} × {ch}");
            assert!(n as u32 >= cw * ch * 9 / 10, "the cell is filled: {n} of {cw} × {ch}");
        }
        assert!(a.0 < 200 && a.3 > h / 2, "the first spike is at the bottom left: {a:?}");
        assert!(b.2 > w - 100 && b.1 < h / 3, "the last spike is at the top right: {b:?}");
        assert!(a.1 > b.3 && a.2 < b.0, "no overlap");
    }

    #[test]
    fn svg_traces_rate_and_curves() {
        let dir = TempDir::new("svg");
        let v: Vec<f32> = (0..200).flat_map(|i| [-65.0 + (i as f32 * 0.1).sin(), -60.0 + i as f32 * 0.01]).collect();
        plot::traces(dir.path("v.svg"), &v, 0.1, &["V[0]", "V[1]"], "V (mV)").unwrap();
        let s = std::fs::read_to_string(dir.path("v.svg")).unwrap();
        assert!(
            s.contains("<svg") && s.contains("V[0]") && s.contains("time (ms)") && s.contains("V (mV)"),
            "svg with the legend and axis labels"
        );
        plot::traces(dir.path("v.png"), &v, 0.1, &["V[0]", "V[1]"], "V (mV)").unwrap();
        let (w, h, _) = decode_png(&std::fs::read(dir.path("v.png")).unwrap());
        assert_eq!((w, h), (1000, 600));

        let r: Vec<f32> = (0..500).map(|i| 20.0 + 5.0 * (i as f32 / 50.0).cos()).collect();
        plot::rate(dir.path("rate.SVG"), &r, 0.1).unwrap();
        assert!(std::fs::read_to_string(dir.path("rate.SVG")).unwrap().contains("rate (Hz)"));

        let loss = [2.3, 1.2, f64::NAN, 0.4];
        let acc = [0.5, 0.8, 0.9, 0.95];
        plot::curves(dir.path("train.png"), &[("loss", &loss[..]), ("test accuracy", &acc[..])]).unwrap();
        let (w, h, rgb) = decode_png(&std::fs::read(dir.path("train.png")).unwrap());
        assert_eq!((w, h), (900, 440));
        assert!(rgb.chunks_exact(3).any(|p| p != [255, 255, 255]), "something is drawn");
        plot::curves(dir.path("empty.svg"), &[("loss", &[][..])]).unwrap();
        // a resumed run: epochs 11..=14 on the x axis, the series name as the y label
        plot::curves_from(dir.path("resumed.svg"), 11, &[("test accuracy (%)", &acc[..])]).unwrap();
        let s = std::fs::read_to_string(dir.path("resumed.svg")).unwrap();
        assert!(has_text(&s, "11") && has_text(&s, "14") && !has_text(&s, "1") && !has_text(&s, "15"), "epochs 11 to 14");
        assert_eq!(s.matches("test accuracy (%)").count(), 2, "title and y label");
        plot::curves(dir.path("none.svg"), &[]).unwrap();
        assert!(!dir.path("train.png.tmp").exists());
    }

    #[test]
    fn plot_errors_are_typed() {
        let dir = TempDir::new("plot-err");
        let e = plot::raster(dir.path("r.jpg"), &[0.0; 4], 2, 2, 0.1, "").unwrap_err();
        assert!(matches!(&e, SomataError::Format(m) if m.contains(".jpg")), "{e}");
        assert!(matches!(plot::rate(dir.path("noext"), &[1.0], 0.1), Err(SomataError::Format(_))));
        assert!(matches!(plot::raster(dir.path("r.png"), &[0.0; 5], 2, 2, 0.1, ""), Err(SomataError::ShapeMismatch { .. })));
        assert!(matches!(plot::raster(dir.path("r.png"), &[0.0; 4], 2, 2, 0.0, ""), Err(SomataError::InvalidDt(_))));
        assert!(matches!(plot::traces(dir.path("t.png"), &[0.0; 5], 0.1, &["a", "b"], "x (1)"), Err(SomataError::ShapeMismatch { .. })));
        assert!(matches!(plot::traces(dir.path("t.png"), &[0.0; 4], 0.1, &[], "x (1)"), Err(SomataError::ShapeMismatch { .. })));
        assert!(matches!(plot::curves(dir.path("no/such/dir/c.png"), &[("x", &[1.0][..])]), Err(SomataError::Io(_))));
        assert!(!dir.path("r.png").exists(), "nothing written on error");
    }
}
