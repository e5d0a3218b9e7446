#!/usr/bin/python3
"""Writes the HDF5 test files of daqfs's hdf5 tests, and what daqfs must show for them.

Usage: make_hdf5_samples.py DIR [--big]

DIR/src/ gets an NXmx-like master (sample_master.h5) whose /entry/data/data_00000N are external
links to two data files (and one to a file that does not exist), with groups, attributes, soft
links (one dangling), a hard-link loop, an external-link loop, text and .npy datasets of many
types (compound, bool, enum, half floats, big endian, strings, opaque, complex, array elements,
empty, references and long variable-length strings that cannot be shown), a contiguous
dataset of several MiB and a single-chunk dataset of 9 MiB; virtual datasets over the data files
(vds_master.h5) and over a missing file (vds_missing.h5).

DIR/expected/ gets every file daqfs must show with the bytes it must have, at the path it must
have relative to the source root: original files byte for byte, text files as daqfs formats them
(numbers as NumPy prints its scalars, strings as stored, one line per element), .npy files as
numpy.save writes the array h5py reads (little-endian), the image stacks' data.npy (the master's
frames 1..8 over its two data files, a 3-D chunked dataset's NAME.stack/). Links that lead
nowhere and datasets that cannot be shown are left out of expected/ (the tests check them by
name). DIR/frames/ gets each frames/NNNNNN.tif daqfs must show as the .npy of its frame's pixels,
named by its path with '/' as '%' (a test wraps them in the TIFF libtiff writes).

With --big the data files hold 3-D stacks of 1 MiB frames (for the conformance suite's reads
across many blocks). Run with Debian's /usr/bin/python3 (h5py, numpy).
"""

import io
import os
import shutil
import sys

import h5py
import numpy as np

out_dir = sys.argv[1]
big = "--big" in sys.argv[2:]
src = os.path.join(out_dir, "src")
exp = os.path.join(out_dir, "expected")
tif = os.path.join(out_dir, "frames")
os.makedirs(src, exist_ok=True)
os.makedirs(exp, exist_ok=True)
os.makedirs(tif, exist_ok=True)
rng = np.random.default_rng(7)


def put(path, data):
    full = os.path.join(exp, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data)


def plain(dt):
    """`dt` without h5py's markers (enum, string encoding), which are not data."""
    if dt.names:
        return np.dtype([(n, plain(dt.fields[n][0])) for n in dt.names])
    if dt.subdtype:
        return np.dtype((plain(dt.subdtype[0]), dt.subdtype[1]))
    return np.dtype(dt.str)


def npy_bytes(a):
    a = np.asarray(a)
    a = a.astype(plain(a.dtype))
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    b = io.BytesIO()
    np.save(b, a, allow_pickle=False)
    return b.getvalue()


def scalar_text(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, str):
        return v
    return str(v)


def text_of(v):
    """daqfs's text of a value (FormatValues): one element + newline; strings one per line;
    other arrays one row per line, elements separated by spaces."""
    a = np.asarray(v)
    if a.size == 0:
        return ""
    if a.size == 1:
        return scalar_text(a.reshape(()).item() if a.dtype.kind in "SUO" else a.reshape(())[()]) + "\n"
    if a.dtype.kind in "SUO":
        return "".join(scalar_text(x) + "\n" for x in a.reshape(-1))
    rows = a.reshape(-1, a.shape[-1])
    return "".join(" ".join(str(x) for x in row) + "\n" for row in rows)


def attrs_expected(obj, prefix):
    for name in obj.attrs:
        put(prefix + name, text_of(obj.attrs[name]).encode())


def frames(n, h, w, seed):
    r = np.random.default_rng(seed)
    return r.poisson(3.0, size=(n, h, w)).astype(np.uint16)


# --- data files: EIGER-style stacks, one chunk per frame -----------------------------------
fh, fw = (512, 1024) if big else (64, 80)
stacks = {}
for i, n in ((1, 5), (2, 3)):
    name = "sample_data_%06d.h5" % i
    d = frames(n, fh, fw, i)
    stacks[i] = d
    with h5py.File(os.path.join(src, name), "w") as f:
        ds = f.create_dataset("/entry/data/data", data=d, chunks=(1, fh, fw), compression="gzip")
        ds.attrs["image_nr_low"] = np.int32(1 + 5 * (i - 1))
        ds.attrs["image_nr_high"] = np.int32(5 * (i - 1) + n)

