"""``python -m bench run|check|profile|bomb|compression|engine|concurrency``."""

from __future__ import annotations

import sys


def main() -> int:
    args = sys.argv[1:]
    command = args[0] if args else "run"
    if command == "run":
        from bench.run import main as run

        return run(args[1:])
    if command == "check":
        from bench.check import main as check

        return check(args[1:])
    if command == "bomb":
        from bench.fragment_bomb import main as bomb

        return bomb(args[1:])
    if command == "compression":
        from bench.compression import main as compression

        return compression(args[1:])
    if command == "concurrency":
        from bench.concurrency import main as concurrency

        return concurrency(args[1:])
    if command == "engine":
        from bench.engine import main as engine

        return engine(args[1:])
    if command == "profile":
        from bench.profile import main as profile

        return profile(args[1:])
    print(
        "usage: python -m bench run|check|profile|bomb|compression|engine|concurrency [options]",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
