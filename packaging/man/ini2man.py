#!/usr/bin/python3
"""Writes daqfs.ini(5) from configs/daqfs.example.ini, which documents every key.

Usage: ini2man.py EXAMPLE.ini VERSION OUTPUT.5

The example file is the one source of truth: its comments become the page, so the page cannot
drift from it. The layout the generator understands (anything else stops the build):
  - The comment block before the first [section] is the introduction; blank comment lines (";")
    separate paragraphs and lines "  - text" are list items (more-indented lines continue them).
  - A comment block directly above a [section] header introduces that section.
  - A comment block directly above a "key = value" line, or above a commented-out example
    "; key = value", describes that key. An example line right after another example line with no
    comment between them (uid, gid) shares the description of the first.
  - A comment block followed by a blank line is a paragraph of the current section.
Python standard library only; run with Debian's /usr/bin/python3.
"""

import datetime
import os
import re
import sys

KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*[=:]\s*(.*?)\s*$")
# A commented-out example: "; key = value", as the example file writes them ("key: value" is
# legal INI but would be mistaken for prose such as "; Default: not set").
EXAMPLE = re.compile(r"^([a-z_][a-z0-9_]*) = (.*?)\s*$")
SECTION = re.compile(r"^\[([^\]]+)\]\s*$")


class FormatError(Exception):
    pass


def esc(text):
    """Escapes running text for roff: backslashes, and a leading dot or quote."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def prose(lines):
    """Roff for comment lines: paragraphs, and "- " list items with their continuations."""
    out = []
    para = []  # lines of the current paragraph or list item
    in_item = False
    need_pp = True  # the next plain line starts a paragraph

    def flush():
        out.extend(esc(line) for line in para)
        para.clear()

    for raw in lines:
        item = re.match(r"^\s+-\s+(.*)$", raw)
        if not raw.strip():
            flush()
            in_item = False
            need_pp = True
        elif item:
            flush()
            out.append(".IP \\(bu 2")
            para.append(item.group(1))
            in_item = True
        elif in_item and raw.startswith(" "):
            para.append(raw.strip())  # continues the list item
        else:
            if in_item or need_pp:
                flush()
                out.append(".PP")
                in_item = need_pp = False
            para.append(raw.strip())
    flush()
    return out


def parse(path):
    """Returns (intro_lines, sections): sections = [(name, intro_lines, blocks)], where a block is
    ("key", [(key, value)], description_lines) or ("text", lines)."""
    intro = []
    sections = []
    comment = []  # pending comment lines (text after ';' or '#', one leading space removed)
    last_key_block = None
    example_run = False  # the previous line was a key or a commented example

    def where(n):
        return f"{path}:{n}"

    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            if comment:
                if sections:
                    sections[-1][2].append(("text", comment))
                else:
                    intro.extend(comment + [""])
                comment = []
            example_run = False
            continue
        if line[0] in ";#":
            text = line[1:]
            if text.startswith(" "):
                text = text[1:]
            m = EXAMPLE.match(text)
            if m and sections:  # a commented-out example "; key = value"
                if comment:
                    last_key_block = ("key", [(m.group(1), m.group(2))], comment)
                    sections[-1][2].append(last_key_block)
                    comment = []
                elif example_run and last_key_block:
                    last_key_block[1].append((m.group(1), m.group(2)))
                else:
                    raise FormatError(f"{where(n)}: example key {m.group(1)} has no description")
                example_run = True
                continue
            comment.append(text)
            example_run = False
            continue
        if line[0].isspace():
            raise FormatError(f"{where(n)}: indented line (daqfs rejects them)")
        m = SECTION.match(line)
        if m:
            sections.append((m.group(1).strip(), comment, []))
            comment = []
            example_run = False
            continue
        m = KEY.match(line)
        if not m:
            raise FormatError(f"{where(n)}: neither a comment, a [section] nor key = value")
        if not sections:
            raise FormatError(f"{where(n)}: key {m.group(1)} before any [section]")
        if not comment:
            raise FormatError(f"{where(n)}: key {m.group(1)} has no description above it")
        last_key_block = ("key", [(m.group(1), m.group(2))], comment)
        sections[-1][2].append(last_key_block)
        comment = []
        example_run = True
    if comment:
        if not sections:
            raise FormatError(f"{path}: no [section] at all")
        sections[-1][2].append(("text", comment))
    if not sections:
        raise FormatError(f"{path}: no [section] at all")
    return intro, sections


def render(path, version):
    intro, sections = parse(path)
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", os.path.getmtime(path)))
    date = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d")
    out = [
        f'.\\" Generated from {os.path.basename(path)} by packaging/man/ini2man.py; do not edit.',
        f'.TH DAQFS.INI 5 "{date}" "daqfs {esc(version)}" "File Formats"',
        ".SH NAME",
        "daqfs.ini \\- configuration file of the daqfs filesystem daemon",
        ".SH SYNOPSIS",
        ".I /etc/daqfs/NAME.ini",
        ".SH DESCRIPTION",
        "A configuration file names the sources",
        ".BR daqfs (8)",
        "serves and tunes the mount and the cache.",
        "It is read at start-up:",
        ".B daqfs",
        ".I CONFIG.ini MOUNTPOINT",
        "or the systemd unit",
        ".BR daqfs@NAME.service ,",
        "which serves",
        ".IR /etc/daqfs/NAME.ini .",
        "This page is generated from",
        ".IR /etc/daqfs/daqfs.example.ini ,",
        "which lists every key with its meaning, unit and default.",
    ]
    out += prose(intro)
    for name, sec_intro, blocks in sections:
        title = "[source NAME]" if name.split()[0] == "source" else f"[{name}]"
        out.append(f'.SS "{esc(title)}"')
        if title != f"[{name}]":
            out += [".PP", f"The example file has \\fB[{esc(name)}]\\fR."]
        out += prose(sec_intro)
        for block in blocks:
            if block[0] == "text":
                out += prose(block[1])
                continue
            _, keys, description = block
            tag = ", ".join(f"\\fB{esc(k)}\\fR = \\fI{esc(v)}\\fR" if v else f"\\fB{esc(k)}\\fR ="
                            for k, v in keys)
            out += [".TP", tag]
            out += prose(description)
    out += [
        ".SH FILES",
        ".TP",
        ".I /etc/daqfs/daqfs.example.ini",
        "the example this page is generated from.",
        ".TP",
        ".I /etc/daqfs/NAME.ini",
        "configuration served by",
        ".BR daqfs@NAME.service .",
        ".SH SEE ALSO",
        ".BR daqfs (8),",
        ".BR daqfs\\-cache (1),",
        ".BR daqfs\\-repack (1)",
    ]
    # A paragraph macro right after a heading or tag is redundant (mandoc -T lint warns).
    out = [line for i, line in enumerate(out)
           if not (line == ".PP" and (out[i - 1].startswith((".SH", ".SS")) or out[i - 2] == ".TP"))]
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: ini2man.py EXAMPLE.ini VERSION OUTPUT.5\n")
        return 1
    try:
        page = render(argv[1], argv[2])
    except (FormatError, OSError) as e:
        sys.stderr.write(f"ini2man.py: {e}\n")
        return 1
    tmp = argv[3] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(tmp, argv[3])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
