"""Benchmark (not a test): throughput, peak memory and start-up of the badges engine.

    python bench/bench.py                 # N = 10,000 partners, memory also at 100,000
    python bench/bench.py --n 2000 --big 20000 --skip-cli-json

Partners are generated deterministically (bench/generate.py) with realistic gaps, for the
full bundled knowledge base (every pack that evaluates partners). Figures printed:

* in one process: the plain-Python evaluation of the same condition trees (the ceiling),
  raw durable_rules (the same compiled rules and the same facts, replayed straight into
  the C core), the engine's decision only (``Engine.decide``), ``Engine.evaluate`` (the
  decision and its agreement with the explanation's own evaluation; trails are built when
  an output asks for them) and with every trail built, loading (parse and
  validate) on its own;
* end to end, ``badges evaluate`` in a subprocess with ``--jobs 1`` and ``--jobs 2``
  (CSV output: every decision made on durable_rules, every node of every trail evaluated
  and checked against it; the trail objects themselves are assembled only by outputs that
  print them: JSON Lines, measured on a smaller sample because of its size), with peak
  memory (the main process and the largest worker). Wall time includes start-up; the
  start-up alone (one partner) is printed too, and the rate without it;
* peak memory of the same command at N and at ``--big`` partners (flat means within 10%), and
  of ``badges diff`` (two identical knowledge bases: no change to hold);
* wall time of ``badges why``, ``badges check`` and ``badges diff`` over 1,000 partners,
  including interpreter start.

Commands run as an installed badges does: with its bytecode compiled and its knowledge-base
cache warm (each command runs once, untimed, before it is timed; the cache is a folder of
the benchmark's own).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BADGES = [sys.executable, "-c", "import sys; from engine.cli import main; sys.exit(main())"]
MEASURE = [sys.executable, str(Path(__file__).resolve().parent / "measure.py")]


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>10,.0f} partners/s"


def timed(function, items) -> float:
    start = time.perf_counter()
    for item in items:
        function(item)
    return time.perf_counter() - start


def in_process(kb, path: Path, count: int) -> list[tuple[str, float]]:
    """Per-partner rates in this process: ceiling, raw durable_rules, decide, evaluate, load."""
    from ceiling import compile_kb

    from engine.diagnostics import Collector
    from engine.inference import Engine
    from engine.stream_output import render_csv, render_jsonl
    from engine.tabular_input import row_entity, table_rows

    collector = Collector()
    rows = list(table_rows(path, kb, collector))[:count]
    start = time.perf_counter()
    entities = [row_entity(row, kb, collector) for row in rows]
    load = time.perf_counter() - start
    assert not collector.errors, collector.errors[:3]
    figures = [("load: parse + validate (CSV row -> entity)", load)]

    plain = compile_kb(kb)
    facts = [e.values for e in entities]
    figures.append(("plain Python, same condition trees (ceiling)", timed(plain, facts)))

    with Engine(kb) as engine:
        engine.decide(entities[0])
        program, ruleset = engine.program("partner")
        figures.append(("Engine.decide: decision only", timed(engine.decide, entities)))
        figures.append(("Engine.evaluate: decision + agreement check", timed(engine.evaluate, entities)))

        def with_trails(entity):
            result = engine.evaluate(entity)
            for conclusion_id in result.trails:  # build every trail, derived ones too
                result.trails[conclusion_id]

        figures.append(("Engine.evaluate + every trail built", timed(with_trails, entities)))
        results = [engine.evaluate(entity) for entity in entities[:1000]]
        share = len(entities) / len(results)  # rendering is timed on 1,000 and scaled to N
        figures.append(("render a CSV row per decision", share * timed(lambda r: render_csv(kb, r), results)))
        figures.append(("render JSON with the trails (--format json/jsonl)",
                        share * timed(lambda r: render_jsonl(kb, r), results)))
        for entity in entities[:200]:  # the ceiling must reach the same outcomes
            assert plain(entity.values) == dict(engine.decide(entity)), entity.id
        sent = record_messages(engine, entities)
        figures.insert(2, ("raw durable_rules: same rules, same facts, C core only", replay(ruleset, sent)))
    return figures


def record_messages(engine, entities) -> list[list[str]]:
    """The JSON facts the engine asserts into durable_rules, per entity (to replay them raw)."""
    from engine import durable_backend

    sent: list[list[str]] = []
    original = durable_backend.ReusedSession.assert_json

    def spy(session, text):
        sent[-1].append(text)
        return original(session, text)

    durable_backend.ReusedSession.assert_json = spy
    try:
        for entity in entities:
            sent.append([])
            engine.decide(entity)
    finally:
        durable_backend.ReusedSession.assert_json = original
    return sent


def replay(ruleset, sent: list[list[str]]) -> float:
    """Assert the recorded facts straight into the C core as the engine does (one session, each
    entity's facts retracted after it), running every action, with no Python around it."""
    import durable_rules_engine as core

    handle = ruleset._handle
    head = '{"sid":"replay","id":"'
    _, state = core.assert_fact(handle, head + 'open","_open":1}')  # the session's marker, as the backend opens it
    if core.start_action_for_state(handle, state):
        core.complete_and_start_action(handle, state)
    start = time.perf_counter()
    for number, messages in enumerate(sent):
        ids = []
        for k, text in enumerate(messages):
            ids.append(f"{number}.{k}")
            _, state = core.assert_fact(handle, f'{head}{number}.{k}",{text[1:]}')
            pending = core.start_action_for_state(handle, state)
            while pending:
                following = core.complete_and_start_action(handle, state)
                pending = (None, following) if following else None
        core.retract_facts(handle, "[" + ",".join(head + i + '"}' for i in ids) + "]")
    return time.perf_counter() - start


def command_environment(cache: Path) -> dict[str, str]:
    """What the timed commands run with: bytecode written and read (an installed package has
    it; a shell that sets PYTHONDONTWRITEBYTECODE would make every run compile badges again),
    and a knowledge-base cache of the benchmark's own."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["BADGES_CACHE_DIR"] = str(cache)
    return env


ENV: dict[str, str] = {}  # set by main


def warm(args: list[str]) -> None:
    """Run ``badges ARGS`` once, untimed: bytecode written, knowledge-base cache filled, files in the page cache."""
    subprocess.run(MEASURE + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=ENV)


def run_cli(args: list[str], repeat: int = 3, warm_up: bool = True) -> tuple[float, dict]:
    """Best wall time of ``repeat`` runs of ``badges ARGS`` after one untimed run (stdout
    discarded; the best is the run least disturbed by other work on the machine) and its peak
    memory (KiB)."""
    if warm_up:
        warm(args)
    times, memory = [], {}
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(MEASURE + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              cwd=ROOT, env=ENV)
        times.append(time.perf_counter() - start)
        report = done.stderr.strip().splitlines()[-1]
        memory = json.loads(report)
        if memory["status"] not in (0,):
            raise SystemExit(f"badges {' '.join(args)} failed:\n{done.stderr}")
    return min(times), memory


def start_up(args: list[str], repeat: int = 5) -> float:
    """Median wall time of the installed ``badges`` command (after one untimed run), interpreter
    start included."""
    exe = Path(sys.executable).with_name("badges")
    subprocess.run([str(exe), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=ENV)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([str(exe), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, check=False,
                       env=ENV)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="partners for throughput (default 10,000)")
    parser.add_argument("--big", type=int, default=100_000, help="partners for the memory check (default 100,000)")
    parser.add_argument("--json-n", type=int, default=1_000, help="partners for the JSON-output run (default 1,000)")
    parser.add_argument("--files", type=int, default=2_000, help="partners for the folder-of-files run (default 2,000)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds of --jobs 1 then --jobs 2 for throughput and speed-up (default 5)")
    parser.add_argument("--skip-big", action="store_true", help="skip the memory run at --big partners")
    options = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from generate import write

    from engine import load_knowledge_base
    from knowledge_base import BUNDLED

    kb = load_knowledge_base(BUNDLED)
    print(f"badges benchmark: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}")
    print(f"knowledge base: {kb.name} v{kb.version}, packs {', '.join(kb.packs)}; "
          f"{sum(len(p.conclusions) for p in kb.packs_for('partner'))} conclusions for a partner")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ENV.update(command_environment(tmp / "cache"))
        small = write(kb, options.n, tmp / f"partners-{options.n}.csv")
        print(f"\n-- one process, {options.n:,} generated partners")
        for label, seconds in in_process(kb, small, options.n):
            print(f"{label:<58}{rate(options.n, seconds)}   {seconds / options.n * 1e6:8.1f} µs each")

        print(f"\n-- badges evaluate (subprocess, output discarded), {options.n:,} partners")
        one = write(kb, 1, tmp / "partners-1.csv")
        start, _ = run_cli(["evaluate", str(one), "--format", "csv", "--jobs", "1"], repeat=5)
        print(f"start-up: one partner, --jobs 1: {start:.3f} s")
        # --jobs 1 and --jobs 2 alternate, so that each round's ratio compares runs made under the
        # same load: this machine's cores slow down by 10-25% for minutes at a time
        command = ["evaluate", str(small), "--format", "csv", "--jobs"]
        for jobs in ("1", "2"):
            warm(command + [jobs])
        rounds = [{jobs: run_cli(command + [jobs], repeat=1, warm_up=False) for jobs in ("1", "2")}
                  for _ in range(options.rounds)]
        for jobs in ("1", "2"):
            times = sorted(r[jobs][0] for r in rounds)
            memory = rounds[0][jobs][1]
            print(f"--format csv  --jobs {jobs}: {times[0]:7.2f} s {rate(options.n, times[0])}"
                  f" ({rate(options.n, times[0] - start).strip()} after start-up; slowest round "
                  f"{rate(options.n, times[-1]).strip()})   peak memory: main {memory['self_kib'] / 1024:.0f} MiB, "
                  f"largest worker {memory['children_kib'] / 1024:.0f} MiB")
        ratios = sorted(r["1"][0] / r["2"][0] for r in rounds)
        print(f"speed-up with 2 jobs: {statistics.median(ratios):.2f}x (median of {len(ratios)} rounds; "
              f"{ratios[0]:.2f}-{ratios[-1]:.2f})")
        sample = write(kb, options.json_n, tmp / f"partners-{options.json_n}.jsonl")
        for jobs in (1, 2):
            seconds, _ = run_cli(["evaluate", str(sample), "--format", "jsonl", "--jobs", str(jobs)])
            print(f"--format jsonl (trails serialised) --jobs {jobs}, {options.json_n:,} partners: "
                  f"{seconds:6.2f} s {rate(options.json_n, seconds)}")
        lines = write(kb, options.n, tmp / f"partners-{options.n}.jsonl")
        folder = write(kb, options.files, tmp / f"partners-{options.files}")
        for label, path, count in (("JSON Lines", lines, options.n), ("a folder of YAML files", folder, options.files)):
            seconds, _ = run_cli(["evaluate", str(path), "--format", "csv", "--jobs", "2"])
            print(f"input as {label}, --format csv --jobs 2, {count:,} partners: {seconds:6.2f} s "
                  f"{rate(count, seconds)}")

        if not options.skip_big:
            print(f"\n-- peak memory, --format csv --jobs 2: {options.n:,} vs {options.big:,} partners")
            big = write(kb, options.big, tmp / f"partners-{options.big}.csv")
            _, at_small = run_cli(["evaluate", str(small), "--format", "csv", "--jobs", "2"], repeat=1)
            seconds, at_big = run_cli(["evaluate", str(big), "--format", "csv", "--jobs", "2"], repeat=1)
            for key, label in (("self_kib", "main process"), ("children_kib", "largest worker")):
                growth = at_big[key] / at_small[key] - 1
                print(f"{label:<16}{at_small[key] / 1024:7.1f} MiB -> {at_big[key] / 1024:7.1f} MiB "
                      f"({growth:+.1%})")
            one_job, _ = run_cli(["evaluate", str(big), "--format", "csv", "--jobs", "1"], repeat=1, warm_up=False)
            print(f"({options.big:,} partners took {seconds:.1f} s with --jobs 2, "
                  f"{rate(options.big, seconds).strip()}; {one_job:.1f} s with --jobs 1: {one_job / seconds:.2f}x)")
            diff = ["diff", "knowledge_base", "knowledge_base"]
            _, diff_small = run_cli(diff + [str(small), "--format", "csv", "--jobs", "2"], repeat=1)
            diff_seconds, diff_big = run_cli(diff + [str(big), "--format", "csv", "--jobs", "2"], repeat=1,
                                             warm_up=False)
            growth = diff_big["self_kib"] / diff_small["self_kib"] - 1
            print(f"badges diff, main process: {diff_small['self_kib'] / 1024:.1f} MiB -> "
                  f"{diff_big['self_kib'] / 1024:.1f} MiB ({growth:+.1%}); {options.big:,} partners in {diff_seconds:.1f} s")

        print("\n-- start-up (wall, interpreter start included, median of 5)")
        print(f"badges why examples/partners/crecer.yaml client-voice   {start_up(['why', 'examples/partners/crecer.yaml', 'client-voice']):.3f} s")
        print(f"badges check                                             {start_up(['check']):.3f} s")
        thousand = write(kb, 1000, tmp / "diff-1000.csv")
        print(f"badges diff knowledge_base knowledge_base (1,000)        "
              f"{start_up(['diff', 'knowledge_base', 'knowledge_base', str(thousand)], repeat=3):.3f} s")
        print(f"badges diff knowledge_base knowledge_base ({options.n:,})       "
              f"{start_up(['diff', 'knowledge_base', 'knowledge_base', str(small)], repeat=3):.3f} s")


if __name__ == "__main__":
    main()
