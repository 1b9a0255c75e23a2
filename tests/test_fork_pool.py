"""The forked worker pool batches run on: order, big messages, failures, clean ends."""
from __future__ import annotations

import os
import pickle
import signal
import time

import pytest

from engine import fork_pool

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


@pytest.fixture(autouse=True)
def watchdog():
    """A pool that hangs (a pipe end left open, a deadlock) fails the test instead of the run."""
    def expire(*_):
        raise TimeoutError("the pool hung")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture(autouse=True)
def forked(monkeypatch) -> list[int]:
    """The pids of the workers every pool in the test forked."""
    pids: list[int] = []
    original = fork_pool._fork_all

    def fork_all(*args):
        workers = original(*args)
        pids.extend(w.pid for w in workers)
        return workers

    monkeypatch.setattr(fork_pool, "_fork_all", fork_all)
    return pids


def _all_reaped(pids: list[int]) -> bool:
    """Whether every one of ``pids`` has ended and been waited for (no zombie left behind)."""
    def reaped(pid: int) -> bool:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return True
        return False

    return bool(pids) and all(map(reaped, pids))


def _uneven(task: int) -> tuple[int, int]:
    time.sleep((task * 7 % 5) / 1000)  # later tasks often finish first
    return task, os.getpid()


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_results_come_in_task_order_from_every_worker(jobs, forked):
    results = list(fork_pool.ordered_map(_uneven, range(60), jobs, in_flight=3))
    assert [task for task, _ in results] == list(range(60))
    assert len({pid for _, pid in results}) == jobs
    assert os.getpid() not in {pid for _, pid in results}
    assert _all_reaped(forked)


def _first_is_slow(task: int) -> tuple[int, int, float]:
    if task == 0:
        time.sleep(0.5)
    return task, os.getpid(), time.monotonic()


def test_a_worker_gets_more_tasks_while_another_is_still_on_a_long_one(forked):
    """Answers are read as they come, not only in task order: with one task in flight a
    worker, the other worker goes on through the tasks behind a slow first one."""
    results = list(fork_pool.ordered_map(_first_is_slow, range(12), 2, in_flight=1))
    assert [task for task, _, _ in results] == list(range(12))
    slow_pid, slow_end = results[0][1], results[0][2]
    done_meanwhile = [task for task, pid, end in results[1:] if pid != slow_pid and end < slow_end]
    assert len(done_meanwhile) >= 2  # up to 2 * jobs * in_flight tasks ahead of the slow one
    assert _all_reaped(forked)


def _echo_reversed(task: bytes) -> bytes:
    return task[::-1] * 2


def test_tasks_and_results_larger_than_any_pipe_do_not_deadlock(forked):
    tasks = [bytes([n]) * 3_000_000 + b"end" for n in range(8)]
    results = list(fork_pool.ordered_map(_echo_reversed, iter(tasks), 2, in_flight=3))
    assert results == [t[::-1] * 2 for t in tasks]
    assert _all_reaped(forked)


def test_the_initializer_runs_in_each_child_not_here():
    state = {"ready": False}

    def start(value):
        state["ready"] = value

    results = list(fork_pool.ordered_map(lambda _: state["ready"], range(6), 2, 2, start, ("set",)))
    assert results == ["set"] * 6 and state["ready"] is False


class Refused(Exception):
    pass


def _refuse_five(task: int) -> int:
    if task == 5:
        raise Refused(f"task {task} refused")
    return task


def test_an_exception_in_a_worker_is_raised_here_as_itself_with_the_workers_traceback(forked):
    seen = []
    with pytest.raises(Refused, match="task 5 refused") as caught:
        for result in fork_pool.ordered_map(_refuse_five, range(40), 2, in_flight=2):
            seen.append(result)
    assert seen == [0, 1, 2, 3, 4]
    assert isinstance(caught.value.__cause__, fork_pool.WorkerError)
    assert "_refuse_five" in str(caught.value.__cause__)
    assert _all_reaped(forked)


class Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("no")


def _unpicklable(task):
    raise Unpicklable("cannot travel")


def test_an_exception_that_cannot_be_pickled_arrives_as_its_traceback(forked):
    with pytest.raises(fork_pool.WorkerError, match="Unpicklable: cannot travel"):
        list(fork_pool.ordered_map(_unpicklable, range(3), 2, in_flight=1))
    assert _all_reaped(forked)


def _die_at_three(task: int) -> int:
    if task == 3:
        os._exit(7)
    return task


def test_a_worker_that_dies_ends_the_map_with_an_error_naming_its_exit(forked):
    with pytest.raises(fork_pool.WorkerLost, match=r"ended without finishing its work \(exit status 7\)"):
        list(fork_pool.ordered_map(_die_at_three, range(10), 2, in_flight=1))
    assert _all_reaped(forked)


def test_a_failing_initializer_is_raised_here(forked):
    def start():
        raise Refused("cannot start")

    with pytest.raises(Refused, match="cannot start"):
        list(fork_pool.ordered_map(abs, range(4), 2, 1, start))
    assert _all_reaped(forked)


def test_leaving_early_stops_and_reaps_every_worker(forked):
    results = fork_pool.ordered_map(_uneven, range(1_000), 2, in_flight=3)
    assert next(results)[0] == 0
    results.close()
    assert _all_reaped(forked)


def _lambda_result(task: int):
    return lambda: task  # a local function: it cannot be pickled


