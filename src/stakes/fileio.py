"""Reading untrusted input files and writing output files without damage.

Every reader of the package takes its bytes from :func:`read_input` and its
text from :func:`decode_text`, so that one set of rules holds for every
format (docs/limits.md):

* only regular files are read: a directory, character device (``/dev/zero``),
  FIFO or socket is refused before a byte is read (a FIFO is opened without
  blocking, so naming one cannot hang);
* the size is checked before parsing, and reading stops one byte past the
  limit whatever ``stat`` says (files under ``/proc`` report size 0);
* text must be UTF-8 (a byte-order mark is allowed); UTF-16/32, NUL bytes and
  invalid bytes are refused with the line and column of the first bad byte;
* :func:`check_items` bounds the number of values a text file can hold,
  counted before parsing, so that a parser's time stays bounded too.

The limits are :class:`Limits`; their defaults can be changed with the
environment variables named in :data:`ENV_VARS` or, from Python, with
:func:`set_limits`.

Output goes through :func:`write_output`: a regular file (or a new name) is
written atomically (a temporary file beside it, then a rename); a character
device, FIFO or standard output (``-``) is written in place, because
renaming over it would replace the device node by a regular file; a
missing folder is created; a directory or an unwritable target is an
:class:`~stakes.errors.OptionError`, and nothing is changed.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, OptionError, Diagnostic


@dataclass(frozen=True)
class Limits:
    """Bounds on one input file, checked before (or while) it is parsed."""

    #: Bytes of one input file.
    max_bytes: int = 16 * 2**20
    #: Nesting depth of YAML collections and XML elements.
    max_depth: int = 100
    #: Values of a text file, counted before parsing as its separators (line breaks,
    #: commas, tabs, YAML's ``- `` and ``: ``), and XML elements.  The largest
    #: packaged scenario has about 7,400.
    max_items: int = 500_000
    #: Actors of one scenario.  The expected utility model's time grows with about the
    #: square of the actor count per round (500 actors, 20 rounds: 1.6 s; 1,000: 7.7 s).
    max_actors: int = 500


ENV_VARS = {"max_bytes": "STAKES_MAX_INPUT_BYTES", "max_depth": "STAKES_MAX_INPUT_DEPTH",
            "max_items": "STAKES_MAX_INPUT_ITEMS", "max_actors": "STAKES_MAX_ACTORS"}

_override: Limits | None = None


def set_limits(limits: Limits | None) -> None:
    """Use ``limits`` for every later read in this process (None: back to the defaults)."""
    global _override
    _override = limits


def limits() -> Limits:
    """The limits in force: :func:`set_limits`'s, else the defaults with the environment's."""
    if _override is not None:
        return _override
    values = {}
    for name, var in ENV_VARS.items():
        raw = os.environ.get(var, "").strip()
        if not raw:
            continue
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            raise OptionError(f"${var}={raw!r}: expected a positive integer")
        values[name] = value
    return dataclasses.replace(Limits(), **values) if values else Limits()


_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def read_input(path: str | os.PathLike, lim: Limits | None = None) -> bytes:
    """The bytes of the regular file at ``path``, at most ``lim.max_bytes`` of them."""
    lim = lim or limits()
    name = str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise InputError(Diagnostic("no such file", file=name)) from None
    except IsADirectoryError:
        raise InputError(Diagnostic("is a directory, not a file", file=name)) from None
    except OSError as exc:
        raise InputError(Diagnostic(f"cannot read the file: {exc.strerror or exc}",
                                 file=name)) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise InputError(Diagnostic("is a directory, not a file", file=name))
        if not stat.S_ISREG(st.st_mode):
            raise InputError(Diagnostic(f"is {_kind(st.st_mode)}, not a regular file; "
                                     "give a file", file=name))
        if st.st_size > lim.max_bytes:
            raise InputError(Diagnostic(_too_large(st.st_size, lim), file=name))
        chunks, total = [], 0
        while total <= lim.max_bytes:
            block = os.read(fd, min(1 << 20, lim.max_bytes + 1 - total))
            if not block:
                break
            chunks.append(block)
            total += len(block)
        if total > lim.max_bytes:
            raise InputError(Diagnostic(_too_large(total, lim, grew=True), file=name))
        return b"".join(chunks)
    except OSError as exc:
        raise InputError(Diagnostic(f"cannot read the file: {exc.strerror or exc}",
                                 file=name)) from None
    finally:
        os.close(fd)


def _too_large(size: int, lim: Limits, grew: bool = False) -> str:
    more = "more than " if grew else ""
    return (f"file is too large ({more}{size} bytes; limit {lim.max_bytes}, "
            f"set ${ENV_VARS['max_bytes']} to change it)")


def _line_col(data: bytes | str, offset: int) -> tuple[int, int]:
    nl = b"\n" if isinstance(data, bytes) else "\n"
    line = data.count(nl, 0, offset) + 1
    return line, offset - (data.rfind(nl, 0, offset) + 1) + 1


def decode_text(data: bytes, file: str, what: str = "text file") -> str:
    """``data`` as UTF-8 text (without its byte-order mark), or an InputError."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(Diagnostic("UTF-16/32 text is not supported; save the file as UTF-8",
                                 file=file, line=1, column=1))
    nul = data.find(b"\x00")
    if nul >= 0:
        line, col = _line_col(data, nul)
        raise InputError(Diagnostic(f"binary data (NUL byte); not a {what}", file=file,
                                 line=line, column=col))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, col = _line_col(data, exc.start)
        raise InputError(Diagnostic(f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the "
                                 "file as UTF-8", file=file, line=line, column=col)) from None