# --- the master -----------------------------------------------------------------------------
m_path = os.path.join(src, "sample_master.h5")
with h5py.File(m_path, "w") as f:
    f.attrs["file_name"] = "sample_master.h5"
    entry = f.create_group("entry")
    entry.attrs["NX_class"] = "NXentry"
    entry.attrs["nothing"] = np.zeros((0,), np.float64)  # an empty attribute: an empty file
    entry["definition"] = np.bytes_("NXmx")
    det = f.create_group("/entry/instrument/detector")
    det.attrs["NX_class"] = np.bytes_("NXdetector")
    det["beam_center_x"] = np.float64(1023.5)
    det["beam_center_x"].attrs["units"] = "pixel"
    det["beam_center_y"] = np.float32(0.075)
    det["count_time"] = np.float64(1e-05)
    det["distance_big"] = np.float64(1.5e16)
    det["frame_count"] = np.int64(-42)
    det["description"] = "Dectris EIGER2 Si 16M"  # a variable-length string
    det["is_on"] = np.bool_(True)
    det["detector_distance"] = np.array([0.25])  # a 1-D array stays .npy
    spec = det.create_group("detectorSpecific")
    spec["nimages"] = np.int32(8)
    spec["pixel_mask"] = rng.integers(0, 3, size=(40, 30)).astype(np.uint32)
    f["/entry/instrument/detector/detectorSpecific"].create_dataset(
        "flatfield", data=rng.random((40, 30)).astype(np.float32), chunks=(8, 30),
        compression="gzip")
    spec.attrs["vector"] = np.array([0.0, 0.5, -1.0])
    spec.attrs["names"] = np.array([b"alpha", b"beta"])
    data = f.create_group("/entry/data")
    data.attrs["signal"] = "data"
    data["data_000001"] = h5py.ExternalLink("sample_data_000001.h5", "/entry/data/data")
    data["data_000002"] = h5py.ExternalLink("sample_data_000002.h5", "/entry/data/data")
    data["data_000003"] = h5py.ExternalLink("missing_data_000003.h5", "/entry/data/data")
    entry["link_to_detector"] = h5py.SoftLink("/entry/instrument/detector")
    entry["link_to_mask"] = h5py.SoftLink("/entry/instrument/detector/detectorSpecific/pixel_mask")
    entry["dangling"] = h5py.SoftLink("/entry/nothing/here")
    entry["loop"] = entry  # a hard link to its own parent group
    entry["ext_loop"] = h5py.ExternalLink("sample_master.h5", "/entry")
    sample = f.create_group("/entry/sample")
    sample["nimages_again"] = spec["nimages"]  # a hard link to a dataset
    # Types.
    t = f.create_group("types")
    t["compound"] = np.array([(1, 2.5, b"ab"), (3, -1.0, b"cde")],
                             dtype=[("a", "<u2"), ("b", "<f8"), ("s", "S3")])
    t["bool_array"] = np.array([True, False, True])
    t["enum_array"] = np.array([0, 1, 1], dtype=h5py.enum_dtype({"RED": 0, "GREEN": 1}, "i1"))
    t["half"] = np.array([0.1, 65504, -2], dtype=np.float16)
    t["big_endian"] = np.arange(6, dtype=">i4").reshape(2, 3)
    t["strings_fixed"] = np.array([b"one", b"two", b"three"])
    t["strings_vlen"] = np.array(["x", "yy", "zzz"], dtype=h5py.string_dtype())
    t["long_vlen"] = np.array(["v" * 3000, "w" * 3000], dtype=h5py.string_dtype())
    t["long_fixed"] = np.array([b"f" * 3000, b"g" * 3000])
    t["opaque"] = np.array([b"\x01\x02\x03\x04", b"\x05\x06\x07\x08"], dtype="V4")
    t["complex"] = np.array([1 + 2j, -0.5j], dtype=np.complex64)
    # Elements that are arrays of 3 floats (an HDF5 array type), 4 of them.
    atype = h5py.h5t.array_create(h5py.h5t.IEEE_F32LE, (3,))
    aset = h5py.h5d.create(t.id, b"array_elem", atype, h5py.h5s.create_simple((4,)))
    aset.write(h5py.h5s.ALL, h5py.h5s.ALL, np.arange(12, dtype=np.float32).reshape(4, 3),
               mtype=atype)
    aset.close()
    t["empty"] = np.zeros((0,), dtype=np.int16)
    t["refs"] = np.array([entry.ref], dtype=h5py.ref_dtype)
    t["nan"] = np.float64("nan")
    t["u64"] = np.uint64(2**64 - 1)
    t["scalar_compound"] = np.array((7, 0.5), dtype=[("n", "<i4"), ("x", "<f4")])
    # Bigger data: contiguous rows of several MiB; one gzip chunk of 9 MiB (sub-blocks).
    if big:
        f.create_dataset("/entry/big", data=(np.arange(300 * 4000) % 65521).astype(np.uint16).reshape(300, 4000))
    f.create_dataset("/entry/onechunk", data=(np.arange(3000 * 3000) % 251).astype(np.uint8).reshape(3000, 3000),
                     chunks=(3000, 3000), compression="gzip")
    # A 3-D chunked dataset that is no master's part: shown with a cube.stack/ beside it.
    f.create_dataset("/entry/cube", data=(np.arange(4 * 12 * 10) * 7 - 99).astype(np.int16).reshape(4, 12, 10),
                     chunks=(1, 12, 10), compression="gzip")

