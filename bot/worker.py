"""What every worker process of the bot does (the text reader, the chart drawer)."""

from __future__ import annotations

import os
import threading
import time


def exit_with_parent(parent: int) -> None:
    """In a worker: exit once the process that started it (``parent``) is gone, so a bot that
    was killed outright leaves no worker behind."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()
