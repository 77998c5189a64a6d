//! Inputs the readers must refuse, each with an error naming the file and, where it has
//! one, the row.

use super::*;

// ---- rejected npy ---------------------------------------------------------------------------

/// Writes a `.npy` with `dict` and `data`, reads it as vectors and returns the error.
fn npy_vectors_err(dict: &str, data: &[u8]) -> (String, Option<u64>, String) {
    let tmp = tempfile::tempdir().unwrap();
    let p = write(tmp.path(), "bad.npy", &npy_bytes(1, dict, data));
    let (file, row, what) = input_err(read_vectors(&p));
    assert_eq!(file, p.display().to_string());
    (file, row, what)
}

#[test]
fn npy_wrong_dtype_is_rejected() {
    let (_, row, what) = npy_vectors_err(&dict("<f8", false, "(1, 1)"), &[0; 8]);
    assert_eq!(row, None);
    assert!(
        what.contains("unsupported dtype '<f8'") && what.contains("'<f4' or '<f2'"),
        "{what}"
    );
    // Integer data is ground truth, not vectors, and the other way round.
    let (_, _, what) = npy_vectors_err(&dict("<i4", false, "(1, 1)"), &[0; 4]);
    assert!(what.contains("'<i4'"), "{what}");
    let tmp = tempfile::tempdir().unwrap();
    let p = write(
        tmp.path(),
        "gt.npy",
        &npy_bytes(1, &dict("<f4", false, "(1, 1)"), &[0; 4]),
    );
    let (_, _, what) = input_err(read_ground_truth(&p));
    assert!(what.contains("'<i4' or '<i8'"), "{what}");
}

#[test]
fn npy_big_endian_is_rejected() {
    let (_, _, what) = npy_vectors_err(&dict(">f4", false, "(1, 1)"), &[0; 4]);
    assert!(what.contains("big-endian"), "{what}");
}

#[test]
fn npy_fortran_order_is_rejected() {
    let (_, _, what) = npy_vectors_err(&dict("<f4", true, "(2, 2)"), &[0; 16]);
    assert!(what.contains("fortran_order"), "{what}");
}

#[test]
fn npy_shapes_other_than_2d_are_rejected() {
    let (_, _, what) = npy_vectors_err(&dict("<f4", false, "(4,)"), &[0; 16]);
    assert!(what.contains("(4,) is 1-D"), "{what}");
    let (_, _, what) = npy_vectors_err(&dict("<f4", false, "()"), &[0; 4]);
    assert!(what.contains("0-D"), "{what}");
    let (_, _, what) = npy_vectors_err(&dict("<f4", false, "(1, 2, 2)"), &[0; 16]);
    assert!(what.contains("3-D"), "{what}");
    let (_, _, what) = npy_vectors_err(&dict("<f4", false, "(3, 0)"), &[]);
    assert!(what.contains("dimension 0"), "{what}");
}

#[test]
fn npy_truncated_data_names_the_row() {
    // 3 rows of 2 f32 = 24 bytes; 13 bytes end inside row 1.
    let (_, row, what) = npy_vectors_err(&dict("<f4", false, "(3, 2)"), &[0; 13]);
    assert_eq!(row, Some(1));
    assert!(
        what.contains("runs out in this row") && what.contains("needs 24"),
        "{what}"
    );
    // Exactly two whole rows: the data ends where row 2 should start.
    let (_, row, _) = npy_vectors_err(&dict("<f4", false, "(3, 2)"), &[0; 16]);
    assert_eq!(row, Some(2));
}

#[test]
fn npy_extra_data_is_rejected() {
    let (_, row, what) = npy_vectors_err(&dict("<f4", false, "(1, 2)"), &[0; 9]);
    assert_eq!(row, Some(1));
    assert!(what.contains("1 extra bytes"), "{what}");
}

