"""Reading task files line by line, with errors that name the file and line.

`tf.io.gfile`, so `gs://` data directories work as in the original code.
"""

import tensorflow as tf


def open_text(path):
    """A `tf.io.gfile.GFile` for reading; a missing file is a one-line `ValueError`."""
    if not tf.io.gfile.exists(str(path)):
        raise ValueError(f"{path}: file not found.")
    return tf.io.gfile.GFile(str(path), "r")


def read_lines(path):
    """Yields `(line_number, line)` (1-based; the newline and a UTF-8 BOM removed).

    Lines end at `\\n` only (a stray `\\r` before it is dropped too), so text
    holding other Unicode line breaks stays on its line.

    Example:

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.tsv"
    >>> _ = path.write_bytes(b"\\xef\\xbb\\xbfsentence\\tlabel\\r\\nhi\\t1")
    >>> list(read_lines(path))
    [(1, 'sentence\\tlabel'), (2, 'hi\\t1')]
    """
    with open_text(path) as f:
        line_number = 0
        try:
            for line_number, line in enumerate(f, start=1):
                if line_number == 1:
                    # MRPC's GLUE files start with a UTF-8 byte-order mark.
                    line = line.removeprefix("\ufeff")
                yield line_number, line.rstrip("\n").rstrip("\r")
        except UnicodeDecodeError as e:
            raise ValueError(
                f"{path}:{line_number + 1}: not valid UTF-8 ({e.reason}).") from None
