"""`sdannc eval`: a whole test set through a chip image, sharded over Dask (docs/eval.md).

plan.py says what a result folder holds and which of its shards are done; work.py is what a
worker runs; cluster.py starts or joins the Dask cluster; summary.py merges the shards and writes
the summary; run.py drives them (sdannc.evaluate calls it).
"""
