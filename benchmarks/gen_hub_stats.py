"""Generate synthetic hub-stats snapshots (``models.parquet`` layout) for benchmarks and tests.

    python benchmarks/gen_hub_stats.py OUT.parquet --rows 2000000 [--seed 0] [--snapshots 1]

The columns follow the public daily Hub dump: ``id, author, createdAt, lastModified,
cardData`` (a JSON string), ``downloads, downloadsAllTime, likes, tags, pipeline_tag,
library_name, baseModels`` (``{relation, models: [{id}]}``) plus extra columns an importer
must ignore (``gated, trendingScore, private, sha``).

The license mix follows the 2025 census of 1.86M models (apache-2.0 298k, mit 110k,
other 82k, openrail 37k, creativeml-openrail-m 29k, llama2 10k, llama3 9.9k, gemma 8.7k,
llama3.1 7.6k, a tail of other licenses, and about 60% with no license); creation dates
run from 2022-03-02 (the Hub's earliest ``createdAt``) with exponential growth. A small,
realistic share of rows is messy: a license only in the tags, cards naming two base
models, malformed ``cardData`` JSON and duplicate ids.

With ``--snapshots N`` it writes N weekly archives ``OUT-YYYY-MM-DD.parquet`` (each holds
the models created by its date, with growing download counts) to build history.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

#: (license id, models in the 2025 census). The rest of the rows carry no license.
CENSUS = [
    ("apache-2.0", 298_000), ("mit", 110_000), ("other", 82_000), ("openrail", 37_000),
    ("creativeml-openrail-m", 29_000), ("llama2", 10_000), ("llama3", 9_900), ("gemma", 8_700),
    ("llama3.1", 7_600), ("cc-by-nc-4.0", 18_000), ("cc-by-4.0", 14_000), ("gpl-3.0", 7_000),
    ("bigscience-openrail-m", 6_000), ("openrail++", 5_500), ("llama3.2", 5_000), ("cc-by-sa-4.0", 4_500),
    ("cc-by-nc-sa-4.0", 4_000), ("bigscience-bloom-rail-1.0", 3_000), ("afl-3.0", 3_000),
    ("bsd-3-clause", 2_500), ("agpl-3.0", 2_000), ("deepseek", 1_500), ("llama3.3", 1_500),
    ("artistic-2.0", 1_000), ("wtfpl", 800), ("unlicense", 1_200), ("cc0-1.0", 2_000),
]
CENSUS_TOTAL = 1_860_000
OTHER_NAMES = ["deepseek-license", "qwen", "tongyi-qianwen", "yi-license", "Stability AI Community License",
               "inf", "Custom research license", "falcon-llm-license"]
PIPELINES = ["text-generation", "text-to-image", "text-classification", "automatic-speech-recognition",
             "feature-extraction", "image-classification", "reinforcement-learning", None]
LIBRARIES = ["transformers", "diffusers", "peft", "sentence-transformers", "gguf", "stable-baselines3", "timm", None]
RELATIONS = ["finetune", "adapter", "quantized", "merge"]
HUB_START = dt.datetime(2022, 3, 2, tzinfo=dt.timezone.utc)
HUB_END = dt.datetime(2025, 6, 30, tzinfo=dt.timezone.utc)
BASES = [f"base-org-{i}/foundation-{i}" for i in range(400)]


def license_probs() -> tuple[list[str | None], np.ndarray]:
    names: list[str | None] = [n for n, _ in CENSUS]
    counts = np.array([c for _, c in CENSUS], dtype=float)
    none = CENSUS_TOTAL - counts.sum()
    names.append(None)
    p = np.append(counts, none) / CENSUS_TOTAL
    return names, p / p.sum()


def generate(rows: int, seed: int = 0) -> pa.Table:
    """One synthetic snapshot of ``rows`` models."""
    rng = np.random.default_rng(seed)
    names, p = license_probs()
    lic_idx = rng.choice(len(names), size=rows, p=p)
    span = (HUB_END - HUB_START).total_seconds()
    # Exponential growth: density ~ exp(k t); inverse-CDF sampling.
    k = 3.0
    u = rng.random(rows)
    frac = np.log1p(u * (np.exp(k) - 1)) / k
    created_s = (HUB_START.timestamp() + frac * span).astype("int64")
    modified_s = np.minimum(created_s + (rng.exponential(60, rows) * 86400).astype("int64"), int(HUB_END.timestamp()))
    downloads = rng.zipf(1.8, rows).astype("int64") - 1
    downloads = np.minimum(downloads, 50_000_000)
    likes = np.minimum(rng.zipf(2.2, rows) - 1, 100_000).astype("int64")
    pipe_idx = rng.integers(0, len(PIPELINES), rows)
    lib_idx = rng.integers(0, len(LIBRARIES), rows)
    author_n = rng.integers(0, max(rows // 8, 1), rows)
    has_base = rng.random(rows) < 0.45
    base_idx = rng.integers(0, len(BASES), rows)
    base2_idx = rng.integers(0, len(BASES), rows)
    rel_idx = rng.integers(0, len(RELATIONS), rows)
    messy = rng.random(rows)
    other_name_idx = rng.integers(0, len(OTHER_NAMES), rows)
    gated = rng.random(rows) < 0.02

    ids, authors, cards, tags_col, base_col = [], [], [], [], []
    for i in range(rows):
        author = f"user{author_n[i]}"
        mid = f"{author}/model-{i}"
        lic = names[lic_idx[i]]
        card: dict = {}
        tags = ["region:us"]
        lib = LIBRARIES[lib_idx[i]]
        if lib:
            tags.append(lib)
        m = messy[i]
        if lic is not None:
            if m < 0.01:  # license only in the tags
                tags.append(f"license:{lic}")
            else:
                card["license"] = lic
                tags.append(f"license:{lic}")
            if lic == "other":
                card["license_name"] = OTHER_NAMES[other_name_idx[i]]
                card["license_link"] = "LICENSE"
        bm = None
        if has_base[i]:
            base = BASES[base_idx[i]]
            rel = RELATIONS[rel_idx[i]]
            if 0.01 <= m < 0.015:  # card names two base models, the tags one
                card["base_model"] = [base, BASES[base2_idx[i]]]
            else:
                card["base_model"] = base
            tags.append(f"base_model:{base}")
            tags.append(f"base_model:{rel}:{base}")
            bm = {"relation": rel, "models": [{"id": base}]}
        if 0.015 <= m < 0.0152:
            card_json = '{"license": "mit", broken'  # malformed cardData JSON
        else:
            card_json = json.dumps(card) if card else None
        if 0.0152 <= m < 0.0154 and i > 0:  # duplicate id inside the snapshot
            mid = ids[-1]
        ids.append(mid)
        authors.append(author)
        cards.append(card_json)
        tags_col.append(tags)
        base_col.append(bm)

    tz = "UTC"
    table = pa.table({
        "id": pa.array(ids, pa.string()),
        "author": pa.array(authors, pa.string()),
        "createdAt": pa.array(created_s * 1000, pa.timestamp("ms", tz=tz)),
        "lastModified": pa.array(modified_s * 1000, pa.timestamp("ms", tz=tz)),
        "cardData": pa.array(cards, pa.string()),
        "downloads": pa.array(downloads, pa.int64()),
        "downloadsAllTime": pa.array(downloads * 3, pa.int64()),
        "likes": pa.array(likes, pa.int64()),
        "tags": pa.array(tags_col, pa.list_(pa.string())),
        "pipeline_tag": pa.array([PIPELINES[j] for j in pipe_idx], pa.string()),
        "library_name": pa.array([LIBRARIES[j] for j in lib_idx], pa.string()),
        "baseModels": pa.array(base_col, pa.struct([("relation", pa.string()),
                                                     ("models", pa.list_(pa.struct([("id", pa.string())])))])),
        "gated": pa.array(np.where(gated, "auto", "false"), pa.string()),
        "trendingScore": pa.array(rng.random(rows), pa.float64()),
        "private": pa.array(np.zeros(rows, dtype=bool), pa.bool_()),
        "sha": pa.array([None] * rows, pa.string()),
    })
    return table


def write_snapshots(out: Path, rows: int, seed: int, snapshots: int) -> list[Path]:
    table = generate(rows, seed)
    if snapshots <= 1:
        pq.write_table(table, out, compression="zstd", row_group_size=200_000)
        return [out]
    created = table.column("createdAt").to_numpy()
    paths = []
    last = HUB_END.date()
    for k in range(snapshots):
        day = last - dt.timedelta(days=7 * (snapshots - 1 - k))
        cutoff = np.datetime64(dt.datetime.combine(day, dt.time()), "ms")
        mask = created.astype("datetime64[ms]") <= cutoff
        part = table.filter(pa.array(mask))
        scale = (k + 1) / snapshots
        dl = part.column("downloads").to_numpy()
        part = part.set_column(part.schema.get_field_index("downloads"), "downloads",
                               pa.array((dl * scale).astype("int64")))
        path = out.with_name(f"{out.stem}-{day.isoformat()}{out.suffix}")
        pq.write_table(part, path, compression="zstd", row_group_size=200_000)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--snapshots", type=int, default=1)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    paths = write_snapshots(args.out, args.rows, args.seed, args.snapshots)
    for p in paths:
        print(f"wrote {p} ({pq.ParquetFile(p).metadata.num_rows} rows, {p.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    print(f"generated in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
