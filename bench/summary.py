"""The whole set of performance figures at a size that runs in about five minutes on two cores,
as one table: each figure, its goal and the ratio of the two (≥ 1.0 means the goal is met).

Each bench runs in its own process, so its peak resident memory is its own:
- fan-out: bench/fanout.py, the best newsbot broadcast row of each database against the fastest
  bare send loop of the same run (goal: at least 1.0x the bare loop);
- Read more: bench/read_more.py, p99 of one press at a time (goal: at most 10 ms);
- a broadcast to 200,000 readers (bench/broadcast_scale.py): its fan-out time, sends/s against
  an answer-at-once Telegram, and the peak resident set of the bot's process (goal: at most
  200 MB; the fan-out bench's process also holds every library it compares, so it is not used);
- peak RSS: the largest resident set of the other bench processes (goal: at most 200 MB);
- publish → first send: bench/first_send.py, `newsbot publish` run as a process beside a
  running `newsbot run`; the time to the first send the fake Bot API serves, from the publish's
  commit (the bot's own share) and from the command's start (what an editor waits, the
  command's own start-up included); max of the publishes against the goal (at most 1 s).

Run: .venv/bin/python bench/summary.py
     [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test] [--scale 1.0]
Needs the bench extra for the fan-out rows (pip install -e '.[bench]'); without it they are
left out and say so.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
_P99 = re.compile(r"p99 ([0-9.]+) ms")
_SCALE = re.compile(
    r"^broadcast scale, (?P<kind>\w+), (?P<chats>[0-9,]+) chats: fan-out (?P<fan_out>[0-9.]+) s; "
    r".*sends (?P<sends>[0-9,]+)/s; peak RSS (?P<peak>[0-9.]+) MB",
    re.MULTILINE,
)
_FIRST_SEND = re.compile(
    r"^first send, (?P<kind>\w+), .*from publish start p50 (?P<start_p50>-?[0-9]+) ms "
    r"max (?P<start_max>-?[0-9]+) ms; from its commit p50 (?P<commit_p50>-?[0-9]+) ms "
    r"max (?P<commit_max>-?[0-9]+) ms"
)
_ROW = re.compile(
    r"^(?P<name>.+?)\s+(?P<messages>[0-9,]+)\s+(?P<seconds>[0-9.]+)\s+(?P<rate>[0-9,]+)$"
)


@dataclass
class Figure:
    """One line of the table; `ratio` is None when the figure could not be measured."""

    name: str
    measured: str
    goal: str
    ratio: float | None


@dataclass
class Ran:
    """What a bench process printed, and its peak resident set in MB."""

    stdout: str
    peak_mb: float
    ok: bool


def run(script: str, *args: str) -> Ran:
    """Run one bench in its own process; its output and its own peak resident set."""
    command = [sys.executable, str(BENCH / script), *args]
    print(f"running: {' '.join(command[1:])}", file=sys.stderr, flush=True)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    stdout = process.stdout.read()
    # wait4 (not Popen.wait) hands back this child's own resource usage.
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    sys.stderr.write(stdout)
    # ru_maxrss is in kilobytes on Linux.
    return Ran(stdout, usage.ru_maxrss / 1024, process.returncode == 0)


def backend(url: str) -> str:
    """sqlite or postgresql, from a SQLAlchemy URL."""
    return url.split(":", 1)[0].split("+", 1)[0]


def fanout(urls: list[str], messages: int) -> list[Figure]:
    """The newsbot broadcast rate of each database against the fastest bare loop."""
    if importlib.util.find_spec("aiogram") is None:
        missing = Figure(
            "fan-out vs bare loop", "not run (pip install -e '.[bench]')", "≥ 1.0x", None
        )
        return [missing]
    args = ["--messages", str(messages)]
    for url in urls:
        args += ["--database-url", url]
    ran = run("fanout.py", *args)
    rates: dict[str, float] = {}
    for line in ran.stdout.splitlines():
        match = _ROW.match(line.strip())
        if match:
            rates[match["name"]] = float(match["rate"].replace(",", ""))
    bare = max((rate for name, rate in rates.items() if not name.startswith("newsbot")), default=0)
    figures = []
    for url in urls:
        kind = backend(url)
        ours = max(
            (
                rate
                for name, rate in rates.items()
                if name.startswith(f"newsbot broadcast, {kind},")
            ),
            default=0.0,
        )
        ratio = ours / bare if bare and ours else None
        measured = f"{ours:,.0f} vs {bare:,.0f} msg/s" + (f" = {ratio:.2f}x" if ratio else "")
        figures.append(Figure(f"fan-out vs bare loop, {kind}", measured, "≥ 1.0x", ratio))
    return figures


def broadcast_scale(urls: list[str], chats: int, deliver: int) -> list[Figure]:
    """A large broadcast's fan-out time and its process's peak RSS, on each database."""
    args = ["--chats", str(chats), "--deliver", str(deliver)]
    for url in urls:
        args += ["--database-url", url]
    ran = run("broadcast_scale.py", *args)
    figures = []
    for match in _SCALE.finditer(ran.stdout):
        name = f"{match['kind']}, {match['chats']} chats"
        fan_out = float(match["fan_out"])
        peak = float(match["peak"])
        figures.append(
            Figure(
                f"broadcast, {name}: fan-out, sends",
                f"{fan_out:.1f} s, {match['sends']} sends/s",
                "-",
                None,
            )
        )
        figures.append(
            Figure(f"peak RSS, broadcast, {name}", f"{peak:.0f} MB", "≤ 200 MB", 200 / peak)
        )
    if not figures:
        figures.append(Figure("broadcast scale", "did not run (see above)", "≤ 200 MB", None))
    return figures


def read_more(
    urls: list[str], articles: int, chats: int, presses: int
) -> tuple[list[Figure], float]:
    """p99 of a Read more press, one at a time, on each database."""
    figures = []
    peak = 0.0
    for url in urls:
        ran = run(
            "read_more.py",
            *("--articles", str(articles), "--chats", str(chats), "--presses", str(presses)),
            *("--database-url", url),
        )
        peak = max(peak, ran.peak_mb)
        match = _P99.search(ran.stdout)
        name = f"Read more p99 ({chats:,} chats, {articles:,} articles), {backend(url)}"
        if match is None:
            figures.append(Figure(name, "failed", "≤ 10 ms", None))
            continue
        p99 = float(match[1])
        figures.append(Figure(name, f"{p99:.1f} ms", "≤ 10 ms", 10.0 / p99))
    return figures, peak


def first_send(urls: list[str], publishes: int) -> tuple[list[Figure], float]:
    """Publish → first send on each database, from the publish's commit and from its start."""
    if importlib.util.find_spec("aiogram") is None:  # it reuses the fan-out bench's parts
        missing = Figure(
            "publish → first send", "not run (pip install -e '.[bench]')", "≤ 1 s", None
        )
        return [missing]
    args = ["--publishes", str(publishes)]
    for url in urls:
        args += ["--database-url", url]
    ran = run("first_send.py", *args)
    figures = []
    for line in ran.stdout.splitlines():
        match = _FIRST_SEND.match(line.strip())
        if match is None:
            continue
        for since in ("commit", "start"):
            p50, peak = int(match[f"{since}_p50"]), int(match[f"{since}_max"])
            figures.append(
                Figure(
                    f"publish → first send, from the publish's {since}, {match['kind']}",
                    f"p50 {p50} ms, max {peak} ms",
                    "≤ 1 s",
                    1000 / peak if peak > 0 else None,
                )
            )
    if not figures:
        figures.append(Figure("publish → first send", "failed", "≤ 1 s", None))
    return figures, ran.peak_mb


