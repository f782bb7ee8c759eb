"""Grad mode is per thread: `no_grad` in one thread does not stop another from recording, and threads
entering and leaving it in any order leave every thread as it was. Real threads, bounded by timeouts."""
from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

import tinygrad_lite as tl
from tinygrad_lite import grad_mode

TIMEOUT = 10.0


def _run(*targets: Callable[[], None]) -> None:
    errors: list[BaseException] = []

    def guarded(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                errors.append(exc)
        return run

    threads = [threading.Thread(target=guarded(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive(), "a thread did not finish"
    if errors:
        raise errors[0]


def test_backward_in_one_thread_while_another_is_inside_no_grad() -> None:
    inside, done = threading.Event(), threading.Event()

    def idle_in_no_grad() -> None:
        with tl.no_grad():
            inside.set()
            assert done.wait(TIMEOUT)
            assert not tl.is_grad_enabled()
            assert not (tl.Tensor([1.0], requires_grad=True) * 2).requires_grad

    def train() -> None:
        assert inside.wait(TIMEOUT)
        try:
            w = tl.Tensor([1.0, 2.0], requires_grad=True)
            (w * w).sum().backward()
            assert w.grad.tolist() == [2.0, 4.0]
            assert tl.is_grad_enabled()
        finally:
            done.set()

    _run(idle_in_no_grad, train)
    assert tl.is_grad_enabled()


def test_out_of_order_enter_and_exit_leave_grad_enabled() -> None:
    """A enters, B enters, A leaves, B leaves: with one process-wide flag, B restored A's False."""
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a() -> None:
        with tl.no_grad():
            a_in.set()
            assert b_in.wait(TIMEOUT)
        a_out.set()

    def b() -> None:
        assert a_in.wait(TIMEOUT)
        with tl.no_grad():
            b_in.set()
            assert a_out.wait(TIMEOUT)

    _run(a, b)
    assert tl.is_grad_enabled()
    assert (tl.Tensor([1.0], requires_grad=True) * 2).requires_grad
    assert grad_mode.fast.enabled is True  # the per-op fast path is back to a plain bool


def test_one_no_grad_object_shared_by_threads() -> None:
    shared = tl.no_grad()
    barrier = threading.Barrier(4)

    def worker() -> None:
        for _ in range(50):
            with shared:
                barrier.wait(TIMEOUT)
                assert not tl.is_grad_enabled()
            assert tl.is_grad_enabled()

    _run(*[worker] * 4)
    assert tl.is_grad_enabled()


def test_decorated_function_and_anomaly_mode_are_per_thread() -> None:
    inside, done = threading.Event(), threading.Event()

    @tl.no_grad()
    def in_no_grad() -> None:
        with tl.detect_anomaly():
            inside.set()
            assert done.wait(TIMEOUT)

    def other() -> None:
        assert inside.wait(TIMEOUT)
        try:
            assert not grad_mode.state.detect_anomaly and tl.is_grad_enabled()
            assert np.isinf(tl.Tensor([0.0]).log().data).all()  # no AnomalyError here
        finally:
            done.set()

    _run(in_no_grad, other)
    assert not grad_mode.state.detect_anomaly and tl.is_grad_enabled()


def test_many_threads_switching_concurrently() -> None:
    def worker(seed: int) -> Callable[[], None]:
        def run() -> None:
            rng = np.random.default_rng(seed)
            for _ in range(200):
                if rng.random() < 0.5:
                    with tl.no_grad():
                        assert not (tl.Tensor([1.0], requires_grad=True) + 1).requires_grad
                else:
                    assert (tl.Tensor([1.0], requires_grad=True) + 1).requires_grad
        return run

    _run(*[worker(i) for i in range(4)])
    assert grad_mode.fast.enabled is True and tl.is_grad_enabled()


def test_a_thread_that_ends_inside_no_grad_releases_the_fast_path() -> None:
    """A generator suspended inside no_grad, dropped only after its thread ended: the switch's exit then
    runs elsewhere, but the finished thread's settings leave the count, so per-op reads go back to plain
    bools for everyone."""
    kept: list[object] = []

    def suspended() -> object:
        with tl.no_grad():
            yield

    def worker() -> None:
        gen = suspended()
        next(gen)  # now inside no_grad in this thread
        assert not tl.is_grad_enabled()
        kept.append(gen)

    _run(worker)
    assert tl.is_grad_enabled()  # the main thread never switched
    kept.clear()  # the generator's exit runs here, in the main thread, and must not disturb it
    assert tl.is_grad_enabled()
    assert grad_mode.fast.enabled is True
    assert (tl.Tensor([1.0], requires_grad=True) * 2).requires_grad
