"""Throughput of ``tessetrack synth`` (frames × views per second) at 256² and 512².

Usage: python benchmarks/synth_throughput.py [--frames 40] [--people 4]
Prints a table and the extrapolated time of 1000 frames × 5 views.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tessetrack.synth.generate import SynthConfig, generate_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--people", type=int, default=4)
    args = parser.parse_args()
    print(
        f"{'size':>6} {'frames':>6} {'views':>5} {'seconds':>8} {'views/s':>8} {'1000x5 (s)':>10}"
    )
    for size in (256, 512):
        cfg = SynthConfig(
            num_cameras=5, num_people=args.people, num_frames=args.frames, image_size=(size, size)
        )
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            generate_dataset(Path(tmp) / "bench", cfg)
            seconds = time.perf_counter() - start
        rate = args.frames * 5 / seconds
        print(
            f"{size:>6} {args.frames:>6} {5:>5} {seconds:>8.2f} {rate:>8.1f} {5000 / rate:>10.0f}"
        )


if __name__ == "__main__":
    main()
