"""``python -m xgb_container train|serve``: the two SageMaker programs."""

from __future__ import annotations

import sys

USAGE = "usage: python -m xgb_container {train|serve|monitor}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in ("train", "serve", "monitor"):
        print(USAGE, file=sys.stderr)
        return 2
    if args[0] == "train":
        from .training import main as train_main

        return train_main()
    if args[0] == "monitor":
        from .monitor.program import main as monitor_main

        return monitor_main()
    from .serving import main as serve_main

    return serve_main()


if __name__ == "__main__":
    sys.exit(main())
