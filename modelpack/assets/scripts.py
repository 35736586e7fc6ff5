"""Checking a scoring script without running it: it must parse, and define ``init()`` and
``run(raw_data)`` at top level (Azure ML's contract)."""

from __future__ import annotations

import ast
from pathlib import Path

REQUIRED_FUNCTIONS = ("init", "run")


def check_entry_script(path: Path, shown: str | None = None) -> list[str]:
    """Problems with the scoring script at `path` (empty when it is fine). `shown` is how
    to name the script in messages (default: its file name)."""
    name = shown or path.name
    try:
        source = path.read_bytes()
    except OSError as exc:
        return [f"cannot read {name}: {exc.strerror or exc}"]
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        where = f"line {exc.lineno}" if exc.lineno else "unknown line"
        return [f"{name} has a syntax error at {where}: {exc.msg}"]
    except ValueError as exc:  # e.g. null bytes
        return [f"{name} cannot be parsed: {exc}"]

    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            functions[node.name] = node

    problems: list[str] = []
    missing = [f for f in REQUIRED_FUNCTIONS if f not in functions]
    if missing:
        listed = " and ".join(f"{f}()" for f in missing)
        problems.append(f"{name} must define {listed} at top level")
    if "init" in functions and _required_positional(functions["init"]) > 0:
        problems.append(f"{name}: init() must take no arguments")
    if "run" in functions and not _accepts_one_argument(functions["run"]):
        problems.append(f"{name}: run() must accept the request data as one argument")
    return problems


def defines_function(path: Path, name: str) -> bool:
    """Does the script at `path` define `name()` at top level? False when it cannot be read
    or parsed (check_entry_script says why)."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return False
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name
        for node in tree.body
    )


def _required_positional(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    args = node.args
    positional = len(args.posonlyargs) + len(args.args)
    required_kwonly = sum(1 for d in args.kw_defaults if d is None)
    return positional - len(args.defaults) + required_kwonly


def _accepts_one_argument(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    args = node.args
    positional = len(args.posonlyargs) + len(args.args)
    if positional == 0 and args.vararg is None:
        return False
    return _required_positional(node) <= 1
