"""The Python examples in the README and the theory docs run as written."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ["README.md", "docs/theory/sequential.md", "docs/tutorial.md"]


@pytest.mark.parametrize("doc", DOCS)
def test_python_examples_run(doc, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples must not write into the repository
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / doc).read_text(), re.S)
    assert blocks, f"{doc} has no python example"
    namespace = {}  # the blocks of one page run in order, as a reader would run them
    for i, code in enumerate(blocks):
        exec(compile(code, f"{doc}[{i}]", "exec"), namespace)
