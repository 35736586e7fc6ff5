"""Reading a scoring script without running it (modelpack/assets/scripts.py)."""

from __future__ import annotations

from pathlib import Path

from modelpack.assets.scripts import defines_function


def test_defines_function_looks_at_top_level_functions_only(tmp_path: Path) -> None:
    script = tmp_path / "score.py"
    script.write_text(
        "def init():\n    pass\n\n"
        "async def run_batch(list_of_raw_data):\n    return []\n\n"
        "class Model:\n    def run(self, raw_data):\n        return raw_data\n"
    )
    assert defines_function(script, "run_batch")
    assert defines_function(script, "init")
    assert not defines_function(script, "run")  # a method is not the script's run()


def test_a_script_that_cannot_be_read_defines_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("def run_batch(:\n")
    assert not defines_function(broken, "run_batch")
    assert not defines_function(tmp_path / "missing.py", "run_batch")
