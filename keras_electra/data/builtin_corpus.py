"""An English corpus every Python installation already has: its own docs.

`make demo` needs text without a download and without copying a corpus into
the repository. CPython ships the reference manual's topics
(`pydoc_data.topics`) and thousands of docstrings in the standard library;
together they are a few MB of technical English. Docstrings are read with
`ast` (no module is imported), paragraphs are kept one per line, and lines
that look like code are dropped.
"""

import ast
import os
import re
import sysconfig

_MIN_WORDS = 6


def _paragraphs(text):
    for block in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in block.splitlines()]
        if any(line.startswith((">>>", "...", "$ ", "|", "+--")) for line in lines):
            continue
        paragraph = " ".join(line for line in lines if line)
        if len(paragraph.split()) < _MIN_WORDS:
            continue
        letters = sum(ch.isalpha() or ch in " ,.;:'\"()-" for ch in paragraph)
        if letters / len(paragraph) < 0.9:
            continue
        yield paragraph


def _docstrings(path):
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
        return
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc:
                yield doc


def builtin_documents(max_bytes=None):
    """Yields documents (lists of paragraphs): reference topics, then stdlib modules.

    Deterministic for a given Python version.
    """
    import pydoc_data.topics

    total = 0
    topics = pydoc_data.topics.topics
    documents = ([topics[key] for key in sorted(topics)],)
    stdlib = sysconfig.get_paths()["stdlib"]
    for root, dirs, files in os.walk(stdlib):
        dirs[:] = sorted(d for d in dirs if d not in ("test", "tests", "idlelib", "site-packages",
                                                      "lib2to3", "__pycache__"))
        for name in sorted(files):
            if name.endswith(".py"):
                documents += (list(_docstrings(os.path.join(root, name))),)
    for texts in documents:
        paragraphs = [p for text in texts for p in _paragraphs(text)]
        if not paragraphs:
            continue
        yield paragraphs
        total += sum(len(p) + 1 for p in paragraphs)
        if max_bytes and total >= max_bytes:
            return


def write_builtin_corpus(path, max_bytes=None):
    """Writes the corpus (one paragraph per line, blank line between documents).

    Written to a temporary name, then renamed. Returns the number of bytes.
    """
    tmp = f"{path}.tmp{os.getpid()}"
    size = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for paragraphs in builtin_documents(max_bytes):
            text = "\n".join(paragraphs) + "\n\n"
            f.write(text)
            size += len(text.encode("utf-8"))
    os.replace(tmp, path)
    return size
