"""Generate partners with realistic gaps, deterministically (a seeded random generator).

Every fact of the partner schema is present with a probability that depends on how
often due diligence finds it (common profile figures often, practices less often), and
its value is drawn from the fact's type and range. Run on its own to write a file::

    python bench/generate.py 10000 partners.jsonl      # or .csv, or a folder of .yaml files
"""
from __future__ import annotations

import csv
import json
import random
import sys
from datetime import date, timedelta
from pathlib import Path

# Kiva's recorded badges and the other Kiva API facts are what an import adds; leave them out
SKIP = ("kiva_",)


def fact_specs(kb, kind: str = "partner"):
    specs = {}
    for pack in kb.packs_for(kind):
        specs.update(pack.facts)
    return [s for name, s in sorted(specs.items()) if s.type != "text" and not name.startswith(SKIP)]


def value_for(spec, rng: random.Random):
    kind = spec.type
    if kind == "boolean":
        return rng.random() < 0.6
    if kind == "enum":
        return rng.choice(spec.values)
    if kind == "enum_list":
        return [v for v in spec.values if rng.random() < 0.35]
    if kind == "percentage":
        return round(rng.random(), 3)
    if kind == "date":
        return (date(2000, 1, 1) + timedelta(days=rng.randrange(9000))).isoformat()
    low, high = spec.range or (None, None)
    low = 0 if low is None else low
    high = low + 100 if high is None else high
    if kind == "integer":
        return rng.randint(int(low), int(high))
    return round(rng.uniform(low, high), 2)


def partners(kb, count: int, seed: int = 20261125, known: float = 0.7):
    """``count`` facts documents (dicts), each fact present with probability about ``known``."""
    rng = random.Random(seed)
    specs = fact_specs(kb)
    for i in range(count):
        facts = {s.name: value_for(s, rng) for s in specs if rng.random() < known}
        yield {"kind": "partner", "id": f"p{i:07d}", "name": f"Generated partner {i}", "facts": facts}


def write(kb, count: int, target: Path, seed: int = 20261125) -> Path:
    """Write ``count`` partners as JSON Lines (.jsonl), CSV (.csv) or a folder of YAML files."""
    if target.suffix == ".jsonl":
        with open(target, "w", encoding="utf-8") as out:
            for doc in partners(kb, count, seed):
                out.write(json.dumps(doc) + "\n")
    elif target.suffix == ".csv":
        names = [s.name for s in fact_specs(kb)]
        with open(target, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["kind", "id", "name"] + names)
            for doc in partners(kb, count, seed):
                cells = [_cell(doc["facts"].get(n)) for n in names]
                writer.writerow([doc["kind"], doc["id"], doc["name"]] + cells)
    else:
        import yaml

        target.mkdir(parents=True, exist_ok=True)
        for doc in partners(kb, count, seed):
            (target / f"{doc['id']}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return target


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(value) if value else "[]"
    return str(value)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from engine import load_knowledge_base
    from knowledge_base import BUNDLED

    write(load_knowledge_base(BUNDLED), int(sys.argv[1]), Path(sys.argv[2]))
