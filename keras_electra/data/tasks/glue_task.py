"""The description of one GLUE task: files, columns, labels and metrics."""

import dataclasses
from typing import Dict, Optional, Tuple

from keras_electra.data.tasks.tsv_layout import TsvLayout


@dataclasses.dataclass(frozen=True)
class GlueTask:
    """What a reader and a scorer need to know about a GLUE task.

    Args:
        name: registry key (`"cola"`, `"mnli_mm"`, ...).
        glue_dir: the task's folder in GLUE's `glue_data/` (`"CoLA"`).
        files: split (`"train"`, `"dev"`, `"test"`) -> file name in that folder.
        layout: columns of the train and dev files.
        test_layout: columns of the (unlabelled) test file.
        metrics: metric names for `keras_electra.metrics.glue_metrics`;
            the first is the one a model is selected on.
        labels: label strings in id order; None for a regression task.
        score_range: `(low, high)` of a regression score; None for classification.
        skip_short_rows: rows with too few columns are skipped and counted
            instead of being an error (QQP's train file has some, and the
            original code skips them too).

    Example:

    >>> from keras_electra.data.tasks.glue import GLUE_TASKS
    >>> GLUE_TASKS["rte"].labels, GLUE_TASKS["stsb"].is_regression
    (('entailment', 'not_entailment'), True)
    """

    name: str
    glue_dir: str
    files: Dict[str, str]
    layout: TsvLayout
    test_layout: TsvLayout
    metrics: Tuple[str, ...]
    labels: Optional[Tuple[str, ...]] = None
    score_range: Optional[Tuple[float, float]] = None
    skip_short_rows: bool = False

    @property
    def is_regression(self):
        return self.labels is None

    def layout_for(self, split):
        """The layout of `split`'s file: test files have no label column."""
        return self.test_layout if split.startswith("test") else self.layout
