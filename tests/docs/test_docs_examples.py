"""The Python examples in the README and the theory docs run as written."""
import re

import pytest

DOCS = ["README.md", "docs/theory/sequential.md", "docs/tutorial.md", "docs/theory/finite_width.md"]


@pytest.mark.parametrize("doc", DOCS)
def test_python_examples_run(doc, repo_root, in_tmp_cwd):  # examples must not write into the repository
    blocks = re.findall(r"```python\n(.*?)```", (repo_root / doc).read_text(), re.S)
    assert blocks, f"{doc} has no python example"
    namespace = {}  # the blocks of one page run in order, as a reader would run them
    for i, code in enumerate(blocks):
        exec(compile(code, f"{doc}[{i}]", "exec"), namespace)
