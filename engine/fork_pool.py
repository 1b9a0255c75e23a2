"""Forked worker processes that map a function over tasks, results in task order.

Where the platform can fork, a batch's workers are forked children talking to this process
through two pipes each, instead of ``concurrent.futures.ProcessPoolExecutor``: the children
inherit everything already loaded (the knowledge base, compiled rules), and this process reads
each answer straight from its worker's pipe. The executor cost a 10,000-partner batch about
14 ms of imports before the first worker started (multiprocessing, logging, tempfile,
sockets), and handed every result from its pipe through a manager thread and a future to the
thread that waited for it; on two cores that was some 5% of the batch.

Messages are pickles with an 8-byte length before them; a worker answers its tasks in the
order it got them. Each worker is kept ``in_flight`` tasks ahead: answers are read as soon as
they come, from any worker, and kept until their turn, so a worker that finished its tasks
gets more while another is still on a long one (results are yielded in task order; without
this a worker idled at the end of a batch, whose last blocks are small). Tasks are written
without blocking; what a pipe cannot take yet is written while waiting for answers, so this
process never blocks on a full pipe while that worker blocks writing an answer.
"""
from __future__ import annotations

import os
import pickle
import sys
from collections import deque
from typing import Any, Callable, Iterable, Iterator

_LENGTH = 8
PIPE_SIZE = 1 << 20
_END = object()


class WorkerError(RuntimeError):
    """A worker raised an exception that cannot be pickled (the message carries its traceback)."""


class WorkerLost(WorkerError):
    """A worker ended before answering all its tasks: killed (by the out-of-memory killer, say)."""


def available() -> bool:
    """Whether workers can be forked: the platform forks (not Windows) and this process runs
    one thread (a fork copies only the thread that forks: a lock another thread holds would
    stay locked in the child forever). Otherwise ``batch.spread`` spawns its workers, or runs
    everything in this process."""
    if not hasattr(os, "fork"):
        return False
    threading = sys.modules.get("threading")  # not imported: no thread was started through it
    return threading is None or threading.active_count() == 1


def ordered_map(function: Callable[[Any], Any], tasks: Iterable[Any], jobs: int, in_flight: int,
                initializer: Callable[..., None] | None = None, initargs: tuple = (),
                on_fewer: Callable[[int, OSError], None] | None = None) -> Iterator[Any]:
    """``function(task)`` for each of ``tasks``, computed by ``jobs`` forked children, yielded in
    task order. Each child is kept up to ``in_flight`` unanswered tasks ahead, and at most
    ``2 * jobs * in_flight`` tasks are sent and not yet yielded (memory stays bounded).
    ``initializer(*initargs)`` runs once in each child first. An exception in a child is
    raised here, in its task's turn (a ``WorkerError`` if it cannot be pickled). When the
    system cannot start all ``jobs`` children (too many processes or open files), the map goes
    on with those it could, and ``on_fewer(started, error)`` is told.
    """
    if jobs < 1 or in_flight < 1:
        raise ValueError(f"jobs and in_flight must be at least 1, not {jobs} and {in_flight}")
    workers = _fork_all(jobs, function, initializer, initargs, on_fewer)
    jobs = len(workers)
    # per task sent and not yet yielded, in task order: its worker, or why it could not be sent
    order: deque[_Worker | _Unsent] = deque()
    tasks = iter(tasks)
    more = True
    finished = False
    try:
        while True:
            while more and len(order) < 2 * jobs * in_flight:
                worker = min(workers, key=_Worker.load)
                if worker.unanswered >= in_flight:
                    break
                try:
                    task = next(tasks, _END)
                    if task is not _END:
                        worker.send(task)
                except Exception as error:  # noqa: BLE001 - raised in its turn, after the results before it
                    order.append(_Unsent(error))
                    task = _END
                if task is _END:
                    more = False
                    break
                order.append(worker)
            if not order:
                break
            head = order[0]
            if isinstance(head, _Unsent):
                raise head.error
            if head.answers:
                order.popleft()
                yield head.take()
            elif head.dead:
                raise WorkerLost(head.dead)
            else:
                _wait(workers)
        finished = True
    finally:
        for worker in workers:
            worker.close(kill=not finished)


