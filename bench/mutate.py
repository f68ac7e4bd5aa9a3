#!/usr/bin/env python3
"""Mutation run against churnwatch's input parsing: counts panics and rows unaccounted for.

Each case takes one CSV export from data/ (weighted towards messages, meetings,
accounts and invoices), applies one mutation kind to its raw bytes (sometimes two or
three kinds stacked, shown as "a+b"), and runs

    BIN run --config CONFIG --as-of AS_OF --input-dir IN --output-dir OUT -q

with a 60 s timeout. IN holds the mutated table as a real file and symlinks to the
untouched exports. Cases are planned from --seed alone (the kind is round-robin over
a reshuffled list, table and details are random), so a case number reproduces the
same mutated file whatever --jobs is.

Outcome of a run:
  exit 0 ok, 3 input error (stderr must name the mutated file's basename), 4 quarantine
  budget, 7 health check; 2/5/6/anything else is "unexpected"; exit 1 or 101, a
  signal, a timeout or "panicked" in stderr is a crash (panic / signal / timeout are
  counted separately).

Row accounting (exit 0 and 4), for every table in OUT/run_summary.json `tables`:
  (a) rows_read == rows_accepted + rows_quarantined
  (b) physical_lines == the file's line count, counted here on the raw bytes
      (`\\r\\n`, `\\n` and a lone `\\r` each end one line; a last piece without line
      end counts if non-empty; an empty file has 0 lines), and
      physical_lines == 1 (header) + blank_lines + rows_read + line_breaks_in_fields
      (0 for an empty file)
  (c) OUT/quarantine/<table>.csv (UTF-8 BOM, RFC 4180) has rows_quarantined data rows.
  A table's "rows unaccounted" is the largest absolute difference among its checks;
  a case's is the sum over its tables. Summary fields that are missing
  (physical_lines, blank_lines, line_breaks_in_fields) fail the case as
  "fields-missing"; (b) is then skipped and a hint is shown instead: non-blank data
  lines of the mutated file that rows_read does not cover, minus the line breaks this
  script itself put inside quoted fields.

Warnings, not failures: "swallowed" lines and "split" line breaks. line_breaks_in_fields of the mutated table
beyond the line breaks the mutation wrote into quoted fields (and those of the
original) are lines that a stray quote pulled into a properly closed quoted field:
they balance the line equation but are not rows. For a lone quote_pair mutation the
report also says whether the swallowing record was quarantined (its `line` is in the
quarantine file) or ACCEPTED, i.e. rows silently lost. "split" is the reverse: line
breaks the mutation wrote inside a properly closed quoted field that the binary read
as row breaks (rows_read then counts the pieces).

Mutation kinds: byte_flip, quote_field_start (`,"x`), quote_mid_field, quotes_several
(sometimes on nearby lines), quote_pair (an opening quote at a field start and a
closing one at a field end 1-5 lines later, often in a text column), truncate
(sometimes mid UTF-8 character or in the header), dup_field, drop_field,
shuffle_fields, nul_bytes, long_field (100 KB-2 MB), header_only, empty, blank_lines,
line_endings (CRLF<->LF, sometimes lone CR or mixed), dup_line, delete_lines,
embedded_newline (a properly closed quoted field with 1-3 line breaks, e.g.
account_name "Foo\nBar"), bom (added, doubled or removed).

Exit status: 1 if any crash (panic, signal, timeout) or rows unaccounted for; 3 if
only other failures (unexpected exit code, exit 3 without the file's name, missing
run_summary.json or summary fields); 0 otherwise.

Usage (from anywhere; paths default to the project this file lives in):
    python3 bench/mutate.py --count 1000 --jobs 2
    python3 bench/mutate.py --count 20 --dry-run --work /tmp/mut   # files only
    python3 bench/mutate.py --count 300 --keep-failures /tmp/mutfail
    python3 bench/mutate.py --count 100 --only quote_pair --table accounts,churn_events
    python3 bench/mutate.py --count 1000 --case 417 -v            # re-run one case
Stdlib only.
"""

import argparse
import concurrent.futures
import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# table -> weight of being the mutated one
TABLES = {
    "messages": 4,
    "meetings": 3,
    "accounts": 3,
    "invoices": 3,
    "action_items": 1,
    "study_sessions": 1,
    "outcomes": 1,
    "churn_events": 1,
}
# Text-ish columns, preferred for the embedded-newline mutation.
TEXT_COLUMNS = {
    "accounts": ["account_name", "manager"],
    "meetings": ["purpose", "status"],
    "messages": ["channel"],
    "churn_events": ["stated_reason"],
    "outcomes": ["metric"],
    "invoices": ["invoice_id"],
    "study_sessions": ["session_id"],
    "action_items": [],
}
NEW_FIELDS = ("physical_lines", "blank_lines", "line_breaks_in_fields")
BOM = b"\xef\xbb\xbf"
TIMEOUT_S = 60
CRASH_OUTCOMES = ("panic", "signal", "timeout")

csv.field_size_limit(2**31 - 1)

# --------------------------------------------------------------------------- lines


_TERM = re.compile(rb"\r\n|\n|\r")


def split_lines(data):
    """[(content, terminator)], terminator b'' for a last line without one."""
    out, pos = [], 0
    for m in _TERM.finditer(data):
        out.append((data[pos : m.start()], m.group()))
        pos = m.end()
    if pos < len(data):
        out.append((data[pos:], b""))
    return out


