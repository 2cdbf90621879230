"""The report as one self-contained HTML page: embedded CSS, images as base64 data URIs.

Nothing is loaded from outside the file (no fonts, style sheets, remote images or scripts beyond
one inline click handler), so the page reads the same offline and when mailed or archived on its
own. Case figures are fitted to the page; a click shows one at its full resolution (another click
fits it again).
"""

from __future__ import annotations

import base64
from html import escape

from seguq.report.document import Figure, Heading, Note, Section, Table

CSS = """
:root { color-scheme: light; --line: #d0d4da; --muted: #5b6470; --head: #f2f4f7; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       sans-serif; margin: 0 auto; padding: 1.5rem 2rem 3rem; max-width: 1400px;
       color: #1d232b; background: #fff; line-height: 1.45; }
h1 { font-size: 1.6rem; margin: 0 0 .2rem; }
h2 { font-size: 1.25rem; margin: 2.2rem 0 .6rem; padding-bottom: .25rem;
     border-bottom: 2px solid var(--line); }
h3 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
.subtitle, .note, figcaption, footer { color: var(--muted); }
.note { margin: .4rem 0; font-size: .92rem; }
.table-wrap { overflow-x: auto; margin: .4rem 0 1rem; }
table { border-collapse: collapse; font-size: .9rem; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: .3rem .6rem; text-align: right;
         white-space: nowrap; }
th { background: var(--head); font-weight: 600; white-space: normal; vertical-align: bottom; }
th:first-child, td:first-child { text-align: left; }
tbody tr:nth-child(even) { background: #fafbfc; }
table.main th, table.main td { font-size: .95rem; padding: .4rem .75rem; }
figure { margin: .6rem 0 1.2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
figure.zoom { overflow-x: auto; }
figure.zoom img { cursor: zoom-in; }
figure.zoom img.full { max-width: none; cursor: zoom-out; }
figcaption { font-size: .88rem; margin-top: .25rem; }
.grid { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); }
.grid figure { margin: 0; }
nav { font-size: .9rem; margin: .8rem 0 0; }
nav a { margin-right: 1rem; color: #1f5fbf; text-decoration: none; }
footer { margin-top: 3rem; font-size: .85rem; border-top: 1px solid var(--line);
         padding-top: .6rem; }
"""


def data_uri(image: bytes, mime: str = "image/png") -> str:
    """`data:<mime>;base64,...` for encoded image bytes."""
    return f"data:{mime};base64," + base64.b64encode(image).decode("ascii")


def table_html(table: Table) -> str:
    """A table with its title; the main table gets `id="main-table"`."""
    attributes = ' id="main-table" class="main"' if table.main else ""
    head = "".join(f"<th>{escape(str(c))}</th>" for c in table.columns)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in table.rows
    )
    title = f"<h3>{escape(table.title)}</h3>\n" if table.title else ""
    return (
        f'{title}<div class="table-wrap"><table{attributes}>\n<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{body}\n</tbody></table></div>"
    )


def figure_html(figure: Figure) -> str:
    """An embedded image with its caption."""
    alt = escape(figure.caption or figure.name, quote=True)
    caption = f"<figcaption>{escape(figure.caption)}</figcaption>" if figure.caption else ""
    source = data_uri(figure.image, figure.mime)
    if figure.zoom:
        toggle = "this.classList.toggle('full')"
        return (
            f'<figure class="zoom"><img src="{source}" alt="{alt}" title="click: full size"'
            f' onclick="{toggle}">{caption}</figure>'
        )
    return f'<figure><img src="{source}" alt="{alt}">{caption}</figure>'


def _anchor(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")


def section_html(section: Section) -> str:
    """A section: its title, then its tables, notes and figures in order."""
    parts = [f'<section id="{_anchor(section.title)}">\n<h2>{escape(section.title)}</h2>']
    figures: list[str] = []
    for block in section.blocks:
        if isinstance(block, Figure) and section.grid:
            figures.append(figure_html(block))
            continue
        if figures:
            parts.append('<div class="grid">' + "\n".join(figures) + "</div>")
            figures = []
        if isinstance(block, Table):
            parts.append(table_html(block))
        elif isinstance(block, Figure):
            parts.append(figure_html(block))
        elif isinstance(block, Note):
            parts.append(f'<p class="note">{escape(block.text)}</p>')
        elif isinstance(block, Heading):
            parts.append(f"<h3>{escape(block.text)}</h3>")
    if figures:
        parts.append('<div class="grid">' + "\n".join(figures) + "</div>")
    parts.append("</section>")
    return "\n".join(parts)


def page_html(title: str, subtitle: str, sections: list[Section], footer: str) -> str:
    """The whole page."""
    nav = " ".join(f'<a href="#{_anchor(s.title)}">{escape(s.title)}</a>' for s in sections)
    body = "\n".join(section_html(s) for s in sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>{escape(title)}</h1>
<div class="subtitle">{escape(subtitle)}</div>
<nav>{nav}</nav>
</header>
{body}
<footer>{escape(footer)}</footer>
</body>
</html>
"""
