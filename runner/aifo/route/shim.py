"""The shim: POSIX sh that an agent runs as `cargo`, `npm`, ... (it needs nothing else).

`bin/<tool>` sets the tool's name and which caller variables pass, then sources `shim`, which:
makes a request folder with FIFOs for stdin, stdout, stderr and signals, writes the request
(cwd, argv NUL-separated, allowed env), starts `cat`s that stream the FIFOs (they ignore INT:
the shim forwards it and the tool decides), sends the folder's name to the router as one
fixed-size (64-byte, hence atomic) write on the control FIFO, and waits. The router writes the
exit code before it closes stdout and stderr. A watchdog fails the call when no router takes
the request within `ACCEPT_TIMEOUT_S` (the agent was not started by `aifo exec/run/shell`, or it
ended). Every file lives in the route folder, so a read-only root filesystem changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

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
{{ printf '%s\\000' "$PWD" "$#" "$T" "$@"; aifo_env; }} > "$d/req" || aifo_die "cannot write $d/req"
exec 3<&0
trap '' INT QUIT
cat "$d/out" & aifo_o=$!
cat "$d/err" >&2 & aifo_e=$!
trap - INT QUIT
cat <&3 >"$d/in" 3<&- & aifo_i=$!
exec 3<&-
aifo_sig() {{ printf '%s\\n' "$1" 1<>"$d/sig"; }}
trap 'aifo_sig INT' INT; trap 'aifo_sig TERM' TERM
trap 'aifo_sig HUP' HUP; trap 'aifo_sig QUIT' QUIT
printf '%-{MESSAGE_SIZE - 1}s\\n' "$$.$aifo_n" 1<>"$R/ctl"
( sleep {ACCEPT_TIMEOUT_S} & s=$!; trap 'kill $s 2>/dev/null; exit 0' TERM; wait $s
  [ -e "$d/taken" ] || {{
    printf 'aifo: %s: no router took the request within {ACCEPT_TIMEOUT_S} s\\n' "$T" >&2
    kill $aifo_o $aifo_e $aifo_i 2>/dev/null; }} ) & aifo_w=$!
while kill -0 $aifo_o 2>/dev/null; do wait $aifo_o; done
while kill -0 $aifo_e 2>/dev/null; do wait $aifo_e; done
kill $aifo_w $aifo_i 2>/dev/null
aifo_x=
[ -f "$d/exit" ] && read -r aifo_x <"$d/exit"
rm -rf "$d"
case $aifo_x in ''|*[!0-9]*) aifo_die "the route ended without an exit code";; esac
exit "$aifo_x"
"""

# Runs in the sidecar: a clear word when the tool is missing, instead of the shell's own.
SIDECAR_WRAPPER = (
    'command -v "$1" >/dev/null 2>&1 || { printf "%s\\n" "' + MISSING.decode().strip()
    + '" >&2; exit 127; }; exec "$@"'
)  # fmt: skip


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
