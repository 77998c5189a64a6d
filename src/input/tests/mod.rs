//! Round trips (fixed and proptested shapes), every rejected input with the message it gives,
//! decoders fed arbitrary bytes, and the real query file when it is present.

use super::keys::parse_keys;
use super::*;
use proptest::prelude::*;
use std::path::Path;

mod rejects;

/// The file, row and message of an input error; panics on any other outcome.
fn input_err<T: std::fmt::Debug>(r: Result<T>) -> (String, Option<u64>, String) {
    match r {
        Err(Error::Input { file, row, what }) => (file, row, what),
        other => panic!("expected an input error, got {other:?}"),
    }
}

/// A `.npy` file with the given major version, header dict (padded as NumPy pads) and data.
fn npy_bytes(major: u8, dict: &str, data: &[u8]) -> Vec<u8> {
    let preamble = if major == 1 { 10 } else { 12 };
    let total = (preamble + dict.len() + 1).next_multiple_of(64);
    let header_len = total - preamble;
    let mut out = b"\x93NUMPY".to_vec();
    out.extend_from_slice(&[major, 0]);
    if major == 1 {
        out.extend_from_slice(&(header_len as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(header_len as u32).to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out.resize(total - 1, b' ');
    out.push(b'\n');
    out.extend_from_slice(data);
    out
}

fn dict(descr: &str, fortran: bool, shape: &str) -> String {
    let f = if fortran { "True" } else { "False" };
    format!("{{'descr': '{descr}', 'fortran_order': {f}, 'shape': {shape}, }}")
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn ramp(n: usize) -> Vec<f32> {
    (0..n).map(|i| i as f32 * 0.25 - 3.0).collect()
}

// ---- round trips ----------------------------------------------------------------------------

#[test]
fn npy_f32_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("v.npy");
    let data = ramp(3 * 5);
    write_npy_f32(&p, 3, 5, &data).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    let header = bytes.len() - data.len() * 4;
    assert_eq!(
        header % 64,
        0,
        "data starts at a multiple of 64 bytes, as NumPy writes it"
    );
    assert_eq!(bytes[header - 1], b'\n');
    let v = read_vectors(&p).unwrap();
    assert_eq!((v.rows, v.dim), (3, 5));
    assert_eq!(v.data, VectorData::F32(data.clone()));
    assert_eq!(v.source, p.display().to_string());
    assert_eq!(v.row_f32(1).unwrap(), data[5..10].to_vec());
    assert_eq!(v.row_f32(3), None);
}

#[test]
fn npy_f16_round_trip_stays_f16() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("v.npy");
    let data: Vec<f16> = ramp(8).into_iter().map(f16::from_f32).collect();
    write_npy_f16(&p, 2, 4, &data).unwrap();
    let v = read_vectors(&p).unwrap();
    assert_eq!(v.data, VectorData::F16(data.clone()));
    let row: Vec<f32> = data[4..].iter().map(|x| x.to_f32()).collect();
    assert_eq!(v.row_f32(1).unwrap(), row);
}

#[test]
fn npy_i32_ground_truth_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("gt.npy");
    write_npy_i32(&p, 2, 3, &[5, 1, 9, 0, 7, 2]).unwrap();
    let gt = read_ground_truth(&p).unwrap();
    assert_eq!((gt.rows, gt.cols), (2, 3));
    assert_eq!(gt.row(0), &[5, 1, 9]);
    assert_eq!(gt.row(1), &[0, 7, 2]);
    assert!(gt.row(2).is_empty());
    assert!(gt.row(usize::MAX).is_empty());
}

#[test]
fn npy_i64_ground_truth_and_range_check() {
    let tmp = tempfile::tempdir().unwrap();
    let ok: Vec<u8> = [3i64, 4_000_000_000, 0, 1]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let p = write(
        tmp.path(),
        "gt.npy",
        &npy_bytes(1, &dict("<i8", false, "(2, 2)"), &ok),
    );
    let gt = read_ground_truth(&p).unwrap();
    assert_eq!(gt.ids, vec![3, 4_000_000_000, 0, 1]);

    let big: Vec<u8> = [3i64, 1, 0, 1 << 32]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let p = write(
        tmp.path(),
        "big.npy",
        &npy_bytes(1, &dict("<i8", false, "(2, 2)"), &big),
    );
    let (file, row, what) = input_err(read_ground_truth(&p));
    assert_eq!(file, p.display().to_string());
    assert_eq!(row, Some(1));
    assert!(
        what.contains("column 1") && what.contains("does not fit"),
        "{what}"
    );
}

#[test]
fn npy_header_versions_2_and_3_are_read() {
    let tmp = tempfile::tempdir().unwrap();
    for major in [2u8, 3] {
        let bytes = npy_bytes(
            major,
            &dict("<f4", false, "(2, 2)"),
            &f32_bytes(&[1.0, 2.0, 3.0, 4.0]),
        );
        let p = write(tmp.path(), &format!("v{major}.npy"), &bytes);
        let v = read_vectors(&p).unwrap();
        assert_eq!(v.data, VectorData::F32(vec![1.0, 2.0, 3.0, 4.0]));
    }
}

#[test]
fn npy_header_variants_numpy_may_write() {
    // Key order, double quotes, no trailing comma, Python 2 long suffix, no padding.
    let tmp = tempfile::tempdir().unwrap();
    let data = f32_bytes(&[1.0, 2.0]);
    let dicts = [
        "{'shape': (1, 2), 'fortran_order': False, 'descr': '<f4'}",
        "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (1L, 2L)}",
        "{ 'descr' : '<f4' , 'fortran_order' : False , 'shape' : ( 1 , 2 , ) , }",
    ];
    for (i, d) in dicts.iter().enumerate() {
        let p = write(tmp.path(), &format!("{i}.npy"), &npy_bytes(1, d, &data));
        assert_eq!(read_vectors(&p).unwrap().rows, 1, "{d}");
    }
}

#[test]
fn fvecs_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("v.fvecs");
    let data = ramp(4 * 3);
    write_fvecs(&p, 3, &data).unwrap();
    assert_eq!(std::fs::read(&p).unwrap().len(), 4 * (4 + 3 * 4));
    let v = read_vectors(&p).unwrap();
    assert_eq!((v.rows, v.dim), (4, 3));
    assert_eq!(v.data, VectorData::F32(data));
}

