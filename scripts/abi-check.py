#!/usr/bin/env python3
"""abi-check.py: the machine-checked ABI list (issue 12). Fails when a glibc export that
can wait is not classified in tests/abi/abi.list, when a symbol the list marks hooked is
not exported by libgoshim.so, or when a hooked call has an alias a compiler may emit
(__X_chk, X64, __X, X_unlocked ...) that is not hooked too, or when the library exports
a symbol the list says passes through.

Which exports can wait is decided by rule, not by a list that could silently miss names:
  1. every function libc.so.6, libpthread.so.0 or librt.so.1 exports (GLIBC_PRIVATE
     and compatibility-only symbols, which no program built today links, excluded)
     whose base name (see base()) is in tests/abi/waiting.txt (reviewed once);
  2. every export that glibc's machine code makes a cancellation point (it calls
     __pthread_enable_asynccancel, found by disassembling read()) must have its base in
     tests/abi/waiting.txt, or the check fails.
An entry of abi.list is `SYMBOL hooked [note]` or `SYMBOL through REASON`. A through
entry that is an alias of a hooked call passes only with the reason `not yet hooked ...`
(counted apart) or `not emitted: ...`, and `not emitted` is checked: no header under
/usr/include may name the symbol.

Usage: abi-check.py [--lib build/libgoshim.so] [--list tests/abi/abi.list]
                    [--waiting tests/abi/waiting.txt] [--candidates] [--self-test]
--candidates prints the symbols that can wait, one per line with their base, and exits.
--self-test also breaks copies of the list in each way above and wants each caught.
Last line: `abi: hooked N, passing through M (REASON n, ...), unclassified U`.
Exit status 0 when every check passed, 1 otherwise."""
import argparse
import collections
import functools
import tempfile
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBS = ("libc.so.6", "libpthread.so.0", "librt.so.1")


@functools.lru_cache(maxsize=None)
def run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def lib_path(name):
    """The path the compiler links name from (the system's own copy)."""
    p = run("cc", "-print-file-name=" + name).strip()
    if not os.path.isabs(p):
        sys.exit("abi: cannot find %s (cc -print-file-name)" % name)
    return os.path.realpath(p)


def exports(path, linkable_only=False):
    """Defined function symbols of path's dynamic table, without GLIBC_PRIVATE ones:
    {name: (address, size)}. linkable_only: without the compatibility-only ones too
    (NAME@VERSION and no NAME@@VERSION), which no program built today can link: only
    binaries built against a glibc of long ago reach them."""
    out = {}
    default = set()
    for line in run("nm", "-D", "-S", "--defined-only", path).splitlines():
        f = line.split()
        if len(f) == 4:
            addr, size, kind, sym = f
        elif len(f) == 3:
            addr, kind, sym = f
            size = "0"
        else:
            continue
        if kind not in "TtWiI":
            continue
        name, _, ver = sym.partition("@")
        if "GLIBC_PRIVATE" in ver:
            continue
        if not ver or ver.startswith("@"):
            default.add(name)
        out[name] = (int(addr, 16), int(size, 16))
    if linkable_only:
        out = {n: v for n, v in out.items() if n in default}
    return out


def base(sym):
    """__pread64_chk -> pread; __isoc99_vfscanf -> vfscanf; _IO_getc -> getc;
    fgets_unlocked -> fgets; preadv64v2 -> preadv2; __open64_2 -> open."""
    s = sym.lstrip("_")
    for pre in ("libc_", "IO_", "isoc99_"):
        if s.startswith(pre):
            s = s[len(pre):]
    s = re.sub(r"64v2$", "v2", s)
    changed = True
    while changed:
        changed = False
        for suf in ("_chk", "_2", "_unlocked", "64"):
            if s.endswith(suf) and len(s) > len(suf):
                s = s[: -len(suf)]
                changed = True
    return s


