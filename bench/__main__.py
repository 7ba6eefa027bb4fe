"""Run every benchmark module `bench/bench_*.py` (each exposes `run() -> None`), or the ones
named: `python -m bench escrow`. They need PostgreSQL: DATABASE_URL must point at it (a
scratch database `<name>_bench` is created and dropped)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    wanted = [f"bench_{a}" if not a.startswith("bench_") else a for a in argv] or names
    for name in wanted:
        if name not in names:
            print(f"no benchmark {name}; have {', '.join(names)}")
            return 2
        print(f"== {name}")
        importlib.import_module(f"bench.{name}").run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
