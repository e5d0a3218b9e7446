#!/usr/bin/python3
"""Writes an EIGER/NXmx-layout HDF5 dataset: a small master linking data files.

The layout DECTRIS detectors write (and DIALS, XDS+durin, albula read): NAME_master.h5 holds
/entry/data/data_NNNNNN as external links to NAME_data_NNNNNN.h5//entry/data/data, each a
(frames, height, width) stack with one chunk per frame, filter 32008 (bitshuffle + LZ4,
cd_values (0, 2)) or 32004 (HDF5 LZ4), and the attributes image_nr_low / image_nr_high (the
detector's 1-based image numbers of the file's first and last frame). The master also holds a
few NXmx fields (beam centre, pixel size, count time, detectorSpecific/nimages and a pixel mask)
and a soft link, like real masters.

Pixels are Poisson-like counts around a diffraction-like pattern (rings over a background),
not random bytes, so they compress as real frames do; every frame differs (the pattern shifts
and a frame-dependent number of pixels changes). The same arguments give the same bytes.

Debian's python3-h5py with the `bitshuffle` and `hdf5-filter-plugin` packages writes the
filters (libhdf5 finds the plugins in its default plugin folder).

Usage: make_eiger_dataset.py OUTDIR [--name NAME] [--frames N] [--per-file K] [--height H]
                             [--width W] [--dtype uint16] [--seed S]
                             [--pattern diffraction|projection]
                             [--filter bslz4|lz4|gzip|shuffle-gzip|none]
"""
import argparse
import os
import sys

import h5py
import numpy as np

FILTERS = {"bslz4": dict(compression=32008, compression_opts=(0, 2)),
           "lz4": dict(compression=32004, compression_opts=(0,)),
           # h5py's usual choice: byte shuffle, then deflate (level 4), checksummed.
           "shuffle-gzip": dict(compression="gzip", shuffle=True, fletcher32=True),
           # Deflate alone (level 4), as a TIFF camera's deflate: tools/bench/tiff.sh compares them.
           "gzip": dict(compression="gzip", compression_opts=4),
           "none": {}}


def base_frames(rng, count, height, width, dtype):
    """`count` distinct Poisson frames around rings on a background."""
    y, x = np.mgrid[0:height, 0:width]
    cy, cx = height / 2.0 + 11.3, width / 2.0 - 7.9
    r = np.hypot(y - cy, x - cx)
    lam = 0.6 + 40.0 * np.exp(-((r % 97.0) - 48.0) ** 2 / 18.0) * np.exp(-r / 900.0)
    top = np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else None
    frames = []
    for _ in range(count):
        f = rng.poisson(lam).astype(np.float64)
        if top is not None:
            f = np.minimum(f, top - 1)  # the all-ones value marks bad pixels, as EIGER does
        frames.append(f.astype(dtype))
    return frames


def projection_frames(rng, count, height, width, dtype):
    """`count` distinct dense frames as a tomography camera writes them: a flat field of ~3000
    counts through a cylindrical sample with inclusions, Poisson noise (12 bits in 16)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    frames = []
    for k in range(count):
        cx = width / 2.0 + 0.2 * width * np.sin(2 * np.pi * k / max(count, 1))
        r = 0.3 * width
        path = 2 * np.sqrt(np.maximum(0.0, r * r - (x - cx) ** 2)) / width
        for j in range(5):  # denser inclusions drifting with the rotation
            ix = cx + (j - 2) * 0.1 * width * np.cos(2 * np.pi * k / max(count, 1))
            iy = height * (j + 1) / 6.0
            path += 1.5 * np.exp(-((x - ix) ** 2 + (y - iy) ** 2) / (0.002 * width * width))
        lam = 3000.0 * np.exp(-1.2 * path) * (0.9 + 0.1 * np.cos(y / height * np.pi))
        top = np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else None
        f = rng.poisson(lam).astype(np.float64)
        if top is not None:
            f = np.minimum(f, top - 1)
        frames.append(f.astype(dtype))
    return frames


def frame(bases, i, dtype):
    f = np.roll(bases[i % len(bases)], i // len(bases), axis=0)
    # A frame-dependent handful of hot pixels makes every frame distinct.
    f = f.copy()
    f.reshape(-1)[(i * 7919) % f.size] = np.array(i % 1000, dtype=dtype)
    return f


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("outdir")
    p.add_argument("--name", default="series")
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--per-file", type=int, default=10)
    p.add_argument("--height", type=int, default=1065)
    p.add_argument("--width", type=int, default=1030)
    p.add_argument("--dtype", default="uint16")
    p.add_argument("--filter", choices=sorted(FILTERS), default="bslz4")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--pattern", choices=("diffraction", "projection"), default="diffraction",
                   help="diffraction: sparse rings (an EIGER); projection: dense tomography "
                        "projections of ~3000 counts")
    a = p.parse_args()
    if a.frames < 1 or a.per_file < 1:
        sys.exit("make_eiger_dataset.py: --frames and --per-file must be at least 1")
    dtype = np.dtype(a.dtype)
    os.makedirs(a.outdir, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    make = base_frames if a.pattern == "diffraction" else projection_frames
    bases = make(rng, min(8, a.frames), a.height, a.width, dtype)
    nfiles = (a.frames + a.per_file - 1) // a.per_file
    master = os.path.join(a.outdir, f"{a.name}_master.h5")
    with h5py.File(master, "w") as m:
        entry = m.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        det = entry.create_group("instrument/detector")
        det.attrs["NX_class"] = "NXdetector"
        det["beam_center_x"] = 1023.5
        det["beam_center_x"].attrs["units"] = "pixel"
        det["beam_center_y"] = 1101.25
        det["x_pixel_size"] = 7.5e-05
        det["count_time"] = 0.0099998
        det["description"] = np.bytes_(b"Dectris EIGER2 Si 1M (generated)")
        spec = det.create_group("detectorSpecific")
        spec["nimages"] = np.uint64(a.frames)
        spec["ntrigger"] = np.uint64(1)
        mask = np.zeros((a.height, a.width), np.uint32)
        mask[:, a.width // 2] = 1  # a gap between modules
        spec.create_dataset("pixel_mask", data=mask, compression="gzip")
        data = entry.create_group("data")
        data.attrs["NX_class"] = "NXdata"
        entry["detector"] = h5py.SoftLink("/entry/instrument/detector")
        for k in range(nfiles):
            first = k * a.per_file
            count = min(a.per_file, a.frames - first)
            fname = f"{a.name}_data_{k + 1:06d}.h5"
            with h5py.File(os.path.join(a.outdir, fname), "w") as f:
                d = f.create_dataset("entry/data/data", (count, a.height, a.width), dtype,
                                     chunks=(1, a.height, a.width), **FILTERS[a.filter])
                for j in range(count):
                    d[j] = frame(bases, first + j, dtype)
                d.attrs["image_nr_low"] = np.uint64(first + 1)
                d.attrs["image_nr_high"] = np.uint64(first + count)
            data[f"data_{k + 1:06d}"] = h5py.ExternalLink(fname, "/entry/data/data")
    print(f"{master}: {a.frames} frames of {a.height}x{a.width} {dtype} ({a.filter}) "
          f"in {nfiles} data files")


if __name__ == "__main__":
    main()
