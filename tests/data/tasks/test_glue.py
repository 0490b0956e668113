import pytest

from keras_electra.data.tasks.glue import GLUE_TASKS, get_glue_task, parse_glue_file, read_glue
from keras_electra.data.tasks.task_example import TaskExample
from tests.test_case import shared_data_dir

GLUE_DIR = shared_data_dir() / "glue"

MNLI_HEADER = ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
               "sentence1_parse\tsentence2_parse\tsentence1\tsentence2")
MNLI_PREMISE = "Conceptually cream skimming has two basic dimensions - product and geography."
MNLI_HYPOTHESIS = "Product and geography are what make cream skimming work. "
MNLI_ROW = (f"0\t31193\t31193n\tgovernment\t( ( Conceptually ( cream skimming ) ) )\t( Product )\t"
            f"(ROOT (S))\t(ROOT (S))\t{MNLI_PREMISE}\t{MNLI_HYPOTHESIS}")
STSB_HEADER = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2"
STSB_PREFIX = "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone"
MRPC_A = "He said the foodservice pie business doesn't fit the company's long-term growth strategy."
MRPC_B = 'The "foodservice pie business" does not fit our long-term growth strategy.'

# (task, split, file name, file text, expected examples): every task's exact GLUE shape.
CASES = [
    ("cola", "train", "train.tsv",
     "gj04\t1\t\tOur friends won't buy this analysis.\ngj04\t0\t*\tThey drank the pub.\n",
     [TaskExample("train-0", "Our friends won't buy this analysis.", None, "1"),
      TaskExample("train-1", "They drank the pub.", None, "0")]),
    # CoLA's dev file has no final newline.
    ("cola", "dev", "dev.tsv", "gj04\t1\t\tThe sailors rode the breeze clear of the rocks.",
     [TaskExample("dev-0", "The sailors rode the breeze clear of the rocks.", None, "1")]),
    ("cola", "test", "test.tsv", "index\tsentence\n0\tBill whistled past the house.\n",
     [TaskExample("test-0", "Bill whistled past the house.", None, None)]),
    ("sst2", "dev", "dev.tsv", "sentence\tlabel\nit 's a charming journey . \t1\n",
     [TaskExample("dev-0", "it 's a charming journey . ", None, "1")]),
    ("sst2", "test", "test.tsv", "index\tsentence\n0\tuneasy mishmash of styles \n",
     [TaskExample("test-0", "uneasy mishmash of styles ", None, None)]),
    # MRPC: a UTF-8 BOM before the header, bare quotes in a sentence.
    ("mrpc", "dev", "dev.tsv",
     f"\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1355540\t1355592\t{MRPC_A}\t{MRPC_B}\n"
     '0\t2029631\t2029565\tMagnarelli said.\tHe was "100 percent behind George Bush".\n',
     [TaskExample("dev-0", MRPC_A, MRPC_B, "1"),
      TaskExample("dev-1", "Magnarelli said.", 'He was "100 percent behind George Bush".', "0")]),
    ("mrpc", "test", "test.tsv",
     "index\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t1089874\t1089925\tPCCW's chief.\tThe chief.\n",
     [TaskExample("test-0", "PCCW's chief.", "The chief.", None)]),
    ("qqp", "dev", "dev.tsv",
     "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
     "133273\t213221\t213222\tHow is the life of a math student?\tIs math hard?\t0\n",
     [TaskExample("dev-0", "How is the life of a math student?", "Is math hard?", "0")]),
    ("qqp", "test", "test.tsv", "id\tquestion1\tquestion2\n0\tWhy am I here?\tWho am I?\n",
     [TaskExample("test-0", "Why am I here?", "Who am I?", None)]),
    ("stsb", "dev", "dev.tsv",
     f"{STSB_HEADER}\tscore\n{STSB_PREFIX}\tA man is dancing.\tA man dances.\t5.000\n"
     f"{STSB_PREFIX}\tA cat.\tA car.\t0.500\n",
     [TaskExample("dev-0", "A man is dancing.", "A man dances.", 5.0),
      TaskExample("dev-1", "A cat.", "A car.", 0.5)]),
    ("stsb", "test", "test.tsv", f"{STSB_HEADER}\n{STSB_PREFIX}\tA girl.\tA boy.\n",
     [TaskExample("test-0", "A girl.", "A boy.", None)]),
    # MNLI train: 12 columns (label1, gold_label); dev: 16 (label1..label5, gold_label).
    ("mnli", "train", "train.tsv",
     f"{MNLI_HEADER}\tlabel1\tgold_label\n{MNLI_ROW}\tneutral\tneutral\n",
     [TaskExample("train-0", MNLI_PREMISE, MNLI_HYPOTHESIS, "neutral")]),
    ("mnli", "dev", "dev_matched.tsv",
     f"{MNLI_HEADER}\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label\n"
     f"{MNLI_ROW}\tneutral\tentailment\tentailment\tentailment\tneutral\tentailment\n",
     [TaskExample("dev-0", MNLI_PREMISE, MNLI_HYPOTHESIS, "entailment")]),
    ("mnli_mm", "dev", "dev_mismatched.tsv",
     f"{MNLI_HEADER}\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label\n"
     f"{MNLI_ROW}\tneutral\tneutral\tneutral\tneutral\tneutral\tcontradiction\n",
     [TaskExample("dev-0", MNLI_PREMISE, MNLI_HYPOTHESIS, "contradiction")]),
    ("mnli_mm", "test", "test_mismatched.tsv", f"{MNLI_HEADER}\n{MNLI_ROW}\n",
     [TaskExample("test-0", MNLI_PREMISE, MNLI_HYPOTHESIS, None)]),
    ("qnli", "dev", "dev.tsv",
     "index\tquestion\tsentence\tlabel\n"
     "0\tWhat came into force?\tThe new constitution did.\tentailment\n",
     [TaskExample("dev-0", "What came into force?", "The new constitution did.", "entailment")]),
    ("rte", "train", "train.tsv",
     "index\tsentence1\tsentence2\tlabel\n"
     '0\tDana Reeve, "the widow", died.\tReeve had an accident.\tnot_entailment\n',
     [TaskExample("train-0", 'Dana Reeve, "the widow", died.', "Reeve had an accident.",
                  "not_entailment")]),
    ("rte", "test", "test.tsv", "index\tsentence1\tsentence2\n0\tMaude won.\tMaude lost.\n",
     [TaskExample("test-0", "Maude won.", "Maude lost.", None)]),
    ("wnli", "dev", "dev.tsv",
     "index\tsentence1\tsentence2\tlabel\n0\tThe drain is clogged with hair. It has to be cleaned."
     "\tThe hair has to be cleaned.\t0\n",
     [TaskExample("dev-0", "The drain is clogged with hair. It has to be cleaned.",
                  "The hair has to be cleaned.", "0")]),
]