# --- virtual datasets ----------------------------------------------------------------------
with h5py.File(os.path.join(src, "vds_master.h5"), "w") as f:
    layout = h5py.VirtualLayout(shape=(8, fh, fw), dtype="u2")
    layout[0:5] = h5py.VirtualSource("sample_data_000001.h5", "/entry/data/data", shape=(5, fh, fw))
    layout[5:8] = h5py.VirtualSource("sample_data_000002.h5", "/entry/data/data", shape=(3, fh, fw))
    f.create_virtual_dataset("data", layout, fillvalue=0)
with h5py.File(os.path.join(src, "vds_missing.h5"), "w") as f:
    layout = h5py.VirtualLayout(shape=(8, fh, fw), dtype="u2")
    layout[0:5] = h5py.VirtualSource("sample_data_000001.h5", "/entry/data/data", shape=(5, fh, fw))
    layout[5:8] = h5py.VirtualSource("gone_data.h5", "/entry/data/data", shape=(3, fh, fw))
    f.create_virtual_dataset("data", layout, fillvalue=0)

# --- expected: what daqfs shows --------------------------------------------------------------
for name in sorted(os.listdir(src)):
    with open(os.path.join(src, name), "rb") as fsrc:
        put(name, fsrc.read())

stack_frames = np.concatenate([stacks[1], stacks[2]])
put("vds_master/data.npy", npy_bytes(stack_frames))

with h5py.File(m_path, "r") as f:
    root = "sample_master/"
    attrs_expected(f, root + "@")
    attrs_expected(f["entry"], root + "entry/@")
    put(root + "entry/definition", b"NXmx\n")
    d = f["/entry/instrument/detector"]
    dv = root + "entry/instrument/detector/"
    attrs_expected(d, dv + "@")
    for k in ("beam_center_x", "beam_center_y", "count_time", "distance_big", "frame_count",
              "description", "is_on"):
        put(dv + k, text_of(d[k][()]).encode())
        attrs_expected(d[k], dv + k + "@")
    put(dv + "detector_distance.npy", npy_bytes(d["detector_distance"][()]))
    s = f["/entry/instrument/detector/detectorSpecific"]
    sv = dv + "detectorSpecific/"
    attrs_expected(s, sv + "@")
    put(sv + "nimages", text_of(s["nimages"][()]).encode())
    put(sv + "pixel_mask.npy", npy_bytes(s["pixel_mask"][()]))
    put(sv + "flatfield.npy", npy_bytes(s["flatfield"][()]))
    put(root + "entry/sample/nimages_again", text_of(s["nimages"][()]).encode())
    attrs_expected(f["/entry/data"], root + "entry/data/@")
    for i in (1, 2):
        ds = f["/entry/data/data_%06d" % i]
        put(root + "entry/data/data_%06d.npy" % i, npy_bytes(ds[()]))
        attrs_expected(ds, root + "entry/data/data_%06d@" % i)
    t = f["types"]
    tv = root + "types/"
    for k in ("compound", "bool_array", "enum_array", "half", "big_endian", "long_fixed",
              "opaque", "complex", "array_elem", "empty", "scalar_compound"):
        put(tv + k + ".npy", npy_bytes(t[k][()]))
    put(tv + "strings_fixed", text_of(t["strings_fixed"][()]).encode())
    put(tv + "strings_vlen", text_of(t["strings_vlen"][()]).encode())
    put(tv + "nan", b"nan\n")
    put(tv + "u64", b"18446744073709551615\n")
    if big:
        put(root + "entry/big.npy", npy_bytes(f["/entry/big"][()]))
    put(root + "entry/onechunk.npy", npy_bytes(f["/entry/onechunk"][()]))
    # Image stacks: the master's (data_000003 is missing, and nimages = 8 says no frames are
    # left for it) and the cube's, frames numbered from 0.
    cube = f["/entry/cube"][()]
    put(root + "entry/cube.npy", npy_bytes(cube))
    put(root + "entry/cube.stack/data.npy", npy_bytes(cube))
    put(root + "data.npy", npy_bytes(stack_frames))


def put_frame(path, frame):
    with open(os.path.join(tif, path.replace("/", "%")), "wb") as fo:
        fo.write(npy_bytes(frame))


for i in range(len(stack_frames)):
    put_frame("sample_master/frames/%06d.tif" % (i + 1), stack_frames[i])
for i in range(len(cube)):
    put_frame("sample_master/entry/cube.stack/frames/%06d.tif" % i, cube[i])
