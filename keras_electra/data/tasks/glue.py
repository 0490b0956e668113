"""Readers for the GLUE tasks in their official `glue_data/<TASK>/*.tsv` layout.

    examples = read_glue("mrpc", "glue_data/MRPC", "dev")   # list of TaskExample

Rows are split on tabs and never through a CSV quote parser: MRPC, RTE and
QNLI sentences hold bare `"` characters (the original code passes
`quotechar=None` to `csv.reader` for the same reason). Column indices follow
google-research/electra `finetune/classification/classification_tasks.py`
(and the GLUE files themselves); WNLI, which ELECTRA does not fine-tune on,
follows GLUE's layout (`index, sentence1, sentence2, label`).

Differences from the original, on purpose: a row of the wrong width or with
an unknown label is a one-line `ValueError` naming the file and line (the
original logs it and drops the row), except for QQP's short rows, which are
skipped and counted as in the original; MRPC's byte-order mark is removed
(the original keeps it inside the header, which it skips anyway); blank
lines are ignored.
"""

from absl import logging

from keras_electra.data.tasks.glue_task import GlueTask
from keras_electra.data.tasks.task_example import TaskExample
from keras_electra.data.tasks.text_lines import read_lines
from keras_electra.data.tasks.tsv_layout import TsvLayout

