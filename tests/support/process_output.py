"""A process's output read line by line as it comes, so a test can wait for a line while the
process runs and collect all of it at the end."""

from __future__ import annotations

import subprocess
import threading


class Output:
    """Every line of a process's output, read as it comes; `wait_for` a line holding a text."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process, self.lines = process, []
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()
        with self.changed:
            self.lines.append(None)
            self.changed.notify_all()

    def wait_for(self, text: str, timeout_s: float) -> bool:
        def seen() -> bool:
            return any(line is None or text in line for line in self.lines)

        with self.changed:
            self.changed.wait_for(seen, timeout_s)
            return any(line is not None and text in line for line in self.lines)

    def finish(self, timeout_s: float = 900) -> tuple[int, str]:
        code = self.process.wait(timeout_s)
        self.thread.join(timeout_s)
        return code, "".join(line for line in self.lines if line is not None)
