#!/usr/bin/env python3
"""hdr_merge.py FILE...: merge every untagged interval of the given logs with
Python `hdrhistogram` (module hdrh), on all cores (one process per core, each
merging a share; the parent adds the shares), and print count, max and
percentiles: the Python baseline of bench/hdr-merge."""
import multiprocessing
import sys

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader


def merge(files):
    acc = HdrHistogram(1, 3600000000, 3)
    for name in files:
        reader = HistogramLogReader(name, acc)
        while reader.add_next_interval_histogram(acc) is not None:
            pass
        reader.close()
    return acc.encode()


if __name__ == "__main__":
    files = sys.argv[1:]
    n = multiprocessing.cpu_count()
    shares = [files[i::n] for i in range(n)]
    with multiprocessing.Pool(n) as pool:
        encoded = pool.map(merge, shares)
    total = HdrHistogram(1, 3600000000, 3)
    for e in encoded:
        total.add(HdrHistogram.decode(e))
    print("count", total.get_total_count(), "max", total.get_max_value(),
          "p50", total.get_value_at_percentile(50), "p99", total.get_value_at_percentile(99),
          "p99.9", total.get_value_at_percentile(99.9))
