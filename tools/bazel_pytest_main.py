"""Entry point that lets a Bazel `py_test` run pytest-style test files.

Bazel's native `py_test` runs one Python file as `__main__`.  Point `main` at this
file and pass the test file(s) as arguments, e.g.::

    py_test(
        name = "foo_test",
        srcs = ["foo_test.py", "//tools:bazel_pytest_main.py"],
        main = "//tools:bazel_pytest_main.py",
        args = ["$(rootpath foo_test.py)"],
        deps = [...],
    )

or use the `py_pytest` macro from `//tools:pytest.bzl`, which does exactly that.

Any extra arguments (e.g. `-k name`, `-x`, `-vv`) are handed to pytest unchanged, so
`bazel test //tests:foo_test --test_arg=-vv` works too.
"""

import os
import sys

import pytest


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    # The runfiles tree (and, under the sandbox, the source tree) is read-only:
    # no .pytest_cache, no __pycache__ / assertion-rewrite .pyc files.
    sys.dont_write_bytecode = True
    pytest_args = ["-p", "no:cacheprovider"]
    # Bazel tells the test where to put its JUnit XML; let pytest write it so the
    # per-test-case results show up in bazel-testlogs/.../test.xml.
    xml = os.environ.get("XML_OUTPUT_FILE")
    if xml and not any(a.startswith("--junitxml") for a in args):
        pytest_args.append("--junitxml=" + xml)
    return pytest.main(pytest_args + args)


if __name__ == "__main__":
    sys.exit(main())
