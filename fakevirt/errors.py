"""libvirtError, the thread-local "last error" and the error catalogue of fakevirt.

libvirt reports an error by storing it as the calling thread's last error, calling the
registered error handler, and returning failure; libvirt-python then raises
``libvirtError(defmsg)`` whose constructor reads that last error. fakevirt does the same, so
``get_error_code()``/``get_error_domain()``/``str(e)`` behave identically, and
``libvirtError("x")`` raised by user code carries ``err is None`` unless a last error is set.

The messages are those of libvirt 9.0: the QEMU driver (``fake://`` hosts) or the test driver
(the ``test:///default`` host), chosen by the host's ``driver`` flavour.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, NoReturn

from fakevirt import constants as C

RawError = tuple[int, int, str, int, str | None, str | None, str | None, int, int]

_tls = threading.local()
_handler: list[tuple[Callable[[Any, RawError], None] | None, Any]] = [(None, None)]

# virErrorMsg(): the generic text of an error code ("<text>: %s" when there is detail).
_PREFIX: dict[int, str] = {
    C.VIR_ERR_INTERNAL_ERROR: "internal error",
    C.VIR_ERR_NO_SUPPORT: "this function is not supported by the connection driver",
    C.VIR_ERR_NO_CONNECT: "no connection driver available",
    C.VIR_ERR_INVALID_CONN: "invalid connection pointer in",
    C.VIR_ERR_INVALID_DOMAIN: "invalid domain pointer in",
    C.VIR_ERR_INVALID_ARG: "invalid argument",
    C.VIR_ERR_OPERATION_FAILED: "operation failed",
    C.VIR_ERR_NO_NAME: "missing name information",
    C.VIR_ERR_XML_ERROR: "XML error",
    C.VIR_ERR_NO_DOMAIN: "Domain not found",
    C.VIR_ERR_OPERATION_DENIED: "operation forbidden",
    C.VIR_ERR_NO_STORAGE_POOL: "Storage pool not found",
    C.VIR_ERR_OPERATION_INVALID: "Requested operation is not valid",
    C.VIR_ERR_CONFIG_UNSUPPORTED: "unsupported configuration",
    C.VIR_ERR_OPERATION_TIMEOUT: "Timed out during operation",
    C.VIR_ERR_OPERATION_ABORTED: "operation aborted",
    C.VIR_ERR_NO_DOMAIN_METADATA: "metadata not found",
    C.VIR_ERR_MIGRATE_UNSAFE: "Unsafe migration",
    C.VIR_ERR_ARGUMENT_UNSUPPORTED: "argument unsupported",
    C.VIR_ERR_DEVICE_MISSING: "device not found",
    C.VIR_ERR_AUTH_FAILED: "authentication failed",
}
# Codes whose message is the bare detail (libvirt's "%s").
_BARE = {C.VIR_ERR_SYSTEM_ERROR, C.VIR_ERR_XML_DETAIL}


class libvirtError(Exception):
    """The exception of the libvirt module, with libvirt-python's constructor behaviour.

    ``libvirtError(defmsg)`` snapshots the calling thread's last error: when one is set its
    message becomes the exception text and ``err`` holds the raw error tuple, else the text is
    ``defmsg`` and every ``get_*`` accessor returns None.
    """

    def __init__(self, defmsg: str) -> None:
        err = virGetLastError()
        Exception.__init__(self, defmsg if err is None else err[2])
        self.err: RawError | None = err

    def get_error_code(self) -> int | None:
        """The virErrorNumber (VIR_ERR_*), or None."""
        return None if self.err is None else self.err[0]

    def get_error_domain(self) -> int | None:
        """The virErrorDomain (VIR_FROM_*), or None."""
        return None if self.err is None else self.err[1]

    def get_error_message(self) -> str | None:
        """The full error message, or None."""
        return None if self.err is None else self.err[2]

    def get_error_level(self) -> int | None:
        """The error level (VIR_ERR_ERROR), or None."""
        return None if self.err is None else self.err[3]

    def get_str1(self) -> str | None:
        """Extra string 1 (the message format), or None."""
        return None if self.err is None else self.err[4]

    def get_str2(self) -> str | None:
        """Extra string 2 (the detail), or None."""
        return None if self.err is None else self.err[5]

    def get_str3(self) -> str | None:
        """Extra string 3, or None."""
        return None if self.err is None else self.err[6]

    def get_int1(self) -> int | None:
        """Extra number 1, or None."""
        return None if self.err is None else self.err[7]

    def get_int2(self) -> int | None:
        """Extra number 2, or None."""
        return None if self.err is None else self.err[8]


def virGetLastError() -> RawError | None:
    """The calling thread's last error as libvirt-python's raw tuple, or None."""
    err: RawError | None = getattr(_tls, "err", None)
    return err


def virGetLastErrorCode() -> int:
    """The last error's code, VIR_ERR_OK (0) when there is none."""
    err = virGetLastError()
    return C.VIR_ERR_OK if err is None else err[0]


