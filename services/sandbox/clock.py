"""Wall-clock time with an offset that tests (and the admin API) can move forward."""

import time


class Clock:
    def __init__(self) -> None:
        self.offset_s = 0.0

    def now(self) -> float:
        return time.time() + self.offset_s

    def advance(self, seconds: float) -> None:
        self.offset_s += seconds

    def reset(self) -> None:
        self.offset_s = 0.0
