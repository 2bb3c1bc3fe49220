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
    /// count, checking that they are dark in `a`.
    fn diff_box(a: &[u8], b: &[u8], w: u32) -> (u32, u32, u32, u32, usize) {
        let (mut x0, mut y0, mut x1, mut y1, mut n) = (u32::MAX, u32::MAX, 0, 0, 0);
        for (k, (pa, pb)) in a.chunks_exact(3).zip(b.chunks_exact(3)).enumerate() {
            if pa != pb {
                assert!(pa.iter().map(|&v| v as u32).sum::<u32>() < 150, "a spike pixel is dark: {pa:?}");
                let (x, y) = (k as u32 % w, k as u32 / w);
                (x0, y0, x1, y1, n) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y), n + 1);
            }
        }
        (x0, y0, x1, y1, n)
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
        plot::traces(dir.path("v.svg"), &v, 0.1, &["V[0]", "V[1]"]).unwrap();
        let s = std::fs::read_to_string(dir.path("v.svg")).unwrap();
        assert!(s.contains("<svg") && s.contains("V[0]") && s.contains("time (ms)"), "svg with the legend and axis labels");
        plot::traces(dir.path("v.png"), &v, 0.1, &["V[0]", "V[1]"]).unwrap();
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
        assert!(matches!(plot::traces(dir.path("t.png"), &[0.0; 5], 0.1, &["a", "b"]), Err(SomataError::ShapeMismatch { .. })));
        assert!(matches!(plot::traces(dir.path("t.png"), &[0.0; 4], 0.1, &[]), Err(SomataError::ShapeMismatch { .. })));
        assert!(matches!(plot::curves(dir.path("no/such/dir/c.png"), &[("x", &[1.0][..])]), Err(SomataError::Io(_))));
        assert!(!dir.path("r.png").exists(), "nothing written on error");
    }
}
