#!/usr/bin/python3
"""Checks a coverage report against the project's bars (tests/run coverage).

    coverage.py REPORT.json

REPORT.json is gcovr's JSON for core/ and ext/. The bars: at least 85% of
the lines overall, and every line of the serializers' decode paths (the
functions of core/pc_codec.c named below, which turn stored bytes back into
values). A name missing from the report fails too, so that a renamed
decoder is not dropped from the bar without notice. Prints the figures the
README quotes.
"""
import json
import sys

LINE_BAR = 85.0
DECODE_FUNCTIONS = [
    # native
    "native_decode", "native_int_decode", "take_release", "get_le64",
    "u64_to_i64",
    # json
    "json_decode", "json_trim", "json_decode_value", "json_decode_string",
    "json_document_valid", "scan_string", "scan_scalar", "scan_key",
    "skip_ws", "unescape", "hex4", "put_utf8", "scan_number", "parse_int64",
    "parse_double", "is_ws", "is_digit", "json_int_decode",
    # a registered serializer's output, checked by the engine
    "pc__custom_decode",
]


def function_spans(entry):
    """(name, first line, next function's first line) for each function."""
    funcs = sorted(entry["functions"], key=lambda f: f["lineno"])
    for i, f in enumerate(funcs):
        end = funcs[i + 1]["lineno"] if i + 1 < len(funcs) else 1 << 30
        yield f["name"], f["lineno"], end


def main():
    with open(sys.argv[1]) as fh:
        report = json.load(fh)
    total = covered = 0
    codec = None
    for entry in report["files"]:
        lines = [l for l in entry["lines"] if not l["gcovr/noncode"]]
        total += len(lines)
        covered += sum(1 for l in lines if l["count"] > 0)
        if entry["file"].endswith("core/pc_codec.c"):
            codec = entry
    ok = True
    pct = 100.0 * covered / total if total else 0.0
    print(f"coverage: lines {covered}/{total} = {pct:.1f}% "
          f"(bar {LINE_BAR:.0f}%)")
    if pct < LINE_BAR:
        ok = False
    if codec is None:
        print("coverage: core/pc_codec.c is not in the report")
        return 1
    lines = [l for l in codec["lines"] if not l["gcovr/noncode"]]
    seen = set()
    dl = dc = db = dbc = 0
    for name, first, end in function_spans(codec):
        if name not in DECODE_FUNCTIONS:
            continue
        seen.add(name)
        mine = [l for l in lines if first <= l["line_number"] < end]
        missed = [l["line_number"] for l in mine if l["count"] == 0]
        branches = [b for l in mine for b in l["branches"]]
        dl += len(mine)
        dc += len(mine) - len(missed)
        db += len(branches)
        dbc += sum(1 for b in branches if b["count"] > 0)
        if missed:
            ok = False
            print(f"coverage: {name}: lines never run: {missed}")
    for name in DECODE_FUNCTIONS:
        if name not in seen:
            ok = False
            print(f"coverage: decode function {name} is not in the report")
    print(f"coverage: serializers' decode paths: lines {dc}/{dl} "
          f"(bar: all), branches {dbc}/{db} = "
          f"{100.0 * dbc / db if db else 0:.1f}%")
    print("coverage:", "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
