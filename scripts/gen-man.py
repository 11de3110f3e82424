#!/usr/bin/env python3
"""binfmtctl(1) from the command definitions: the JSON `binfmtctl --experimental-dump-help`
prints (swift-argument-parser), plus the hand-written sections in man/sections.man (exit
status, files, binfmt.d precedence, examples).

    scripts/gen-man.py BINFMTCTL > binfmtctl.1
"""
import json
import os
import subprocess
import sys


def roff(text):
    """Text safe in a roff body: backslashes and dashes escaped, no line starting a request."""
    out = []
    for line in text.replace("\\", "\\e").replace("-", "\\-").split("\n"):
        if line.startswith((".", "'")):
            line = "\\&" + line
        out.append(line)
    return "\n".join(out)


def option_names(a):
    names = []
    for n in a.get("names", []):
        names.append(("\\-" if n["kind"] == "short" else "\\-\\-") + n["name"].replace("-", "\\-"))
    return ", ".join(names)


def argument_item(a):
    if a["kind"] == "positional":
        head = "\\fI" + a["valueName"].replace("-", "\\-") + "\\fR" + ("..." if a.get("isRepeating") else "")
    else:
        head = "\\fB" + option_names(a) + "\\fR"
        if a["kind"] == "option":
            head += " \\fI" + a["valueName"].replace("-", "\\-") + "\\fR"
    body = roff(a.get("abstract") or "")
    if a.get("defaultValue") not in (None, "", "false"):
        body += " (default: " + roff(str(a["defaultValue"])) + ")"
    return ".TP\n" + head + "\n" + body + "\n"


def usage(path, c):
    parts = []
    for a in c.get("arguments", []):
        if not a.get("shouldDisplay", True) or a.get("preferredName", {}).get("name") in ("help", "version"):
            continue
        if a["kind"] == "positional":
            p = "\\fI" + a["valueName"].replace("-", "\\-") + "\\fR" + ("..." if a.get("isRepeating") else "")
        else:
            p = "\\fB" + option_names(a).split(", ")[-1] + "\\fR"
            if a["kind"] == "option":
                p += " \\fI" + a["valueName"].replace("-", "\\-") + "\\fR"
        parts.append("[" + p + "]" if a.get("isOptional") else p)
    return "\\fB" + " ".join(path).replace("-", "\\-") + "\\fR " + " ".join(parts)


def commands(c, path, out):
    for s in c.get("subcommands", []):
        if not s.get("shouldDisplay", True) or s["commandName"] == "help":
            continue
        p = path + [s["commandName"]]
        if s.get("subcommands"):
            commands(s, p, out)
            continue
        out.append(".SS " + " ".join(p[1:]).replace("-", "\\-") + "\n")
        out.append(usage(p, s) + "\n.PP\n")
        out.append(roff(s.get("abstract") or "") + "\n")
        if s.get("discussion"):
            out.append(".PP\n" + roff(s["discussion"]) + "\n")
        shown = [a for a in s.get("arguments", []) if a.get("shouldDisplay", True)
                 and a.get("preferredName", {}).get("name") not in ("help", "version")]
        for a in shown:
            out.append(argument_item(a))


def main():
    binary = sys.argv[1]
    info = json.loads(subprocess.run([binary, "--experimental-dump-help"], check=True,
                                     capture_output=True, text=True).stdout)["command"]
    version = subprocess.run([binary, "--version"], check=True, capture_output=True,
                             text=True).stdout.strip().split(" ")[0]
    out = [
        '.TH BINFMTCTL 1 "" "binfmtctl %s" "User Commands"\n' % version,
        ".SH NAME\nbinfmtctl \\- " + roff(info.get("abstract") or "") + "\n",
        ".SH SYNOPSIS\n\\fBbinfmtctl\\fR \\fIcommand\\fR [\\fIoptions\\fR]\n",
        ".SH DESCRIPTION\n" + roff(
            "binfmtctl registers qemu-user emulators in the kernel's binfmt_misc table so that "
            "foreign-architecture programs and containers run, keeps them registered across "
            "reboots (binfmt.d files and a boot service for systemd, OpenRC or WSL), proves they "
            "work, and explains why a program cannot run.") + "\n",
        ".SH COMMANDS\n",
    ]
    commands(info, ["binfmtctl"], out)
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "man", "sections.man")) as f:
        out.append(f.read())
    sys.stdout.write("".join(out))


if __name__ == "__main__":
    main()
