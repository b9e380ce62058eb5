"""Render documents to PNG pages for a person to look at.

    python checks/render.py FOLDER_OR_FILE... [--out DIR] [--dpi 80] [--pages 6]

Each ``.docx`` (and ``.xlsx``, as it would print) is converted to PDF with LibreOffice
(``soffice --headless``), each PDF is
rasterised with ``pdftoppm`` (poppler-utils), each ``.html`` is screenshotted with headless
Chromium (``chromium --headless --screenshot``, 1280 px wide, up to 4000 px tall,
trimmed). The PNGs go to
``--out`` (default ``<folder>/_render``), named after the source file. Nothing is judged
automatically: open the PNGs and look.

Debian packages: ``libreoffice-writer-nogui fonts-noto-cjk poppler-utils chromium`` (and
``libreoffice-calc-nogui`` for workbooks).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def _tool(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def office_to_pdf(docx: Path, out: Path) -> Path:
    exe = _tool("soffice", "libreoffice")
    if exe is None:
        raise SystemExit(
            "未找到 LibreOffice(soffice):apt-get install libreoffice-writer-nogui fonts-noto-cjk"
        )
    with tempfile.TemporaryDirectory(prefix="render-lo-") as profile:
        subprocess.run(
            [
                exe,
                f"-env:UserInstallation=file://{profile}",
                "--headless",
                "--norestore",
                "--convert-to",
                "pdf",
                "--outdir",
                str(out),
                str(docx),
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )
    return out / (docx.stem + ".pdf")


def pdf_to_png(pdf: Path, out: Path, *, dpi: int, pages: int) -> list[Path]:
    exe = _tool("pdftoppm")
    if exe is None:
        raise SystemExit("未找到 pdftoppm:apt-get install poppler-utils")
    prefix = out / pdf.stem
    subprocess.run(
        [exe, "-png", "-r", str(dpi), "-f", "1", "-l", str(pages), str(pdf), str(prefix)],
        check=True,
        timeout=600,
    )
    return sorted(out.glob(f"{pdf.stem}-*.png"))


def html_to_png(html: Path, out: Path) -> list[Path]:
    exe = _tool("chromium", "chromium-browser", "google-chrome")
    if exe is None:
        print(f"跳过 {html.name}:未找到 Chromium(apt-get install chromium)", file=sys.stderr)
        return []
    png = out / f"{html.stem}.png"
    with tempfile.TemporaryDirectory(prefix="render-chrome-") as profile:
        subprocess.run(
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={profile}",
                "--hide-scrollbars",
                "--window-size=1280,4000",
                f"--screenshot={png}",
                html.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    _trim(png)
    return [png]


def _trim(png: Path) -> None:
    """Cut the white space below the page's content (the window is 4000 px tall)."""
    try:
        from PIL import Image, ImageOps
    except ImportError:
        return
    with Image.open(png) as im:
        box = ImageOps.invert(im.convert("RGB")).getbbox()
        if box:
            im.crop((0, 0, im.width, min(im.height, box[3] + 40))).save(png)


def render(sources: list[Path], out: Path | None, *, dpi: int, pages: int) -> list[Path]:
    done: list[Path] = []
    for src in sources:
        kinds = (".docx", ".xlsx", ".pdf", ".html")
        files = (
            sorted(
                p for p in src.rglob("*") if p.suffix.lower() in kinds and "_render" not in p.parts
            )
            if src.is_dir()
            else [src]
        )
        target = out or ((src if src.is_dir() else src.parent) / "_render")
        target.mkdir(parents=True, exist_ok=True)
        pdfs_made = {f.with_suffix(".pdf") for f in files if f.suffix.lower() == ".docx"}
        for f in files:
            suffix = f.suffix.lower()
            if suffix in (".docx", ".xlsx"):
                pdf = office_to_pdf(f, target)
                if suffix == ".xlsx":  # name it apart from a .docx of the same stem
                    pdf = pdf.rename(pdf.with_name(f"{f.stem}_xlsx.pdf"))
                done += pdf_to_png(pdf, target, dpi=dpi, pages=pages)
            elif suffix == ".pdf" and f not in pdfs_made:
                done += pdf_to_png(f, target, dpi=dpi, pages=pages)
            elif suffix == ".html":
                done += html_to_png(f, target)
    return done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="把 .docx / PDF / HTML 渲染为 PNG 供人工查看")
    ap.add_argument("paths", nargs="+", type=Path, help="文件或运行结果目录")
    ap.add_argument("--out", type=Path, default=None, help="PNG 输出目录(默认 <目录>/_render)")
    ap.add_argument("--dpi", type=int, default=80, help="分辨率(默认 80)")
    ap.add_argument("--pages", type=int, default=8, help="每个文档最多渲染的页数(默认 8)")
    args = ap.parse_args(argv)
    pngs = render(args.paths, args.out, dpi=args.dpi, pages=args.pages)
    for p in pngs:
        print(p)
    print(f"共 {len(pngs)} 张图片")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