#[test]
fn npy_malformed_preambles_and_headers_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"PK\x03\x04 not numpy".to_vec(), "not a .npy file"),
        (b"\x93NUMPY".to_vec(), "truncated"),
        (b"\x93NUMPY\x04\x00\x10\x00".to_vec(), "version 4.0"),
        (b"\x93NUMPY\x01\x00\xff\x00{}".to_vec(), "past the end"),
        (
            npy_bytes(1, "{'descr': '<f4', 'shape': (1, 1)}", &[0; 4]),
            "missing key 'fortran_order'",
        ),
        (
            npy_bytes(1, &format!("{}x", dict("<f4", false, "(1, 1)")), &[0; 4]),
            "after the dict",
        ),
        (
            npy_bytes(
                1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), 'x': 1}",
                &[],
            ),
            "unexpected key 'x'",
        ),
        (
            npy_bytes(
                1,
                "{'descr': '<f8', 'descr': '<f4', 'fortran_order': False, 'shape': (1, 1)}",
                &[0; 4],
            ),
            "key 'descr' appears twice",
        ),
        (
            npy_bytes(
                1,
                "{'shape': (9, 1), 'descr': '<f4', 'fortran_order': False, 'shape': (1, 1)}",
                &[0; 4],
            ),
            "key 'shape' appears twice",
        ),
        (
            npy_bytes(
                1,
                "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}",
                &[],
            ),
            "cannot parse",
        ),
        (
            npy_bytes(1, &dict("<f4", false, "(99999999999999999999999, 1)"), &[]),
            "too large",
        ),
        (
            npy_bytes(
                1,
                &dict("<f4", false, "(4611686018427387904, 4611686018427387904)"),
                &[],
            ),
            "too large",
        ),
    ];
    for (i, (bytes, expect)) in cases.iter().enumerate() {
        let p = write(tmp.path(), &format!("{i}.npy"), bytes);
        let (file, _, what) = input_err(read_vectors(&p));
        assert_eq!(file, p.display().to_string());
        assert!(what.contains(expect), "case {i}: {what}");
    }
}

// ---- non-finite values ----------------------------------------------------------------------

#[test]
fn npy_f32_nan_and_inf_name_row_column_and_file() {
    for (bad, kind) in [
        (f32::NAN, "NaN"),
        (f32::INFINITY, "+inf"),
        (f32::NEG_INFINITY, "-inf"),
    ] {
        let mut data = ramp(3 * 4);
        data[2 * 4 + 1] = bad;
        let (file, row, what) = npy_vectors_err(&dict("<f4", false, "(3, 4)"), &f32_bytes(&data));
        assert_eq!(row, Some(2));
        assert_eq!(what, format!("value at column 1 is {kind}"));
        let shown = input_err::<()>(Err(Error::input(&file, row, &what))).0;
        assert_eq!(shown, file);
    }
}

#[test]
fn npy_f16_non_finite_is_checked_in_half_precision() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("h.npy");
    let mut data = vec![f16::from_f32(1.0); 6];
    data[3] = f16::NEG_INFINITY;
    write_npy_f16(&p, 2, 3, &data).unwrap();
    let err = read_vectors(&p).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&p.display().to_string()) && msg.contains("row 1"),
        "{msg}"
    );
    assert!(msg.contains("column 0 is -inf"), "{msg}");
    data[3] = f16::NAN;
    write_npy_f16(&p, 2, 3, &data).unwrap();
    assert!(
        read_vectors(&p)
            .unwrap_err()
            .to_string()
            .contains("column 0 is NaN")
    );
    // 65504 is the largest finite f16 and must be accepted.
    data[3] = f16::MAX;
    write_npy_f16(&p, 2, 3, &data).unwrap();
    assert!(read_vectors(&p).is_ok());
}

#[test]
fn fvecs_nan_names_row_and_file() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("v.fvecs");
    let mut data = ramp(6);
    data[5] = f32::NAN;
    write_fvecs(&p, 2, &data).unwrap();
    let msg = read_vectors(&p).unwrap_err().to_string();
    assert_eq!(
        msg,
        format!("{}, row 2: value at column 1 is NaN", p.display())
    );
}

