"""The benchmark's tables: one per server as measured, and the ratio to the floor."""

from __future__ import annotations

from collections.abc import Callable

from .model import SIZES

SERVERS = (
    "this server",
    "gunicorn, empty app",
    "gunicorn, empty app behind nginx",
    "MLServer 1.7.1",
)
HEADER = (
    "| server | rows/request | connections | rows/s | p50 ms | p99 ms | errors | "
    "server CPU ms/request |\n|---|---|---|---|---|---|---|---|"
)


def rows_of(name: str, result: dict) -> list[str]:
    """Markdown rows of one server's sweep."""
    lines = []
    for key, r in result.items():
        rows, conns = map(int, key.split("x"))
        lines.append(
            f"| {name} | {rows} | {conns} | {r['requests_per_s'] * rows:,.0f} | "
            f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} | "
            f"{r['cpu_ms_per_request']:.3f} |"
        )
    return lines


def floor_table(results: dict) -> str:
    """CPU per request at 8 connections against the floor, at 1 and 100 rows."""
    lines = [
        "| rows | this server ms | empty app ms | empty app behind nginx ms | "
        "in-process predict ms | floor ms | ratio to floor | direct predict ms | "
        "ratio to strict floor |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for rows in SIZES:
        key = f"{rows}x8"
        ours = results["this server"][key]["cpu_ms_per_request"]
        empty = results["gunicorn, empty app"][key]["cpu_ms_per_request"]
        behind = results["gunicorn, empty app behind nginx"][key]["cpu_ms_per_request"]
        predict = 1e3 / results["in-process calls/s"][str(rows)]
        direct = 1e3 / results["in-process direct calls/s"][str(rows)]
        floor = empty + predict
        lines.append(
            f"| {rows} | {ours:.3f} | {empty:.3f} | {behind:.3f} | {predict:.3f} | "
            f"{floor:.3f} | {ours / floor:.2f} | {direct:.3f} | {ours / (empty + direct):.2f} |"
        )
    return "\n".join(lines)


def measure(results: dict, name: str, run: Callable[[], dict]) -> None:
    """Run one server's sweep and print its rows at once; a failure is printed, not fatal."""
    try:
        results[name] = run()
    except Exception as exc:  # noqa: BLE001 - the other servers' figures must survive
        results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        print(f"{name}: not measured: {results[name]['error']}", flush=True)
        return
    print("\n".join([HEADER, *rows_of(name, results[name])]) + "\n", flush=True)
