"""The shim: POSIX sh that an agent runs as `cargo`, `npm`, ... (it needs nothing else).

`bin/<tool>` sets the tool's name and which caller variables pass, then sources `shim`, which:
makes a request folder with FIFOs for stdin, stdout, stderr and signals, writes the request
(cwd, argv NUL-separated, allowed env), starts `dd`s that stream the FIFOs, sends the folder's
name to the router as one fixed-size (64-byte, hence atomic) write on the control FIFO, and
waits. The router writes the exit code before it closes stdout and stderr, and removes the
folder a little later (one process less per call).

The copiers ignore INT (the shim forwards it and the tool decides). They are `dd`, not `cat`:
busybox's `cat` copies with sendfile, which holds a FIFO's lock while it waits on a terminal,
freezing whoever touches that FIFO next (even to close it). When stdin, stdout and stderr are
all terminals, the shim asks for a terminal in the sidecar (its size in the request) and puts
its own in raw mode while the tool runs, so keys, Ctrl-C included, reach the tool as they would
locally. A watchdog fails the call when no router takes the request within `ACCEPT_TIMEOUT_S`
(the agent was not started by `aifo exec/run/shell`, or it ended). Every file lives in the
route folder, so a read-only root filesystem changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from aifo.route.layout import REQUEST_DIR, ROUTE_TARGET

MESSAGE_SIZE = 64  # one control message: the request folder's name, space-padded, newline
ACCEPT_TIMEOUT_S = 10
MISSING = b"aifo-route: tool missing\n"  # the sidecar wrapper's word for "not in this image"

SHIM = f"""\
# aifo route shim (POSIX sh), sourced by {ROUTE_TARGET}/bin/<tool>. Generated: do not edit.
R={ROUTE_TARGET}
aifo_die() {{ printf 'aifo: %s: %s\\n' "$T" "$1" >&2; exit 126; }}
# The shim's own commands (cat, mkdir, ...) must never resolve to shims: drop our folder.
set -f; aifo_p=; aifo_ifs=$IFS; IFS=:
for aifo_x in $PATH; do [ "$aifo_x" = "$R/bin" ] || aifo_p=${{aifo_p:+$aifo_p:}}$aifo_x; done
IFS=$aifo_ifs; PATH=$aifo_p; set +f
[ -p "$R/ctl" ] ||
  aifo_die "no router: start the agent's commands with aifo exec, aifo run or aifo shell"
cd -P . 2>/dev/null || aifo_die "cannot resolve the working folder"
aifo_n=0
while ! mkdir "{REQUEST_DIR}/$$.$aifo_n" 2>/dev/null; do
  aifo_n=$((aifo_n + 1))
  [ "$aifo_n" -lt 64 ] || aifo_die "cannot create a request in {REQUEST_DIR}"
done
d={REQUEST_DIR}/$$.$aifo_n
mkfifo -m 600 "$d/in" "$d/out" "$d/err" "$d/sig" || aifo_die "cannot create FIFOs in $d"
aifo_tty=
if [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && aifo_st=$(stty -g 2>/dev/null); then
  aifo_tty=$(stty size 2>/dev/null)
  case $aifo_tty in [1-9]*" "[1-9]*) ;; *) aifo_tty="24 80";; esac
fi
{{ printf '%s\\000' "$PWD" "$aifo_tty" "$#" "$T" "$@"; aifo_env; }} >"$d/req" ||
  aifo_die "cannot write $d/req"
