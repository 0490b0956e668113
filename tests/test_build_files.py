import subprocess
import sys

from tests.test_case import REPO_ROOT


def test_build_files_are_up_to_date():
    result = subprocess.run([sys.executable, str(REPO_ROOT / "tools" / "gen_build.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_every_module_has_a_library_target():
    build = (REPO_ROOT / "keras_electra" / "BUILD").read_text()
    for path in (REPO_ROOT / "keras_electra").rglob("*.py"):
        relative = path.relative_to(REPO_ROOT / "keras_electra").as_posix()
        assert f'"{relative}"' in build, relative