@functools.lru_cache(maxsize=None)
def cancellation_points(path):
    """Exports of path whose code calls glibc's __pthread_enable_asynccancel (found as
    the first call in read(), glibc 2.36's SYSCALL_CANCEL)."""
    syms = exports(path)
    if "read" not in syms:
        sys.exit("abi: libc exports no read?")
    a, z = syms["read"]
    dis = run("objdump", "-d", "--no-show-raw-insn", "--start-address=%#x" % a,
              "--stop-address=%#x" % (a + z), path)
    m = re.search(r"\bcall\s+([0-9a-f]+)\s", dis)
    if not m:
        sys.exit("abi: read() in %s calls nothing: this check knows glibc's "
                 "__pthread_enable_asynccancel (2.36); look at its SYSCALL_CANCEL" % path)
    target = m.group(1)
    sites = []
    for line in run("objdump", "-d", "--no-show-raw-insn", path).splitlines():
        mm = re.match(r"\s*([0-9a-f]+):\s+call\s+" + target + r"\s", line)
        if mm:
            sites.append(int(mm.group(1), 16))
    ranges = sorted((a, a + z, n) for n, (a, z) in syms.items() if z)
    found = set()
    for s in sites:
        found.update(n for a, e, n in ranges if a <= s < e)
    if len(found) < 20:
        sys.exit("abi: only %d cancellation points found in %s: the disassembly rule "
                 "no longer matches this libc" % (len(found), path))
    return found


@functools.lru_cache(maxsize=None)
def header_names():
    """Every identifier-like word in the system headers (for `not emitted`)."""
    words = set()
    for d, _, files in os.walk("/usr/include"):
        for f in files:
            if f.endswith(".h"):
                try:
                    with open(os.path.join(d, f), errors="replace") as fh:
                        words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", fh.read()))
                except OSError:
                    pass
    return words


def read_table(path, ncols):
    rows = []
    with open(path) as f:
        for no, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, ncols - 1)
            rows.append((no, parts))
    return rows


def check(lib, list_path, waiting_path, candidates=False):
    """All the checks: (errors, summary line)."""
    waiting = {}
    for no, p in read_table(waiting_path, 2):
        waiting[p[0]] = p[1] if len(p) > 1 else "?"

    libc_syms = {}
    for name in LIBS:
        path = lib_path(name)
        for s in exports(path, linkable_only=True):
            libc_syms.setdefault(s, name)
        if name == "libc.so.6":
            cancel = cancellation_points(path)
    errors = []
    for s in sorted(cancel):
        if base(s) not in waiting:
            errors.append("%s is a cancellation point in libc.so.6 (it can wait) but its base "
                          "name %s is not in %s" % (s, base(s), os.path.basename(waiting_path)))
    cand = {s: base(s) for s in libc_syms if base(s) in waiting}
    if candidates:
        for s in sorted(cand, key=lambda s: (cand[s], s)):
            print("%-28s %s" % (s, cand[s]))
        return errors, ""

    ours = set(exports(lib)) if os.path.exists(lib) else set()
    if not ours:
        errors.append("%s is missing or exports nothing" % lib)

    lname = os.path.basename(list_path)
    table = {}
    for no, p in read_table(list_path, 3):
        if len(p) < 2 or p[1] not in ("hooked", "through") or (p[1] == "through" and len(p) < 3):
            errors.append("%s:%d: want `SYMBOL hooked [note]` or `SYMBOL through REASON`"
                          % (lname, no))
            continue
        if p[0] in table:
            errors.append("%s:%d: %s listed twice" % (lname, no, p[0]))
        table[p[0]] = (p[1], p[2] if len(p) > 2 else "")

    unclassified = sorted(s for s in cand if s not in table)
    for s in unclassified:
        errors.append("unclassified: %s (base %s, %s) can wait: add it to %s"
                      % (s, cand[s], waiting[cand[s]], lname))
    for s in sorted(table):
        if s not in cand:
            errors.append("stale: %s is in the list but libc exports no such waiting function" % s)
    for s, (how, _) in sorted(table.items()):
        if how == "hooked" and s not in ours:
            errors.append("%s is marked hooked but %s does not export it" % (s, os.path.basename(lib)))
        if how == "through" and s in ours:
            errors.append("%s is marked through but %s exports it: mark it hooked"
                          % (s, os.path.basename(lib)))

    hooked_bases = {cand[s] for s, (how, _) in table.items() if how == "hooked" and s in cand}
    for s in sorted(cand):
        if cand[s] not in hooked_bases or s not in table:
            continue
        how, why = table[s]
        if how == "hooked" or why.startswith("not yet hooked"):
            continue
        if why.startswith("not emitted"):
            if s in header_names():
                errors.append("%s: marked `not emitted` but a header under /usr/include names "
                              "it (a compiler may emit it): hook it" % s)
            continue
        errors.append("%s is an alias of the hooked %s and passes through: hook it too"
                      % (s, cand[s]))

    nh = sum(1 for s in cand if table.get(s, ("",))[0] == "hooked")
    reasons = collections.Counter(table[s][1].split(":")[0].strip()
                                  for s in cand if table.get(s, ("",))[0] == "through")
    why = ", ".join("%s %d" % (r, n) for r, n in sorted(reasons.items(), key=lambda x: -x[1]))
    return errors, ("abi: hooked %d, passing through %d (%s), unclassified %d"
                    % (nh, sum(reasons.values()), why, len(unclassified)))


