"""One SQuAD question with its paragraph and gold answers."""

import dataclasses
from typing import Tuple


@dataclasses.dataclass(frozen=True)
class SquadExample:
    """A SQuAD 1.1 / 2.0 question, as read by `keras_electra.data.tasks.squad.read_squad`.

    Args:
        qas_id: the question id (the key of the predictions file).
        question: question text.
        context: the paragraph, unchanged.
        answer_text: the first gold answer (the training target); `""` if impossible.
        answer_start: character offset of `answer_text` in `context`; -1 if impossible.
        answers: every gold answer text (duplicates kept, as in the data); the
            evaluation takes the best match over them. Empty if impossible.
        is_impossible: SQuAD 2.0's unanswerable questions.

    Example:

    >>> e = SquadExample("q1", "Who?", "Ada wrote it.", "Ada", 0, ("Ada",), False)
    >>> e.context[e.answer_start:e.answer_start + len(e.answer_text)]
    'Ada'
    """

    qas_id: str
    question: str
    context: str
    answer_text: str
    answer_start: int
    answers: Tuple[str, ...]
    is_impossible: bool = False
