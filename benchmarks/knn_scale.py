"""kNN at scale (issue 6): build time, query time, peak memory and recall of ``hamr.resampling.build_knn``.

Synthetic data: N unit vectors in 384-d drawn from a Gaussian mixture (``--clusters`` random unit centres,
isotropic noise of norm about ``--noise``, then L2-normalised), so nearest neighbours are structured and
recall is meaningful. For every N the exact ``flat`` index is measured first, then each requested index
type (``auto`` resolves to what ``build_knn`` would pick; when that is ``flat`` the exact row is reused).
Queries: ``--queries`` training rows (ids, self excluded, k neighbours), as the neighbourhood boost issues
them. recall@k = mean |approx ∩ exact| / k over the queries.

Every (N, index) runs in its own Python process so that its peak RSS (``ru_maxrss``) is its own; "data RSS"
is the RSS after generating the data, before building, so peak − data ≈ what the index costs.

    python benchmarks/knn_scale.py --sizes 10000 100000 1000000
    python benchmarks/knn_scale.py --sizes 10000 100000 --index-types auto ivf hnsw

Writes ``benchmarks/results/knn_scale.json`` and ``.md`` (``--out``) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def _rss_mb() -> float:
    """Current resident set size in MB (Linux /proc; 0 where unavailable)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * resource.getpagesize() / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def make_data(n: int, dim: int, clusters: int, noise: float, seed: int, chunk: int = 8192) -> np.ndarray:
    """[n, dim] float32 unit rows from a Gaussian mixture, generated in small chunks so that the
    temporaries do not set the peak RSS."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = np.empty((n, dim), dtype=np.float32)
    scale = np.float32(noise / math.sqrt(dim))
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        block = centres[rng.integers(0, clusters, e - s)]
        block += scale * rng.standard_normal((e - s, dim), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        x[s:e] = block
    return x


def run_one(cfg: dict[str, Any]) -> dict[str, Any]:
    """Measure one (N, index type) in this process; ``cfg["exact"]`` is the .npy of exact ids (or None)."""
    import faiss

    from hamr.resampling import build_knn

    x = make_data(cfg["n"], cfg["dim"], cfg["clusters"], cfg["noise"], cfg["seed"])
    rng = np.random.default_rng(cfg["seed"] + 1)
    queries = np.sort(rng.choice(cfg["n"], min(cfg["queries"], cfg["n"]), replace=False))
    data_rss = _rss_mb()
    t0 = time.perf_counter()
    knn = build_knn(x, cfg["k"], index_type=cfg["index"], use_gpu=False)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, ids = knn.search(queries, cfg["k"])
    query_s = time.perf_counter() - t0
    row: dict[str, Any] = {
        "n": cfg["n"],
        "index": cfg["index"],
        "kind": knn.kind,
        "build_s": round(build_s, 3),
        "query_s": round(query_s, 3),
        "queries": int(queries.size),
        "data_rss_mb": round(data_rss, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "threads": faiss.omp_get_max_threads(),
    }
    if knn.kind == "ivf":
        row["nlist"], row["nprobe"] = int(knn.index.nlist), int(knn.index.nprobe)
    if cfg["exact"] is None:
        np.save(cfg["save_ids"], ids)
        row["recall_at_k"] = 1.0
    else:
        exact = np.load(cfg["exact"])
        hits = np.mean([len(set(a) & set(e)) for a, e in zip(ids, exact)])
        row["recall_at_k"] = round(float(hits) / cfg["k"], 4)
    return row


def _child(cfg: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(cfg)], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def to_markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        f"# kNN at scale ({meta['dim']}-d, {meta['clusters']} clusters, noise {meta['noise']}, k={meta['k']}, "
        f"{meta['machine']})",
        "",
        "| N | index | built | build (s) | query (s) | queries | data RSS (MB) | peak RSS (MB) | recall@k "
        "| IVF lists/probe |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        ivf = f"{r['nlist']}/{r['nprobe']}" if "nlist" in r else ""
        lines.append(
            f"| {r['n']:,} | {r['index']} | {r['kind']} | {r['build_s']:.2f} | {r['query_s']:.2f} "
            f"| {r['queries']:,} | {r['data_rss_mb']:,.0f} | {r['peak_rss_mb']:,.0f} | {r['recall_at_k']:.4f} "
            f"| {ivf} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--index-types", nargs="+", default=["auto"], choices=["auto", "ivf", "hnsw"])
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--noise", type=float, default=0.75, help="norm of the noise added to a cluster centre")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(run_one(json.loads(args.child))))
        return

    from hamr.resampling import resolve_index_type

    base = {k: getattr(args, k) for k in ("dim", "queries", "k", "clusters", "noise", "seed")}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            exact_ids = str(Path(tmp) / f"exact_{n}.npy")
            flat = _child({**base, "n": n, "index": "flat", "exact": None, "save_ids": exact_ids})
            rows.append(flat)
            print(json.dumps(flat), flush=True)
            for index in args.index_types:
                if resolve_index_type(n, index) == "flat":
                    row = {**flat, "index": index}
                else:
                    row = _child({**base, "n": n, "index": index, "exact": exact_ids})
                rows.append(row)
                print(json.dumps(row), flush=True)
    meta = {**base, "machine": f"{platform.machine()}, {flat['threads']} threads"}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "knn_scale.json").write_text(json.dumps({"settings": meta, "rows": rows}, indent=1))
    md = to_markdown(rows, meta)
    (args.out / "knn_scale.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
