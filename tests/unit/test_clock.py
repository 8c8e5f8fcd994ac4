"""The simulated clock: virtual time moves only when the cloud is quiescent."""

from __future__ import annotations

import threading

import pytest

from testbed.clock import ClockError, SimClock


@pytest.fixture
def clock() -> SimClock:
    c = SimClock(start=1000.0)
    yield c
    c.close()


def test_sleep_in_auto_mode_is_instant_but_moves_virtual_time(clock: SimClock) -> None:
    done = []

    def work() -> None:
        clock.sleep(40)
        done.append(clock.now())

    clock.hold()
    clock.submit_held(work)
    clock.settle(timeout=5)
    assert done == [1040.0]
    assert clock.now() == 1040.0


def test_background_timers_do_not_pull_time_forward(clock: SimClock) -> None:
    fired = []
    clock.every(10, lambda: fired.append(clock.now()))
    clock.settle(timeout=5)
    assert fired == [] and clock.now() == 1000.0
    clock.advance(35)
    assert fired == [1010.0, 1020.0, 1030.0]
    assert clock.now() == 1035.0


def test_background_timers_fire_at_their_time_during_long_work(clock: SimClock) -> None:
    seen = []
    clock.every(10, lambda: seen.append(("tick", clock.now())))

    def work() -> None:
        clock.sleep(25)
        seen.append(("done", clock.now()))

    clock.hold()
    clock.submit_held(work)
    clock.settle(timeout=5)
    assert seen == [("tick", 1010.0), ("tick", 1020.0), ("done", 1025.0)]


def test_manual_mode_holds_time_until_advanced(clock: SimClock) -> None:
    clock.set_mode("manual")
    progress = []

    def work() -> None:
        for _ in range(4):
            clock.sleep(10)
            progress.append(clock.now())

    clock.hold()
    clock.submit_held(work)
    clock.settle(timeout=5)
    assert progress == []
    clock.advance(20)
    assert progress == [1010.0, 1020.0]
    clock.set_mode("auto")
    clock.settle(timeout=5)
    assert progress == [1010.0, 1020.0, 1030.0, 1040.0]


def test_signal_hands_over_without_a_gap(clock: SimClock) -> None:
    sig = clock.signal()
    order = []

    def waiter() -> None:
        got = sig.wait(timeout=60)
        order.append(("waiter", got, clock.now()))

    def setter() -> None:
        clock.sleep(5)
        sig.set()
        order.append(("setter", clock.now()))

    clock.hold()
    clock.submit_held(waiter)
    clock.hold()
    clock.submit_held(setter)
    clock.settle(timeout=5)
    assert sorted(order) == [("setter", 1005.0), ("waiter", True, 1005.0)]


def test_signal_wait_times_out_on_virtual_time(clock: SimClock) -> None:
    sig = clock.signal()
    result = []

    def waiter() -> None:
        result.append((sig.wait(timeout=60), clock.now()))

    clock.hold()
    clock.submit_held(waiter)
    clock.settle(timeout=5)
    assert result == [(False, 1060.0)]


def test_cancelled_timer_never_fires(clock: SimClock) -> None:
    fired = []
    t = clock.call_later(5, lambda: fired.append(1), background=True)
    t.cancel()
    clock.advance(10)
    assert fired == []


def test_settle_from_inside_the_cloud_is_refused(clock: SimClock) -> None:
    errors = []

    def work() -> None:
        try:
            clock.settle(timeout=1)
        except ClockError as exc:
            errors.append(str(exc))

    clock.hold()
    clock.submit_held(work)
    clock.settle(timeout=5)
    assert errors and "deadlock" in errors[0]


def test_settle_times_out_with_a_clear_error(clock: SimClock) -> None:
    clock.hold()
    with pytest.raises(ClockError, match="did not settle"):
        clock.settle(timeout=0.05)
    clock.release()


def test_time_cannot_go_backwards(clock: SimClock) -> None:
    with pytest.raises(ClockError):
        clock.advance(-1)


def test_many_concurrent_sleepers_each_wake_at_their_deadline(clock: SimClock) -> None:
    woke: dict[int, float] = {}
    lock = threading.Lock()

    def sleeper(i: int) -> None:
        clock.sleep(i)
        with lock:
            woke[i] = clock.now()

    for i in range(1, 51):
        clock.hold()
        clock.submit_held(lambda i=i: sleeper(i))
    clock.settle(timeout=10)
    assert woke == {i: 1000.0 + i for i in range(1, 51)}


def test_a_busy_thread_can_settle_after_giving_its_units_back(clock: SimClock) -> None:
    done = []

    def other() -> None:
        clock.sleep(3)
        done.append(clock.now())

    with clock.activity():
        clock.hold()
        clock.submit_held(other)
        with clock.released():
            clock.settle(timeout=5)
        assert done == [1003.0]
    assert clock.busy() == 0
