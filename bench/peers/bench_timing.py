"""The timing policy shared with Hybrid.Bench.Timing: untimed warm-up runs, then repeats until at least
--min-repeats runs add up to --seconds (or --max-repeats runs), summarised by the minimum
(noise only adds time; see Timing.fs)."""

import argparse
import json
import os
import sys
import time


def add_policy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--min-repeats", type=int, default=3)
    parser.add_argument("--max-repeats", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=20240607)


def parse_torch_arguments(parser: argparse.ArgumentParser, torch) -> argparse.Namespace:
    """A PyTorch peer's command line: its own arguments already in parser, then --threads (intra-op threads, default
    all cores) and the timing policy; torch is set to those threads and seeded with --seed."""
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="intra-op threads (default: all cores)")
    add_policy_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    return args


def parse_arguments(description: str, **required) -> argparse.Namespace:
    """The peer's own required arguments, each name=type or name=[type] for one or more values (an underscore in the
    name is a dash in the flag), then the timing policy, parsed from the command line."""
    parser = argparse.ArgumentParser(description=description)
    for name, kind in required.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(kind, list):
            parser.add_argument(flag, type=kind[0], nargs="+", required=True)
        else:
            parser.add_argument(flag, type=kind, required=True)
    add_policy_arguments(parser)
    return parser.parse_args()


def measure(action, args) -> float:
    """Fastest seconds of one call of action under the policy in args."""
    for _ in range(args.warmup):
        action()
    samples = []
    total = 0.0
    while len(samples) < args.max_repeats and (len(samples) < args.min_repeats or total < args.seconds):
        start = time.perf_counter()
        action()
        elapsed = time.perf_counter() - start
        samples.append(elapsed)
        total += elapsed
    return min(samples)


def fail(message: str, code: int = 3) -> None:
    """Reports why the peer cannot run, in the JSON form the benchmark reads, and exits."""
    print(json.dumps({"error": message}))
    sys.exit(code)


def emit(cases) -> None:
    """Prints the timings [(case, seconds)] or [(case, seconds, value)] as the JSON list the benchmark reads; value is
    the peer's numeric result for the case, which the benchmark compares with its own."""
    rows = []
    for case in cases:
        row = {"case": case[0], "seconds": case[1]}
        if len(case) > 2:
            row["value"] = case[2]
        rows.append(row)
    print(json.dumps(rows))