[ -z "$aifo_tty" ] || stty raw -echo 2>/dev/null
aifo_sig() {{ printf '%s\\n' "$1" 1<>"$d/sig"; }}
trap 'aifo_sig INT' INT; trap 'aifo_sig TERM' TERM
trap 'aifo_sig HUP' HUP; trap 'aifo_sig QUIT' QUIT
# Sent before the copiers start: the router takes it while they do (it waits for them).
printf '%-{MESSAGE_SIZE - 1}s\\n' "$$.$aifo_n" 1<>"$R/ctl"
exec 3<&0
trap '' INT QUIT
dd bs=65536 <"$d/out" 2>/dev/null & aifo_o=$!
dd bs=65536 <"$d/err" >&2 2>/dev/null & aifo_e=$!
trap 'aifo_sig INT' INT; trap 'aifo_sig QUIT' QUIT
dd bs=65536 <&3 >"$d/in" 2>/dev/null 3<&- & aifo_i=$!
exec 3<&-
# Only when no router has taken it yet: a watchdog, giving up after {ACCEPT_TIMEOUT_S} s. It
# holds none of our stdio (a caller waiting for end-of-output must not wait for it).
aifo_w=
[ -e "$d/taken" ] || {{
  ( sleep {ACCEPT_TIMEOUT_S} & s=$!; trap 'kill $s 2>/dev/null; exit 0' TERM; wait $s
    [ -e "$d/taken" ] || kill $aifo_o $aifo_e $aifo_i 2>/dev/null ) </dev/null >/dev/null 2>&1 &
  aifo_w=$!
}}
while kill -0 $aifo_o 2>/dev/null; do wait $aifo_o; done
while kill -0 $aifo_e 2>/dev/null; do wait $aifo_e; done
kill $aifo_w $aifo_i 2>/dev/null  # aifo_w may be empty
[ -z "$aifo_tty" ] || stty "$aifo_st" 2>/dev/null
aifo_x=
[ -f "$d/exit" ] && read -r aifo_x <"$d/exit"
[ -e "$d/taken" ] || {{ aifo_x=none; rm -rf "$d"; }}
# A router that reaches the folder only by exec leaves the removal to us (one exec less).
[ "$aifo_x" = none ] || [ ! -f "$R/self-clean" ] || rm -rf "$d"
case $aifo_x in
  none) aifo_die "no router took the request within {ACCEPT_TIMEOUT_S} s";;
  ''|*[!0-9]*) aifo_die "the route ended without an exit code";;
esac
exit "$aifo_x"
"""

TTY_SIZE = "AIFO_TTY_SIZE"  # "ROWS COLS" for the sidecar's terminal (the API resizes too late)

# Runs in the sidecar: sizes its terminal, and says clearly when the tool is missing.
SIDECAR_WRAPPER = (
    f'[ -z "${TTY_SIZE}" ] || '
    f'stty rows "${{{TTY_SIZE}% *}}" cols "${{{TTY_SIZE}#* }}" 2>/dev/null; '
    f"unset {TTY_SIZE}; "
    'command -v "$1" >/dev/null 2>&1 || { printf "%s\\n" "' + MISSING.decode().strip()
    + '" >&2; exit 127; }; exec "$@"'
)  # fmt: skip


# The engine's exec API takes argv as JSON text: a byte that is not UTF-8 would arrive as U+FFFD.
# Such an argv travels encoded (each argument `p<plain>` or `o<printf format>`: bytes outside
# printable ASCII as `\\NNN`), and a POSIX sh (busybox's, dash) rebuilds "$@" byte for byte
# first. The `x`s: a format never starts with `-` (an option to printf), and trailing newlines
# survive the command substitution.
DECODER = (
    'for a in "$@"; do shift; case $a in p*) set -- "$@" "${a#p}";; '
    '*) a=$(printf "x${a#o}x"); a=${a#x}; set -- "$@" "${a%x}";; esac; done; '
)


def _printf_format(arg: bytes) -> str:
    out = []
    for byte in arg:
        if byte == 0x25:
            out.append("%%")
        elif 0x20 <= byte < 0x7F and byte != 0x5C:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03o}")
    return "".join(out)


def sidecar_argv(argv: Sequence[str]) -> list[str]:
    """The exec's argv that runs the tool `argv` (os.fsdecode'd: undecodable bytes are lone
    surrogates) through SIDECAR_WRAPPER, the bytes intact."""
    if all(a.isascii() or _utf8(a) for a in argv):
        return ["sh", "-c", SIDECAR_WRAPPER, "aifo-route", *argv]
    coded = [
        f"p{a}" if _utf8(a) and a.isprintable() else "o" + _printf_format(os.fsencode(a))
        for a in argv
    ]
    return ["sh", "-c", DECODER + SIDECAR_WRAPPER, "aifo-route", *coded]


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def stub(tool: str, toolchain: str, pass_env: Iterable[str]) -> str:
    """`bin/<tool>`: the tool's name and the caller variables it passes (names pre-checked)."""
    lines = [
        "#!/bin/sh",
        f"# aifo: `{tool}` runs in {toolchain} (docs/routing.md). Generated: do not edit.",
        f"T='{tool}'",
        "aifo_env() {",
    ]
    for name in pass_env:
        if not name.isidentifier() or not name.isascii():
            raise ValueError(f"bad variable name {name!r}")
        lines.append(f'  [ -z "${{{name}+x}}" ] || printf \'%s=%s\\000\' {name} "${name}"')
    lines += ["  :", "}", f". {ROUTE_TARGET}/shim", ""]
    return "\n".join(lines)