#[test]
fn bvecs_are_read_as_f32() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = Vec::new();
    for row in [[0u8, 7, 255], [1, 2, 3]] {
        bytes.extend_from_slice(&3i32.to_le_bytes());
        bytes.extend_from_slice(&row);
    }
    let p = write(tmp.path(), "v.bvecs", &bytes);
    let v = read_vectors(&p).unwrap();
    assert_eq!((v.rows, v.dim), (2, 3));
    assert_eq!(
        v.data,
        VectorData::F32(vec![0.0, 7.0, 255.0, 1.0, 2.0, 3.0])
    );
}

#[test]
fn ivecs_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("gt.ivecs");
    write_ivecs(&p, 2, &[4, 8, 15, 16, 23, 42]).unwrap();
    let gt = read_ground_truth(&p).unwrap();
    assert_eq!((gt.rows, gt.cols), (3, 2));
    assert_eq!(gt.ids, vec![4, 8, 15, 16, 23, 42]);
}

#[test]
fn extensions_are_case_insensitive() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("V.FVECS");
    write_fvecs(&p, 1, &[1.0]).unwrap();
    assert_eq!(read_vectors(&p).unwrap().rows, 1);
}

#[test]
fn npy_with_zero_rows_is_empty_not_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("v.npy");
    write_npy_f32(&p, 0, 4, &[]).unwrap();
    let v = read_vectors(&p).unwrap();
    assert_eq!((v.rows, v.dim), (0, 4));
}

// ---- several files --------------------------------------------------------------------------

