"""Test-only published tools, written into a folder the tests point ``WORKBENCH_APPS_DIR`` at.

Each is a small notebook and an ``app.yaml``; :func:`write_tools` writes the ones a test module asks for
into a folder every uid may read (a local tool's sandboxed uid must read its folder, as it must read
``voila-apps/``).

- ``probe-widgets`` (public): an ordinary widget tool: a dropdown whose choice the kernel writes back
  into a label, and a text box echoed into an HTML widget (as a careless tool might);
- ``probe-eval`` (public): a deliberately unsafe tool whose text box is *evaluated* by the kernel,
  the result shown in a text area (``<n>: <repr of the value or the exception>``). It stands for the layer failing: a Voila release that passes
  more, or a widget that evaluates input. Whatever it is asked, the kernel must hold nothing worth
  taking;
- ``probe-members`` (logged-in), ``probe-debris`` (groups ``debris``), ``probe-busy`` (public,
  ``kernels.max: 1``, a 3 s render): the policies and pages of the authorisation matrix; titles carry
  markup that every page must show as text.

Every notebook prints one JSON line ``{"probe": ..., <widget>: <model id>, ...}`` so a test that
renders the page knows which comm to talk to.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

MARKUP_TITLE = 'Probe <b id="markup">bold</b> & "quoted"'
"""A title with markup: pages must show it as text (escaped), never as HTML."""

WIDGETS = """\
import json
import ipywidgets as w
from IPython.display import display

level = w.Dropdown(options=["G1", "G2", "G3"], value="G3", description="level")
chosen = w.Label(value="chosen G3")
level.observe(lambda change: setattr(chosen, "value", f"chosen {change['new']}"), "value")
echo_in = w.Text(description="echo")
echo_out = w.HTML(value="")
echo_in.observe(lambda change: setattr(echo_out, "value", change["new"]), "value")
display(level, chosen, echo_in, echo_out)
print(json.dumps({"probe": "widgets", "level": level.model_id, "chosen": chosen.model_id,
                  "echo_in": echo_in.model_id, "echo_out": echo_out.model_id}))
"""

EVAL = """\
import json
import ipywidgets as w
from IPython.display import display

expression = w.Text(description="expression")
result = w.Textarea(value="")
answers = 0

def evaluate(change):
    global answers
    answers += 1
    try:
        answer = repr(eval(change["new"]))
    except BaseException as exc:  # the visitor sees why
        answer = f"{type(exc).__name__}: {exc}"
    result.value = f"{answers}: {answer}"  # numbered: the same answer twice is still a change

expression.observe(evaluate, "value")
display(expression, result)
print(json.dumps({"probe": "eval", "expression": expression.model_id, "result": result.model_id}))
"""

PLAIN = """\
import json, time
time.sleep({sleep})
print(json.dumps({{"probe": "{name}"}}))
"""

TOOLS: dict[str, tuple[str, str]] = {
    "probe-widgets": (
        "title: Probe widgets\naccess: public\nkernels: {preheat: 1, max: 20, idle_timeout: 60}\n",
        WIDGETS,
    ),
    "probe-eval": (
        "title: Probe eval\naccess: public\nkernels: {preheat: 1, max: 20, idle_timeout: 60}\n",
        EVAL,
    ),
    "probe-members": (
        f"title: {json.dumps(MARKUP_TITLE)}\naccess: logged-in\nkernels: {{preheat: 0, max: 40, idle_timeout: 60}}\n",
        PLAIN.format(sleep=0, name="members"),
    ),
    "probe-debris": (
        f"title: {json.dumps(MARKUP_TITLE)}\naccess: {{groups: [debris]}}\n"
        "kernels: {preheat: 0, max: 40, idle_timeout: 60}\n",
        PLAIN.format(sleep=0, name="debris"),
    ),
    "probe-busy": (
        f"title: {json.dumps(MARKUP_TITLE)}\naccess: public\nkernels: {{preheat: 0, max: 1, idle_timeout: 10}}\n",
        PLAIN.format(sleep=3, name="busy"),
    ),
}


def write_tools(apps_dir: Path, names: list[str]) -> Path:
    """Write the tools ``names`` into ``apps_dir`` (created, readable by every uid); return it."""
    apps_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(apps_dir, 0o755)
    for name in names:
        spec, source = TOOLS[name]
        folder = apps_dir / name
        folder.mkdir()
        os.chmod(folder, 0o755)
        (folder / "app.yaml").write_text(spec)
        nb = new_notebook(
            cells=[new_code_cell(source)],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        )
        nbformat.write(nb, folder / "app.ipynb")
        for f in folder.iterdir():
            os.chmod(f, 0o644)
    return apps_dir
