"""Forked worker processes that map a function over tasks, results in task order.

Where the platform can fork, a batch's workers are forked children talking to this process
through two pipes each, instead of ``concurrent.futures.ProcessPoolExecutor``: the children
inherit everything already loaded (the knowledge base, compiled rules), and this process reads
each result straight from its worker's pipe. The executor cost a 10,000-partner batch about
14 ms of imports before the first worker started (multiprocessing, logging, tempfile,
sockets), and handed every result from its pipe through a manager thread and a future to the
thread that waited for it; on two cores that was some 5% of the batch.

Messages are pickles with an 8-byte length before them. A worker answers its tasks in the
order it got them, so the result of task k is the next message on the pipe of the worker task
k went to. Tasks are written by one thread per worker, so that this process never blocks on
a full pipe while that worker blocks writing a result nobody reads.
"""
from __future__ import annotations

import os
import pickle
from collections import deque
from typing import Any, Callable, Iterable, Iterator

_LENGTH = 8
PIPE_SIZE = 1 << 20


class WorkerError(RuntimeError):
    """A worker raised (the message carries its traceback) or ended without answering."""


def available() -> bool:
    """Whether this platform can fork (not Windows; spawned workers go through multiprocessing)."""
    return hasattr(os, "fork")


def ordered_map(function: Callable[[Any], Any], tasks: Iterable[Any], jobs: int, in_flight: int,
                initializer: Callable[..., None] | None = None, initargs: tuple = ()) -> Iterator[Any]:
    """``function(task)`` for each of ``tasks``, computed by ``jobs`` forked children, yielded in
    task order, with at most ``in_flight`` tasks a worker sent ahead. ``initializer(*initargs)``
    runs once in each child first. An exception in a child ends the map with a ``WorkerError``.
    """
    workers = _fork_all(jobs, function, initializer, initargs)
    order: deque = deque()  # the worker of every task sent and not yet answered, in task order
    finished = False
    try:
        for task in tasks:
            worker = min(workers, key=_Worker.load)
            worker.send(task)
            order.append(worker)
            if len(order) >= jobs * in_flight:
                yield _result(order.popleft(), workers)
        while order:
            yield _result(order.popleft(), workers)
        finished = True
    finally:
        for worker in workers:
            worker.close(kill=not finished)


def _result(worker: "_Worker", workers: list["_Worker"]) -> Any:
    """The next result of ``worker``. Until it starts to come, whatever tasks did not fit in
    their pipes are written as the pipes take them: a worker whose next task is still here
    would otherwise never answer."""
    import select

    while True:
        behind = [w for w in workers if w.unsent]
        if not behind:
            break
        readable, writable, _ = select.select([worker.results], [w.tasks for w in behind], [])
        for w in behind:
            if w.tasks in writable:
                w.flush()
        if readable:
            break
    return worker.receive()