def print_table(figures: list[Figure]) -> None:
    """Figure, measured, goal, ratio (goal over measured for times, so ≥ 1.0 is met)."""
    width = max(len(f.name) for f in figures)
    measured = max(len(f.measured) for f in figures)
    print(f"| {'figure':<{width}} | {'measured':<{measured}} | {'goal':<8} | ratio |")
    print(f"|{'-' * (width + 2)}|{'-' * (measured + 2)}|{'-' * 10}|-------|")
    for f in figures:
        ratio = f"{f.ratio:.2f}" if f.ratio is not None else "-"
        print(f"| {f.name:<{width}} | {f.measured:<{measured}} | {f.goal:<8} | {ratio:>5} |")


def main() -> None:
    """Run the set and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", action="append", default=[])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every size")
    args = parser.parse_args()
    scale = args.scale
    with tempfile.TemporaryDirectory() as folder:
        # Each bench gets a SQLite file of its own; PostgreSQL ones start from an empty schema.
        sqlite = f"sqlite+aiosqlite:///{Path(folder)}"
        figures = fanout([f"{sqlite}/fanout.db", *args.database_url], int(5000 * scale))
        scale_figures = broadcast_scale(
            [f"{sqlite}/scale.db", *args.database_url], int(200_000 * scale), int(20_000 * scale)
        )
        reads, reads_peak = read_more(
            [f"{sqlite}/read_more.db", *args.database_url],
            int(20_000 * scale),
            int(200_000 * scale),
            int(3000 * scale),
        )
        sends, sends_peak = first_send(
            [f"{sqlite}/first_send.db", *args.database_url], max(5, int(20 * scale))
        )
    figures += reads
    figures += sends
    figures += scale_figures
    for name, peak in (
        ("peak RSS, Read more bench", reads_peak),
        ("peak RSS, first-send bench (with newsbot run and its fake API)", sends_peak),
    ):
        if peak:
            figures.append(Figure(name, f"{peak:.0f} MB", "≤ 200 MB", 200 / peak))
    print_table(figures)
    print(f"\n{os.cpu_count()} cores; every figure is one run: run it twice before trusting it.")


if __name__ == "__main__":
    main()