// ---- rejected vecs --------------------------------------------------------------------------

#[test]
fn fvecs_dimension_mismatch_names_the_row() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = Vec::new();
    for dim in [2i32, 2, 3] {
        bytes.extend_from_slice(&dim.to_le_bytes());
        bytes.extend_from_slice(&f32_bytes(&ramp(dim as usize)));
    }
    let p = write(tmp.path(), "v.fvecs", &bytes);
    let (file, row, what) = input_err(read_vectors(&p));
    assert_eq!(file, p.display().to_string());
    assert_eq!(row, Some(2));
    assert!(what.contains("dimension 3 differs"), "{what}");
}

#[test]
fn fvecs_truncated_last_row_names_the_row() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("v.fvecs");
    write_fvecs(&p, 3, &ramp(9)).unwrap();
    let full = std::fs::read(&p).unwrap();
    // Cut inside the last row's values, then inside its dimension.
    for cut in [5, 14] {
        let p = write(tmp.path(), "cut.fvecs", &full[..full.len() - cut]);
        let (_, row, what) = input_err(read_vectors(&p));
        assert_eq!(row, Some(2), "cut {cut}");
        assert!(what.contains("runs out in this row"), "{what}");
    }
}

#[test]
fn vecs_bad_first_dimension_and_empty_file() {
    let tmp = tempfile::tempdir().unwrap();
    let p = write(tmp.path(), "z.fvecs", &0i32.to_le_bytes());
    assert!(
        input_err(read_vectors(&p))
            .2
            .contains("dimension 0 is not positive")
    );
    let p = write(tmp.path(), "n.bvecs", &(-3i32).to_le_bytes());
    assert!(input_err(read_vectors(&p)).2.contains("dimension -3"));
    let p = write(tmp.path(), "e.fvecs", b"");
    assert!(input_err(read_vectors(&p)).2.contains("empty"));
    let p = write(tmp.path(), "huge.fvecs", &i32::MAX.to_le_bytes());
    assert_eq!(input_err(read_vectors(&p)).1, Some(0));
}

#[test]
fn negative_ground_truth_ids_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("gt.ivecs");
    write_ivecs(&p, 2, &[1, 2, 3, -1]).unwrap();
    let (_, row, what) = input_err(read_ground_truth(&p));
    assert_eq!(row, Some(1));
    assert!(what.contains("id -1 at column 1 is negative"), "{what}");
    let p = tmp.path().join("gt.npy");
    write_npy_i32(&p, 2, 2, &[-5, 2, 3, 4]).unwrap();
    assert_eq!(input_err(read_ground_truth(&p)).1, Some(0));
}

#[test]
fn unknown_extensions_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let p = write(tmp.path(), "v.csv", b"1,2\n");
    let (file, _, what) = input_err(read_vectors(&p));
    assert_eq!(file, p.display().to_string());
    assert!(what.contains("unknown file extension '.csv'"), "{what}");
    // .ivecs is ground truth, not vectors; .fvecs is vectors, not ground truth.
    assert!(
        input_err(read_vectors(Path::new("gt.ivecs")))
            .2
            .contains("'.ivecs'")
    );
    assert!(
        input_err(read_ground_truth(Path::new("v.fvecs")))
            .2
            .contains("'.fvecs'")
    );
    assert!(
        input_err(read_vectors(Path::new("noext")))
            .2
            .contains("no file extension")
    );
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let err = read_vectors(Path::new("/nonexistent/strata/v.npy")).unwrap_err();
    assert!(matches!(err, Error::Io { op: "read", .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/strata/v.npy"));
}

#[test]
fn writers_reject_inconsistent_shapes() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("x");
    assert!(matches!(
        write_npy_f32(&p, 2, 2, &[0.0; 3]),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        write_npy_i32(&p, usize::MAX, 2, &[]),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        write_fvecs(&p, 0, &[]),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        write_ivecs(&p, 2, &[1, 2, 3]),
        Err(Error::InvalidArgument(_))
    ));
}
