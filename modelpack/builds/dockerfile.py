"""Writing Dockerfile instructions without pasting values into them.

A value from a workspace never becomes Dockerfile text: commands use the exec form (a JSON
list, no shell), and environment values travel as build arguments that an ``ENV`` instruction
takes as they are (Docker substitutes them without reading them again, so quotes, ``$``,
backslashes and line breaks arrive byte for byte). Only names checked by the spec layer
(variable names, container paths) are written into the text.
"""

from __future__ import annotations

import json
import re

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ARG_PREFIX = "MODELPACK_ENV_"


def exec_form(words: list[str]) -> str:
    """``["pip", "install", ...]``: arguments passed as they are, with no shell."""
    return json.dumps(words)


def env_instructions(env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """(instructions, build args) that set `env` in the image: one ``ARG`` and one ``ENV``
    instruction, each value given as the build argument ``MODELPACK_ENV_<its name>``."""
    if not env:
        return [], {}
    names = sorted(env)
    for name in names:
        # The spec layer refuses other names; this is the last line of defence.
        if not _NAME.match(name):
            raise ValueError(f"not an environment variable name: {name!r}")
    args = {f"{ARG_PREFIX}{name}": env[name] for name in names}
    pairs = [f"{name}=${{{ARG_PREFIX}{name}}}" for name in names]
    return ["ARG " + " ".join(args), "ENV " + " ".join(pairs)], args
