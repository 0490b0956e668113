"""One `[CLS] question [SEP] context-window [SEP]` input of a SQuAD question."""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class SquadWindow:
    """A doc-stride window: model inputs, span targets and the way back to the text.

    Arrays are `max_seq_length` long. Built by
    `keras_electra.data.tasks.squad.squad_windows`.

    Args:
        example_index: index of the question in the examples list.
        qas_id: the question id.
        window_index: 0, 1, ... over the windows of this question.
        input_ids, input_mask, segment_ids: int32 model inputs (segment 1 = context).
        start_position, end_position: token index of the answer's first and
            last piece, or 0 (`[CLS]`) when the window does not hold the whole
            answer or the question has none.
        is_impossible: the question has no answer (SQuAD 2.0).
        char_start, char_end: int32 character span `[start, end)` in the
            context of each context token; -1 for `[CLS]`, question, `[SEP]`
            and padding.
        is_max_context: bool, True where this window gives the token more
            context on both sides than any other window (where predictions
            for it are taken from).

    Example:

    >>> w = SquadWindow(0, "q1", 0, *[np.zeros(4, np.int32)] * 3, 0, 0, False,
    ...                 *[np.full(4, -1, np.int32)] * 2, np.zeros(4, bool))
    >>> w.answer_text("context")  # a window with no context tokens maps to ""
    ''
    """

    example_index: int
    qas_id: str
    window_index: int
    input_ids: np.ndarray
    input_mask: np.ndarray
    segment_ids: np.ndarray
    start_position: int
    end_position: int
    is_impossible: bool
    char_start: np.ndarray
    char_end: np.ndarray
    is_max_context: np.ndarray

    def answer_text(self, context, start=None, end=None):
        """The context text from token `start` to token `end` (default: the target span).

        `""` if either token is not a context token.
        """
        start = self.start_position if start is None else start
        end = self.end_position if end is None else end
        if self.char_start[start] < 0 or self.char_end[end] < 0:
            return ""
        return context[self.char_start[start]:self.char_end[end]]
