#!/usr/bin/env python3
"""gen_hlogs.py OUT_DIR N_FILES MB_PER_FILE: interval logs for the merge benchmark.

Each file is a valid HdrHistogram log (V2 compressed payloads, as written by
Java HdrHistogram 2.1.11) built from the untagged interval lines of the
sample loaders, repeated with advancing timestamps: many loaders' logs.
"""
import os
import sys

out, n_files, mb = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
here = os.path.dirname(os.path.abspath(__file__))
samples = os.path.join(here, "..", "..", "tests", "samples", "hdr")
payloads = []
for name in ("loader1.hlog", "loader2.hlog"):
    for line in open(os.path.join(samples, name)):
        if line[0].isdigit():
            start, length, mx, payload = line.strip().split(",")
            payloads.append((length, mx, payload))
os.makedirs(out, exist_ok=True)
target = int(mb * 1024 * 1024)
for k in range(n_files):
    with open(os.path.join(out, f"loader{k:04d}.hlog"), "w") as f:
        f.write("#[Histogram log format version 1.3]\n")
        f.write("#[StartTime: 1795423493.875 (seconds since epoch), Mon Nov 23 08:44:53 UTC 2026]\n")
        f.write("#[BaseTime: 1795423493.875 (seconds since epoch)]\n")
        f.write('"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"\n')
        size, i = 0, 0
        while size < target:
            length, mx, payload = payloads[(i + k) % len(payloads)]
            line = f"{i:.3f},{length},{mx},{payload}\n"
            f.write(line)
            size += len(line)
            i += 1
