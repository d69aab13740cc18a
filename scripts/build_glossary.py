"""Build a glossary (default ``runs/glossary/glossary.tsv.gz``): what action words mean, from WordNet 3.0.

A user's label that names a term of art ("tai chi", "clean and jerk", "donning") tells the sentence encoder little;
a description of the motion does (docs/cross_dataset.md round 14). WordNet defines such words. This script reads a
WordNet 3.0 database (the files of Debian's ``wordnet-base`` package, ``/usr/share/wordnet``, or Princeton's
``dict/`` folder) and writes every sense of a verb that a body does (lexicographer files verb.motion,
verb.contact, verb.body, verb.competition, verb.consumption) and every act sense of a noun (noun.act: "jogging",
"tai chi", "hug"), in WordNet's order, most frequent first; usage examples are dropped. Which sense a label means is
chosen when it is read (:mod:`sadvae.glossary`). It also writes the verb inflections WordNet lists as exceptions
("ran" -> "run"), so that the lookup finds "running" without a lemmatiser.

The table is read by ``sadvae benchmark --protocol cross-dataset --glossary`` (docs/cross_dataset.md round 20: measured,
not adopted, so it is not packaged)::

    apt-get install wordnet-base        # or any WordNet 3.0 dict/ folder
    python scripts/build_glossary.py --wordnet /usr/share/wordnet

The database format is WordNet's own (wndb(5WN)): ``index.<pos>`` lines ``lemma pos synset_cnt p_cnt [ptr...]
sense_cnt tagsense_cnt offset...``, ``data.<pos>`` lines ``offset lex_filenum ss_type ... | gloss`` read at byte
``offset``. WordNet's licence (reproduced in the output's header, as it requires) permits redistribution.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOUN_ACT = 4  # lexicographer file number of noun.act
# verb.body, verb.competition, verb.consumption, verb.contact, verb.motion: what a body does ("skip" keeps "jump
# lightly", not "bypass"). A verb with no such sense ("forward") is left out.
VERB_BODY = (29, 33, 34, 35, 38)

LICENCE = """\
WordNet Release 3.0. This software and database is being provided to you, the LICENSEE, by Princeton University
under the following license. By obtaining, using and/or copying this software and database, you agree that you
have read, understood, and will comply with these terms and conditions.: Permission to use, copy, modify and
distribute this software and database and its documentation for any purpose and without fee or royalty is hereby
granted, provided that you agree to comply with the following copyright notice and statements, including the
disclaimer, and that the same appear on ALL copies of the software, database and documentation, including
modifications that you make for internal use or for distribution. WordNet 3.0 Copyright 2006 by Princeton
University. All rights reserved. THIS SOFTWARE AND DATABASE IS PROVIDED "AS IS" AND PRINCETON UNIVERSITY MAKES NO
REPRESENTATIONS OR WARRANTIES, EXPRESS OR IMPLIED. BY WAY OF EXAMPLE, BUT NOT LIMITATION, PRINCETON UNIVERSITY
MAKES NO REPRESENTATIONS OR WARRANTIES OF MERCHANT- ABILITY OR FITNESS FOR ANY PARTICULAR PURPOSE OR THAT THE USE
OF THE LICENSED SOFTWARE, DATABASE OR DOCUMENTATION WILL NOT INFRINGE ANY THIRD PARTY PATENTS, COPYRIGHTS,
TRADEMARKS OR OTHER RIGHTS. The name of Princeton University or Princeton may not be used in advertising or
publicity pertaining to distribution of the software and/or database. Title to copyright in this software,
database and any associated documentation shall at all times remain with Princeton University and LICENSEE agrees
to preserve same."""


def senses(folder: Path, pos: str) -> dict[str, list[int]]:
    """lemma -> byte offsets of its senses in ``data.<pos>``, most frequent first."""
    out = {}
    for line in (folder / f"index.{pos}").read_text(encoding="latin-1").splitlines():
        if not line or line.startswith(" "):  # the licence header lines start with two spaces
            continue
        tok = line.split()  # lemma pos synset_cnt p_cnt ptr*p_cnt sense_cnt tagsense_cnt offset*synset_cnt
        count, pointers = int(tok[2]), int(tok[3])
        out[tok[0]] = [int(t) for t in tok[6 + pointers : 6 + pointers + count]]
    return out


def definition(data: bytes, offset: int) -> tuple[int, str]:
    """(lexicographer file number, the gloss without its quoted usage examples) of the synset at ``offset``."""
    line = data[offset : data.index(b"\n", offset)].decode("latin-1")
    lexfile = int(line.split()[1])
    gloss = line.split(" | ", 1)[1].strip()
    parts = [p.strip() for p in gloss.split(";")]
    kept = [p for p in parts if p and not p.startswith('"')]
    return lexfile, "; ".join(kept).strip()


def build(folder: Path) -> list[tuple[str, str, str]]:
    """Rows (kind, word, text): ``v`` verb lemma -> a definition of one of its bodily senses (:data:`VERB_BODY`),
    ``n`` noun -> a definition of one of its act senses, both in WordNet's order (most frequent first), one row per
    sense; ``x`` verb inflection -> its lemma. Lemmas are written with spaces ("sit down"), lower case."""
    rows = []
    for pos, kind, wanted in (("verb", "v", VERB_BODY), ("noun", "n", (NOUN_ACT,))):
        data = (folder / f"data.{pos}").read_bytes()
        for lemma, offsets in sorted(senses(folder, pos).items()):
            for lexfile, text in (definition(data, off) for off in offsets):
                if lexfile in wanted and text:
                    rows.append((kind, lemma.replace("_", " "), text))
    for line in (folder / "verb.exc").read_text(encoding="latin-1").splitlines():
        tok = line.split()
        if len(tok) >= 2 and "_" not in tok[0]:
            rows.append(("x", tok[0], tok[1].replace("_", " ")))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wordnet", default="/usr/share/wordnet", help="a WordNet 3.0 dict folder")
    ap.add_argument("--out", default=str(ROOT / "runs" / "glossary" / "glossary.tsv.gz"))
    args = ap.parse_args(argv)
    folder = Path(args.wordnet)
    needed = ("index.verb", "data.verb", "index.noun", "data.noun", "verb.exc")
    missing = [f for f in needed if not (folder / f).is_file()]
    if missing:
        sys.exit(f"build_glossary: {folder} lacks {missing}; install Debian's wordnet-base or pass a WordNet 3.0 dict/")
    try:
        rows = build(folder)
    except (ValueError, IndexError, UnicodeDecodeError) as e:
        sys.exit(f"build_glossary: {folder} is not a WordNet 3.0 database this script can read ({e}); use wordnet-base")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    header = [
        "# What action words mean, from WordNet 3.0 (scripts/build_glossary.py; columns: kind, word, text).",
        "# kind v: a bodily sense of a verb, n: an act sense of a noun (WordNet's order); x: inflection -> lemma.",
    ]
    header += ["# " + line for line in LICENCE.splitlines()]
    body = "\n".join(header + ["\t".join(r) for r in rows]) + "\n"
    with gzip.GzipFile(args.out, "wb", mtime=0) as f:  # mtime 0: the same database gives the same bytes
        f.write(body.encode("utf-8"))
    counts = {k: sum(r[0] == k for r in rows) for k in "vnx"}
    print(
        f"wrote {args.out}: {counts['v']} verbs, {counts['n']} act nouns, {counts['x']} inflections, "
        f"{Path(args.out).stat().st_size / 1e6:.2f} MB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