#[test]
fn many_files_concatenate_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let h = |x: f32| f16::from_f32(x);
    let a = tmp.path().join("a.npy");
    let b = tmp.path().join("b.npy");
    let c = tmp.path().join("c.fvecs");
    write_npy_f16(&a, 1, 2, &[h(1.0), h(2.0)]).unwrap();
    write_npy_f16(&b, 2, 2, &[h(3.0), h(4.0), h(5.0), h(6.0)]).unwrap();
    write_fvecs(&c, 2, &[7.0, 8.0]).unwrap();

    let v = read_vectors_many(&[a.clone(), b.clone()]).unwrap();
    assert_eq!((v.rows, v.dim), (3, 2));
    let halves: Vec<f16> = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0].into_iter().map(h).collect();
    assert_eq!(v.data, VectorData::F16(halves));
    assert_eq!(v.source, format!("{},{}", a.display(), b.display()));

    let v = read_vectors_many(&[a.clone(), c.clone(), b.clone()]).unwrap();
    assert_eq!(
        v.data,
        VectorData::F32(vec![1.0, 2.0, 7.0, 8.0, 3.0, 4.0, 5.0, 6.0])
    );
    assert_eq!(
        v.slice_rows(1, 3).data,
        VectorData::F32(vec![7.0, 8.0, 3.0, 4.0])
    );
}

#[test]
fn many_files_with_different_dimensions_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.npy");
    let b = tmp.path().join("b.npy");
    write_npy_f32(&a, 1, 2, &[1.0, 2.0]).unwrap();
    write_npy_f32(&b, 1, 3, &[1.0, 2.0, 3.0]).unwrap();
    let (file, row, what) = input_err(read_vectors_many(&[a.clone(), b.clone()]));
    assert_eq!((file, row), (b.display().to_string(), None));
    let want = format!(
        "dimension 3 differs from the dimension 2 of {}",
        a.display()
    );
    assert_eq!(what, want);
    assert!(read_vectors_many(&[]).is_err());
}

#[test]
fn errors_in_later_files_use_that_files_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.npy");
    let b = tmp.path().join("b.npy");
    write_npy_f32(&a, 3, 1, &[1.0, 2.0, 3.0]).unwrap();
    write_npy_f32(&b, 2, 1, &[1.0, f32::NAN]).unwrap();
    let (file, row, _) = input_err(read_vectors_many(&[a, b.clone()]));
    assert_eq!((file, row), (b.display().to_string(), Some(1)));
}

#[test]
fn split_paths_drops_empty_parts_and_spaces() {
    let want: Vec<PathBuf> = vec!["a.npy".into(), "dir/b.npy".into()];
    assert_eq!(split_paths("a.npy,dir/b.npy"), want);
    assert_eq!(split_paths(" a.npy , dir/b.npy ,,"), want);
    assert!(split_paths("").is_empty());
}

#[test]
fn slice_rows_clamps() {
    let v = VectorSet {
        rows: 3,
        dim: 2,
        data: VectorData::F32(ramp(6)),
        source: "s".into(),
    };
    let s = v.slice_rows(1, 100);
    assert_eq!((s.rows, s.dim, s.source.as_str()), (2, 2, "s"));
    assert_eq!(s.data, VectorData::F32(ramp(6)[2..].to_vec()));
    assert_eq!(v.slice_rows(5, 9).rows, 0);
    assert_eq!(v.slice_rows(2, 1).rows, 0);
    let h = VectorSet {
        data: VectorData::F16(vec![f16::ONE; 6]),
        ..v
    };
    assert_eq!(h.slice_rows(0, 1).data, VectorData::F16(vec![f16::ONE; 2]));
}

// ---- keys -----------------------------------------------------------------------------------

#[test]
fn keys_are_read_line_by_line() {
    let tmp = tempfile::tempdir().unwrap();
    let want = vec!["alpha".to_owned(), "b c".to_owned(), "ü".to_owned()];
    for text in [
        "alpha\nb c\nü\n",
        "alpha\r\nb c\r\nü\r\n",
        "alpha\nb c\nü",
        "\u{feff}alpha\nb c\nü\n",
    ] {
        let p = write(tmp.path(), "k.txt", text.as_bytes());
        assert_eq!(read_keys(&p).unwrap(), want, "{text:?}");
    }
    assert!(parse_keys("k", b"").unwrap().is_empty());
}

