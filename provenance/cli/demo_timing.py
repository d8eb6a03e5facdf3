"""Where the demo's time goes: each phase is timed and the breakdown is printed at the end, so a slow first
run (training) and a fast second run (reuse) explain themselves."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from provenance.cli.output import stderr


class PhaseTimer:
    """Wall-clock and CPU seconds per named phase, in the order they ran (a phase may say it reused its
    result). CPU seconds are this process's (all its threads), so on a machine shared with other jobs they
    still say how much work a phase did; the scan's worker is a separate process and is not in them."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.phases: list[tuple[str, float, float, str]] = []

    @contextmanager
    def phase(self, name: str) -> Iterator[dict[str, str]]:
        """``with timer.phase("scan") as note: ...; note["how"] = "reused"`` records the phase's duration."""
        note: dict[str, str] = {"how": ""}
        began, began_cpu = time.perf_counter(), time.process_time()
        try:
            yield note
        finally:
            self.phases.append((name, time.perf_counter() - began, time.process_time() - began_cpu, note["how"]))

    def report(self, startup_s: float | None = None) -> None:
        total = time.perf_counter() - self.started
        stderr.rule("[bold]where the time went (wall seconds; CPU seconds of this process)")
        if startup_s is not None:
            stderr.print(f"  {'start-up (imports)':<28} {startup_s:7.1f}s", highlight=False)
        for name, seconds, cpu, how in self.phases:
            stderr.print(f"  {name:<28} {seconds:7.1f}s  cpu {cpu:7.1f}s  {how}", highlight=False)
        stderr.print(f"  {'total (this command)':<28} {total + (startup_s or 0.0):7.1f}s  "
                     f"cpu {time.process_time():7.1f}s (scan worker not included)", highlight=False)


def process_age_s() -> float | None:
    """Seconds since this process started (Linux ``/proc``), i.e. the imports before the command ran; None
    elsewhere."""
    import os

    try:
        fields = Path("/proc/self/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        started_ticks = int(fields[19])  # field 22 of stat(5): start time in clock ticks after boot
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None
