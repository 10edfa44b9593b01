"""README's asyncio example runs as written (with its keep in a temp dir), and again on
the keep the first run left."""
from __future__ import annotations

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_asyncio_example_runs(tmp_path):
    text = README.read_text()
    section = text[text.index("## asyncio"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert 'basedirpath="/tmp/keeps"' in code
    code = code.replace('"/tmp/keeps"', repr(str(tmp_path)))
    code = code.replace("asyncio.run(main())", "asyncio.run(asyncio.wait_for(main(), 10))")
    code += "\nRESULT = True\n"
    for _ in range(2):
        scope: dict = {}
        exec(compile(code, "README.md", "exec"), scope)
        assert scope["RESULT"]