#[test]
fn blank_key_line_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let p = write(tmp.path(), "k.txt", b"a\nb\n\nc\n");
    let (file, row, what) = input_err(read_keys(&p));
    assert_eq!(file, p.display().to_string());
    assert_eq!(row, Some(2));
    assert!(what.contains("line 3 is blank"), "{what}");
    for text in [&b"\n"[..], b"a\n\n", b"a\r\n \r\nb", b"a\n\t\n"] {
        assert!(parse_keys("k", text).is_err(), "{text:?}");
    }
}

#[test]
fn non_utf8_key_names_the_line() {
    let (_, row, what) = input_err(parse_keys("k", b"a\nb\n\xff\n"));
    assert_eq!(row, Some(2));
    assert!(what.contains("line 3"), "{what}");
}

#[test]
fn u64_keys() {
    let keys: Vec<String> = ["0", "42", " 7 ", "18446744073709551615"]
        .map(String::from)
        .into();
    assert_eq!(
        parse_u64_keys("k", &keys).unwrap(),
        vec![0, 42, 7, u64::MAX]
    );
    for bad in ["x1", "-1", "1.5", "18446744073709551616", ""] {
        let keys = vec!["1".to_owned(), bad.to_owned()];
        let (file, row, what) = input_err(parse_u64_keys("k.txt", &keys));
        assert_eq!((file.as_str(), row), ("k.txt", Some(1)));
        assert!(
            what.contains("line 2") && what.contains("not an unsigned 64-bit"),
            "{what}"
        );
    }
    let long = vec!["z".repeat(1000)];
    assert!(input_err(parse_u64_keys("k", &long)).2.len() < 200);
}

// ---- proptests ------------------------------------------------------------------------------

fn finite_f32() -> impl Strategy<Value = f32> + Clone {
    prop_oneof![
        -1e30f32..1e30f32,
        Just(0.0f32),
        Just(-0.0f32),
        Just(f32::MIN_POSITIVE / 4.0)
    ]
}

/// A shape and `rows * dim` values.
fn matrix<T: std::fmt::Debug>(
    values: impl Strategy<Value = T> + Clone,
    min_rows: usize,
) -> impl Strategy<Value = (usize, usize, Vec<T>)> {
    (min_rows..12usize, 1..20usize).prop_flat_map(move |(rows, dim)| {
        proptest::collection::vec(values.clone(), rows * dim).prop_map(move |v| (rows, dim, v))
    })
}