def join_lines(lines):
    return b"".join(c + t for c, t in lines)


def count_physical_lines(data):
    crlf = data.count(b"\r\n")
    n = data.count(b"\n") + data.count(b"\r") - crlf
    if data and data[-1:] not in (b"\n", b"\r"):
        n += 1
    return n


def count_empty_lines(data):
    return sum(1 for c, _ in split_lines(data) if c == b"")


def split_fields(line):
    """Fields of one line, commas inside quoted fields kept (lenient RFC 4180)."""
    if b'"' not in line:
        return line.split(b",")
    fields, cur, inq, start, i, n = [], bytearray(), False, True, 0, len(line)
    while i < n:
        b = line[i]
        if inq:
            cur.append(b)
            if b == 0x22:
                if i + 1 < n and line[i + 1] == 0x22:
                    cur.append(0x22)
                    i += 1
                else:
                    inq = False
        elif b == 0x2C:
            fields.append(bytes(cur))
            cur, start = bytearray(), True
        else:
            if b == 0x22 and start:
                inq = True
            cur.append(b)
            start = False
        i += 1
    fields.append(bytes(cur))
    return fields


def unquote(field):
    if len(field) >= 2 and field[:1] == b'"' and field[-1:] == b'"':
        return field[1:-1].replace(b'""', b'"')
    return field


def quote(value):
    return b'"' + value.replace(b'"', b'""') + b'"'


def dominant_terminator(lines):
    c = Counter(t for _, t in lines if t)
    return c.most_common(1)[0][0] if c else b"\n"


def pick_data_line(lines, rng):
    if len(lines) > 1:
        return rng.randrange(1, len(lines))
    return 0


# --------------------------------------------------------------------------- mutations
# Each takes (data: bytes, rng, info: dict) and returns (data, description).
# info["header"] holds the original header names; info["lbif"] counts line breaks
# the mutation put inside properly closed quoted fields (for the hint only).


def m_byte_flip(data, rng, info):
    if not data:
        return data, "nothing to flip"
    b = bytearray(data)
    k = rng.randint(1, 20)
    where = []
    for _ in range(k):
        p = rng.randrange(len(b))
        b[p] = rng.randrange(256)
        where.append(p)
    return bytes(b), f"{k} bytes changed (e.g. at {sorted(where)[:5]})"


def _insert_quote(lines, rng, mode, near=None):
    """Inserts one `"` on a data line (one of `near` if given): at a field start
    (`,"x`) or mid-field."""
    li = rng.choice(near) if near else pick_data_line(lines, rng)
    c, t = lines[li]
    if mode == "start":
        commas = [m.start() for m in re.finditer(rb",", c)]
        if commas and rng.random() < 0.8:
            p = rng.choice(commas) + 1
        else:
            p = 0
    else:
        cands = [p for p in range(1, len(c)) if c[p - 1] not in b',"' and c[p] not in b',"']
        if not cands:
            p = rng.randrange(len(c) + 1)
        else:
            p = rng.choice(cands)
    lines[li] = (c[:p] + b'"' + c[p:], t)
    return f"line {li + 1} byte {p} ({mode})"


def _stray_quote(mode):
    """A mutation that puts one stray quote at a field's start or inside it."""
    def mutate(data, rng, info):
        lines = split_lines(data)
        if not lines:
            return b'"', "empty file -> lone quote"
        d = _insert_quote(lines, rng, mode)
        return join_lines(lines), "stray quote at " + d
    return mutate


m_quote_field_start = _stray_quote("start")
m_quote_mid_field = _stray_quote("mid")


def m_quotes_several(data, rng, info):
    lines = split_lines(data)
    if not lines:
        return b'""x"', "empty file -> quotes"
    k = rng.randint(2, 8)
    near = None
    if rng.random() < 0.5 and len(lines) > 2:
        base = pick_data_line(lines, rng)
        near = list(range(base, min(len(lines), base + 6)))
    ds = [_insert_quote(lines, rng, rng.choice(["start", "mid"]), near) for _ in range(k)]
    return join_lines(lines), f"{k} stray quotes: " + "; ".join(ds[:4]) + ("; ..." if k > 4 else "")


def m_quote_pair(data, rng, info):
    """A stray `"` at a field start and another at a field end 1-5 lines later: a
    properly closed quoted field that swallows the lines between (with the same
    field on both lines, the record even has the header's width)."""
    lines = split_lines(data)
    if len(lines) < 3:
        return m_quote_field_start(data, rng, info)
    li = rng.randrange(1, len(lines) - 1)
    lj = min(len(lines) - 1, li + rng.randint(1, 5))
    a, b = split_fields(lines[li][0]), split_fields(lines[lj][0])
    text = [info["header"].index(n) for n in TEXT_COLUMNS.get(info["table"], [])[:1] if n in info["header"]]
    if text and text[0] < min(len(a), len(b)) and rng.random() < 0.5:
        k = text[0]  # a text column, where a multi-line value is believable
    else:
        k = rng.randrange(len(a))
    m = k if (k < len(b) and rng.random() < 0.6) else rng.randrange(len(b))
    a[k] = b'"' + a[k].replace(b'"', b'""')
    b[m] = b[m].replace(b'"', b'""') + b'"'
    lines[li] = (b",".join(a), lines[li][1])
    lines[lj] = (b",".join(b), lines[lj][1])
    info["swallow"] = lj - li
    info["swallow_line"] = li + 1
    return join_lines(lines), f"quote opens field {k + 1} of line {li + 1}, closes field {m + 1} of line {lj + 1}"


