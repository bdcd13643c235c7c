"""Reading a PDF as a person's tools do: poppler's pdftotext, pdftoppm, pdffonts, pdfimages and pdfinfo."""

from __future__ import annotations

import html
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path


def _run(*args: str, pdf: bytes) -> str:
    done = subprocess.run(
        [*args, "-", "-"] if args[0] == "pdftotext" else [*args, "-"],
        input=pdf,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return done.stdout.decode("utf-8")


def text(pdf: bytes, *, layout: bool = True) -> str:
    return _run("pdftotext", "-enc", "UTF-8", *(["-layout"] if layout else []), pdf=pdf)


@dataclass(frozen=True)
class Word:
    """A word as ``pdftotext -bbox`` places it: points from the page's top left corner."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float


_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>')


def words(pdf: bytes) -> list[list[Word]]:
    """Each page's words, in the order pdftotext reads them."""
    out = _run("pdftotext", "-enc", "UTF-8", "-bbox", pdf=pdf)
    return [
        [
            Word(html.unescape(w), float(a), float(b), float(c), float(d))
            for a, b, c, d, w in _WORD.findall(page)
        ]
        for page in re.findall(r"<page .*?</page>", out, re.S)
    ]


def lines(page: list[Word], *, above: float) -> list[list[Word]]:
    """A page's lines above ``above`` (points from the top: the footer is below), top to bottom, each its words
    left to right (a table's row is one line across its cells)."""
    rows: dict[int, list[Word]] = {}
    for w in page:
        if w.y1 <= above:
            rows.setdefault(round(w.y1), []).append(w)
    return [sorted(row, key=lambda w: w.x0) for _, row in sorted(rows.items())]


def info(pdf: bytes) -> dict[str, str]:
    lines = _run("pdfinfo", pdf=pdf).splitlines()
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines)}


def fonts(pdf: bytes) -> list[dict[str, str]]:
    """``pdffonts`` rows: name, type, and whether each is embedded (``emb``) and has a ToUnicode map (``uni``)."""
    rows = _run("pdffonts", pdf=pdf).splitlines()[2:]
    out = []
    for row in rows:
        parts = row.split()
        # name, type words..., encoding, emb, sub, uni, object, id
        out.append({"name": parts[0], "emb": parts[-5], "sub": parts[-4], "uni": parts[-3]})
    return out


def images(pdf: bytes) -> list[str]:
    return _run("pdfimages", "-list", pdf=pdf).splitlines()[2:]


@dataclass
class Image:
    width: int
    height: int
    rgb: bytes

    def count(self, colour: str, tolerance: int = 12) -> int:
        """Pixels within ``tolerance`` of ``#rrggbb``."""
        want = bytes.fromhex(colour.lstrip("#"))
        px = self.rgb
        return sum(
            1 for i in range(0, len(px), 3) if all(abs(px[i + k] - want[k]) <= tolerance for k in range(3))
        )


def render(pdf: bytes, page: int, tmp: Path, dpi: int = 50) -> Image:
    """One page as pixels (``pdftoppm``'s PPM, read here: no imaging library needed)."""
    src = tmp / "render.pdf"
    src.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-f", str(page), "-l", str(page), str(src), str(tmp / "page")],
        check=True,
        timeout=60,
    )
    data = next(tmp.glob("page*.ppm")).read_bytes()
    header = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", data)  # exactly one whitespace byte ends the header
    assert header is not None, data[:20]
    return Image(int(header[1]), int(header[2]), data[header.end() :])
