#!/usr/bin/python3
"""Writes the seed corpus of the chunk_pipeline fuzz target (tests/fuzz/chunk_pipeline_fuzz.cc):
one valid chunk per pipeline of its table, encoded independently of daqfs with Python's zlib
(HDF5 deflate is a zlib stream), numpy (byte shuffle), python3-zstandard, Debian's bitshuffle
module (its own bit shuffle and LZ4 block codec) and HDF5's Fletcher-32 as H5checksum.c defines
it. Input layout: pipeline index, element-size index (1, 2, 4, 8), decoded size (4 bytes
little endian), filter mask, chunk.
Usage: /usr/bin/python3 tests/fuzz/make_chunk_pipeline_seeds.py OUTDIR"""
import os
import struct
import sys
import zlib

import bitshuffle
import numpy as np
import zstandard

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(3)
z = zstandard.ZstdCompressor(level=3)


def shuffle(b, es):
    n = len(b) // es
    if es <= 1 or n <= 1:
        return b
    a = np.frombuffer(b[: n * es], np.uint8).reshape(n, es).T.tobytes()
    return a + b[n * es:]


def fletcher(b):
    s1 = s2 = 0
    words = len(b) // 2
    i = 0
    while words:
        t = min(words, 360)
        words -= t
        for _ in range(t):
            s1 += b[i] << 8 | b[i + 1]
            i += 2
            s2 += s1
        s1 = (s1 & 0xFFFF) + (s1 >> 16)
        s2 = (s2 & 0xFFFF) + (s2 >> 16)
    if len(b) % 2:
        s1 += b[i] << 8
        s2 += s1
        s1 = (s1 & 0xFFFF) + (s1 >> 16)
        s2 = (s2 & 0xFFFF) + (s2 >> 16)
    s1 = (s1 & 0xFFFF) + (s1 >> 16)
    s2 = (s2 & 0xFFFF) + (s2 >> 16)
    return b + struct.pack("<I", s2 << 16 | s1)


def bitshuffle_chunk(b, es, codec):
    e = np.frombuffer(b, {1: "u1", 2: "u2", 4: "u4", 8: "u8"}[es])
    block = max(8192 // es // 8 * 8, 128)
    head = struct.pack(">QI", len(b), 0) if codec else b""
    body, i = b"", 0
    while i + 8 <= e.size:
        n = min(block, (e.size - i) // 8 * 8)
        sh = bitshuffle.bitshuffle(e[i:i + n], n).tobytes()
        if codec == "zstd":
            c = z.compress(sh)
            body += struct.pack(">I", len(c)) + c
        elif codec == "lz4":
            # bitshuffle's own codec: one block of n elements, its length and LZ4 data
            body += bitshuffle.compress_lz4(e[i:i + n], n).tobytes()
        else:
            body += sh
        i += n
    return head + body + e[i:].tobytes()


def lz4_raw_blocks(b, block=4096):
    # HDF5 LZ4 with every block stored raw (a stored length equal to the block's size; Debian 12
    # has no Python LZ4 block codec for the compressed form: corpus/hdf5_lz4 holds those).
    out = struct.pack(">QI", len(b), block)
    for i in range(0, len(b), block):
        part = b[i:i + block]
        out += struct.pack(">I", len(part)) + part
    return out


def data(n, es):
    return rng.poisson(2.0, n).astype({1: "u1", 2: "u2", 4: "u4", 8: "u8"}[es]).tobytes()


def seed(name, index, es_index, decoded, chunk, mask=0):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([index, es_index]) + struct.pack("<I", decoded) + bytes([mask]) + chunk)


for es_index, es in ((1, 2), (2, 4)):
    d = data(1001, es)
    n = len(d)
    seed(f"deflate_u{8 * es}", 0, es_index, n, zlib.compress(d))
    seed(f"shuffle_deflate_u{8 * es}", 1, es_index, n, zlib.compress(shuffle(d, es)))
    seed(f"zstd_u{8 * es}", 2, es_index, n, z.compress(d))
    seed(f"shuffle_zstd_u{8 * es}", 3, es_index, n, z.compress(shuffle(d, es)))
    seed(f"bszstd_u{8 * es}", 4, es_index, n, bitshuffle_chunk(d, es, "zstd"))
    seed(f"bsplain_u{8 * es}", 5, es_index, n, bitshuffle_chunk(d, es, None))
    seed(f"fletcher_u{8 * es}", 6, es_index, n, fletcher(d))
    seed(f"shuffle_deflate_fletcher_u{8 * es}", 7, es_index, n, fletcher(zlib.compress(shuffle(d, es))))
    seed(f"fletcher_shuffle_deflate_u{8 * es}", 8, es_index, n,
         zlib.compress(shuffle(fletcher(d), es)))
    seed(f"bslz4_fletcher_u{8 * es}", 9, es_index, n, fletcher(bitshuffle_chunk(d, es, "lz4")))
    seed(f"lz4_raw_blocks_u{8 * es}", 10, es_index, n, lz4_raw_blocks(d))
    seed(f"shuffle_u{8 * es}", 11, es_index, n, shuffle(d, es))
    # The deflate filter skipped for this chunk (mask bit 1 of shuffle+deflate+fletcher32).
    seed(f"skipped_deflate_u{8 * es}", 7, es_index, n, fletcher(shuffle(d, es)), mask=2)