class _Worker:
    """One forked child: its pid, the pipe its tasks go down (written without blocking, what
    does not fit kept in ``unsent``) and the pipe its results come up."""

    def __init__(self, pid: int, tasks_fd: int, results_fd: int):
        self.pid = pid
        self.pending = 0
        self.tasks = tasks_fd
        os.set_blocking(tasks_fd, False)
        self.results = os.fdopen(results_fd, "rb")
        self.unsent: deque[memoryview] = deque()

    def load(self) -> int:
        return self.pending

    def send(self, task: Any) -> None:
        data = pickle.dumps(task, protocol=pickle.HIGHEST_PROTOCOL)
        self.unsent.append(memoryview(len(data).to_bytes(_LENGTH, "little") + data))
        self.pending += 1
        self.flush()

    def flush(self) -> None:
        """Write as much of what is unsent as the pipe takes now."""
        unsent = self.unsent
        while unsent:
            try:
                written = os.write(self.tasks, unsent[0])
            except BlockingIOError:
                return
            except OSError:  # the child is gone: receive says so
                unsent.clear()
                return
            if written == len(unsent[0]):
                unsent.popleft()
            else:
                unsent[0] = unsent[0][written:]

    def receive(self) -> Any:
        self.pending -= 1
        head = self.results.read(_LENGTH)
        body = self.results.read(int.from_bytes(head, "little")) if len(head) == _LENGTH else b""
        if not body:
            raise WorkerError(f"a worker process (pid {self.pid}) ended without finishing its work"
                              f"{_exit_reason(self.pid)}")
        ok, value = pickle.loads(body)
        if not ok:
            error, trace = value
            remote = WorkerError(f"in a worker process:\n{trace}")
            if error is None:
                raise remote
            raise error from remote  # as if raised here; --debug shows the worker's traceback too
        return value

    def close(self, kill: bool) -> None:
        """No more tasks: the child sees the end of its pipe and exits (``kill``: at once)."""
        if kill:
            _signal(self.pid)
        self.unsent.clear()
        os.close(self.tasks)
        self.results.close()
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def _fork_all(jobs: int, function, initializer, initargs) -> list[_Worker]:
    """Fork the children; each closes the pipe ends of the ones forked before it, so that a
    child sees the end of its task pipe once this process closes it."""
    workers: list[_Worker] = []
    try:
        for _ in range(jobs):
            task_read, task_write = os.pipe()
            result_read, result_write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: never returns
                for fd in (task_write, result_read, *(fd for w in workers for fd in (w.tasks, w.results.fileno()))):
                    os.close(fd)
                _child(task_read, result_write, function, initializer, initargs)
            os.close(task_read)
            os.close(result_write)
            _widen(task_write)
            _widen(result_read)
            workers.append(_Worker(pid, task_write, result_read))
    except BaseException:
        for worker in workers:
            worker.close(kill=True)
        raise
    return workers


def _widen(fd: int) -> None:
    """Make a task pipe hold what is in flight (Linux: 1 MiB instead of 64 KiB), so that tasks
    are written as they are sent: a task left unsent waits until this process next waits for
    a result, and its worker idles meanwhile."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except (ImportError, AttributeError, OSError):  # not Linux, or a lower limit: smaller pipes still work
        pass


def _child(task_fd: int, result_fd: int, function, initializer, initargs) -> None:
    """A worker's life: answer each task on its pipe until the pipe ends, then exit."""
    status = 0
    try:
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it closes the pipes
        tasks = os.fdopen(task_fd, "rb")
        results = os.fdopen(result_fd, "wb", buffering=0)
        try:
            if initializer is not None:
                initializer(*initargs)
        except BaseException as error:
            _answer(results, False, _failure(error))
            raise
        while True:
            head = tasks.read(_LENGTH)
            if len(head) < _LENGTH:
                break
            task = pickle.loads(tasks.read(int.from_bytes(head, "little")))
            try:
                answer = (True, function(task))
            except BaseException as error:
                answer = (False, _failure(error))
            _answer(results, *answer)
    except BaseException:
        status = 1
    finally:
        os._exit(status)  # no atexit handlers, no flushing of what the parent had buffered


def _answer(results, ok: bool, value: Any) -> None:
    data = pickle.dumps((ok, value), protocol=pickle.HIGHEST_PROTOCOL)
    _write_all(results, len(data).to_bytes(_LENGTH, "little") + data)


def _write_all(pipe, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[pipe.write(view):]


def _failure(error: BaseException) -> tuple[BaseException | None, str]:
    """What the parent needs to raise ``error`` itself (when it survives pickling) and show
    where it came from."""
    import traceback

    trace = traceback.format_exc()
    try:
        pickle.loads(pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:  # noqa: BLE001 - an exception that cannot travel: its traceback says what it was
        return None, trace
    return error, trace


def _signal(pid: int) -> None:
    import signal

    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


def _exit_reason(pid: int) -> str:
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return ""
    if os.WIFSIGNALED(status):
        return f" (killed by signal {os.WTERMSIG(status)})"
    return f" (exit status {os.waitstatus_to_exitcode(status)})"
