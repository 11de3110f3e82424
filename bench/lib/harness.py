#!/usr/bin/python3
"""Interleaved timing harness and report writer for bench/run.sh (Python standard library only).

  harness.py time --bench NAME [--rounds N] [--warmup W] [--round-offset R] [--cwd DIR]
                  [--clear-table] [--expect-entries N] [--rss | --callgrind]
                  [--accept 'LABEL=CODES'] --cmd 'LABEL=ARGV' --cmd 'LABEL=ARGV' ...
      Runs the commands interleaved, one of each per round, and prints one JSON line per
      run. The first --cmd is the one under test (binfmtctl); the report compares it with
      each of the others. In ARGV (split like a shell would), the token {paths:N} stands for
      the first N names, sorted, in the working directory. Any exit status but 0 fails the
      run, unless --accept lists it for that label (e.g. 'binfmtctl scan=0,1': 1 reports findings).
  harness.py report RAW.jsonl
      Prints bench/RESULTS.md (markdown) from the lines run.sh collected.
"""

import argparse
import json
import os
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BM = "/proc/sys/fs/binfmt_misc"


def die(message):
    print(f"harness: {message}", file=sys.stderr)
    sys.exit(1)


# --- the binfmt_misc table (only ever a private one) -------------------------------------


def table_entries():
    return sorted(n for n in os.listdir(BM) if n not in ("register", "status"))


def require_private_table():
    # Clearing a table is only safe in the instance scripts/binfmt-sandbox.sh mounted: check
    # its markers again here so a wrong invocation can never flush the host's entries.
    if os.environ.get("BINFMT_SANDBOX_INSIDE") != "1":
        die("--clear-table/--expect-entries only run inside scripts/binfmt-sandbox.sh")
    if not os.path.exists(BM + "/register"):
        die(f"{BM} is not mounted in this sandbox")
    if str(os.stat(BM).st_dev) == os.environ.get("BINFMT_SANDBOX_HOST_DEV"):
        die(f"{BM} has the host's device number: refusing")


def clear_table():
    with open(BM + "/status", "w") as f:
        f.write("-1")
    left = table_entries()
    if left:
        die(f"table not empty after clearing: {left}")


# --- running one command --------------------------------------------------------------------


def expand(argv_text, cwd_names):
    out = []
    for tok in shlex.split(argv_text):
        if tok.startswith("{paths:") and tok.endswith("}"):
            n = int(tok[7:-1])
            if n > len(cwd_names):
                die(f"{tok}: only {len(cwd_names)} names in {os.getcwd()}")
            out.extend(cwd_names[:n])
        else:
            out.append(tok)
    exe = shutil.which(out[0]) if "/" not in out[0] else out[0]
    if exe is None or not os.access(exe, os.X_OK):
        die(f"not executable: {out[0]}")
    out[0] = exe
    return out


def run_once(argv, err_file=None):
    """Returns (nanoseconds, exit code). posix_spawn (vfork+exec in glibc) keeps the
    harness's own cost per run small and the same for every command."""
    null = os.open(os.devnull, os.O_RDWR)
    err = os.open(err_file, os.O_WRONLY | os.O_TRUNC) if err_file else null
    actions = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, err, 2)]
    try:
        t0 = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
        _, status, _ = os.wait4(pid, 0)
        t1 = time.perf_counter_ns()
    finally:
        os.close(null)
        if err_file:
            os.close(err)
    return t1 - t0, os.waitstatus_to_exitcode(status)


def explain_failure(label, argv, code):
    # Run it again with its output visible, so a failing benchmark says why.
    shown = " ".join(shlex.quote(a) for a in argv[:12]) + (" ..." if len(argv) > 12 else "")
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace")
    die(f"{label}: `{shown}` exited {code}\n{r.stdout[-2000:]}{r.stderr[-2000:]}")


