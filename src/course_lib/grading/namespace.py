"""Linux only: a private mount namespace in which an exercise's process sees its own copy.

Used by the harness inside bubblewrap (:mod:`course_lib.grading.student_process`): before
any student code runs, the exercise's process enters a new user and mount namespace in
which its stubbed copy of ``course_lib`` is bind-mounted over the shared ``base`` copy,
every other exercise's copy is hidden behind an empty read-only mount, and then every
capability is dropped, so none of these mounts can be undone.
"""

from __future__ import annotations

import ctypes
import functools
import os

PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
PR_SET_PDEATHSIG = 1
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
_CAPABILITY_VERSION_3 = 0x20080522


@functools.cache
def libc() -> ctypes.CDLL:
    """The C library of this process (``prctl``, ``unshare``, ``mount``, ``capset``)."""
    return ctypes.CDLL(None, use_errno=True)


def set_dumpable(dumpable: bool) -> None:
    """Whether processes of the same user may read this one through ``/proc``."""
    libc().prctl(PR_SET_DUMPABLE, int(dumpable), 0, 0, 0)


def _check(result: int, what: str) -> None:
    if result != 0:
        raise OSError(ctypes.get_errno(), f"{what} failed")


class _CapabilityHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapabilityData(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint32) for n in ("effective", "permitted", "inheritable")]


def drop_capabilities() -> None:
    """No capabilities left in any set, none to regain (bounding set emptied, no new
    privileges): the mounts made for this exercise cannot be undone.

    Raises:
        OSError: a capability remains.
    """
    c = libc()
    for cap in range(64):
        c.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    c.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    _check(c.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    header, data = _CapabilityHeader(_CAPABILITY_VERSION_3, 0), (_CapabilityData * 2)()
    _check(c.capset(ctypes.byref(header), data), "capset")
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("CapEff:", "CapPrm:")) and int(line.split()[1], 16):
                raise OSError(f"capabilities remain: {line.strip()}")


def private_view(base: str, mine: str, others: str) -> None:
    """In a new user and mount namespace of this process only: ``mine`` replaces
    ``base`` and ``others`` (every other exercise's copy) becomes an empty read-only
    folder; then every capability is dropped. Mounts inherited into a namespace a
    student could create later are locked, so nothing here can be unmounted.

    Raises:
        OSError: a step failed (the caller falls back to the search path).
    """
    c = libc()
    uid, gid = os.getuid(), os.getgid()
    set_dumpable(True)  # so this process may write its own id maps
    _check(c.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare")
    for name, text in (
        ("setgroups", "deny"),
        ("uid_map", f"{uid} {uid} 1"),
        ("gid_map", f"{gid} {gid} 1"),
    ):
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(text)
    _check(c.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "making mounts private")
    _check(c.mount(mine.encode(), base.encode(), None, MS_BIND | MS_REC, None), "bind")
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
    _check(c.mount(None, base.encode(), None, flags, None), "read-only remount")
    _check(
        c.mount(
            b"tmpfs",
            others.encode(),
            b"tmpfs",
            MS_RDONLY | MS_NOSUID | MS_NODEV,
            b"size=4k,mode=555",
        ),
        "hiding the other copies",
    )
    drop_capabilities()
    set_dumpable(False)