class _Unsent:
    """The place of a task that could not be sent: the task list raised, or the task does not pickle."""

    def __init__(self, error: Exception):
        self.error = error


def _wait(workers: list["_Worker"]) -> None:
    """Until some worker's next answer is read: meanwhile, write what the task pipes can take.
    (``poll``, not ``select``: a process with many files open has descriptors past 1024.)"""
    import select

    while True:
        poller = select.poll()
        waiting = {w.results: w for w in workers if w.unanswered and not w.dead}
        behind = {w.tasks: w for w in workers if w.unsent}
        for fd in waiting:
            poller.register(fd, select.POLLIN)
        for fd in behind:
            poller.register(fd, select.POLLOUT)
        answered = False
        for fd, _ in poller.poll():  # a closed pipe reports POLLHUP or POLLERR: read or write says how
            if fd in behind:
                behind[fd].flush()
            if fd in waiting:
                waiting[fd].read_answer()
                answered = True
        if answered:
            return


class _Worker:
    """One forked child: its pid, the pipe its tasks go down (written without blocking, what
    does not fit kept in ``unsent``) and the pipe its answers come up (read unbuffered, so
    that ``select`` sees every answer not yet read)."""

    def __init__(self, pid: int, tasks_fd: int, results_fd: int):
        self.pid = pid
        self.tasks = tasks_fd
        self.results = results_fd
        _PARENT_ENDS.update((tasks_fd, results_fd))
        os.set_blocking(tasks_fd, False)
        self._reader = open(results_fd, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        self.unsent: deque[memoryview] = deque()
        self.unanswered = 0  # tasks sent whose answer is not read yet
        self.answers: deque[bytes] = deque()  # answers read, not yet taken
        self.dead: str | None = None  # why the child ended before answering all its tasks

    def load(self) -> float:
        return self.unanswered if self.dead is None else float("inf")

    def send(self, task: Any) -> None:
        self.unsent.append(memoryview(_message(task)))
        self.unanswered += 1
        self.flush()

    def flush(self) -> None:
        """Write as much of what is unsent as the pipe takes now."""
        unsent = self.unsent
        while unsent:
            try:
                written = os.write(self.tasks, unsent[0])
            except BlockingIOError:
                return
            except OSError:  # the child is gone: reading its answers says so
                unsent.clear()
                return
            if written == len(unsent[0]):
                unsent.popleft()
            else:
                unsent[0] = unsent[0][written:]

    def read_answer(self) -> None:
        """Read the next answer (it has begun to arrive), or learn that the child is gone."""
        head = self._read(_LENGTH)
        body = self._read(int.from_bytes(head, "little")) if head else None
        if not body:
            self.dead = f"a worker process (pid {self.pid}) ended without finishing its work{_exit_reason(self.pid)}"
            self.unanswered = 0
            return
        self.answers.append(body)
        self.unanswered -= 1

    def _read(self, size: int) -> bytes | None:
        data = bytearray(size)
        view, got = memoryview(data), 0
        while got < size:
            count = self._reader.readinto(view[got:])
            if not count:
                return None
            got += count
        return bytes(data) if size == _LENGTH else data

    def take(self) -> Any:
        """The oldest answer read: the task's result, or its exception raised."""
        ok, value = pickle.loads(self.answers.popleft())
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
        _PARENT_ENDS.difference_update((self.tasks, self.results))
        os.close(self.tasks)
        self._reader.close()
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


_PARENT_ENDS: set[int] = set()  # this process's ends of every live pool's pipes: no child keeps them open


def _fork_all(jobs: int, function, initializer, initargs,
              on_fewer: Callable[[int, OSError], None] | None) -> list[_Worker]:
    """Fork the children. When the system runs out of processes, descriptors or memory after
    some have started, those go on alone (``on_fewer(started, error)`` is told)."""
    import errno

    workers: list[_Worker] = []
    try:
        for _ in range(jobs):
            try:
                _fork_one(workers, function, initializer, initargs)
            except OSError as error:
                if not workers or error.errno not in (errno.EMFILE, errno.ENFILE, errno.EAGAIN, errno.ENOMEM):
                    raise
                if on_fewer is not None:
                    on_fewer(len(workers), error)
                break
    except BaseException:
        for worker in workers:
            worker.close(kill=True)
        raise
    return workers


def _fork_one(workers: list[_Worker], function, initializer, initargs) -> None:
    """Fork a child with its two pipes, and add it to ``workers``. The child closes every pipe
    end this process holds for a pool (its siblings' among them), so that a child sees the end
    of its task pipe once this process closes it. Ctrl-C is held back while forking, and until
    the new worker is in ``workers`` (whoever gets the interrupt then stops them all): a child
    ignores it. Whatever fails, no pipe is left open and no child left running unlisted."""
    import signal

    blocked = hasattr(signal, "pthread_sigmask")
    unowned: list[int] = []  # closed here unless a worker holds them
    if blocked:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        unowned += os.pipe()
        unowned += os.pipe()
        task_read, task_write, result_read, result_write = unowned
        pid = os.fork()
        if pid == 0:  # the child: never returns, whatever happens
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C: it closes the pipes
                for fd in (task_write, result_read, *_PARENT_ENDS):
                    os.close(fd)
                _child(task_read, result_write, function, initializer, initargs)
            finally:
                os._exit(1)
        for fd in (task_read, result_write):  # the child's ends
            unowned.remove(fd)
            os.close(fd)
        workers.append(_Worker(pid, task_write, result_read))
        unowned.clear()
        _widen(task_write)
        _widen(result_read)
    finally:
        for fd in unowned:
            os.close(fd)
        if blocked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _widen(fd: int) -> None:
    """Make a pipe hold what is in flight (Linux: 1 MiB instead of 64 KiB): tasks are written
    as they are sent (a task left unsent waits until this process next waits for an answer,
    and its worker idles meanwhile), and a worker writes its answers without waiting for this
    process to read the ones before."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except (ImportError, AttributeError, OSError):  # not Linux, or a lower limit: smaller pipes still work
        pass


def _child(task_fd: int, result_fd: int, function, initializer, initargs) -> None:
    """A worker's life: answer each task on its pipe until the pipe ends, then exit."""
    status = 0
    try:
        tasks = os.fdopen(task_fd, "rb")
        results = os.fdopen(result_fd, "wb", buffering=0)
        try:
            if initializer is not None:
                initializer(*initargs)
        except BaseException as error:
            _write_all(results, _message((False, _failure(error))))
            raise
        while True:
            head = tasks.read(_LENGTH)
            if len(head) < _LENGTH:
                break
            body = tasks.read(int.from_bytes(head, "little"))
            try:
                data = _message((True, function(pickle.loads(body))))
            except BaseException as error:  # the task's own failure, or a result that does not pickle
                data = _message((False, _failure(error)))
            _write_all(results, data)
    except BaseException:
        status = 1
    finally:
        os._exit(status)  # no atexit handlers, no flushing of what the parent had buffered


def _message(value: Any) -> bytes:
    """``value`` as it goes down a pipe, a task or an answer: its pickle, its length first."""
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(_LENGTH, "little") + data


def _write_all(pipe, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[pipe.write(view):]


def _failure(error: BaseException) -> tuple[BaseException | None, str]:
    """What the parent needs to raise ``error`` itself (when it survives pickling) and show
    where it came from."""
    import traceback

    trace = traceback.format_exc()
    # SystemExit, KeyboardInterrupt or a broken pipe raised again here would pass for this
    # process's own (an exit, Ctrl-C, stdout closed): they travel as a WorkerError
    if not isinstance(error, Exception) or isinstance(error, BrokenPipeError):
        return None, trace
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