def cmd_time(a):
    if a.cwd:
        os.chdir(a.cwd)
    names = sorted(os.listdir("."))
    cmds = []
    for spec in a.cmd:
        label, sep, argv_text = spec.partition("=")
        if not sep:
            die(f"--cmd wants LABEL=ARGV: {spec}")
        cmds.append((label, argv_text, expand(argv_text, names)))
    accepted = {}
    for spec in a.accept or []:
        label, _, codes = spec.partition("=")
        accepted[label] = {int(c) for c in codes.split(",")}
    if a.clear_table or a.expect_entries is not None:
        require_private_table()
    # --rss and --callgrind wrap every command; what the wrapper reports comes back in a file.
    side = None
    if a.rss or a.callgrind:
        fd, side = tempfile.mkstemp(prefix="bench-")
        os.close(fd)
    kind = "rss" if a.rss else "instr" if a.callgrind else "time"
    try:
        for r in range(-a.warmup, a.rounds):
            rnd = a.round_offset + r
            # Each round runs every command once; the start rotates with the round so no command
            # always runs first (in a fresh table) or always after the same other command.
            k = rnd % len(cmds)
            for label, argv_text, argv in cmds[k:] + cmds[:k]:
                if a.rss:
                    argv = ["/usr/bin/time", "-f", "%M", "-o", side] + argv
                elif a.callgrind:
                    argv = ["/usr/bin/valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + argv
                if a.clear_table:
                    clear_table()
                ns, code = run_once(argv, side if a.callgrind else None)
                if code not in accepted.get(label, {0}):
                    explain_failure(label, argv, code)
                if a.expect_entries is not None:
                    got = table_entries()
                    if len(got) != a.expect_entries:
                        die(f"{label}: {len(got)} entries in the table after the run, {a.expect_entries} expected: {got}")
                if r < 0:
                    continue
                line = {"kind": kind, "bench": a.bench, "label": label, "round": rnd, "argv": argv_text}
                if a.rss:
                    with open(side) as f:
                        line["kb"] = int(f.read().split()[-1])
                elif a.callgrind:
                    with open(side) as f:
                        found = re.findall(r"Collected : (\d+)", f.read())
                    if not found:
                        die(f"{label}: no instruction count in valgrind's output")
                    line["count"] = int(found[-1])
                else:
                    line["ns"] = ns
                print(json.dumps(line), flush=True)
    finally:
        if side:
            os.unlink(side)


# --- statistics -------------------------------------------------------------------------------

BOOTSTRAP = 2000


def quantile(xs, q):
    s = sorted(xs)
    i = (len(s) - 1) * q
    lo = int(i)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (i - lo)


def ratio_ci(a_by_round, b_by_round):
    """Ratio of medians a/b with a paired percentile bootstrap 95% CI: rounds (one run of each
    command) are resampled with replacement, so the pairing of back-to-back runs is kept."""
    rounds = sorted(set(a_by_round) & set(b_by_round))
    a = [a_by_round[r] for r in rounds]
    b = [b_by_round[r] for r in rounds]
    point = statistics.median(a) / statistics.median(b)
    if len(rounds) < 2:
        return point, None, None
    rng = random.Random(20261124)  # fixed: the same data gives the same interval
    n = len(rounds)
    ratios = []
    for _ in range(BOOTSTRAP):
        idx = [rng.randrange(n) for _ in range(n)]
        ratios.append(statistics.median(a[i] for i in idx) / statistics.median(b[i] for i in idx))
    return point, quantile(ratios, 0.025), quantile(ratios, 0.975)


# --- report -------------------------------------------------------------------------------------


def ms(ns):
    return f"{ns / 1e6:.2f}"


def fmt_ratio(p, lo, hi):
    if lo is None:
        return f"{p:.2f}"
    return f"{p:.2f} [{lo:.2f}, {hi:.2f}]"


class Raw:
    def __init__(self, path):
        self.meta = {}
        self.benches = {}  # bench -> {"setup": str, "order": [labels]}
        self.times = {}  # (bench, label) -> {round: ns}
        self.argv = {}  # (bench, label) -> argv text
        self.rss = {}  # (bench, label) -> [kb]
        self.instr = {}  # label -> count
        self.skipped = {}  # bench -> why
        with open(path) as f:
            for line in f:
                d = json.loads(line)
                kind = d["kind"]
                if kind == "meta":
                    self.meta[d["key"]] = d["value"]
                elif kind == "bench":
                    self.benches[d["bench"]] = d
                elif kind == "skip":
                    self.skipped[d["bench"]] = d["why"]
                elif kind == "time":
                    key = (d["bench"], d["label"])
                    self.times.setdefault(key, {})[d["round"]] = d["ns"]
                    self.argv[key] = d["argv"]
                elif kind == "rss":
                    self.rss.setdefault((d["bench"], d["label"]), []).append(d["kb"])
                elif kind == "instr":
                    self.instr[d["label"]] = d["count"]

    def labels(self, bench):
        seen = []
        for b, label in self.times:
            if b == bench and label not in seen:
                seen.append(label)
        order = self.benches.get(bench, {}).get("order", [])
        return [l for l in order if l in seen] + [l for l in seen if l not in order]

    def show(self, argv_text):
        """The command as a reader would type it: binfmtctl and the compiled baseline by name."""
        snap = self.meta.get("snapshot")
        if snap:
            argv_text = argv_text.replace(snap + ".stripped", "binfmtctl").replace(snap, "binfmtctl")
        return re.sub(r"\S*/swift-print-[0-9a-f]+", "swift-print", argv_text)

    def median(self, bench, label):
        return statistics.median(self.times[(bench, label)].values())


TARGET_RSS_KB = 8 * 1024


def cmd_report(a):
    raw = Raw(a.raw)
    m = raw.meta
    out = []
    w = out.append
    w("# Benchmark results")
    w("")
    w("Generated by `bench/run.sh` (do not edit by hand; rerun `make bench`). How the suite works,")
    w("and why, is in the comments of `bench/run.sh` and `bench/lib/harness.py`.")
    w("")
    w(f"- date: {m.get('date', '?')}")
    w(f"- machine: {m.get('nproc', '?')} cores, {m.get('cpu', '?')}, kernel {m.get('kernel', '?')}, Debian {m.get('debian', '?')}")
    w(f"- binfmtctl: commit {m.get('commit', '?')}, `{m.get('binary', '?')}` (sha256 {m.get('sha256', '?')[:16]}…), release build with the static Swift runtime")
    w(f"- tools: {m.get('tools', '?')}")
    w(f"- command: `{m.get('command', 'bench/run.sh')}`; rounds: {m.get('rounds', '?')} (boot: {m.get('boot_rounds', '?')} sandboxes)")
    w(f"- load average (1, 5, 15 min) before / after: {m.get('load_before', '?')} / {m.get('load_after', '?')}")
    w("")
    w("Method: every bench runs binfmtctl and its references interleaved in one process, one run of each per")
    w("round, the first command rotating each round (A,B then B,A …). Times are wall-clock from `posix_spawn` to")
    w("`wait4` of the command, stdout and stderr to /dev/null. *ratio* is binfmtctl's median ÷ the other command's")
    w(f"median, with a 95% confidence interval from a paired percentile bootstrap ({BOOTSTRAP} resamples of whole rounds,")
    w("fixed seed). Instruction counts: callgrind (`Collected`) on an `objcopy --strip-debug` copy of binfmtctl.")
    w("")

    # ---- targets
    w("## Targets")
    w("")
    w("| target | measured | |")
    w("|---|---|---|")
    targets = []

    def target(name, measured, ok):
        targets.append((name, measured, ok))
        w(f"| {name} | {measured} | {'met' if ok is True else 'not met' if ok is False else ok} |")

    boot_labels = raw.labels("boot")
    if len(boot_labels) >= 2:
        mine, ref = boot_labels[0], boot_labels[1]
        p, lo, hi = ratio_ci(raw.times[("boot", mine)], raw.times[("boot", ref)])
        verdict = True if hi is not None and hi <= 0.8 else False if lo is None or lo > 0.8 else "unclear (CI spans 0.8)"
        target("`boot` time ≤ 0.8× systemd-binfmt", f"{fmt_ratio(p, lo, hi)}× ({ms(raw.median('boot', mine))} vs {ms(raw.median('boot', ref))} ms)", verdict)
    ib, isd = raw.instr.get("binfmtctl boot"), raw.instr.get("systemd-binfmt")
    if ib and isd:
        target("`boot` instructions ≤ systemd-binfmt's", f"{ib / 1e6:.2f} M vs {isd / 1e6:.2f} M ({ib / isd:.2f}×)", ib <= isd)
    for bench, label, limit in (
        ("version", "binfmtctl --version", 2.5),
        ("arch list", "binfmtctl arch list", 2.5),
        ("status", "binfmtctl status", 4.0),
        ("status--json", "binfmtctl status --json", 4.0),
        ("inspect", "binfmtctl inspect", 3.0),
        ("doctor", "binfmtctl doctor", 50.0),
    ):
        if (bench, label) in raw.times:
            med = raw.median(bench, label) / 1e6
            xs = list(raw.times[(bench, label)].values())
            noisy = " — noisy bench, see its table" if quantile(xs, 0.75) > 1.5 * quantile(xs, 0.25) else ""
            target(f"`{label[10:]}` ≤ {limit} ms", f"{med:.2f} ms (median){noisy}", med <= limit)
    lin = linearity(raw)
    if lin:
        per_small, per_big, growth = lin
        target(
            "`inspect` over N paths linear",
            f"{per_small:.1f} µs/path at 2,000, {per_big:.1f} µs/path at 16,000 ({growth:.2f}× per path)",
            growth <= 1.25,  # less than 1: the fixed start-up cost spread over more paths
        )
    if "scan" in raw.skipped:
        target("`scan` ≥ 200k files/s", raw.skipped["scan"], "not measured")
    elif ("scan", "binfmtctl scan") in raw.times and m.get("usr_files"):
        rate = int(m["usr_files"]) / (raw.median("scan", "binfmtctl scan") / 1e9)
        target("`scan` ≥ 200k files/s", f"{rate / 1e3:.0f}k files/s ({m['usr_files']} files in /usr)", rate >= 200e3)
    worst = [(max(v), label) for (bench, label), v in raw.rss.items() if label.startswith("binfmtctl")]
    if worst:
        kb, label = max(worst)
        target("peak RSS ≤ 8 MiB (8192 KiB), every command", f"largest: {kb} KiB (`{label}`)", kb <= TARGET_RSS_KB)
    w("")
    w("A ratio target is *met* when its whole 95% interval is at or below the target. Absolute times are medians.")
    w("")

    # ---- timing tables
    titles = {
        "boot": "`boot`: 29 persisted entries into an empty private table",
        "version": "Start-up: `--version`",
        "arch list": "Start-up: `arch list`",
        "status": "`status` with 29 entries",
        "status--json": "`status --json` with 29 entries",
        "inspect": "`inspect` one file",
        "doctor": "`doctor FILE`, probe included",
        "inspect-2000": "`inspect` over 2,000 paths",
        "inspect-16000": "`inspect` over 16,000 paths",
        "scan": "`scan` over /usr (warm cache)",
    }
    for bench in raw.benches:
        w(f"## {titles.get(bench, bench)}")
        w("")
        if raw.benches[bench].get("setup"):
            w(raw.benches[bench]["setup"])
            w("")
        if bench in raw.skipped:
            w(raw.skipped[bench])
            w("")
            continue
        labels = raw.labels(bench)
        if not labels:
            continue
        w("| command | runs | median ms | p25–p75 ms | binfmtctl ÷ this (95% CI) |")
        w("|---|---|---|---|---|")
        first = labels[0]
        for label in labels:
            xs = list(raw.times[(bench, label)].values())
            spread = f"{ms(quantile(xs, 0.25))}–{ms(quantile(xs, 0.75))}"
            if label == first:
                ratio = "–"
            else:
                ratio = fmt_ratio(*ratio_ci(raw.times[(bench, first)], raw.times[(bench, label)]))
            w(f"| `{raw.show(raw.argv[(bench, label)])}` | {len(xs)} | {ms(statistics.median(xs))} | {spread} | {ratio} |")
        w("")
        # A wide spread means the machine was busy during this bench (2 shared cores): say so,
        # since the absolute medians then overstate; interleaving keeps the ratios fairer.
        first_xs = list(raw.times[(bench, first)].values())
        if quantile(first_xs, 0.75) > 1.5 * quantile(first_xs, 0.25):
            w("**Noisy:** p75 is more than 1.5× p25 here, so other load hit this bench; its absolute medians")
            w("overstate the quiet-machine time (the ratio's interval shows how much it moved).")
            w("")

    if lin:
        w("### Linearity of `inspect` over N paths")
        w("")
        w("| N | median ms | µs per path beyond the first |")
        w("|---|---|---|")
        for n, bench in ((1, "inspect"), (2000, "inspect-2000"), (16000, "inspect-16000")):
            med = raw.median(bench, "binfmtctl inspect")
            per = "–" if n == 1 else f"{(med - raw.median('inspect', 'binfmtctl inspect')) / 1e3 / (n - 1):.1f}"
            w(f"| {n:,} | {ms(med)} | {per} |")
        w("")

    # ---- instructions
    if raw.instr:
        w("## Instructions (callgrind)")
        w("")
        w("Each count is one run; `boot` and systemd-binfmt each in a fresh sandbox with a cleared table and the same")
        w("29 files (`bench/instructions.sh`).")
        w("")
        w("| command | instructions |")
        w("|---|---|")
        for label, count in raw.instr.items():
            w(f"| `{label}` | {count:,} ({count / 1e6:.2f} M) |")
        w("")

    # ---- RSS
    if raw.rss:
        w("## Peak RSS (`/usr/bin/time -f %M`)")
        w("")
        w("Largest of the runs of each command, KiB; same setups as the timings above.")
        w("")
        w("| bench | command | runs | peak RSS KiB | ≤ 8 MiB |")
        w("|---|---|---|---|---|")
        for (bench, label), v in raw.rss.items():
            mine = label.startswith("binfmtctl")
            w(f"| {bench} | `{label}` | {len(v)} | {max(v)} | {('met' if max(v) <= TARGET_RSS_KB else 'not met') if mine else '–'} |")
        w("")

    if m.get("notes"):
        w("## Notes")
        w("")
        w(m["notes"])
        w("")
    print("\n".join(out))


def linearity(raw):
    key = "binfmtctl inspect"
    need = [("inspect", key), ("inspect-2000", key), ("inspect-16000", key)]
    if not all(k in raw.times for k in need):
        return None
    t1, t2k, t16k = (raw.median(b, l) for b, l in need)
    per_small = (t2k - t1) / 1999 / 1e3
    per_big = (t16k - t1) / 15999 / 1e3
    return per_small, per_big, per_big / per_small


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="mode", required=True)
    t = sub.add_parser("time")
    t.add_argument("--bench", required=True)
    t.add_argument("--rounds", type=int, default=10)
    t.add_argument("--warmup", type=int, default=0)
    t.add_argument("--round-offset", type=int, default=0)
    t.add_argument("--cwd")
    t.add_argument("--clear-table", action="store_true")
    t.add_argument("--expect-entries", type=int)
    t.add_argument("--rss", action="store_true", help="record peak RSS through /usr/bin/time instead of times")
    t.add_argument("--callgrind", action="store_true", help="record callgrind instruction counts instead of times")
    t.add_argument("--cmd", action="append", required=True)
    t.add_argument("--accept", action="append", help="LABEL=CODES: exit statuses that are not failures")
    r = sub.add_parser("report")
    r.add_argument("raw")
    a = p.parse_args()
    if a.mode == "time":
        cmd_time(a)
    else:
        cmd_report(a)


if __name__ == "__main__":
    main()
