"""`py_pytest`: a native py_test that runs pytest-style test files."""

_MAIN = "//tools:bazel_pytest_main.py"

def py_pytest(name, srcs, args = [], **kwargs):
    """Runs the pytest-style test files in `srcs` with pytest.

    Args:
      name: target name.
      srcs: the test file(s); every one of them is handed to pytest.
      args: extra pytest arguments (e.g. ["-k", "not slow"]).
      **kwargs: anything else py_test takes (deps, data, size, tags, ...).
    """
    native.py_test(
        name = name,
        srcs = srcs + [_MAIN],
        main = _MAIN,
        args = ["$(rootpath %s)" % src for src in srcs] + args,
        **kwargs
    )
