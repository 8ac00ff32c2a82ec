"""Rebuild the bundled sample from ``../shared/reference/hub-trees`` (maintainers only).

    python -m railtrack.hub.sample._build ../shared/reference/hub-trees

Deterministic: keeps each tree's root row, every child with a declared license other than
the majority one: all apache-2.0/mit ones, then others (other, cc-by-...) up to two thirds
of the quota, then the first children in file order, half under the majority license, up to the
per-tree quota. Cards are kept whole (license-relevant content is never trimmed).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from ..cards import parse_card, normalize_model_id

QUOTAS = {"bloom": 10_000, "Llama-2-7b-chat-hf": 60, "stable-diffusion-2-1": 40, "phi-2": 30}
MAX_CARD = 60_000  # rows whose card is longer are skipped (not trimmed) to keep the sample small


def build(src: Path, dest: Path) -> None:
    csv.field_size_limit(2**31 - 1)
    for path in sorted(src.glob("*.csv")):
        family = path.name.split("_finetunes_")[0]
        quota = QUOTAS.get(family)
        if quota is None:
            continue
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            fields = reader.fieldnames or []
            rows = list(reader)
        chosen: list[dict] = []
        majority = {"Llama-2-7b-chat-hf": {"llama2"}, "stable-diffusion-2-1": {"creativeml-openrail-m"},
                    "phi-2": {"mit"}}.get(family, set())
        permissive = {"apache-2.0", "mit"}
        for i, row in enumerate(rows):
            lic = set(parse_card(row["card"]).licenses)
            if i == 0 or (lic & permissive and not lic <= majority and len(row["card"]) <= MAX_CARD):
                chosen.append(row)
        for row in rows:  # other minority licenses, leaving a third of the quota to the majority
            lic = set(parse_card(row["card"]).licenses)
            if len(chosen) >= quota * 2 // 3:
                break
            if row not in chosen and lic and not lic <= majority and len(row["card"]) <= MAX_CARD:
                chosen.append(row)
        for want_majority in (True, False):  # half of the rest under the majority license
            limit = quota - (quota - len(chosen)) // 2 if want_majority else quota
            for row in rows:
                if len(chosen) >= limit:
                    break
                lic = set(parse_card(row["card"]).licenses)
                if row not in chosen and len(row["card"]) <= MAX_CARD and (bool(lic & majority) == want_majority):
                    chosen.append(row)
        order = {normalize_model_id(r["model_id"]): i for i, r in enumerate(rows)}
        chosen.sort(key=lambda r: order[normalize_model_id(r["model_id"])])
        dest.mkdir(parents=True, exist_ok=True)
        with open(dest / path.name, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(chosen)
        print(f"{path.name}: {len(chosen)} of {len(rows)} rows", file=sys.stderr)


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(__file__).resolve().parent)