_FILES = {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"}
# `index, sentence1, sentence2, label`; test files lack the label.
_PAIR_WITH_INDEX = TsvLayout(header=True, num_columns=(4,), text_a=1, text_b=2, label=3)
_PAIR_WITH_INDEX_TEST = TsvLayout(header=True, num_columns=(3,), text_a=1, text_b=2)
_ENTAILMENT = ("entailment", "not_entailment")
_BINARY = ("0", "1")


def _mnli(name, dev_file, test_file):
    # train: index promptID pairID genre sentence1_binary_parse sentence2_binary_parse
    #   sentence1_parse sentence2_parse sentence1 sentence2 label1 gold_label (12 columns);
    # dev adds label2..label5 (16 columns); the gold label is always last.
    # test: the first 10 columns only.
    return GlueTask(
        name=name, glue_dir="MNLI",
        files={"train": "train.tsv", "dev": dev_file, "test": test_file},
        layout=TsvLayout(header=True, num_columns=(12, 16), text_a=8, text_b=9, label=-1),
        test_layout=TsvLayout(header=True, num_columns=(10,), text_a=8, text_b=9),
        labels=("contradiction", "entailment", "neutral"), metrics=("accuracy",))


GLUE_TASKS = {
    # No header; source, label, original mark ("*" or empty), sentence.
    # test: header `index sentence`.
    "cola": GlueTask(
        name="cola", glue_dir="CoLA", files=_FILES,
        layout=TsvLayout(header=False, num_columns=(4,), text_a=3, label=1),
        test_layout=TsvLayout(header=True, num_columns=(2,), text_a=1),
        labels=_BINARY, metrics=("mcc",)),
    # `sentence label`; test: `index sentence`.
    "sst2": GlueTask(
        name="sst2", glue_dir="SST-2", files=_FILES,
        layout=TsvLayout(header=True, num_columns=(2,), text_a=0, label=1),
        test_layout=TsvLayout(header=True, num_columns=(2,), text_a=1),
        labels=_BINARY, metrics=("accuracy",)),
    # `Quality #1 ID #2 ID #1 String #2 String` (a UTF-8 BOM before the header);
    # test: `index #1 ID #2 ID #1 String #2 String`.
    "mrpc": GlueTask(
        name="mrpc", glue_dir="MRPC", files=_FILES,
        layout=TsvLayout(header=True, num_columns=(5,), text_a=3, text_b=4, label=0),
        test_layout=TsvLayout(header=True, num_columns=(5,), text_a=3, text_b=4),
        labels=_BINARY, metrics=("f1", "accuracy")),
    # `id qid1 qid2 question1 question2 is_duplicate`; test: `id question1 question2`.
    "qqp": GlueTask(
        name="qqp", glue_dir="QQP", files=_FILES,
        layout=TsvLayout(header=True, num_columns=(6,), text_a=3, text_b=4, label=5),
        test_layout=TsvLayout(header=True, num_columns=(3,), text_a=1, text_b=2),
        labels=_BINARY, metrics=("f1", "accuracy"), skip_short_rows=True),
    # `index genre filename year old_index source1 source2 sentence1 sentence2 score`
    # (the original reads columns -3, -2, -1: the same ones); test drops `score`.
    "stsb": GlueTask(
        name="stsb", glue_dir="STS-B", files=_FILES,
        layout=TsvLayout(header=True, num_columns=(10,), text_a=7, text_b=8, label=9),
        test_layout=TsvLayout(header=True, num_columns=(9,), text_a=7, text_b=8),
        score_range=(0.0, 5.0), metrics=("pearson", "spearman")),
    "mnli": _mnli("mnli", "dev_matched.tsv", "test_matched.tsv"),
    "mnli_mm": _mnli("mnli_mm", "dev_mismatched.tsv", "test_mismatched.tsv"),
    # `index question sentence label`.
    "qnli": GlueTask(
        name="qnli", glue_dir="QNLI", files=_FILES, layout=_PAIR_WITH_INDEX,
        test_layout=_PAIR_WITH_INDEX_TEST, labels=_ENTAILMENT, metrics=("accuracy",)),
    # `index sentence1 sentence2 label`.
    "rte": GlueTask(
        name="rte", glue_dir="RTE", files=_FILES, layout=_PAIR_WITH_INDEX,
        test_layout=_PAIR_WITH_INDEX_TEST, labels=_ENTAILMENT, metrics=("accuracy",)),
    # `index sentence1 sentence2 label` with labels 0/1.
    "wnli": GlueTask(
        name="wnli", glue_dir="WNLI", files=_FILES, layout=_PAIR_WITH_INDEX,
        test_layout=_PAIR_WITH_INDEX_TEST, labels=_BINARY, metrics=("accuracy",)),
}


def get_glue_task(name):
    """The `GlueTask` registered as `name`; an unknown name is an error listing the known ones."""
    try:
        return GLUE_TASKS[name]
    except KeyError:
        raise ValueError(
            f"unknown GLUE task {name!r}; known: {', '.join(GLUE_TASKS)}.") from None


def read_glue(task_name, data_dir, split):
    """Reads `<data_dir>/<file of split>` as a list of `TaskExample`.

    Args:
        task_name: a key of `GLUE_TASKS`.
        data_dir: the task's folder (`glue_data/MNLI`); `gs://` works.
        split: `"train"`, `"dev"` or `"test"` (test examples have label None).

    Example:

    >>> examples = read_glue("sst2", "glue_data/SST-2", "dev")  # doctest: +SKIP
    >>> examples[0].text_a, examples[0].label  # doctest: +SKIP
    ("it 's a charming and often affecting journey . ", '1')
    """
    task = get_glue_task(task_name)
    if split not in task.files:
        raise ValueError(f"{task_name}: unknown split {split!r}; known: {', '.join(task.files)}.")
    path = f"{str(data_dir).rstrip('/')}/{task.files[split]}"
    examples, skipped = parse_glue_file(task, path, split)
    if skipped:
        logging.warning("%s: skipped %d row(s) with too few columns.", path, skipped)
    return examples


def parse_glue_file(task, path, split):
    """`(examples, number of skipped short rows)` of one task file.

    Example:

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "dev.tsv"
    >>> _ = path.write_text('sentence\\tlabel\\na "bare" quote\\t1\\n')
    >>> parse_glue_file(GLUE_TASKS["sst2"], path, "dev")
    ([TaskExample(guid='dev-0', text_a='a "bare" quote', text_b=None, label='1')], 0)
    """
    layout = task.layout_for(split)
    examples, skipped, row = [], 0, -1
    for line_number, line in read_lines(path):
        if line_number == 1 and layout.header:
            continue
        if not line:
            continue
        row += 1
        fields = line.split("\t")
        if len(fields) < min(layout.num_columns) and task.skip_short_rows:
            skipped += 1
            continue
        where = f"{path}:{line_number}"
        if len(fields) not in layout.num_columns:
            widths = " or ".join(str(n) for n in layout.num_columns)
            raise ValueError(f"{where}: expected {widths} tab-separated columns for "
                             f"{task.name} {split}, got {len(fields)}.")
        examples.append(TaskExample(
            guid=f"{split}-{row}",
            text_a=fields[layout.text_a],
            text_b=None if layout.text_b is None else fields[layout.text_b],
            label=None if layout.label is None else _label(task, fields[layout.label], where)))
    return examples, skipped


def _label(task, text, where):
    """A checked label: one of `task.labels`, or a float score inside `task.score_range`."""
    if not task.is_regression:
        if text not in task.labels:
            raise ValueError(f"{where}: label {text!r} is not one of {list(task.labels)}.")
        return text
    low, high = task.score_range
    try:
        score = float(text)
    except ValueError:
        score = None
    if score is None or not low <= score <= high:
        raise ValueError(f"{where}: expected a score in [{low:g}, {high:g}], got {text!r}.")
    return score
