#!/usr/bin/env python3
"""dstat_windows.py CSV WINDOWS_JSON: the reference way (Python csv module):
n/mean/min/max of every numeric column inside each window."""
import bisect
import csv
import json
import sys

rows = list(csv.reader(open(sys.argv[1])))
groups, names, data = rows[4], rows[5], rows[6:]
windows = json.load(open(sys.argv[2]))["windows"]
times = [float(r[0]) for r in data]
out = 0
for w in windows:
    # Times are in order: find the window's rows by binary search.
    idx = range(bisect.bisect_left(times, w["start_epoch"]), bisect.bisect_left(times, w["end_epoch"]))
    for c in range(1, len(names)):
        vals = [float(data[i][c]) for i in idx]
        if vals:
            out += len(vals)
            _ = (sum(vals) / len(vals), min(vals), max(vals))
print(out)