def virGetLastErrorDomain() -> int:
    """The last error's domain, VIR_FROM_NONE (0) when there is none."""
    err = virGetLastError()
    return C.VIR_FROM_NONE if err is None else err[1]


def virGetLastErrorMessage() -> str:
    """The last error's message, "no error" when there is none."""
    err = virGetLastError()
    return "no error" if err is None else err[2]


def virResetLastError() -> None:
    """Forget the calling thread's last error."""
    _tls.err = None


def registerErrorHandler(f: Callable[[Any, RawError], None] | None, ctx: Any) -> int:
    """Register f, called as ``f(ctx, error)`` for every error reported. Returns 1."""
    _handler[0] = (f, ctx)
    return 1


def make_error(code: int, domain: int, detail: str | None) -> RawError:
    """Build the raw error tuple libvirt would report for (code, domain, detail)."""
    if code in _BARE:
        return (code, domain, detail or "", C.VIR_ERR_ERROR, "%s", detail, None, -1, -1)
    prefix = _PREFIX.get(code, "unknown error")
    if detail is None:
        return (code, domain, prefix, C.VIR_ERR_ERROR, prefix, None, None, -1, -1)
    sep = " " if code in (C.VIR_ERR_INVALID_CONN, C.VIR_ERR_INVALID_DOMAIN) else ": "
    return (
        code,
        domain,
        f"{prefix}{sep}{detail}",
        C.VIR_ERR_ERROR,
        f"{prefix}{sep}%s",
        detail,
        None,
        -1,
        -1,
    )


def report(err: RawError) -> None:
    """Store err as the thread's last error and call the registered error handler."""
    _tls.err = err
    f, ctx = _handler[0]
    if f is not None:
        f(ctx, err)


def fail(code: int, domain: int, detail: str | None = None, defmsg: str = "") -> NoReturn:
    """Report an error and raise the libvirtError libvirt-python would raise."""
    report(make_error(code, domain, detail))
    raise libvirtError(defmsg or "libvirt call failed")


def fail_raw(err: RawError, defmsg: str = "") -> NoReturn:
    """Report a prepared raw error and raise it."""
    report(err)
    raise libvirtError(defmsg or "libvirt call failed")