def self_test(lib, list_path, waiting_path):
    """Each check must be able to fail: breaks a copy of the list (or of the waiting
    names) in one way at a time and wants the matching error. Returns the failures."""
    rows = open(list_path).read().splitlines()
    wrows = open(waiting_path).read().splitlines()

    def edit(lines, sym, new):
        out = [l for l in lines if l.split()[:1] != [sym]]
        assert len(out) == len(lines) - 1, "self-test: %s is not listed once" % sym
        return out + ([new] if new else [])

    cases = [
        ("a waiting export left out", edit(rows, "__read_chk", None), wrows, "unclassified: __read_chk"),
        ("an alias of a hooked call passing through", edit(rows, "__getdelim", "__getdelim through stdio"),
         wrows, "__getdelim is an alias of the hooked getdelim"),
        ("hooked but not exported", edit(rows, "copy_file_range", "copy_file_range hooked"), wrows,
         "copy_file_range is marked hooked but"),
        ("exported but marked through", edit(rows, "read", "read through x"), wrows,
         "read is marked through but"),
        ("`not emitted` for a name a header declares",
         edit(rows, "__poll_chk", "__poll_chk through not emitted: x"), wrows,
         "__poll_chk: marked `not emitted` but a header"),
        ("a cancellation point missing from the waiting names", rows,
         [l for l in wrows if l.split()[:1] != ["connect"]], "connect is a cancellation point"),
    ]
    bad = []
    with tempfile.TemporaryDirectory() as d:
        for what, lrows, w, want in cases:
            lp, wp = os.path.join(d, "abi.list"), os.path.join(d, "waiting.txt")
            with open(lp, "w") as f:
                f.write("\n".join(lrows) + "\n")
            with open(wp, "w") as f:
                f.write("\n".join(w) + "\n")
            errors, _ = check(lib, lp, wp)
            if not any(want in e for e in errors):
                bad.append("self-test: %s was not caught (wanted `%s`)" % (what, want))
    print("abi self-test: %d of %d broken lists caught" % (len(cases) - len(bad), len(cases)))
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", default=os.path.join(ROOT, "build/libgoshim.so"))
    ap.add_argument("--list", default=os.path.join(ROOT, "tests/abi/abi.list"))
    ap.add_argument("--waiting", default=os.path.join(ROOT, "tests/abi/waiting.txt"))
    ap.add_argument("--candidates", action="store_true")
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    if a.candidates:
        check(a.lib, a.list, a.waiting, candidates=True)
        return 0
    errors, summary = check(a.lib, a.list, a.waiting)
    if a.self_test:
        errors += self_test(a.lib, a.list, a.waiting)
    for e in errors:
        print("FAIL abi: " + e)
    print(summary)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