def read_text(path: str | os.PathLike, what: str = "text file") -> str:
    """:func:`read_input` then :func:`decode_text`."""
    return decode_text(read_input(path), str(path), what)


_SEPARATORS = ("\n", ",", "\t", "- ", ": ")


def check_items(text: str, file: str, lim: Limits | None = None) -> None:
    """Refuse text with more than ``max_items`` separators, before any parser sees it."""
    lim = lim or limits()
    n = 0
    for sep in _SEPARATORS:
        n += text.count(sep)
        if n > lim.max_items:
            raise InputError(Diagnostic(
                f"too many values (more than {lim.max_items} line breaks, commas, tabs and "
                f"YAML items; set ${ENV_VARS['max_items']} to change the limit)", file=file))


# --------------------------------------------------------------------------
# Output


def is_stdout(path: str | os.PathLike | None) -> bool:
    return path is None or str(path) == "-"


def write_output(path: str | os.PathLike | None, data: str | bytes) -> None:
    """Write ``data`` to ``path`` (``None`` or ``-``: standard output); see the module docs."""
    if is_stdout(path):
        if isinstance(data, bytes):
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            sys.stdout.write(data)
            sys.stdout.flush()
        return
    p = Path(path)  # type: ignore[arg-type]
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        st = os.stat(p)  # follows a symlink: what matters is what it points to
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OptionError(f"{p}: cannot write: {exc.strerror or exc}") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise OptionError(f"{p}: is a directory; give the output file's name")
    if st is not None and not stat.S_ISREG(st.st_mode):
        _write_in_place(p, raw)
        return
    _write_atomic(p, raw)


def _write_in_place(p: Path, raw: bytes) -> None:
    # A device or FIFO: open it as it is (never create, never truncate a node).
    try:
        fd = os.open(p, os.O_WRONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise OptionError(f"{p}: cannot write: {exc.strerror or exc}") from None
    try:
        os.set_blocking(fd, True)
        view = memoryview(raw)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    except OSError as exc:
        raise OptionError(f"{p}: cannot write: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _write_atomic(p: Path, raw: bytes) -> None:
    # The temporary file goes beside the real target, so that a symlink stays a symlink
    # and the rename stays within one file system.
    target = Path(os.path.realpath(p))
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OptionError(f"{p}: cannot create its folder: {exc.strerror or exc}") from None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OptionError(f"{p}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            mode = os.stat(target).st_mode & 0o7777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise OptionError(f"{p}: cannot write: {exc.strerror or exc}") from None
        raise
