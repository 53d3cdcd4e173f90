"""The reproduction report: ``report.md`` plus a self-contained ``report.html`` (figures embedded)."""

from __future__ import annotations

import base64
import html
import json
import platform
import re
from pathlib import Path
from typing import Any

from scorematch.io.atomic import atomic_path
from scorematch_paper.experiments.cache import code_fingerprint, git_state, provenance_rows

__all__ = ["write_report", "markdown_to_html", "machine_info"]


def machine_info() -> dict[str, Any]:
    import os

    import numpy
    import torch

    from scorematch import __version__

    git = git_state()
    return {
        "scorematch": __version__,
        "commit": git["commit"],
        "uncommitted changes": git["dirty"],
        "code fingerprint": code_fingerprint(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def write_report(out_dir: Path, sections: list[tuple[str, str]], state: dict[str, Any], *, quick: bool) -> Path:
    """Write ``out_dir/report.md`` and ``out_dir/report.html``; returns the HTML path.

    Parameters
    ----------
    sections : list of (title, markdown body)
    state : the reproduce state (per experiment: seconds, command, finished time)
    """
    info = machine_info()
    lines = ["# scorematch: reproduction of Kingma & LeCun (NIPS 2010)", "",
             "How methods are compared here (tuning, validation and test images; noise; paired differences and the "
             "verdict rule): `docs/evaluation.md` in the repository.", ""]
    if quick:
        lines += [
            "> **Quick run.** Small models, short training and few images: a smoke test of the whole",
            "> pipeline, not the paper's numbers. Run `scorematch reproduce all` for the full experiments.",
            "",
        ]
    lines += ["## Run", "", "| stage | wall time | command |", "|---|---|---|"]
    for name, st in state.get("stages", {}).items():
        lines.append(f"| {name} | {st.get('seconds', 0):.0f} s | `{st.get('command', '')}` |")
    lines += ["", "| machine | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in info.items()]
    lines += ["", "**Provenance** — which code computed each result file (a result is reused only when its "
              "settings and the code fingerprint match; `--force` recomputes everything):", "",
              "| result files | computed |", "|---|---|"]
    lines += [f"| {files} | {text} |" for files, text in provenance_rows(out_dir, state.get("run"))]
    lines.append("")
    for title, body in sections:
        lines += [f"## {title}", "", body.strip(), ""]
    md = "\n".join(lines) + "\n"
    with atomic_path(out_dir / "report.md") as tmp:
        tmp.write_text(md)
    page = markdown_to_html(md, base=out_dir, title="scorematch reproduction report")
    with atomic_path(out_dir / "report.html") as tmp:
        tmp.write_text(page)
    with atomic_path(out_dir / "machine.json") as tmp:
        tmp.write_text(json.dumps(info, indent=2))
    return out_dir / "report.html"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #444;padding-bottom:.2em}h2{border-bottom:1px solid #bbb;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:.3em .6em;
text-align:right}th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0}code{background:#f4f4f4;padding:0 .2em}
pre{background:#f4f4f4;padding:.6em;overflow-x:auto}blockquote{border-left:4px solid #e0a000;margin:1em 0;
padding:.3em 1em;background:#fff8e0}
"""


def _inline(text: str, base: Path) -> str:
    out = html.escape(text, quote=False)

    def img(m: re.Match) -> str:
        alt, src = m.group(1), m.group(2)
        path = base / src
        if path.is_file():
            data = base64.b64encode(path.read_bytes()).decode()
            src = f"data:image/png;base64,{data}"
        return f'<img alt="{alt}" src="{src}">'

    out = re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", img, out)
    out = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r'<a href="\2">\1</a>', out)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"(?<![*\w])\*([^*\s][^*]*)\*(?![*\w])", r"<em>\1</em>", out)
    return out


def markdown_to_html(md: str, *, base: Path, title: str) -> str:
    """Render the subset of markdown the report uses (headings, tables, lists, quotes, code, images)."""
    body: list[str] = []
    lines = md.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            body.append("<pre><code>" + html.escape("\n".join(lines[i + 1 : j])) + "</code></pre>")
            i = j + 1
            continue
        m = re.match(r"(#{1,4}) (.*)", line)
        if m:
            n = len(m.group(1))
            body.append(f"<h{n}>{_inline(m.group(2), base)}</h{n}>")
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
                i += 1
            body.append("<table>")
            for k, row in enumerate(rows):
                if k == 1 and all(re.fullmatch(r":?-+:?", c) for c in row):
                    continue
                tag = "th" if k == 0 else "td"
                body.append("<tr>" + "".join(f"<{tag}>{_inline(c, base)}</{tag}>" for c in row) + "</tr>")
            body.append("</table>")
            continue
        elif line.startswith("> "):
            quote = []
            while i < len(lines) and lines[i].startswith(">"):
                quote.append(lines[i][1:].strip())
                i += 1
            body.append("<blockquote>" + _inline(" ".join(quote), base) + "</blockquote>")
            continue
        elif re.match(r"[-*] ", line):
            body.append("<ul>")
            while i < len(lines) and re.match(r"[-*] ", lines[i]):
                body.append("<li>" + _inline(lines[i][2:], base) + "</li>")
                i += 1
            body.append("</ul>")
            continue
        elif line.strip():
            para = [line]
            while i + 1 < len(lines) and lines[i + 1].strip() and not re.match(r"(#|\||> |[-*] |```)", lines[i + 1]):
                i += 1
                para.append(lines[i])
            body.append("<p>" + _inline(" ".join(para), base) + "</p>")
        i += 1
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
