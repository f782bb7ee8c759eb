"""Run one engine's step of one workload in a loop, for a profiler to watch.

    py-spy record -r 500 -f raw -o w1.txt -- python benchmarks/profile_cell.py W1 tinygrad_lite --seconds 10
    python benchmarks/profile_cell.py W5 tinygrad_lite --seconds 5 --cprofile   # no py-spy needed

With -f raw, `python benchmarks/profile_cell.py --summarize w1.txt` prints the functions with the
most samples on top of the stack (self) and anywhere in it (total), counting only samples taken
inside a step (not start-up).
"""
from __future__ import annotations

import argparse
import collections
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engines  # noqa: E402
import workloads  # noqa: E402


def summarize(path: Path, top: int) -> None:
    """Self and total sample counts per function from py-spy's raw (collapsed-stack) output."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = [f.split(" (")[0] + " " + f.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1] for f in stack.split(";")]
        if not any(f.split(" ")[0].endswith("step") for f in frames):  # start-up and imports
            continue
        n = int(count)
        samples += n
        own[frames[-1]] += n
        for f in set(frames):
            total[f] += n
    print(f"{samples} samples inside step()\n\nself %  function")
    for name, n in own.most_common(top):
        print(f"{100 * n / samples:6.1f}  {name}")
    print("\ntotal %  function")
    for name, n in total.most_common(top + 10):
        print(f"{100 * n / samples:6.1f}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", nargs="?")
    parser.add_argument("engine", nargs="?", default="tinygrad_lite")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="the workload's --quick size")
    parser.add_argument("--cprofile", action="store_true", help="profile with cProfile and print the top 25")
    parser.add_argument("--summarize", type=Path, help="summarize a py-spy raw file instead of running")
    args = parser.parse_args()
    if args.summarize:
        summarize(args.summarize, 25)
        return
    if args.workload is None:
        parser.error("give a workload (W1..W5)")
    meta = workloads.load(args.workload.upper())
    variant = meta.variants(args.quick)[0]
    prob = meta.problem(variant)
    floors = meta.floors(prob, variant)
    if args.engine in floors:
        runner = floors[args.engine]()
    else:
        module, eng = engines.load(args.engine)
        runner = module.build(prob, eng.variant)
    runner.step()
    profiler = cProfile.Profile() if args.cprofile else None
    if profiler:
        profiler.enable()
    steps, end = 0, time.perf_counter() + args.seconds
    while time.perf_counter() < end:
        runner.step()
        steps += 1
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    print(f"{steps} steps of {variant['name']} on {args.engine}", file=sys.stderr)


if __name__ == "__main__":
    main()
