"""Where the fields of one GLUE TSV file are."""

import dataclasses
from typing import Optional, Tuple


@dataclasses.dataclass(frozen=True)
class TsvLayout:
    """Columns (0-based, negative counts from the end) of a tab-separated task file.

    Args:
        header: the first line is a header, not data.
        num_columns: the accepted column counts of a data row (MNLI's train
            and dev files differ in width, so more than one may be allowed).
        text_a: column of the first sentence.
        text_b: column of the second sentence, None for single-sentence tasks.
        label: column of the label, None where the file has none (test).

    Example:

    >>> TsvLayout(header=True, num_columns=(2,), text_a=0, label=1).text_b is None
    True
    """

    header: bool
    num_columns: Tuple[int, ...]
    text_a: int
    text_b: Optional[int] = None
    label: Optional[int] = None
