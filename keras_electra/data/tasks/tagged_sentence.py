"""One sentence of a CoNLL-style tagging file."""

import dataclasses
from typing import Tuple


@dataclasses.dataclass(frozen=True)
class TaggedSentence:
    """Words and their tags (IOB2 for chunk tags), as read by `read_conll`.

    Args:
        words: the tokens of column 0.
        tags: one tag per word.
        line_number: the file line of the first word (for messages).

    Example:

    >>> s = TaggedSentence(("EU", "rejects"), ("B-ORG", "O"), 3)
    >>> dict(zip(s.words, s.tags))["EU"]
    'B-ORG'
    """

    words: Tuple[str, ...]
    tags: Tuple[str, ...]
    line_number: int = 0
