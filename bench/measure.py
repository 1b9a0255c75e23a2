"""Run one ``badges`` command line and report its peak memory on stderr (used by bench.py).

The last stderr line is JSON: the exit status, the peak resident memory of this process
(VmHWM: ``ru_maxrss`` would include the memory of the process that started it, which Linux
carries across exec) and of the largest child process (the batch workers), in KiB.
"""
import json
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.cli import leave, main  # noqa: E402

status = main(sys.argv[1:])
sys.stdout.flush()
sys.stderr.write(json.dumps({
    "status": status,
    "self_kib": next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")),
    "children_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
}) + "\n")
leave(status)  # as the installed command ends
