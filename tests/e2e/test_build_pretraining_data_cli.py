"""Runs `python -m keras_electra.build_pretraining_data` as a user would, and kills it."""

import collections
import itertools
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from keras_electra.data.pretraining_data import build_pretraining_data
from keras_electra.data.vocab import REQUIRED_TOKENS, write_vocabulary
from tests.test_case import REPO_ROOT, shared_data_dir

FLAGS = ("input_files", "vocab_file", "output_dir", "max_seq_length", "num_shards",
         "num_processes", "compression", "do_lower_case", "seed", "max_line_bytes", "progress")


def _command(*args):
    return [sys.executable, "-m", "keras_electra.build_pretraining_data", *args]


def _env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO_ROOT))


def _run(*args):
    return subprocess.run(_command(*args), capture_output=True, text=True, env=_env(),
                          cwd=str(REPO_ROOT), timeout=600)


def _corpus_and_vocab(tmp_path, lines=20000, doc_lines=40):
    """Gutenberg paragraphs in documents of `doc_lines` lines, and a word-level vocabulary."""
    with open(shared_data_dir() / "gutenberg" / "train_00.txt", encoding="utf-8") as f:
        paragraphs = [line for line in itertools.islice(f, lines * 2) if line.strip()][:lines]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(p + ("\n" if (i + 1) % doc_lines == 0 else "")
                              for i, p in enumerate(paragraphs)), encoding="utf-8")
    counts = collections.Counter(re.findall(r"\w+|[^\w\s]", " ".join(paragraphs).lower()))
    vocab = tmp_path / "vocab.txt"
    write_vocabulary(list(REQUIRED_TOKENS) + [w for w, _ in counts.most_common(5000)], str(vocab))
    return str(corpus), str(vocab)


def test_helpfull_documents_every_flag():
    result = _run("--helpfull")  # absl exits with status 1 after printing help
    for flag in FLAGS:
        assert re.search(rf"--(\[no\])?{flag}: ", result.stdout), flag
    assert "(default: '128')" in result.stdout and "*.tfrecord.gz" in result.stdout


def test_pattern_matching_nothing_is_a_one_line_error(tmp_path):
    vocab = tmp_path / "vocab.txt"
    write_vocabulary(list(REQUIRED_TOKENS), str(vocab))
    result = _run("--input_files", f"{tmp_path}/nothing*.txt", "--vocab_file", str(vocab),
                  "--output_dir", str(tmp_path / "out"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {tmp_path}/nothing*.txt: no file matches this input pattern.")


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_bytes(tmp_path):
    corpus, vocab = _corpus_and_vocab(tmp_path)
    num_shards = 8
    names = [f"pretrain_data.tfrecord-{i:05d}-of-{num_shards:05d}" for i in range(num_shards)]
    args = ["--input_files", corpus, "--vocab_file", vocab, "--num_shards", str(num_shards),
            "--seed", "7"]

    # An uninterrupted run into its own directory (the library call the CLI makes).
    reference = tmp_path / "reference"
    build_pretraining_data(corpus, vocab, str(reference), num_shards=num_shards, seed=7,
                           progress=False)
    expected = {name: (reference / name).read_bytes() for name in names}
    assert all(expected.values())

    # The same build, killed once some but not all shards are complete.
    out = tmp_path / "out"
    process = subprocess.Popen(_command(*args, "--output_dir", str(out)), env=_env(),
                               cwd=str(REPO_ROOT), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and process.poll() is None:
            done = [name for name in names if (out / name).exists()]
            if len(done) >= 2:
                break
            time.sleep(0.005)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    present = sorted(name for name in os.listdir(out) if not name.startswith("."))
    assert 2 <= len(present) < num_shards, present
    print(f"killed with {len(present)} of {num_shards} shards complete; "
          f"work dir: {sorted(os.listdir(out / '.build'))}")
    # Every final name holds a complete shard; whatever was half-written has a temporary name.
    for name in present:
        assert (out / name).read_bytes() == expected[name], name
    leftovers = os.listdir(out / ".build")
    assert all(".partial-" in name or name.endswith(".json") for name in leftovers), leftovers

    result = _run(*args, "--output_dir", str(out), "--num_processes", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "build_pretraining_data:" in result.stderr  # the progress line
    for name in present:
        assert f"{name} exists (complete): skipped" in result.stderr
    assert {name: (out / name).read_bytes() for name in names} == expected
    assert not [name for name in os.listdir(out / ".build") if ".partial" in name]
    assert (out / "stats.json").read_text() == (reference / "stats.json").read_text().replace(
        str(reference), str(out))
    assert "wrote" in result.stdout and "MB/s" in result.stdout
