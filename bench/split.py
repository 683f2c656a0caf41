"""How long parsing and splitting a 1 MB article takes. Prints figures; asserts nothing.

Run: .venv/bin/python bench/split.py [--megabytes 1] [--repeat 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from content.split import split_article
from content.summary import summarize
from content.text_parser import parse_text

ARABIC_WORDS = (
    "الحكومة أعلنت اليوم خطة جديدة لدعم المزارعين في المناطق الريفية وتوفير المياه".split()
)
ENGLISH_WORDS = "the council voted to fund new routes for buses trams and bicycles".split()


def make_article(megabytes: float, seed: int = 7) -> str:
    """A synthetic article of about `megabytes` UTF-8 megabytes in our ingest shape."""
    rng = random.Random(seed)
    parts = ["Synthetic benchmark article", "Bench Desk", "A short lead sentence."]
    size = sum(len(p.encode()) for p in parts)
    while size < megabytes * 1_000_000:
        if rng.random() < 0.1:
            block = f"Sub-heading {len(parts)}"
        else:
            words = ARABIC_WORDS if rng.random() < 0.5 else ENGLISH_WORDS
            sentences = [
                " ".join(rng.choice(words) for _ in range(rng.randint(6, 25)))
                + rng.choice([".", "!", "؟", "؛", "…"])
                for _ in range(rng.randint(1, 8))
            ]
            block = " ".join(sentences)
        parts.append(block)
        size += len(block.encode()) + 2
    return "\n\n".join(parts)


def main() -> None:
    """Time parse, split and summary of one synthetic article."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--megabytes", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    text = make_article(args.megabytes)
    timings: dict[str, list[float]] = {"parse": [], "split": [], "summary": []}
    sections = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        article = parse_text(text)
        parsed = time.perf_counter()
        sections = split_article(article)
        split = time.perf_counter()
        summarize(article)
        done = time.perf_counter()
        timings["parse"].append(parsed - start)
        timings["split"].append(split - parsed)
        timings["summary"].append(done - split)
    print(f"article: {len(text.encode()) / 1e6:.2f} MB UTF-8, {len(text):,} characters")
    print(f"sections: {len(sections)} at the default target (1200)")
    for name, values in timings.items():
        print(
            f"{name:>8}: median {statistics.median(values) * 1000:8.1f} ms"
            f"   best {min(values) * 1000:8.1f} ms   ({args.repeat} runs)"
        )


if __name__ == "__main__":
    main()
