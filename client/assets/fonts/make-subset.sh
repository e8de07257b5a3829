#!/bin/sh
# Regenerates the UI fonts, cut down to the characters the UI needs (printable ASCII,
# Latin-1, Latin Extended-A, some punctuation, and every character of every
# client/locales/*/main.ftl file) and those a player name may hold (the spec's alphabet:
# Latin and Cyrillic letters and combining marks, Hiragana, Katakana, and of Han the 3755
# ideographs of GB 2312 level 1 and the 2965 of JIS X 0208 level 1, 5009 in all, taken from
# Python's own codecs), so the repository and the browser bundle stay small:
#   NotoSans-Subset.ttf.lzma       Noto Sans (Latin, Cyrillic: en es fr pl ru), tried first;
#   NotoSansCJKsc-Subset.otf.lzma  Noto Sans CJK SC (kana, Han: ja zh), the fallback, holding
#                                  only the characters Noto Sans lacks.
# Both are scaled from 1000 to 256 units per em (outlines on a grid of 1/256 em: under a fifth
# of a pixel at 48 px, where the UI draws at 12-32 px; 28 % less to download for the CJK
# face) and stored compressed as .lzma (LZMA, xz --format=lzma, a 2 MiB dictionary: 22 % less
# than gzip -9 of the same font); client/src/ui/font.rs inflates them once at startup.
#
# Needs: Debian's fonts-noto-core, fonts-noto-cjk and xz-utils
# (apt-get install fonts-noto-core fonts-noto-cjk xz-utils) and fonttools
# (apt-get install python3-fonttools, or pip install fonttools; PYTHON names the interpreter
# that has it). Run from anywhere after editing a translation:
#   sh client/assets/fonts/make-subset.sh
# The test `every_locale_character_has_a_glyph` fails until it is rerun.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
locales="$here/../../locales"
cjk_font=${NOTO_CJK:-/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc}
latin_font=${NOTO_SANS:-/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf}
python=${PYTHON:-python3}
chars=$(mktemp)
work=$(mktemp -d)
trap 'rm -rf "$chars" "$work"' EXIT
"$python" - "$locales" "$chars" <<'PY'
import pathlib, sys, unicodedata
text = set(chr(c) for c in range(0x20, 0x7f))          # printable ASCII
text |= set(chr(c) for c in range(0xa0, 0x180))        # Latin-1 and Latin Extended-A
text |= set("…–—·•×→←↑↓▶■□●○“”‘’«»％：（）、。！？")    # punctuation the UI draws itself
for f in sorted(pathlib.Path(sys.argv[1]).glob("*/main.ftl")):
    text |= set(f.read_text(encoding="utf-8"))
# Names: the letters and marks of the Latin and Cyrillic blocks, all of Hiragana and Katakana.
for lo, hi in [(0x180, 0x250), (0x300, 0x370), (0x400, 0x530), (0x1E00, 0x1F00),
               (0x3040, 0x3100), (0x31F0, 0x3200)]:
    text |= set(c for c in map(chr, range(lo, hi)) if unicodedata.category(c)[0] in "LM")
# Names in Han: the commonest ideographs of Chinese and Japanese, by their national standards.
for codec, rows in [("gb2312", range(0xB0, 0xD8)), ("euc_jp", range(0xB0, 0xD0))]:
    for lead in rows:
        for trail in range(0xA1, 0xFF):
            try:
                text.add(bytes([lead, trail]).decode(codec))
            except UnicodeDecodeError:
                pass
text -= set("\n\r\t")
pathlib.Path(sys.argv[2]).write_text("".join(sorted(text)), encoding="utf-8")
PY
"$python" -m fontTools.subset "$latin_font" --text-file="$chars" --layout-features='kern,liga' \
    --no-hinting --name-IDs='*' --name-languages='*' \
    --output-file="$work/NotoSans-Subset.ttf"
# The fallback holds only what Noto Sans lacks (egui draws each character with the first
# font that has it, so the Latin and Cyrillic glyphs of Noto Sans CJK would never be drawn).
"$python" - "$work/NotoSans-Subset.ttf" "$chars" <<'PY'
import pathlib, sys
from fontTools.ttLib import TTFont
drawn = set(map(chr, TTFont(sys.argv[1]).getBestCmap()))
path = pathlib.Path(sys.argv[2])
path.write_text("".join(c for c in path.read_text(encoding="utf-8") if c not in drawn),
                encoding="utf-8")
PY
# Font number 2 of the collection is "Noto Sans CJK SC".
"$python" -m fontTools.subset "$cjk_font" --font-number=2 --text-file="$chars" \
    --layout-features='kern,liga' --no-hinting --desubroutinize \
    --name-IDs='*' --name-languages='*' \
    --output-file="$work/NotoSansCJKsc-Subset.otf"
for font in NotoSans-Subset.ttf NotoSansCJKsc-Subset.otf; do
    "$python" -m fontTools.ttLib.scaleUpem --output-file="$work/256-$font" "$work/$font" 256
    xz --format=lzma --lzma1=preset=9e,dict=2MiB -c "$work/256-$font" > "$here/$font.lzma"
done
ls -l "$here/NotoSans-Subset.ttf.lzma" "$here/NotoSansCJKsc-Subset.otf.lzma"
