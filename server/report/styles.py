"""Fonts and paragraph styles of the dossier: DejaVu Sans from the Debian package ``fonts-dejavu-core``, embedded.

DejaVu Sans has every precomposed Vietnamese letter (U+00C0..U+01B0, U+1EA0..U+1EF9), so text normalised to NFC
is drawn glyph for glyph and extracted as the same characters. The fonts are embedded as subsets: the PDF prints
the same anywhere, also where no Vietnamese font is installed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

__all__ = ["BOLD", "FONT", "FONT_DIRS", "Styles", "MissingFont", "register_fonts", "styles"]

FONT, BOLD = "DejaVuSans", "DejaVuSans-Bold"
#: Debian/Ubuntu/Raspberry Pi OS, then Fedora/Arch layouts
FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu-sans-fonts"),
    Path("/usr/share/fonts/TTF"),
)
_lock = threading.Lock()


class MissingFont(RuntimeError):
    """The font with every Vietnamese glyph is not installed."""


def _find(file_name: str) -> Path:
    for folder in FONT_DIRS:
        if (folder / file_name).is_file():
            return folder / file_name
    raise MissingFont(
        f"{file_name} not found in {', '.join(map(str, FONT_DIRS))}: install the Debian package "
        "fonts-dejavu-core (scripts/ensure-services.sh does)"
    )


def register_fonts() -> None:
    """Register the fonts once per process (ReportLab's registry is global)."""
    with _lock:
        if FONT in pdfmetrics.getRegisteredFontNames():
            return
        pdfmetrics.registerFont(TTFont(FONT, str(_find("DejaVuSans.ttf"))))
        pdfmetrics.registerFont(TTFont(BOLD, str(_find("DejaVuSans-Bold.ttf"))))
        pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)


@dataclass(frozen=True, slots=True)
class Styles:
    title: ParagraphStyle
    subtitle: ParagraphStyle
    h1: ParagraphStyle
    h2: ParagraphStyle
    body: ParagraphStyle
    #: a line that introduces what follows (``Khóa của gateway:`` and its table): never alone at a page's foot
    lead: ParagraphStyle
    small: ParagraphStyle
    #: the period under a part's heading: kept with the heading and with what follows it
    period: ParagraphStyle
    cell: ParagraphStyle
    head: ParagraphStyle


def styles() -> Styles:
    register_fonts()
    body = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=12.5, spaceAfter=4)
    small = ParagraphStyle("small", body, fontSize=7.5, leading=9.5, textColor=colors.HexColor("#424242"))
    return Styles(
        title=ParagraphStyle(
            "title", body, fontName=BOLD, fontSize=20, leading=26, alignment=1, spaceAfter=10
        ),
        subtitle=ParagraphStyle("subtitle", body, fontSize=13, leading=18, alignment=1, spaceAfter=18),
        h1=ParagraphStyle(
            "h1",
            body,
            fontName=BOLD,
            fontSize=14,
            leading=18,
            spaceBefore=8,
            spaceAfter=8,
            textColor=colors.HexColor("#1a3d6d"),
            keepWithNext=1,  # a heading never ends a page with its part on the next
        ),
        h2=ParagraphStyle(
            "h2", body, fontName=BOLD, fontSize=11, leading=14, spaceBefore=8, spaceAfter=4, keepWithNext=1
        ),
        body=body,
        lead=ParagraphStyle("lead", body, keepWithNext=1),
        small=small,
        period=ParagraphStyle("period", small, keepWithNext=1),
        cell=ParagraphStyle("cell", body, fontSize=8.5, leading=10.5, spaceAfter=0),
        head=ParagraphStyle("head", body, fontName=BOLD, fontSize=8.5, leading=10.5, spaceAfter=0),
    )
