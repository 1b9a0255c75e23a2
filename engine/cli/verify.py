"""``badges verify``: check a decision log's chain and reproduce every decision in it."""
from __future__ import annotations

import json
import sys

from .common import EXIT_INVALID, EXIT_OK


def add_arguments(parser) -> None:
    parser.add_argument("log", metavar="LOG", help="a decision log written by `badges evaluate --log`")
    parser.add_argument("--kb", metavar="DIR",
                        help="re-evaluate with this knowledge base (default: the one each record names: "
                             "the bundled one or its folder when the sha256 matches, else from git history)")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def run(args) -> tuple[str, int]:
    import tempfile
    from pathlib import Path

    from engine.decision_log import read_log
    from engine.reproduce import Reproducer, RuleBases

    from .common import load_kb

    reading = read_log(args.log)
    given = load_kb(args.kb) if args.kb else None
    with tempfile.TemporaryDirectory(prefix="badges-verify-") as scratch:
        reproducer = Reproducer(RuleBases(Path(scratch), given, args.kb), reading.path)
        try:
            verdicts = [reproducer.verify(entry) for entry in reading.entries()]
        finally:
            reproducer.close()
    ok = not reading.problems and all(v.status == "reproduced" for v in verdicts)
    if args.format == "json":
        return _json(reading, verdicts, ok), EXIT_OK if ok else EXIT_INVALID
    # Chain problems are problems with the input: diagnostics on stderr, like every command's.
    sys.stderr.write("".join(d.format() + "\n" for d in reading.problems))
    return _text(reading, verdicts, ok), EXIT_OK if ok else EXIT_INVALID


def _counts(verdicts) -> dict:
    from engine.reproduce import CANNOT, DIFFERS, REPRODUCED

    return {status: sum(v.status == status for v in verdicts) for status in (REPRODUCED, DIFFERS, CANNOT)}


def _json(reading, verdicts, ok: bool) -> str:
    data = {
        "log": reading.path,
        "ok": ok,
        "chain": {"intact": not reading.problems, "records": len(reading.links), "head": reading.head,
                  "problems": [d.to_dict() for d in reading.problems]},
        "records": [{
            "line": v.line, **{k: v.about[k] for k in ("id", "hash", "timestamp", "entity", "conclusion")},
            "recorded_outcome": v.about["outcome"], "status": v.status, "outcome": v.outcome,
            "rule_base": v.rule_base, "differences": list(v.differences), "why": v.why, "notes": list(v.notes),
        } for v in verdicts],
        "summary": _counts(verdicts),
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _text(reading, verdicts, ok: bool) -> str:
    path = reading.path
    chain = "intact" if not reading.problems else f"BROKEN ({len(reading.problems)} problem(s))"
    lines = [f"{path}: {len(reading.links)} record(s), chain {chain}, last hash {reading.head}"]
    for v in verdicts:
        about = v.about
        subject = f"{about['entity']['id']} · {about['conclusion']}"
        if v.why:
            detail = v.why
        elif v.outcome != about["outcome"]:
            detail = f"{about['outcome']} → {v.outcome}"
        else:
            detail = about["outcome"]
        source = f" [rule base: {v.rule_base}]" if v.rule_base else ""
        lines.append(f"{path}:{v.line}: {v.status:<13}  {subject}: {detail}{source}")
        lines += [f"    {difference}" for difference in v.differences]
        lines += [f"    note: {note}" for note in v.notes]
    counts = ", ".join(f"{n} {status}" for status, n in _counts(verdicts).items())
    lines.append(f"{'OK' if ok else 'NOT VERIFIED'}: {len(verdicts)} decision(s): {counts}; "
                 f"chain {'intact' if not reading.problems else 'broken'}")
    return "\n".join(lines) + "\n"
