"""`wait_for`: the one polling loop (stack start-up, the demo, the tests, the benchmarks)."""

import time
from collections.abc import Callable


def wait_for(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    interval: float = 0.25,
    ignore: tuple[type[BaseException], ...] = (),
    hint: str = "",
) -> float:
    """Poll `check()` until it is true; return the seconds that took. Exceptions of the `ignore`
    types count as "not yet". After `timeout` seconds raise TimeoutError naming `what` (and `hint`)."""
    started = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - started
        except ignore:
            pass
        if time.monotonic() - started >= timeout:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f} s{hint}")
        time.sleep(interval)
