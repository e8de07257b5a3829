#!/bin/sh
# Regenerates the UI fonts, cut down to the characters the UI needs (printable ASCII,
# Latin-1, Latin Extended-A, some punctuation, and every character of every
# client/locales/*/main.ftl file), so the repository stays small:
#   NotoSans-Subset.ttf       Noto Sans (Latin, Cyrillic: en es fr pl ru), tried first;
#   NotoSansCJKsc-Subset.otf  Noto Sans CJK SC (kana, Han: ja zh), the fallback.
#
# Needs: Debian's fonts-noto-core and fonts-noto-cjk
# (apt-get install fonts-noto-core fonts-noto-cjk) and fonttools
# (pip install fonttools). Run from anywhere after editing a translation:
#   sh client/assets/fonts/make-subset.sh
# The test `every_locale_character_has_a_glyph` fails until it is rerun.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
locales="$here/../../locales"
cjk_font=${NOTO_CJK:-/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc}
latin_font=${NOTO_SANS:-/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf}
chars=$(mktemp)
trap 'rm -f "$chars"' EXIT
python3 - "$locales" "$chars" <<'PY'
import pathlib, sys
text = set(chr(c) for c in range(0x20, 0x7f))          # printable ASCII
text |= set(chr(c) for c in range(0xa0, 0x180))        # Latin-1 and Latin Extended-A
text |= set("…–—·•×→←↑↓▶■□●○“”‘’«»％：（）、。！？")    # punctuation the UI draws itself
for f in sorted(pathlib.Path(sys.argv[1]).glob("*/main.ftl")):
    text |= set(f.read_text(encoding="utf-8"))
text -= set("\n\r\t")
pathlib.Path(sys.argv[2]).write_text("".join(sorted(text)), encoding="utf-8")
PY
pyftsubset "$latin_font" --text-file="$chars" --layout-features='kern,liga' \
    --no-hinting --name-IDs='*' --name-languages='*' \
    --output-file="$here/NotoSans-Subset.ttf"
# Font number 2 of the collection is "Noto Sans CJK SC".
pyftsubset "$cjk_font" --font-number=2 --text-file="$chars" \
    --layout-features='kern,liga,locl,vert,halt,palt' --no-hinting --desubroutinize \
    --name-IDs='*' --name-languages='*' \
    --output-file="$here/NotoSansCJKsc-Subset.otf"
ls -l "$here/NotoSans-Subset.ttf" "$here/NotoSansCJKsc-Subset.otf"