# --- The catalogue: situation -> {flavour: (code, domain, detail format or None)} ----------
_Q, _T = "qemu", "test"
_NOT_RUNNING = (C.VIR_ERR_OPERATION_INVALID, C.VIR_FROM_DOMAIN, "domain is not running")
CATALOGUE: dict[str, dict[str, tuple[int, int, str | None]]] = {
    "no_domain_name": {
        _Q: (C.VIR_ERR_NO_DOMAIN, C.VIR_FROM_QEMU, "no domain with matching name '{name}'"),
        _T: (C.VIR_ERR_NO_DOMAIN, C.VIR_FROM_TEST, None),
    },
    "no_domain_uuid": {
        _Q: (C.VIR_ERR_NO_DOMAIN, C.VIR_FROM_QEMU, "no domain with matching uuid '{uuid}'"),
        _T: (C.VIR_ERR_NO_DOMAIN, C.VIR_FROM_TEST, None),
    },
    "no_domain_id": {
        _Q: (C.VIR_ERR_NO_DOMAIN, C.VIR_FROM_QEMU, "no domain with matching id {id}"),
        _T: (C.VIR_ERR_NO_DOMAIN, C.VIR_FROM_TEST, None),
    },
    "domain_gone": {
        _Q: (
            C.VIR_ERR_NO_DOMAIN,
            C.VIR_FROM_QEMU,
            "no domain with matching uuid '{uuid}' ({name})",
        ),
        _T: (
            C.VIR_ERR_NO_DOMAIN,
            C.VIR_FROM_TEST,
            "no domain with matching uuid '{uuid}' ({name})",
        ),
    },
    "suspend_inactive": {
        _Q: _NOT_RUNNING,
        _T: (C.VIR_ERR_INTERNAL_ERROR, C.VIR_FROM_TEST, "domain '{name}' not running"),
    },
    "suspend_paused": {
        _T: (C.VIR_ERR_INTERNAL_ERROR, C.VIR_FROM_TEST, "domain '{name}' not running")
    },
    "resume_inactive": {
        _Q: _NOT_RUNNING,
        _T: (C.VIR_ERR_INTERNAL_ERROR, C.VIR_FROM_TEST, "domain '{name}' not paused"),
    },
    "resume_running": {
        _Q: (C.VIR_ERR_OPERATION_INVALID, C.VIR_FROM_QEMU, "domain is already running"),
        _T: (C.VIR_ERR_INTERNAL_ERROR, C.VIR_FROM_TEST, "domain '{name}' not paused"),
    },
    "shutdown_inactive": {
        _Q: (C.VIR_ERR_OPERATION_INVALID, C.VIR_FROM_QEMU, "domain is not running"),
        _T: (C.VIR_ERR_INTERNAL_ERROR, C.VIR_FROM_TEST, "domain '{name}' not running"),
    },
    "not_running": {_Q: _NOT_RUNNING, _T: _NOT_RUNNING},
    "create_active": {
        _Q: (C.VIR_ERR_OPERATION_INVALID, C.VIR_FROM_QEMU, "domain is already running"),
        _T: (C.VIR_ERR_INTERNAL_ERROR, C.VIR_FROM_TEST, "Domain '{name}' is already running"),
    },
    "name_taken": {
        f: (
            C.VIR_ERR_OPERATION_FAILED,
            C.VIR_FROM_DOMAIN,
            "domain '{name}' already exists with uuid {uuid}",
        )
        for f in (_Q, _T)
    },
    "uuid_taken": {
        f: (
            C.VIR_ERR_OPERATION_FAILED,
            C.VIR_FROM_DOMAIN,
            "domain '{name}' is already defined with uuid {uuid}",
        )
        for f in (_Q, _T)
    },
    "already_active": {
        f: (C.VIR_ERR_OPERATION_INVALID, C.VIR_FROM_DOMAIN, "domain '{name}' is already active")
        for f in (_Q, _T)
    },
    "undefine_managed_save": {
        _Q: (
            C.VIR_ERR_OPERATION_INVALID,
            C.VIR_FROM_QEMU,
            "Refusing to undefine while domain managed save image exists",
        ),
        _T: (
            C.VIR_ERR_OPERATION_INVALID,
            C.VIR_FROM_TEST,
            "Refusing to undefine while domain managed save image exists",
        ),
    },
    "undefine_transient": {
        _Q: (C.VIR_ERR_OPERATION_INVALID, C.VIR_FROM_QEMU, "cannot undefine transient domain")
    },
    "no_metadata": {
        f: (
            C.VIR_ERR_NO_DOMAIN_METADATA,
            C.VIR_FROM_DOMAIN,
            "Requested metadata element is not present",
        )
        for f in (_Q, _T)
    },
    "no_job": {
        _Q: (C.VIR_ERR_OPERATION_INVALID, C.VIR_FROM_QEMU, "no job is active on the domain")
    },
    "postcopy_no_job": {
        _Q: (
            C.VIR_ERR_OPERATION_INVALID,
            C.VIR_FROM_QEMU,
            "post-copy can only be started while outgoing migration is in progress",
        )
    },
    "postcopy_flag": {
        _Q: (
            C.VIR_ERR_OPERATION_INVALID,
            C.VIR_FROM_QEMU,
            "switching to post-copy requires migration to be started "
            "with VIR_MIGRATE_POSTCOPY flag",
        )
    },
}


def fail_as(flavour: str, situation: str, defmsg: str = "", **fields: object) -> NoReturn:
    """Raise the error the given driver flavour reports in a catalogued situation.

    Situations a flavour does not list are reported as that flavour's "unsupported" error
    (the test driver lacks job and migration APIs) with ``fields["func"]`` as the C name.
    """
    entry = CATALOGUE[situation].get(flavour)
    if entry is None:
        fail(C.VIR_ERR_NO_SUPPORT, C.VIR_FROM_DOMAIN, str(fields.get("func", situation)), defmsg)
    code, domain, fmt = entry
    fail(code, domain, None if fmt is None else fmt.format(**fields), defmsg)


def has_situation(flavour: str, situation: str) -> bool:
    """True when the flavour reports an error in that situation (else the call succeeds)."""
    return flavour in CATALOGUE[situation]
