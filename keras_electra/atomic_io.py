"""Writing a file so that its final name never holds a half-written file."""

import os


def atomic_write_text(path, text):
    """Writes `text` (UTF-8) to a temporary name next to `path`, then renames it."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
