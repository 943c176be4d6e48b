"""PDF rendering of report documents with fpdf2 and a TTF font that has Vietnamese glyphs.

The core PDF fonts cannot show Vietnamese, so we embed Source Sans Pro (SIL Open Font License),
installed with Canh from PyPI, so every machine renders the same reports; CANH_PDF_FONT picks another
TTF, and DejaVu Sans from the system is the fallback. Without any such font we still write the PDF,
with the diacritics stripped and a notice saying so.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from canh.i18n import t
from canh.incidents.reports import Doc

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/local/share/fonts/DejaVuSans.ttf",
    "/Library/Fonts/DejaVuSans.ttf",
    "C:/Windows/Fonts/DejaVuSans.ttf",
)


def packaged_font() -> Path | None:
    """Source Sans Pro Regular from the font-source-sans-pro package, if installed."""
    try:
        from importlib import resources

        path = Path(str(resources.files("font_source_sans_pro") / "files" / "SourceSansPro-Regular.ttf"))
    except (ModuleNotFoundError, TypeError):
        return None
    return path if path.is_file() else None


def find_font() -> Path | None:
    """A TTF with Vietnamese glyphs: CANH_PDF_FONT, else the packaged Source Sans Pro, else DejaVu Sans."""
    env = os.environ.get("CANH_PDF_FONT")
    packaged = packaged_font()
    for cand in ([env] if env else []) + ([str(packaged)] if packaged else []) + list(FONT_CANDIDATES):
        if cand and Path(cand).is_file():
            return Path(cand)
    return None


def bold_of(font: Path) -> Path:
    """The bold face beside a regular one (X-Regular.ttf → X-Bold.ttf, X.ttf → X-Bold.ttf), or itself."""
    stem = font.stem[: -len("-Regular")] if font.stem.endswith("-Regular") else font.stem
    bold = font.with_name(f"{stem}-Bold{font.suffix}")
    return bold if bold.is_file() else font


def strip_diacritics(text: str) -> str:
    """ASCII fallback for the core fonts (đ → d; other marks dropped)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return (
        "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        .encode("latin-1", "replace")
        .decode("latin-1")
    )


def render_pdf(doc: Doc, lang: str, font: Path | None = None) -> tuple[bytes, str | None]:
    """The document as PDF bytes, and a warning when no Vietnamese-capable font was found."""
    font = font or find_font()
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_margins(15, 15, 15)
    warning = None
    if font is not None:
        pdf.add_font("Body", "", str(font))
        pdf.add_font("Body", "B", str(bold_of(font)))
        family = "Body"

        def fix(text: str) -> str:
            return text
    else:
        family = "Helvetica"
        warning = t("report.no_font", lang=lang)
        fix = strip_diacritics
    pdf.set_title(fix(doc.title))
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    if warning:
        pdf.set_font(family, "B", 9)
        pdf.multi_cell(width, 5, fix(warning), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(family, "B", 15)
    pdf.multi_cell(width, 8, fix(doc.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    for block in doc.blocks:
        kind = block[0]
        if kind == "h2":
            pdf.ln(2)
            pdf.set_font(family, "B", 12)
            pdf.multi_cell(width, 7, fix(block[1]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        elif kind == "p":
            pdf.set_font(family, "", 10)
            pdf.multi_cell(width, 5.5, fix(block[1]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        elif kind in ("kv", "table"):
            if kind == "kv":
                headers: list[str] | None = None
                rows = [[k, v] for k, v in block[1]]
                widths: tuple[float, ...] = (0.35, 0.65)
            else:
                headers, rows = block[1], block[2]
                widths = tuple([1 / len(headers)] * len(headers))
                if block[3]:
                    widths = tuple(block[3])
                elif len(headers) >= 3:  # the name column takes the room
                    rest = 0.5 / (len(headers) - 1)
                    widths = tuple(0.5 if i == 1 else rest for i in range(len(headers)))
            if not rows and headers is None:
                continue
            pdf.set_font(family, "", 8.5)
            with pdf.table(
                col_widths=tuple(w * 100 for w in widths),
                width=width,
                line_height=4.6,
                first_row_as_headings=headers is not None,
                text_align="LEFT",
            ) as tbl:
                if headers is not None:
                    row = tbl.row()
                    for h in headers:
                        row.cell(fix(h))
                for r in rows:
                    row = tbl.row()
                    for c in r:
                        row.cell(fix(c))
            pdf.ln(1)
    return bytes(pdf.output()), warning
