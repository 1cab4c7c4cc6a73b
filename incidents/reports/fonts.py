"""Finding a font with Chinese glyphs for the PDF reports.

Order: the ``SITROOM_REPORT_FONT`` environment variable, then the files of Debian's CJK font
packages, then fontconfig. fpdf2 (≥ 2.8) reads TrueType collections (.ttc) itself given the
face index, so the Debian files are used as they are.

fontconfig is asked for ``:lang=zh-cn``, not ``:lang=zh``: fontconfig has no orthography
named plain "zh", so ``fc-match :lang=zh`` answers with its default font (DejaVu Sans on
Debian) even when a Chinese font is installed. Its answer is checked to cover zh-cn as well,
since fc-match always answers with *some* font.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "SITROOM_REPORT_FONT"
"""Environment variable naming a font file; `path` or `path#face-index` for a collection."""


@dataclass(frozen=True, slots=True)
class FontSpec:
    """A font file and, for a collection (.ttc/.otc), which face of it to use."""

    path: Path
    """The font file (.ttf, .otf, .ttc or .otc)."""
    index: int = 0
    """Face index inside a collection; 0 for a single font."""


DEBIAN_FONTS: tuple[FontSpec, ...] = (
    FontSpec(Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")),  # fonts-wqy-microhei
    # fonts-noto-cjk: the collection holds JP, KR, SC, TC, HK faces in that order; 2 is SC.
    FontSpec(Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 2),
    FontSpec(Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"), 2),
    FontSpec(Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")),  # fonts-wqy-zenhei
    FontSpec(Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")),
)
"""Files of Debian's CJK font packages, most suitable first."""

NOT_FOUND = ("no Chinese font found: install fonts-wqy-microhei (apt-get install "
             "fonts-wqy-microhei) or set SITROOM_REPORT_FONT=/path/to/font.ttf")
"""What `FontNotFoundError` says when nothing was found."""


class FontNotFoundError(RuntimeError):
    """No usable Chinese font: the message says how to get one."""


def parse_spec(value: str) -> FontSpec:
    """A font named as `path` or `path#index` (a face of a collection)."""
    path, sep, index = value.rpartition("#")
    if sep and index.isdigit():
        return FontSpec(Path(path), int(index))
    return FontSpec(Path(value))


def _fontconfig(fc_match: str | None) -> FontSpec | None:
    """The font fontconfig picks for simplified Chinese, if it really covers it."""
    if fc_match is None:
        return None
    try:
        answer = subprocess.run(
            [fc_match, "-f", "%{file}|%{index}|%{lang}", ":lang=zh-cn"],
            check=True, capture_output=True, text=True, timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None  # a broken fontconfig is the same as none: the caller raises NOT_FOUND
    file, _, rest = answer.partition("|")
    index, _, langs = rest.partition("|")
    if not file or "zh-cn" not in langs.split("|"):
        return None
    return FontSpec(Path(file), int(index) if index.isdigit() else 0)


def find_cjk_font(env: Mapping[str, str] | None = None,
                  candidates: Sequence[FontSpec] = DEBIAN_FONTS,
                  fc_match: str | None = "fc-match") -> FontSpec:
    """The Chinese font to embed in PDFs; FontNotFoundError when there is none.

    `env` defaults to the process environment; `fc_match` is the fontconfig command (None
    to skip fontconfig). A font named in the environment must exist: a wrong setting is an
    error rather than a silent fallback to another font.
    """
    environ = os.environ if env is None else env
    named = environ.get(ENV_VAR, "").strip()
    if named:
        spec = parse_spec(named)
        if not spec.path.is_file():
            raise FontNotFoundError(f"{ENV_VAR}={named} is not a font file")
        return spec
    for spec in candidates:
        if spec.path.is_file():
            return spec
    found = _fontconfig(shutil.which(fc_match) if fc_match else None)
    if found is not None and found.path.is_file():
        return found
    raise FontNotFoundError(NOT_FOUND)
