"""How much CPU time the hypervisor took from this machine during a measurement (/proc/stat's steal).

On a shared VM, a run with steal is slower for reasons outside the code: the same build's ingress
measured 1,003-1,030 req/s with under 0.5% of the time stolen and 572-582 with 5-6%. Each figure
says what it lost.
"""

from __future__ import annotations

from pathlib import Path

UNRELIABLE = 0.02  # above this share of the machine's time, a figure says more about the host than the code


def ticks() -> tuple[int, int]:
    """(steal, total) jiffies of all CPUs so far; (0, 0) where /proc/stat is missing."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0, 0
    values = [int(value) for value in fields[:8]]  # user nice system idle iowait irq softirq steal
    return values[7] if len(values) > 7 else 0, sum(values)


def since(before: tuple[int, int]) -> float:
    """The share of the machine's time stolen since `before`."""
    steal, total = ticks()
    elapsed = total - before[1]
    return (steal - before[0]) / elapsed if elapsed > 0 else 0.0


def describe(share: float) -> str:
    return f"steal {share:.1%}" + (" (host busy: unreliable)" if share > UNRELIABLE else "")
