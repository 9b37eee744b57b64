#!/usr/bin/env python3
"""gen_dstat.py OUT ROWS WINDOWS_JSON: a dool CSV (-T epoch times) of ROWS
one-second samples built from the sample recording, and WINDOWS_JSON with one
10-second window every 100 s."""
import json
import os
import sys

out, rows, windows_out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
here = os.path.dirname(os.path.abspath(__file__))
lines = open(os.path.join(here, "..", "..", "tests", "samples", "dstat", "dool_Tcmndy.csv")).read().splitlines()
head, data = lines[:6], lines[6:]
t0 = 1795423278.569
with open(out, "w") as f:
    f.write("\n".join(head) + "\n")
    for i in range(rows):
        rest = data[i % len(data)].split(",", 1)[1]
        f.write(f"{t0 + i:.3f},{rest}\n")
windows = [{"test": f"w{k}", "start_epoch": t0 + k * 100 + 0.5, "end_epoch": t0 + k * 100 + 10.5} for k in range(rows // 100)]
json.dump({"windows": windows}, open(windows_out, "w"))