/// A key: no line break, and neither starting nor ending in whitespace (or a byte-order mark).
const KEY: &str = "[a-zA-Z0-9_./:-]([^\r\n]{0,12}[a-zA-Z0-9])?";

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn prop_npy_f32_round_trip((rows, dim, data) in matrix(finite_f32(), 0)) {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("v.npy");
        write_npy_f32(&p, rows, dim, &data).unwrap();
        let v = read_vectors(&p).unwrap();
        prop_assert_eq!((v.rows, v.dim), (rows, dim));
        let got = match v.data { VectorData::F32(d) => d, VectorData::F16(_) => vec![] };
        prop_assert_eq!(bits(&got), bits(&data));
    }

    #[test]
    fn prop_npy_f16_round_trip((rows, dim, data) in matrix(-65504f32..65504f32, 0)) {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("v.npy");
        let data: Vec<f16> = data.into_iter().map(f16::from_f32).collect();
        write_npy_f16(&p, rows, dim, &data).unwrap();
        let v = read_vectors(&p).unwrap();
        prop_assert_eq!((v.rows, v.dim), (rows, dim));
        prop_assert_eq!(v.data, VectorData::F16(data));
    }

    #[test]
    fn prop_npy_i32_ground_truth_round_trip((rows, cols, data) in matrix(0..i32::MAX, 0)) {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("gt.npy");
        write_npy_i32(&p, rows, cols, &data).unwrap();
        let gt = read_ground_truth(&p).unwrap();
        prop_assert_eq!((gt.rows, gt.cols), (rows, cols));
        prop_assert_eq!(gt.ids, data.iter().map(|&x| x as u32).collect::<Vec<_>>());
    }

    #[test]
    fn prop_fvecs_round_trip((rows, dim, data) in matrix(finite_f32(), 1)) {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("v.fvecs");
        write_fvecs(&p, dim, &data).unwrap();
        let v = read_vectors(&p).unwrap();
        prop_assert_eq!((v.rows, v.dim), (rows, dim));
        let got = match v.data { VectorData::F32(d) => d, VectorData::F16(_) => vec![] };
        prop_assert_eq!(bits(&got), bits(&data));
    }

    #[test]
    fn prop_ivecs_round_trip((rows, dim, data) in matrix(0..i32::MAX, 1)) {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("gt.ivecs");
        write_ivecs(&p, dim, &data).unwrap();
        let gt = read_ground_truth(&p).unwrap();
        prop_assert_eq!((gt.rows, gt.cols), (rows, dim));
        for r in 0..rows {
            let want: Vec<u32> = data[r * dim..(r + 1) * dim].iter().map(|&x| x as u32).collect();
            prop_assert_eq!(gt.row(r), want.as_slice());
        }
    }

    #[test]
    fn prop_keys_round_trip(keys in proptest::collection::vec(KEY, 0..20), crlf: bool) {
        let sep = if crlf { "\r\n" } else { "\n" };
        let text: String = keys.iter().map(|k| format!("{k}{sep}")).collect();
        prop_assert_eq!(parse_keys("k", text.as_bytes()).unwrap(), keys);
    }

    #[test]
    fn prop_truncated_npy_names_the_row(
        (rows, dim, data) in matrix(finite_f32(), 1),
        cut in 1usize..64,
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("v.npy");
        write_npy_f32(&p, rows, dim, &data).unwrap();
        let full = std::fs::read(&p).unwrap();
        let cut = cut.min(rows * dim * 4);
        std::fs::write(&p, &full[..full.len() - cut]).unwrap();
        let (_, row, _) = input_err(read_vectors(&p));
        prop_assert_eq!(row, Some(((rows * dim * 4 - cut) / (dim * 4)) as u64));
    }

    /// No input bytes make a decoder panic.
    #[test]
    fn prop_decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = npy::parse_vectors("f", &bytes);
        let _ = npy::parse_ground_truth("f", &bytes);
        let _ = vecs::parse_fvecs("f", &bytes);
        let _ = vecs::parse_bvecs("f", &bytes);
        let _ = vecs::parse_ivecs("f", &bytes);
        let _ = parse_keys("f", &bytes);
    }

    /// Damaging a valid file anywhere (header included) gives a value or an error, not a panic.
    #[test]
    fn prop_damaged_files_never_panic(
        at in any::<prop::sample::Index>(),
        byte: u8,
        cut in 0usize..8,
    ) {
        let mut npy = npy_bytes(1, &dict("<f2", false, "(2, 3)"), &[0x3c; 12]);
        let i = at.index(npy.len());
        npy[i] = byte;
        npy.truncate(npy.len() - cut);
        let _ = npy::parse_vectors("f", &npy);
        let _ = npy::parse_ground_truth("f", &npy);
        let mut ivecs: Vec<u8> =
            [2i32, 5, 6, 2, 7, 8].iter().flat_map(|x| x.to_le_bytes()).collect();
        let i = at.index(ivecs.len());
        ivecs[i] = byte;
        ivecs.truncate(ivecs.len() - cut);
        let _ = vecs::parse_ivecs("f", &ivecs);
        let _ = vecs::parse_fvecs("f", &ivecs);
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

// ---- real data ------------------------------------------------------------------------------

#[test]
fn real_queries_file_when_present() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/ann/wordnet-minilm/queries.f32.npy");
    if !p.exists() {
        eprintln!("skipping: {} not found", p.display());
        return;
    }
    let v = read_vectors(&p).unwrap();
    assert_eq!((v.rows, v.dim), (1000, 384));
    assert!(matches!(v.data, VectorData::F32(_)));
    assert!(v.row_f32(999).is_some());
}
