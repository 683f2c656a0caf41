"""How long reading a source's bytes takes: UTF-8, UTF-16 with a mark, and a guessed
windows-1256, at 1 and 20 MiB (20 MiB is the largest source ingest reads). Prints figures;
asserts nothing.

Run: .venv/bin/python bench/decode.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import codecs
import statistics
import time
from pathlib import Path

from content.decode import decode_source

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "ar-solar-station.txt"


def payload(text: str, encoding: str, mebibytes: int) -> bytes:
    """About `mebibytes` of the Arabic sample, repeated, in `encoding`."""
    return (text * max(1, mebibytes * 2**20 // len(text.encode(encoding)))).encode(encoding)


def main() -> None:
    """Print the median time of each case."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    text = SAMPLE.read_text()
    print(f"{'source':<28} {'MiB':>5} {'read as':<14} {'median ms':>9}")
    for mebibytes in (1, 20):
        cases = {
            "UTF-8": payload(text, "utf-8", mebibytes),
            "UTF-16 with a mark": codecs.BOM_UTF16_LE + payload(text, "utf-16-le", mebibytes),
            "windows-1256 (guessed)": payload(text, "cp1256", mebibytes),
        }
        for name, data in cases.items():
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                decoded = decode_source(data)
                times.append(time.perf_counter() - started)
            ms = statistics.median(times) * 1000
            print(f"{name:<28} {len(data) / 2**20:>5.1f} {decoded.encoding:<14} {ms:>9.0f}")


if __name__ == "__main__":
    main()
