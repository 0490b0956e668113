"""One sentence or sentence-pair example of a GLUE-style task."""

import dataclasses
from typing import Optional, Union


@dataclasses.dataclass(frozen=True)
class TaskExample:
    """A classification or regression example, as read from a task file.

    Args:
        guid: `"<split>-<row>"`, the 0-based data row (header excluded, skipped
            rows included), so test predictions line up with GLUE's `index`.
        text_a: the first (or only) sentence.
        text_b: the second sentence of a pair task, else None.
        label: the label string (classification), a float (regression), or
            None for unlabelled test files.

    Example:

    >>> TaskExample("dev-0", "a fine film", None, "1").label
    '1'
    """

    guid: str
    text_a: str
    text_b: Optional[str]
    label: Union[str, float, None]