@pytest.mark.parametrize("task, split, file_name, text, expected", CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_reads_every_task_layout(tmp_path, task, split, file_name, text, expected):
    (tmp_path / file_name).write_text(text, encoding="utf-8")
    assert read_glue(task, str(tmp_path), split) == expected


def test_registry_names_labels_and_metrics():
    assert list(GLUE_TASKS) == ["cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "mnli_mm", "qnli",
                                "rte", "wnli"]
    assert GLUE_TASKS["cola"].metrics == ("mcc",)
    assert GLUE_TASKS["mrpc"].metrics == ("f1", "accuracy")
    assert GLUE_TASKS["stsb"].is_regression and GLUE_TASKS["stsb"].score_range == (0.0, 5.0)
    assert GLUE_TASKS["mnli"].labels == ("contradiction", "entailment", "neutral")
    assert GLUE_TASKS["mnli_mm"].files["dev"] == "dev_mismatched.tsv"
    assert GLUE_TASKS["mnli"].files["test"] == "test_matched.tsv"
    with pytest.raises(ValueError, match="unknown GLUE task 'sst'; known: cola, sst2"):
        get_glue_task("sst")


def test_qqp_short_rows_are_skipped_and_counted(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text(
        "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
        "1\t11\t12\tHow do I fix it?\tHow can I fix it?\t1\n"
        "2\t13\t14\tWhat is a\n"  # a question broken over two lines in the original data
        "line two of it?\t0\n"
        "3\t15\t16\tWhy?\tWhy not?\t0\n", encoding="utf-8")
    examples, skipped = parse_glue_file(GLUE_TASKS["qqp"], path, "train")
    assert skipped == 2
    # Row numbers keep counting skipped rows (as the original's example ids do).
    assert examples == [TaskExample("train-0", "How do I fix it?", "How can I fix it?", "1"),
                        TaskExample("train-3", "Why?", "Why not?", "0")]


@pytest.mark.parametrize("task, file_name, text, message", [
    ("rte", "dev.tsv",
     "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\ta\tb\tc\tentailment\n",
     r"dev.tsv:3: expected 4 tab-separated columns for rte dev, got 5\."),
    ("mnli", "dev_matched.tsv", f"{MNLI_HEADER}\tgold_label\n{MNLI_ROW}\tneutral\n",
     r"dev_matched.tsv:2: expected 12 or 16 tab-separated columns for mnli dev, got 11\."),
    ("mnli", "dev_matched.tsv",
     f"{MNLI_HEADER}\tlabel1\tgold_label\n{MNLI_ROW}\tneutral\tmaybe\n",
     r"dev_matched.tsv:2: label 'maybe' is not one of "
     r"\['contradiction', 'entailment', 'neutral'\]\."),
    ("sst2", "dev.tsv", "sentence\tlabel\ngood\tpositive\n",
     r"dev.tsv:2: label 'positive' is not one of \['0', '1'\]\."),
    ("stsb", "dev.tsv", f"{STSB_HEADER}\tscore\n{STSB_PREFIX}\ta\tb\t5.5\n",
     r"dev.tsv:2: expected a score in \[0, 5\], got '5.5'\."),
    # QQP skips short rows only; a long one is still an error.
    ("qqp", "dev.tsv", "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t2\t3\ta\tb\tc\t0\n",
     r"dev.tsv:2: expected 6 tab-separated columns for qqp dev, got 7\."),
])
def test_bad_rows_are_one_line_errors(tmp_path, task, file_name, text, message):
    (tmp_path / file_name).write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_glue(task, str(tmp_path), "dev")


def test_missing_files_splits_and_bad_bytes(tmp_path):
    with pytest.raises(ValueError, match=r"CoLA/dev.tsv: file not found\."):
        read_glue("cola", str(tmp_path / "CoLA"), "dev")
    with pytest.raises(ValueError,
                       match="cola: unknown split 'validation'; known: train, dev, test"):
        read_glue("cola", str(tmp_path), "validation")
    (tmp_path / "dev.tsv").write_bytes(b"sentence\tlabel\nfine\t1\nbad \xff byte\t0\n")
    with pytest.raises(ValueError, match=r"dev.tsv:3: not valid UTF-8"):
        read_glue("sst2", str(tmp_path), "dev")


def test_blank_lines_and_crlf_are_tolerated(tmp_path):
    (tmp_path / "dev.tsv").write_bytes(b"sentence\tlabel\r\ngood\t1\r\n\r\nbad\t0\r\n\n")
    assert read_glue("sst2", str(tmp_path), "dev") == [
        TaskExample("dev-0", "good", None, "1"), TaskExample("dev-1", "bad", None, "0")]


def test_real_cola():
    dev = read_glue("cola", str(GLUE_DIR / "CoLA"), "dev")
    # SOURCES.md: 1,043 dev rows, 721 acceptable / 322 not; 8,551 train rows.
    assert len(dev) == 1043
    assert sum(e.label == "1" for e in dev) == 721
    assert dev[0] == TaskExample(
        "dev-0", "The sailors rode the breeze clear of the rocks.", None, "1")
    train = read_glue("cola", str(GLUE_DIR / "CoLA"), "train")
    assert len(train) == 8551
    assert train[0].text_a == (
        "Our friends won't buy this analysis, let alone the next one we propose.")


def test_real_sst2():
    dev = read_glue("sst2", str(GLUE_DIR / "SST-2"), "dev")
    # SOURCES.md: 872 dev rows, 444 positive / 428 negative; 67,349 train rows.
    assert len(dev) == 872
    assert sum(e.label == "1" for e in dev) == 444
    assert dev[0] == TaskExample(
        "dev-0", "it 's a charming and often affecting journey . ", None, "1")
    assert len(read_glue("sst2", str(GLUE_DIR / "SST-2"), "train")) == 67349
