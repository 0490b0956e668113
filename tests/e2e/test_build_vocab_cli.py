import os
import subprocess
import sys

from tests.test_case import REPO_ROOT


def _run(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO_ROOT))
    return subprocess.run([sys.executable, "-m", "keras_electra.build_vocab", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_build_vocab_cli_with_extra_reserved_tokens(tmp_path):
    (tmp_path / "a.txt").write_text("naïve café déjà vu, the end.\n" * 30 + "日本語 テキスト\n" * 30)
    (tmp_path / "b.txt").write_text("another file of plain words and the end.\n" * 30)
    out = tmp_path / "vocab.txt"
    result = _run(f"--input_files={tmp_path}/*.txt", f"--output={out}", "--vocab_size=120",
                  "--reserved_tokens=[URL],[NUM]")
    assert result.returncode == 0, result.stderr[-2000:]
    tokens = out.read_text(encoding="utf-8").splitlines()
    assert tokens[:7] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[URL]", "[NUM]"]
    assert {"naive", "cafe", "the"} <= set(tokens) and "日" in tokens
    assert f"{len(tokens)} tokens" in result.stdout


def test_build_vocab_cli_errors_name_the_input(tmp_path):
    result = _run(f"--input_files={tmp_path}/none*.txt", f"--output={tmp_path}/v.txt")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].endswith(
        "none*.txt: no file matches this input pattern.")
    (tmp_path / "empty.txt").write_text("")
    result = _run(f"--input_files={tmp_path}/empty.txt", f"--output={tmp_path}/v.txt")
    assert result.stderr.strip().splitlines()[-1].endswith("empty.txt: input file is empty.")
    assert not (tmp_path / "v.txt").exists()