def test_a_result_that_cannot_be_pickled_is_reported_as_the_pickling_error(forked):
    with pytest.raises((AttributeError, pickle.PicklingError), match="pickle") as caught:
        list(fork_pool.ordered_map(_lambda_result, range(3), 2, in_flight=1))
    assert "_message" in str(caught.value.__cause__)  # not a lost worker: the worker said why
    assert _all_reaped(forked)


def _failing_tasks(count: int):
    yield from range(count)
    raise OSError("the input could not be read further")


def test_a_task_list_that_fails_is_raised_in_its_turn_after_every_result_before_it(forked):
    seen = []
    with pytest.raises(OSError, match="could not be read further"):
        for result in fork_pool.ordered_map(abs, _failing_tasks(10), 2, in_flight=2):
            seen.append(result)
    assert seen == list(range(10))
    assert _all_reaped(forked)


def _exits(task: int):
    raise SystemExit(4)


def test_an_exit_in_a_worker_is_not_taken_for_this_process_s_own(forked):
    with pytest.raises(fork_pool.WorkerError, match="SystemExit: 4"):
        list(fork_pool.ordered_map(_exits, range(3), 2, in_flight=1))
    assert _all_reaped(forked)


def test_two_pools_alive_at_once_end_each_on_its_own(forked):
    """The second pool's workers do not hold the first pool's pipes open."""
    first = fork_pool.ordered_map(abs, range(-4, 0), 1, 1)
    assert next(first) == 4
    second = fork_pool.ordered_map(abs, range(-3, 0), 1, 1)
    assert next(second) == 3
    assert list(first) == [3, 2, 1] and list(second) == [2, 1]
    assert _all_reaped(forked)


def test_pipes_numbered_past_1024_are_waited_on(forked):
    """A process with many files open: its pools' descriptors are past select()'s limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip("this machine allows fewer than 1200 open files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        assert list(fork_pool.ordered_map(_uneven, range(20), 2, in_flight=2))[-1][0] == 19
        assert min(forked) > 0
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert _all_reaped(forked)


@pytest.mark.parametrize(("jobs", "in_flight"), [(0, 1), (2, 0)])
def test_no_workers_or_no_tasks_in_flight_is_refused(jobs, in_flight):
    with pytest.raises(ValueError, match="at least 1"):
        list(fork_pool.ordered_map(abs, range(3), jobs, in_flight))


def _failing_fork(monkeypatch, failing_call: int) -> list[int]:
    """os.fork failing as when the system has no process to spare, at its ``failing_call``-th call."""
    real_fork, calls, pids = os.fork, [], []

    def fork():
        calls.append(1)
        if len(calls) == failing_call:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        pid = real_fork()
        pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    return pids


def _open_fds() -> int | None:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None


def test_no_worker_at_all_is_an_error_and_leaves_no_pipe_open(forked, monkeypatch):
    before = _open_fds()
    _failing_fork(monkeypatch, 1)
    with pytest.raises(BlockingIOError):
        list(fork_pool.ordered_map(abs, range(3), 2, in_flight=1))
    assert _open_fds() == before and not fork_pool._PARENT_ENDS


def test_fewer_workers_than_asked_go_on_alone_and_say_so(forked, monkeypatch):
    before = _open_fds()
    pids = _failing_fork(monkeypatch, 2)
    told = []
    results = list(fork_pool.ordered_map(_uneven, range(12), 3, 2, on_fewer=lambda *said: told.append(said)))
    assert [task for task, _ in results] == list(range(12)) and {pid for _, pid in results} == set(pids)
    assert [(started, error.errno) for started, error in told] == [(1, 11)]
    assert _open_fds() == before and _all_reaped(pids)


def test_a_batch_says_when_fewer_workers_could_start(cli, tmp_path, monkeypatch):
    from engine import batch
    from tests.conftest import MINI_KB

    monkeypatch.setattr(batch, "CHUNK", 4)
    path = tmp_path / "partners.jsonl"
    path.write_text("".join(f'{{"kind": "partner", "id": "e{i}", "name": "E {i}", "facts": {{}}}}\n'
                            for i in range(20)))
    one = cli("evaluate", path, "--kb", MINI_KB, "--format", "csv", "--jobs", "1")
    _failing_fork(monkeypatch, 2)
    fewer = cli("evaluate", path, "--kb", MINI_KB, "--format", "csv", "--jobs", "3")
    assert (fewer.status, fewer.out) == (0, one.out)
    assert fewer.err == ("badges: 1 of 3 worker processes could start (Resource temporarily unavailable); "
                         "going on with 1\n")


def test_a_process_running_other_threads_does_not_fork(monkeypatch):
    import threading

    assert fork_pool.available()
    monkeypatch.setattr(threading, "active_count", lambda: 2)
    assert not fork_pool.available()


def test_ctrl_c_while_a_worker_is_forked_stops_that_worker_too(monkeypatch):
    """An interrupt held back during the fork arrives once the new worker is listed: every
    worker, the new one too, is stopped and reaped, and no pipe end stays registered."""
    real_fork, pids = os.fork, []

    def fork():
        pid = real_fork()
        if pid:  # the parent: Ctrl-C arrives while SIGINT is held back
            pids.append(pid)
            os.kill(os.getpid(), signal.SIGINT)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    with pytest.raises(KeyboardInterrupt):
        list(fork_pool.ordered_map(abs, range(4), 2, 1))
    assert len(pids) == 1 and _all_reaped(pids) and not fork_pool._PARENT_ENDS
