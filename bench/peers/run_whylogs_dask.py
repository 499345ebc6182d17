"""whylogs on Dask: each partition of the Parquet files profiled with ``why.log(df)`` (map), the views merged
(reduce), on a LocalCluster of ``--workers`` single-threaded processes on 127.0.0.1. Prints one JSON line.

    python run_whylogs_dask.py --workers 2 FILE.parquet...
"""

import argparse
import json
import time
from functools import reduce

import dask.dataframe as dd
from distributed import Client, LocalCluster
from whylogs import log


def profile(df):  # type: ignore[no-untyped-def]
    return log(df).view()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    t0 = time.perf_counter()
    with (
        LocalCluster(
            n_workers=args.workers, threads_per_worker=1, dashboard_address=None, host="127.0.0.1"
        ) as cluster,
        Client(cluster) as client,
    ):
        ddf = dd.read_parquet(args.files, split_row_groups=True)
        parts = client.compute(ddf.to_delayed())  # each partition read on a worker, kept there
        views = client.gather(client.map(profile, parts))
        merged = reduce(lambda a, b: a.merge(b), views)
        rows = int(merged.get_column("score").get_metric("counts").n.value)
    seconds = time.perf_counter() - t0
    print(json.dumps({"tool": "whylogs+dask", "workers": args.workers, "rows": rows, "seconds": seconds}))


if __name__ == "__main__":
    main()
