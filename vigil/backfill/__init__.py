"""History backfilled: files of scored events profiled into windows on Dask (map), merged (reduce), saved."""