def m_truncate(data, rng, info):
    if len(data) < 2:
        return b"", "cut to 0 bytes"
    r = rng.random()
    if r < 0.35:
        leads = [m.start() for m in re.finditer(rb"[\xc2-\xf4]", data)]
        if leads:
            p = rng.choice(leads)
            need = 2 if data[p] < 0xE0 else (3 if data[p] < 0xF0 else 4)
            cut = p + rng.randint(1, need - 1)
            return data[:cut], f"cut at byte {cut} of {len(data)} (mid UTF-8 char)"
    if r < 0.45:
        first = len(split_lines(data)[0][0])
        cut = rng.randint(1, max(1, first))
        return data[:cut], f"cut at byte {cut} of {len(data)} (in the header)"
    cut = rng.randrange(1, len(data))
    return data[:cut], f"cut at byte {cut} of {len(data)}"


def _field_op(data, rng, name, op):
    lines = split_lines(data)
    if not lines:
        return data, "empty file"
    k = rng.choice([1, 1, 1, 2, 3, 5])
    done = []
    for _ in range(k):
        li = pick_data_line(lines, rng)
        c, t = lines[li]
        fields = split_fields(c)
        d = op(fields, rng)
        lines[li] = (b",".join(fields), t)
        done.append(f"line {li + 1} {d}")
    return join_lines(lines), f"{name} on {k} line(s): " + "; ".join(done[:3])


def _dup(fields, rng):
    j = rng.randrange(len(fields))
    fields.insert(j, fields[j])
    return f"field {j + 1}"


def _drop(fields, rng):
    if len(fields) < 2:
        return "only one field, kept"
    j = rng.randrange(len(fields))
    del fields[j]
    return f"field {j + 1}"


def _shuffle(fields, rng):
    orig = list(fields)
    for _ in range(5):
        rng.shuffle(fields)
        if fields != orig:
            break
    return "shuffled"


def m_dup_field(data, rng, info):
    return _field_op(data, rng, "duplicated field", _dup)


def m_drop_field(data, rng, info):
    return _field_op(data, rng, "dropped field", _drop)


def m_shuffle_fields(data, rng, info):
    return _field_op(data, rng, "shuffled fields", _shuffle)


def m_nul_bytes(data, rng, info):
    b = bytearray(data)
    k = rng.randint(1, 10)
    for _ in range(k):
        p = rng.randrange(len(b) + 1)
        b[p:p] = b"\0" * rng.randint(1, 4)
    return bytes(b), f"{k} runs of NUL bytes"


def m_long_field(data, rng, info):
    lines = split_lines(data)
    if not lines:
        lines = [(b"", b"")]
    n = rng.randint(100_000, 2_000_000)
    style = rng.choice(["ascii", "digits", "japanese", "quoted"])
    if style == "ascii":
        payload = b"x" * n
    elif style == "digits":
        payload = b"1234567890" * (n // 10)
    elif style == "japanese":
        payload = ("長" * (n // 3)).encode()
    else:
        payload = quote((b"long, \"quoted\" text " * (n // 20))[:n])
    li = pick_data_line(lines, rng)
    c, t = lines[li]
    fields = split_fields(c)
    j = rng.randrange(len(fields))
    if rng.random() < 0.5 or style == "quoted":
        fields[j] = payload
        how = "replaced"
    else:
        fields[j] = fields[j] + payload
        how = "appended to"
    lines[li] = (b",".join(fields), t)
    return join_lines(lines), f"{len(payload)} byte {style} field {how} field {j + 1} of line {li + 1}"


def m_header_only(data, rng, info):
    lines = split_lines(data)
    if not lines:
        return data, "empty already"
    c, t = lines[0]
    keep_end = rng.random() < 0.7
    return c + (t if keep_end else b""), "header only" + ("" if keep_end else ", no line end")


def m_empty(data, rng, info):
    return b"", "0-byte file"


def m_blank_lines(data, rng, info):
    lines = split_lines(data)
    term = dominant_terminator(lines)
    if lines and lines[-1][1] == b"":
        lines[-1] = (lines[-1][0], term)  # a blank line needs the last line ended
    k = rng.randint(1, 20)
    where = []
    for _ in range(k):
        r = rng.random()
        if r < 0.05:
            p = 0  # before the header
        elif r < 0.3:
            p = len(lines)  # at the end
        else:
            p = rng.randint(1, max(1, len(lines)))
        t = term if rng.random() < 0.8 else rng.choice([b"\n", b"\r\n", b"\r"])
        lines.insert(p, (b"", t))
        where.append(p + 1)
    return join_lines(lines), f"{k} blank lines (at {sorted(where)[:6]})"


def m_line_endings(data, rng, info):
    lines = split_lines(data)
    has_crlf = any(t == b"\r\n" for _, t in lines)
    target = b"\n" if has_crlf else b"\r\n"
    if rng.random() < 0.1:
        target = b"\r"
    mixed = rng.random() < 0.25
    out = []
    changed = 0
    for c, t in lines:
        if t and (not mixed or rng.random() < 0.5):
            t = target
            changed += 1
        out.append((c, t))
    name = {b"\n": "LF", b"\r\n": "CRLF", b"\r": "CR"}[target]
    return join_lines(out), f"{changed} line ends -> {name}" + (" (mixed)" if mixed else "")


def m_dup_line(data, rng, info):
    lines = split_lines(data)
    if not lines:
        return data, "empty file"
    k = rng.choice([1, 1, 2, 3])
    done = []
    for _ in range(k):
        li = 0 if rng.random() < 0.1 else pick_data_line(lines, rng)
        c, t = lines[li]
        if not t:
            t = dominant_terminator(lines)
            lines[li] = (c, t)
        lines.insert(li + 1, (c, t))
        done.append(li + 1)
    return join_lines(lines), f"line(s) {done} duplicated"


def m_delete_lines(data, rng, info):
    lines = split_lines(data)
    if len(lines) < 2:
        return b"", "deleted the only line"
    if rng.random() < 0.05:
        del lines[0]
        return join_lines(lines), "header deleted"
    if rng.random() < 0.5:
        k = rng.randint(1, min(20, len(lines) - 1))
        p = rng.randint(1, len(lines) - k)
        del lines[p : p + k]
        return join_lines(lines), f"lines {p + 1}..{p + k} deleted"
    k = rng.randint(1, min(20, len(lines) - 1))
    gone = sorted(rng.sample(range(1, len(lines)), k), reverse=True)
    for p in gone:
        del lines[p]
    return join_lines(lines), f"{k} scattered lines deleted"


def m_embedded_newline(data, rng, info):
    lines = split_lines(data)
    if not lines:
        return data, "empty file"
    header = info["header"]
    in_header = rng.random() < 0.03
    li = 0 if in_header else pick_data_line(lines, rng)
    c, t = lines[li]
    fields = split_fields(c)
    cols = [header.index(n) for n in TEXT_COLUMNS.get(info["table"], []) if n in header]
    if cols and rng.random() < 0.85:
        j = cols[0] if rng.random() < 0.7 else rng.choice(cols)
    else:
        j = rng.randrange(1, len(fields)) if len(fields) > 1 else 0
    if j >= len(fields):
        j = len(fields) - 1
    value = unquote(fields[j])
    k = rng.choice([1, 1, 1, 2, 3])
    if rng.random() < 0.3 or not value:
        value = rng.choice([b"Foo", "株式会社".encode(), b'Atlas "Motors"'])
        parts = [value] + [rng.choice([b"Bar", "ホールディングス".encode(), b"LLC, Inc."]) for _ in range(k)]
    else:
        cuts = sorted(rng.randint(0, len(value)) for _ in range(k))
        # do not split a UTF-8 character
        cuts = [_char_boundary(value, p) for p in cuts]
        parts, prev = [], 0
        for p in cuts:
            parts.append(value[prev:p])
            prev = p
        parts.append(value[prev:])
    nl = rng.choice([b"\n"] * 7 + [b"\r\n"] * 2 + [b"\r"])
    fields[j] = quote(nl.join(parts))
    lines[li] = (b",".join(fields), t)
    info["lbif"] += k
    col = header[j] if j < len(header) else f"#{j + 1}"
    return join_lines(lines), f"{k} {nl!r} line break(s) in quoted {col} on line {li + 1}"


def _char_boundary(b, p):
    while 0 < p < len(b) and 0x80 <= b[p] < 0xC0:
        p -= 1
    return p


def m_bom(data, rng, info):
    if data.startswith(BOM):
        return data[len(BOM) :], "BOM removed"
    if rng.random() < 0.15:
        return BOM + BOM + data, "two BOMs added"
    return BOM + data, "BOM added"


MUTATIONS = {
    "byte_flip": m_byte_flip,
    "quote_field_start": m_quote_field_start,
    "quote_mid_field": m_quote_mid_field,
    "quotes_several": m_quotes_several,
    "quote_pair": m_quote_pair,
    "truncate": m_truncate,
    "dup_field": m_dup_field,
    "drop_field": m_drop_field,
    "shuffle_fields": m_shuffle_fields,
    "nul_bytes": m_nul_bytes,
    "long_field": m_long_field,
    "header_only": m_header_only,
    "empty": m_empty,
    "blank_lines": m_blank_lines,
    "line_endings": m_line_endings,
    "dup_line": m_dup_line,
    "delete_lines": m_delete_lines,
    "embedded_newline": m_embedded_newline,
    "bom": m_bom,
}
KINDS = list(MUTATIONS)
# Stacked after a first kind; not the ones that throw the content away.
SECONDARY = [k for k in KINDS if k not in ("empty", "header_only", "long_field")]

# --------------------------------------------------------------------------- planning


def plan_cases(count, seed, kinds_allowed=None, tables_allowed=None):
    """Case plans from the seed alone (same seed and filters: same cases)."""
    master = random.Random(seed)
    kinds_allowed = [k for k in KINDS if not kinds_allowed or k in kinds_allowed]
    secondary = [k for k in SECONDARY if k in kinds_allowed]
    names = [t for t in TABLES if not tables_allowed or t in tables_allowed]
    weights = [TABLES[t] for t in names]
    order = []
    plans = []
    for i in range(count):
        if not order:
            order = list(kinds_allowed)
            master.shuffle(order)
        kinds = [order.pop()]
        if kinds[0] != "empty" and secondary and master.random() < 0.25:
            kinds += master.sample(secondary, min(len(secondary), master.choice([1, 1, 2])))
        plans.append(
            {
                "case": i,
                "table": master.choices(names, weights)[0],
                "kinds": kinds,
                "seed": master.getrandbits(64),
            }
        )
    return plans


def mutate(plan, original, header):
    rng = random.Random(plan["seed"])
    info = {"table": plan["table"], "header": header, "lbif": 0, "swallow": 0}
    data, descs = original, []
    for kind in plan["kinds"]:
        data, d = MUTATIONS[kind](data, rng, info)
        descs.append(f"{kind}: {d}")
    # A later byte flip, cut or deletion may have broken the quoted field again.
    info["known_lbif"] = (
        info["lbif"] if all(k in ("embedded_newline", "bom", "line_endings") for k in plan["kinds"]) else None
    )
    return data, descs, info


# --------------------------------------------------------------------------- running


class Ctx:
    def __init__(self, args):
        self.args = args
        self.data_dir = Path(args.data).resolve()
        self.original = {}
        self.header = {}
        self.lines = {}
        self.lbif = {}
        for t in TABLES:
            b = (self.data_dir / f"{t}.csv").read_bytes()
            self.original[t] = b
            first = split_lines(b[:65536])[0][0] if b else b""
            if first.startswith(BOM):
                first = first[len(BOM) :]
            self.header[t] = [unquote(f).decode("utf-8", "replace").strip() for f in split_fields(first)]
            self.lines[t] = count_physical_lines(b)
            # line breaks inside quoted fields of the original (0 for the shipped data)
            with open(self.data_dir / f"{t}.csv", encoding="utf-8-sig", newline="", errors="replace") as f:
                records = sum(1 for _ in csv.reader(f))
            self.lbif[t] = max(0, self.lines[t] - count_empty_lines(b) - records)
        self.print_lock = threading.Lock()


def build_input(ctx, plan, in_dir):
    t = plan["table"]
    data, descs, info = mutate(plan, ctx.original[t], ctx.header[t])
    in_dir.mkdir(parents=True)
    for other in TABLES:
        if other != t:
            os.symlink(ctx.data_dir / f"{other}.csv", in_dir / f"{other}.csv")
    (in_dir / f"{t}.csv").write_bytes(data)
    return data, descs, info


def read_quarantine(path):
    """(data rows, set of `line` values) of a quarantine file."""
    lines = set()
    rows = 0
    with open(path, encoding="utf-8-sig", newline="", errors="replace") as f:
        r = csv.reader(f)
        header = next(r, None)
        col = header.index("line") if header and "line" in header else None
        for row in r:
            rows += 1
            if col is not None and col < len(row):
                lines.add(row[col])
    return rows, lines


def check_accounting(ctx, plan, data, info, out_dir, res):
    """Fills res['issues'], res['unaccounted'], res['hint'] from the summary."""
    summary_path = out_dir / "run_summary.json"
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8-sig"))
        tables = summary["tables"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        res["issues"].append(f"no usable run_summary.json ({type(e).__name__}: {e})")
        res["flags"].add("no-summary")
        return
    missing_fields = set()
    for t in TABLES:
        s = tables.get(t)
        if s is None:
            res["issues"].append(f"{t}: missing from summary tables")
            res["flags"].add("no-summary")
            continue
        file_lines = count_physical_lines(data) if t == plan["table"] else ctx.lines[t]
        diffs = {}
        try:
            read, acc, quar = int(s["rows_read"]), int(s["rows_accepted"]), int(s["rows_quarantined"])
        except (KeyError, TypeError, ValueError) as e:
            res["issues"].append(f"{t}: bad row counts in summary ({e})")
            res["flags"].add("no-summary")
            continue
        diffs["read-accepted-quarantined"] = read - acc - quar
        known_lbif = info["known_lbif"]
        miss = [f for f in NEW_FIELDS if f not in s]
        if miss:
            missing_fields.update(miss)
            if t == plan["table"]:
                data_lines = file_lines - (1 if file_lines else 0) - count_empty_lines(data)
                gap = data_lines - read - (known_lbif or 0)
                if gap:
                    res["hint"] = gap
                    res["hint_text"] = (
                        f"{t}: {data_lines} non-blank data lines, rows_read {read}"
                        + (f", {known_lbif} line breaks put in quoted fields" if known_lbif else "")
                        + ("" if known_lbif is not None else " (mutation may have put line breaks in fields)")
                        + f" -> {gap:+d} lines not seen as rows"
                    )
        else:
            phys, blank, lbif = (int(s[f]) for f in NEW_FIELDS)
            diffs["physical_lines-vs-file"] = phys - file_lines
            header = 1 if phys else 0
            diffs["physical=1+blank+read+breaks"] = phys - (header + blank + read + lbif)
            if t == plan["table"]:
                # Line breaks in quoted fields the script did not write there: lines a
                # stray quote pulled into a field (accounted for, but not rows).
                # Negative: line breaks the mutation wrote in a quoted field that the
                # binary read as row breaks (it retracts multi-line values outside
                # prose columns): the lines then show up as rows.
                swallowed = lbif - info["lbif"] - ctx.lbif[t]
                if swallowed:
                    res["swallowed" if swallowed > 0 else "split"] = abs(swallowed)
                    res["swallow_text"] = (
                        f"{t}: line_breaks_in_fields {lbif}, of which {info['lbif']} written by the mutation"
                        f" and {ctx.lbif[t]} in the original -> "
                        + (f"{swallowed} lines swallowed into quoted fields" if swallowed > 0
                           else f"{-swallowed} quoted line breaks read as row breaks")
                    )
        qpath = out_dir / "quarantine" / f"{t}.csv"
        if qpath.exists():
            qrows, qlines = read_quarantine(qpath)
            diffs["quarantine-file-rows"] = qrows - quar
            if t == plan["table"] and plan["kinds"] == ["quote_pair"] and res.get("swallowed"):
                start = str(info["swallow_line"])
                res["swallow_text"] += (
                    f"; the record starting on line {start} was "
                    + ("quarantined" if start in qlines else "ACCEPTED (not in quarantine)")
                )
                if start not in qlines:
                    res["silent_swallow"] = info["swallow"]
        else:
            res["issues"].append(f"{t}: {qpath.name} missing from quarantine/")
            diffs["quarantine-file-rows"] = -quar
        bad = {k: v for k, v in diffs.items() if v}
        if bad:
            n = max(abs(v) for v in bad.values())
            res["unaccounted"] += n
            detail = ", ".join(f"{k} {v:+d}" for k, v in bad.items())
            extra = ""
            if "physical=1+blank+read+breaks" in bad:
                extra = f" [physical {s.get('physical_lines')}, blank {s.get('blank_lines')}, read {read}, breaks {s.get('line_breaks_in_fields')}, file has {file_lines} lines]"
            res["issues"].append(f"{t}: {n} rows unaccounted ({detail}){extra}")
    if missing_fields:
        res["flags"].add("fields-missing")
        res["issues"].append("summary lacks " + ", ".join(sorted(missing_fields)))
    if res["unaccounted"]:
        res["flags"].add("unaccounted")


def classify(code, stderr):
    if code is None:
        return "timeout"
    if code < 0:
        return "signal"
    if code in (1, 101) or "panicked" in stderr:
        return "panic"
    return {0: "ok", 3: "input-error", 4: "quarantine-budget", 7: "health-check"}.get(code, f"unexpected-{code}")


def run_case(ctx, plan):
    args = ctx.args
    t = plan["table"]
    case_dir = Path(args.work) / f"case-{plan['case']:05d}"
    if case_dir.exists():
        shutil.rmtree(case_dir)
    in_dir, out_dir = case_dir / "in", case_dir / "out"
    data, descs, info = build_input(ctx, plan, in_dir)
    res = {
        "case": plan["case"],
        "table": t,
        "kinds": plan["kinds"],
        "label": "+".join(plan["kinds"]),
        "desc": descs,
        "size": len(data),
        "lines": count_physical_lines(data),
        "issues": [],
        "flags": set(),
        "unaccounted": 0,
        "hint": 0,
        "swallowed": 0,
        "split": 0,
        "silent_swallow": 0,
    }
    if args.dry_run:
        return res
    out_dir.mkdir()
    cmd = [
        args.bin, "run", "--config", args.config, "--as-of", args.as_of,
        "--input-dir", str(in_dir), "--output-dir", str(out_dir), "-q",
    ]
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=TIMEOUT_S)
        code, err = p.returncode, p.stderr
    except subprocess.TimeoutExpired as e:
        code, err = None, e.stderr or b""
    res["seconds"] = time.monotonic() - t0
    stderr = err.decode("utf-8", "replace")
    res["code"] = code
    res["outcome"] = outcome = classify(code, stderr)
    if outcome in CRASH_OUTCOMES:
        res["flags"].add(outcome)
        first = next((l for l in stderr.splitlines() if "panicked" in l), stderr.strip()[:300])
        res["issues"].append(f"{outcome} (exit {code}): {first}")
    elif outcome.startswith("unexpected"):
        res["flags"].add("unexpected-exit")
        res["issues"].append(f"unexpected exit {code}: {stderr.strip()[:300]}")
    elif outcome == "input-error":
        if f"{t}.csv" not in stderr:
            res["flags"].add("exit3-unnamed")
            res["issues"].append(f"exit 3 without naming {t}.csv: {stderr.strip()[:300]}")
    if outcome in ("ok", "quarantine-budget"):
        check_accounting(ctx, plan, data, info, out_dir, res)
    res["stderr_head"] = stderr.strip()[:400]
    if outcome == "input-error":
        first = next((l for l in stderr.splitlines() if l.strip()), "")
        first = first.replace(str(in_dir), "IN")
        first = re.sub(r"^\S*\d{4}-\d\d-\d\dT\S+\s+(ERROR|WARN|INFO)?\s*", "", first)
        first = re.sub(r"\x1b\[[0-9;]*m", "", first)
        res["message"] = re.sub(r"\d+", "N", first)[:160]
    if (res["flags"] or res["swallowed"]) and args.keep_failures:
        keep = Path(args.keep_failures) / f"case-{plan['case']:05d}-{t}-{res['label'][:60]}"
        if keep.exists():
            shutil.rmtree(keep)
        keep.mkdir(parents=True)
        shutil.copyfile(in_dir / f"{t}.csv", keep / f"{t}.csv")
        (keep / "stderr.txt").write_text(stderr, encoding="utf-8")
        if (out_dir / "run_summary.json").exists():
            shutil.copyfile(out_dir / "run_summary.json", keep / "run_summary.json")
        meta = {k: (sorted(v) if isinstance(v, set) else v) for k, v in res.items()}
        meta["command"] = cmd
        (keep / "case.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    shutil.rmtree(case_dir, ignore_errors=True)
    return res


# --------------------------------------------------------------------------- report


def serious(res):
    return bool(res["flags"] - {"fields-missing"})


def report(results, elapsed, args):
    n = len(results)
    print()
    if args.dry_run:
        print(f"dry run: {n} mutated files written under {args.work}")
        print(f"elapsed {elapsed:.1f} s")
        return 0
    cols = ["ok", "input-error", "quarantine-budget", "health-check", "unexpected", "panic", "signal", "timeout"]
    rows = defaultdict(Counter)
    for r in results:
        key = r["kinds"][0] if len(r["kinds"]) == 1 else "(stacked kinds)"
        o = r["outcome"]
        o = "unexpected" if o.startswith("unexpected") else o
        for k in (key, "TOTAL"):
            rows[k]["cases"] += 1
            rows[k][o] += 1
            rows[k]["unacc cases"] += bool(r["unaccounted"])
            rows[k]["unacc rows"] += r["unaccounted"]
            rows[k]["no fields"] += "fields-missing" in r["flags"]
            rows[k]["hint lines"] += abs(r["hint"])
            rows[k]["swallowed"] += r["swallowed"]
            rows[k]["split"] += r["split"]
    head = ["kind", "cases"] + cols + ["unacc cases", "unacc rows", "no fields", "hint lines", "swallowed", "split"]
    short = {"input-error": "exit3", "quarantine-budget": "exit4", "health-check": "exit7", "ok": "exit0"}
    names = [short.get(h, h) for h in head]
    order = [k for k in KINDS if k in rows] + [k for k in ("(stacked kinds)", "TOTAL") if k in rows]
    table = [names] + [[k] + [str(rows[k][h]) for h in head[1:]] for k in order]
    widths = [max(len(row[i]) for row in table) for i in range(len(names))]
    for idx, row in enumerate(table):
        if idx == len(table) - 1:
            print("-" * (sum(widths) + 2 * len(widths)))
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    print("(exit0/3/4/7 = ok / input error / quarantine budget / health check; unacc = rows unaccounted for;")
    print(" no fields = summary lacks physical_lines/blank_lines/line_breaks_in_fields; hint lines = with no")
    print(" fields, non-blank data lines of the mutated file not covered by rows_read, summed;")
    print(" swallowed = line breaks inside quoted fields that the mutation did not write: lines a stray")
    print(" quote pulled into a field; they balance the line equation, so they are not counted as")
    print(" unaccounted, but they are not rows either; split = line breaks the mutation wrote inside a")
    print(" quoted field that were read as row breaks)")

    by_table = Counter(r["table"] for r in results)
    print("\nby table: " + ", ".join(f"{t} {c}" for t, c in by_table.most_common()))
    flags = Counter(f for r in results for f in r["flags"])
    crashes = sum(flags[f] for f in CRASH_OUTCOMES)
    unacc_cases = sum(1 for r in results if r["unaccounted"])
    unacc_rows = sum(r["unaccounted"] for r in results)
    print(f"\ncases run:            {n}")
    print(f"panics:               {flags['panic']}")
    print(f"signals:              {flags['signal']}")
    print(f"timeouts:             {flags['timeout']}")
    print(f"unexpected exits:     {flags['unexpected-exit']}")
    print(f"exit 3 not naming file: {flags['exit3-unnamed']}")
    print(f"no/bad run_summary:   {flags['no-summary']}")
    print(f"summary fields missing: {flags['fields-missing']}")
    print(f"cases with rows unaccounted: {unacc_cases}, rows unaccounted: {unacc_rows}")
    sw = [r for r in results if r["swallowed"]]
    silent = [r for r in results if r["silent_swallow"]]
    print(f"cases where lines were swallowed into quoted fields: {len(sw)}, lines: {sum(r['swallowed'] for r in sw)}"
          + (f" (quote_pair: {len(silent)} cases where the swallowing record was accepted, "
             f"{sum(r['silent_swallow'] for r in silent)} lines)" if silent else ""))
    hints = [r for r in results if r["hint"]]
    if hints:
        print(f"hint (fields missing): {len(hints)} cases, {sum(abs(r['hint']) for r in hints)} data lines not seen as rows")
    secs = [r["seconds"] for r in results if "seconds" in r]
    if secs:
        secs.sort()
        print(f"run time per case: median {secs[len(secs) // 2]:.2f} s, max {secs[-1]:.2f} s")
    print(f"elapsed {elapsed:.1f} s")

    msgs = Counter(r.get("message", "?") for r in results if r["outcome"] == "input-error")
    if msgs:
        print("\nexit 3 messages (first stderr line; digits as N, the case's input folder as IN):")
        for m, c in msgs.most_common(12):
            print(f"  {c:5d}  {m}")
        if len(msgs) > 12:
            print(f"  ... {len(msgs) - 12} other messages")

    split = [r for r in results if r["split"]]
    if split:
        print(f"cases where quoted line breaks were read as row breaks: {len(split)}, line breaks: "
              f"{sum(r['split'] for r in split)}")
    def rank(r):  # crashes, unaccounted rows, other failures, silent swallows, swallows, hints, splits
        f = r["flags"]
        return (0 if f & set(CRASH_OUTCOMES) else 1 if r["unaccounted"] else 2 if serious(r)
                else 3 if r["silent_swallow"] else 4 if r["swallowed"] else 5 if r["hint"] else 6, r["case"])
    bad = sorted((r for r in results if serious(r) or r["hint"] or r["swallowed"] or r["split"]), key=rank)
    if not args.verbose:
        only_split = [r for r in bad if rank(r)[0] == 6]
        if len(only_split) > 5:
            drop = {r["case"] for r in only_split[5:]}
            bad = [r for r in bad if r["case"] not in drop]
            print(f"({len(drop)} more split-only cases not listed; -v lists them)")
    if bad:
        print(f"\nfailing cases and warnings ({len(bad)}; 'fields missing' alone not listed):")
        limit = args.show
        for r in bad[:limit]:
            print(f"- case {r['case']} {r['table']} [{r['label']}] -> {r['outcome']} (exit {r['code']})")
            for d in r["desc"]:
                print(f"    mutation  {d}")
            for i in r["issues"]:
                if not i.startswith("summary lacks"):
                    print(f"    issue     {i}")
            if r["hint"]:
                print(f"    hint      {r['hint_text']}")
            if r["swallowed"] or r["split"]:
                print(f"    {'swallowed' if r['swallowed'] else 'split    '} {r['swallow_text']}")
        if len(bad) > limit:
            print(f"  ... {len(bad) - limit} more (--show N to list more)")
    if crashes or unacc_rows:
        return 1
    if any(r["flags"] for r in results):
        return 3
    return 0


# --------------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 1)[1])
    ap.add_argument("--bin", default=str(ROOT / "target/release/churnwatch"))
    ap.add_argument("--config", default=str(ROOT / "config.toml"))
    ap.add_argument("--data", default=str(ROOT / "data"), help="folder of the original exports")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", help="work folder (default: a temporary folder, removed at the end)")
    ap.add_argument("--as-of", default="2026-11-20")
    ap.add_argument("--keep-failures", metavar="DIR",
                    help="copy the mutated file, stderr, run_summary.json and case.json of every failing "
                         "(or swallowing) case here")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--only", metavar="KIND[,KIND]", help="draw mutation kinds only from these")
    ap.add_argument("--table", metavar="TABLE[,TABLE]", help="mutate only these tables")
    ap.add_argument("--case", type=int, action="append",
                    help="run only this case number of the plan (repeatable; same --seed/--count/--only/--table)")
    ap.add_argument("--show", type=int, default=40, help="failing cases listed in detail")
    ap.add_argument("--dry-run", action="store_true", help="only write the mutated files and print their kinds")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per case")
    args = ap.parse_args()

    if args.count < 1 or args.jobs < 1:
        ap.error("--count and --jobs must be at least 1")
    args.bin = str(Path(args.bin).resolve())
    args.config = str(Path(args.config).resolve())
    if not args.dry_run and not os.access(args.bin, os.X_OK):
        ap.error(f"binary {args.bin} not found or not executable (build it with cargo build --release)")
    if not Path(args.config).is_file():
        ap.error(f"config {args.config} not found")
    if args.only:
        bad = set(args.only.split(",")) - set(KINDS)
        if bad:
            ap.error(f"unknown kinds {sorted(bad)}; known: {', '.join(KINDS)}")
    if args.table:
        bad = set(args.table.split(",")) - set(TABLES)
        if bad:
            ap.error(f"unknown tables {sorted(bad)}")

    temp = None
    if not args.work:
        temp = tempfile.mkdtemp(prefix="churnwatch-mutate-")
        args.work = temp
    Path(args.work).mkdir(parents=True, exist_ok=True)
    if args.dry_run and temp:
        temp = None  # keep the files: that is what a dry run is for

    ctx = Ctx(args)
    plans = plan_cases(args.count, args.seed,
                       set(args.only.split(",")) if args.only else None,
                       set(args.table.split(",")) if args.table else None)
    if args.case:
        plans = [p for p in plans if p["case"] in set(args.case)]
    if not plans:
        ap.error("no case left after --case")

    print(f"churnwatch mutation run: {len(plans)} cases, seed {args.seed}, jobs {args.jobs}, "
          f"bin {args.bin}, work {args.work}", file=sys.stderr)
    start = time.monotonic()
    results = []
    done = 0

    def note(res):
        nonlocal done
        done += 1
        with ctx.print_lock:
            if args.dry_run or args.verbose:
                extra = "" if args.dry_run else f" -> {res['outcome']} {res['seconds']:.2f}s"
                print(f"case {res['case']:5d} {res['table']:15s} {res['label']:40s} "
                      f"{res['size']:>9d} B {res['lines']:>6d} lines{extra}", file=sys.stderr)
                if args.dry_run:
                    for d in res["desc"]:
                        print(f"           {d}", file=sys.stderr)
            if not args.dry_run and serious(res):
                print(f"  FAIL case {res['case']} {res['table']} [{res['label']}] {res['outcome']}: "
                      + " | ".join(res["issues"])[:500], file=sys.stderr)
            if not args.verbose and not args.dry_run and done % 50 == 0:
                print(f"  {done}/{len(plans)} cases, {time.monotonic() - start:.0f} s", file=sys.stderr)

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
            futures = [ex.submit(run_case, ctx, p) for p in plans]
            try:
                for f in concurrent.futures.as_completed(futures):
                    res = f.result()
                    results.append(res)
                    note(res)
            except KeyboardInterrupt:
                print("interrupted: waiting for running cases, reporting the finished ones", file=sys.stderr)
                for f in futures:
                    f.cancel()
    finally:
        if temp:
            shutil.rmtree(temp, ignore_errors=True)
    results.sort(key=lambda r: r["case"])
    return report(results, time.monotonic() - start, args)


if __name__ == "__main__":
    sys.exit(main())
